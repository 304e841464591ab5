package train

import (
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/internal/fuzzseed"
)

// FuzzParsePlan: a plan file must parse to a valid plan or give an error,
// never panic; an accepted plan passes validation again and has runnable
// shots. `make fuzz` runs it (and every other parser's target).
func FuzzParsePlan(f *testing.F) {
	fuzzseed.Add(f, []string{"configs", "testdata/bad/plan", "bench/ablation"}, ".yaml")
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlan(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted plan fails validation: %v", err)
		}
		if err := p.checkJobs(nil, nil); err != nil && len(p.FineTune.Shots) > 0 && len(p.FineTune.Seeds) > 0 {
			t.Fatalf("accepted plan has unrunnable jobs: %v", err)
		}
	})
}
