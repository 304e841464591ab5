package model

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/golden"
)

// TestGoldenResNet generates the torchvision ResNet cases (basic and
// bottleneck, stride in the 3×3) with the project's generator and runs them
// on the CPU backend. The cases carry tens of MB of weights, so they are
// made here and never committed; without torchvision the test skips.
func TestGoldenResNet(t *testing.T) {
	if testing.Short() {
		t.Skip("generating resnet golden cases takes a while; skipped with -short")
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, torchvision").Run(); err != nil {
		t.Skipf("%s cannot import torch and torchvision: %v", py, err)
	}
	dir := t.TempDir()
	gen := exec.Command(py, filepath.Join("..", "..", "testdata", "golden", "make_golden.py"), "--resnet", dir)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("make_golden.py --resnet: %v\n%s", err, out)
	}
	results, err := golden.RunDir(cpu.New(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d resnet cases, want 2 (basic, bottleneck)", len(results))
	}
	for _, r := range results {
		t.Log(r)
	}
	if n := golden.Failed(results); n > 0 {
		t.Fatalf("%d of %d resnet cases failed", n, len(results))
	}
}
