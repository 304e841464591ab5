package train

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/eval"
)

// EvalModelOptions say what `fsodgpu eval model` evaluates: a trained job's
// weights on the test set of the plan that trained it, optionally rescored by
// a second model (the YOLO paper's combination).
type EvalModelOptions struct {
	Plan     *Plan  // the plan the job belongs to: dataset, class split, metric
	PlanPath string // for messages
	Weights  string
	Config   string // the job's config.yaml ("" = beside Weights)
	// RescoreWeights, when set, is a second model (its config.yaml beside it
	// unless RescoreConfig) whose detections rescore the first's by
	// eval.Rescore with Rescore's constants.
	RescoreWeights string
	RescoreConfig  string
	Rescore        eval.RescoreOptions
	Quiet          bool      // no progress bars
	Log            io.Writer // os.Stderr when nil
}

// EvalModelResult is the evaluation, in percent as results.json holds it.
type EvalModelResult struct {
	Job      string             `json:"job"`
	Kind     string             `json:"kind"`
	Metric   string             `json:"metric"`
	Images   int                `json:"images"`
	Metrics  map[string]float64 `json:"metrics"`
	Rescored map[string]float64 `json:"rescored,omitempty"` // with the second model
	// Boosted counts the primary boxes a second-model box confirmed, of Boxes.
	Boosted int                  `json:"boosted,omitempty"`
	Boxes   int                  `json:"boxes"`
	Options *eval.RescoreOptions `json:"rescore,omitempty"`
}

// EvalModel evaluates a trained job as its training run did (the same test
// set, loader, evaluator, metric and base/novel split: predictTestSet and
// summarize are what Job.run calls), and, with a second model, the same
// detections rescored. Everything that can be checked without running a
// model is checked first: the plan against the job's config.yaml (dataset,
// split, class list), and the two models' class lists.
func EvalModel(be backend.Backend, opt EvalModelOptions) (*EvalModelResult, error) {
	logw := opt.Log
	if logw == nil {
		logw = os.Stderr
	}
	log := func(format string, args ...any) { fmt.Fprintf(logw, format+"\n", args...) }
	p := opt.Plan
	first, err := LoadPredictor(be, opt.Weights, opt.Config)
	if err != nil {
		return nil, err
	}
	cs, err := p.classes()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.PlanPath, err)
	}
	kept, base, novel, err := planClasses(p, cs, first.Kind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", first.ConfigPath, err)
	}
	if err := checkJobAgainstPlan(first, p, opt.PlanPath, kept); err != nil {
		return nil, err
	}
	var second *Predictor
	if opt.RescoreWeights != "" {
		if err := opt.Rescore.Validate(); err != nil {
			return nil, err
		}
		if second, err = LoadPredictor(be, opt.RescoreWeights, opt.RescoreConfig); err != nil {
			return nil, err
		}
		if err := SameClasses(first, second); err != nil {
			return nil, err
		}
		// The second model reads the same images: it must come from the
		// same dataset (its own plan may differ in everything else).
		if second.Info.Dataset != first.Info.Dataset || second.Info.Split != first.Info.Split {
			return nil, fmt.Errorf("%s: a %s split %d model, but %s is a %s split %d model: rescoring needs both trained on one dataset",
				second.ConfigPath, second.Info.Dataset, second.Info.Split, first.ConfigPath, first.Info.Dataset, first.Info.Split)
		}
	}
	root, err := p.dataRoot(log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.PlanPath, err)
	}
	test, err := p.testSet(root, cs, kept, log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.PlanPath, err)
	}
	if len(test.Records) == 0 {
		return nil, fmt.Errorf("%s: the test set has no images", opt.PlanPath)
	}
	metric := p.Eval.Metric
	res := &EvalModelResult{Job: first.Job, Kind: first.Kind, Metric: metric}
	t0 := time.Now()
	a, err := predictTestSet(first.Det, test, first.Short, first.MaxSize, first.Input, opt.Quiet)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.Weights, err)
	}
	res.Images = len(a.objects)
	res.Metrics = summarize(a, len(kept), base, novel, metric)
	for _, d := range a.perImage {
		res.Boxes += len(d)
	}
	log("evaluated %s on %d images in %.1fs (%s): AP50 %.2f  bAP50 %s  nAP50 %s", opt.Weights, res.Images,
		time.Since(t0).Seconds(), metric, res.Metrics["AP50"], fmtOpt(res.Metrics, "bAP50"), fmtOpt(res.Metrics, "nAP50"))
	if second == nil {
		return res, nil
	}
	t0 = time.Now()
	b, err := predictTestSet(second.Det, test, second.Short, second.MaxSize, second.Input, opt.Quiet)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.RescoreWeights, err)
	}
	if !slices.Equal(a.records, b.records) {
		// Both walk the one test set in order; anything else is a bug.
		return nil, fmt.Errorf("rescore: the two models saw the test images in different orders")
	}
	r := &evalInputs{}
	for i := range a.objects {
		dets, match, err := eval.Rescore(a.perImage[i], b.perImage[i], opt.Rescore)
		if err != nil {
			return nil, err
		}
		for _, m := range match {
			if m.Index >= 0 {
				res.Boosted++
			}
		}
		r.add(a.records[i], a.objects[i], dets)
	}
	res.Rescored = summarize(r, len(kept), base, novel, metric)
	o := opt.Rescore
	res.Options = &o
	log("rescored by %s (%.1fs; %d of %d boxes boosted, alpha %g, min IoU %g): AP50 %.2f  bAP50 %s  nAP50 %s", opt.RescoreWeights,
		time.Since(t0).Seconds(), res.Boosted, res.Boxes, o.Alpha, o.MinIoU, res.Rescored["AP50"], fmtOpt(res.Rescored, "bAP50"), fmtOpt(res.Rescored, "nAP50"))
	return res, nil
}

// planClasses is the class list a job of the plan of the given kind was
// trained and tested on, and the base and novel indices into it, as Run
// builds them.
func planClasses(p *Plan, cs classSets, kind string) (kept []string, base, novel []int, err error) {
	switch kind {
	case "base":
		return cs.base, indices(cs.base, cs.base), nil, nil
	case "finetune":
		kept = cs.all
		if p.FineTune.Protocol == "fsod" {
			kept = cs.novel
		}
		return kept, indices(cs.base, kept), indices(cs.novel, kept), nil
	default:
		return nil, nil, nil, fmt.Errorf("kind %q: want base or finetune (a job's config.yaml)", kind)
	}
}

// checkJobAgainstPlan refuses a plan that cannot be the one the job ran in.
func checkJobAgainstPlan(pr *Predictor, p *Plan, planPath string, kept []string) error {
	if pr.Info.Dataset != p.Dataset.Kind || pr.Info.Split != p.Dataset.Split {
		return fmt.Errorf("%s: a %s split %d job, but %s is a %s split %d plan", pr.ConfigPath,
			pr.Info.Dataset, pr.Info.Split, planPath, p.Dataset.Kind, p.Dataset.Split)
	}
	if !slices.Equal(pr.Classes, kept) {
		return fmt.Errorf("%s: the job's %d classes are not the %d classes %s gives a %s job (protocol %s)",
			pr.ConfigPath, len(pr.Classes), len(kept), planPath, pr.Kind, p.FineTune.Protocol)
	}
	return nil
}
