package golden_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/golden"
)

// TestFreshCasesCPU asks PyTorch for a new set of cases (every op and
// variant of the shipped set, on inputs drawn with a new salt each run) and
// runs them on the CPU backend: the backend must pass cases it has never
// seen, not only the committed ones. Skipped where /usr/bin/python3 cannot
// import torch and torchvision.
func TestFreshCasesCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("generates cases with PyTorch")
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, torchvision").Run(); err != nil {
		t.Skipf("%s cannot import torch and torchvision: %v", py, err)
	}
	dir := t.TempDir()
	salt := fmt.Sprintf("fresh-%d-", time.Now().UnixNano())
	cmd := exec.Command(py, filepath.Join("..", "..", "testdata", "golden", "make_golden.py"), dir)
	cmd.Env = append(os.Environ(), "GOLDEN_SALT="+salt)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make_golden.py: %v\n%s", err, out)
	}
	results, err := golden.RunDir(cpu.New(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 40 {
		t.Fatalf("only %d fresh cases generated", len(results))
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("salt %q: %s", salt, r)
		}
	}
	t.Logf("%d fresh cases (salt %q) pass on the CPU backend", len(results), salt)
}
