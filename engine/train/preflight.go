package train

import (
	"fmt"
	"os"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// checkShots rejects shot counts that cannot name a K-shot split. kind is the
// plan's dataset kind, so the message speaks of the data the user has.
func checkShots(kind, what string, shots []int) error {
	seen := map[int]bool{}
	for _, k := range shots {
		if k < 1 {
			return fmt.Errorf("%s: %d is not a shot count (want K >= 1 objects per class of the %s plan)", what, k, kind)
		}
		if seen[k] {
			return fmt.Errorf("%s: %d listed twice", what, k)
		}
		seen[k] = true
	}
	return nil
}

func checkSeeds(kind, what string, seeds []int) error {
	seen := map[int]bool{}
	for _, s := range seeds {
		if s < 0 {
			return fmt.Errorf("%s: seed %d of the %s plan is negative (split seeds are 0, 1, ...)", what, s, kind)
		}
		if seen[s] {
			return fmt.Errorf("%s: seed %d listed twice", what, s)
		}
		seen[s] = true
	}
	return nil
}

// checkJobs validates the shots and seeds a run will use (the plan's, or
// --shots/--seeds) and that every shot count has a schedule.
func (p *Plan) checkJobs(shots, seeds []int) error {
	what := "--shots"
	if len(shots) == 0 {
		shots, what = p.FineTune.Shots, "finetune.shots"
	}
	if len(shots) == 0 {
		return fmt.Errorf("finetune.shots is empty: the %s plan has no fine-tune to run", p.Dataset.Kind)
	}
	if err := checkShots(p.Dataset.Kind, what, shots); err != nil {
		return err
	}
	for _, k := range shots {
		if _, err := p.ShotStage(k); err != nil {
			return err
		}
	}
	what = "--seeds"
	if len(seeds) == 0 {
		seeds, what = p.FineTune.Seeds, "finetune.seeds"
	}
	if len(seeds) == 0 {
		return fmt.Errorf("finetune.seeds is empty: the %s plan has no fine-tune to run", p.Dataset.Kind)
	}
	return checkSeeds(p.Dataset.Kind, what, seeds)
}

// preflightData is what the fine-tunes will read, loaded before base training.
type preflightData struct {
	ftTest   *data.Dataset
	shotSets map[[2]int]*data.Dataset // by (shots, seed)
}

// preflight loads every dataset of every job (the fine-tune test set and
// each K-shot split), checks the base stage's initial weights, and decodes
// every image the run will read, so each failure that does not need
// training shows up before base training starts.
func (p *Plan) preflight(root string, cs classSets, opt RunOptions, baseTrain, baseTest *data.Dataset, log func(string, ...any)) (*preflightData, error) {
	t0 := time.Now()
	if w := p.Base.Weights; w != "" {
		if st, err := os.Stat(w); err != nil {
			return nil, fmt.Errorf("base.weights: %v", err)
		} else if st.IsDir() {
			return nil, fmt.Errorf("base.weights: %s is a directory, want a .safetensors file", w)
		}
		if _, err := safetensors.Read(w); err != nil {
			return nil, fmt.Errorf("base.weights: %v", err)
		}
	}
	ftClasses := cs.all
	if p.FineTune.Protocol == "fsod" {
		ftClasses = cs.novel
	}
	ftTest, err := p.testSet(root, cs, ftClasses, log)
	if err != nil {
		return nil, err
	}
	shots, seeds := p.FineTune.Shots, p.FineTune.Seeds
	if len(opt.Shots) > 0 {
		shots = opt.Shots
	}
	if len(opt.Seeds) > 0 {
		seeds = opt.Seeds
	}
	pre := &preflightData{ftTest: ftTest, shotSets: map[[2]int]*data.Dataset{}}
	sets := []*data.Dataset{baseTrain, baseTest, ftTest}
	for _, k := range shots {
		for _, s := range seeds {
			ds, err := p.shotSet(root, cs, ftClasses, k, s, log)
			if err != nil {
				return nil, fmt.Errorf("finetune %d-shot seed %d: %w", k, s, err)
			}
			pre.shotSets[[2]int{k, s}] = ds
			sets = append(sets, ds)
		}
	}
	if err := data.DecodeAll(p.Input, p.loadOpts(nil, nil, log), sets...); err != nil {
		return nil, err
	}
	for _, ds := range sets {
		if len(ds.Records) == 0 {
			return nil, fmt.Errorf("%s: no images left to train or test on", ds.Name)
		}
	}
	log("preflight: %d datasets loaded and their images decoded (%.1fs)", len(sets), time.Since(t0).Seconds())
	return pre, nil
}
