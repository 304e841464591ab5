package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/golden"
)

func runCheckCLI(args ...string) (string, error) {
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(append([]string{"fsodgpu", "check"}, args...))
	return out.String(), err
}

// TestCheckBuiltinCases: this package's directory has no testdata/golden, so
// check falls back to the cases embedded in the binary, which all pass on CPU.
func TestCheckBuiltinCases(t *testing.T) {
	out, err := runCheckCLI()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	shipped, _ := filepath.Glob("../../testdata/golden/*.safetensors")
	if !strings.Contains(out, "golden cases from <built-in> on backend cpu") ||
		strings.Count(out, "\nPASS ") != len(shipped) || !strings.Contains(out, "failed") {
		t.Errorf("want %d PASS lines from the built-in cases, got:\n%s", len(shipped), out)
	}
}

func TestCheckDirectoryWithFailure(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../testdata/golden/relu_4d.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "relu_4d.safetensors"), src, 0o644)
	out, err := runCheckCLI("--golden", dir)
	if err != nil || !strings.Contains(out, "golden: 1 passed, 0 failed") {
		t.Fatalf("one good case: %v\n%s", err, out)
	}
	// Flip one expected output value: the case must fail and check must error.
	bad := append([]byte(nil), src...)
	bad[len(bad)-1] ^= 0x40
	os.WriteFile(filepath.Join(dir, "relu_bad.safetensors"), bad, 0o644)
	out, err = runCheckCLI("--golden", dir)
	if err == nil || !strings.Contains(out, "FAIL relu_bad") || !strings.Contains(out, "golden: 1 passed, 1 failed") {
		t.Errorf("corrupted case: %v\n%s", err, out)
	}
}

func TestCheckErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--golden", filepath.Join(t.TempDir(), "missing")},
		{"--golden", t.TempDir()}, // no cases
		{"--backend", "tpu"},
		{"stray-argument"},
	} {
		if out, err := runCheckCLI(args...); err == nil {
			t.Errorf("check %v succeeded:\n%s", args, out)
		}
	}
}

// renamed is the CPU backend under another name, standing in for the CUDA
// backend to exercise the parity part of check.
type renamed struct{ backend.Backend }

func (renamed) Name() string { return "other" }

func TestCheckParity(t *testing.T) {
	var out bytes.Buffer
	specs := golden.SmallShapes()
	failed, err := runCheck(&out, renamed{cpu.New()}, os.DirFS("../../testdata/golden"), "testdata/golden", specs, "")
	if err != nil || failed != 0 {
		t.Fatalf("%d failed, %v\n%s", failed, err, out.String())
	}
	if !strings.Contains(out.String(), "parity: other against cpu") ||
		!strings.Contains(out.String(), fmt.Sprintf("parity: %d passed, 0 failed", len(specs))) {
		t.Errorf("no parity report:\n%s", out.String())
	}
}
