package golden_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/golden"
	// The neck op registers itself from engine/neck (as resnet does from the
	// model), so the shipped and fresh neck cases need it linked in.
	_ "github.com/fsodgpu/fsodgpu/engine/neck"
)

// TestFreshNeckCasesCPU asks PyTorch for new neck cases (every block type of
// NECKS.md on inputs and weights drawn with a new salt) and runs them on the
// CPU backend, checking y, dL/dx and every conv weight's gradient.
func TestFreshNeckCasesCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("generates cases with PyTorch")
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s cannot import torch: %v", py, err)
	}
	dir := t.TempDir()
	salt := fmt.Sprintf("fresh-neck-%d-", time.Now().UnixNano())
	cmd := exec.Command(py, filepath.Join("..", "..", "testdata", "golden", "make_golden_neck.py"), dir)
	cmd.Env = append(os.Environ(), "GOLDEN_SALT="+salt)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make_golden_neck.py: %v\n%s", err, out)
	}
	results, err := golden.RunDir(cpu.New(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("salt %q: %s", salt, r)
		}
		params := 0
		for _, tr := range r.Tensors {
			if strings.HasPrefix(tr.Name, "grad_param.") {
				params++
			}
		}
		c, _ := golden.LoadFile(filepath.Join(dir, r.Case+".safetensors"))
		var typ string
		if c != nil {
			_ = jsonString(c.Attrs["type"], &typ)
		}
		types[typ] = true
		if typ != "spp_net" && params == 0 {
			t.Errorf("%s: no grad_param.* compared", r.Case)
		}
	}
	if len(types) < 10 {
		t.Errorf("fresh cases cover %d block types, want all 10: %v", len(types), types)
	}
}

func jsonString(raw []byte, dst *string) error { return json.Unmarshal(raw, dst) }
