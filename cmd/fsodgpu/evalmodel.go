package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/eval"
	"github.com/fsodgpu/fsodgpu/engine/train"
)

// rescoreFlags are the second model of `detect` and `eval model`.
func rescoreFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "rescore-weights", Usage: "a second model (e.g. a YOLOv1 job's model_final.safetensors) whose detections rescore the first's: s' = s + alpha·p·IoU from the same-class box of the largest IoU, when that IoU >= --rescore-iou"},
		&cli.StringFlag{Name: "rescore-config", Usage: "the second model's config.yaml (default: the one beside --rescore-weights)"},
		&cli.Float64Flag{Name: "rescore-alpha", Value: eval.DefaultRescoreAlpha, Usage: "weight alpha of the rescoring boost"},
		&cli.Float64Flag{Name: "rescore-iou", Value: eval.DefaultRescoreMinIoU, Usage: "least IoU with a same-class box of the second model that boosts a box"},
	}
}

// rescoreOptions reads the rescoring flags; ok is false without a second model.
func rescoreOptions(c *cli.Context) (opt eval.RescoreOptions, ok bool, err error) {
	opt = eval.RescoreOptions{Alpha: c.Float64("rescore-alpha"), MinIoU: c.Float64("rescore-iou")}
	if c.String("rescore-weights") == "" {
		for _, f := range []string{"rescore-config", "rescore-alpha", "rescore-iou"} {
			if c.IsSet(f) {
				return opt, false, fmt.Errorf("--%s needs --rescore-weights", f)
			}
		}
		return opt, false, nil
	}
	if err := opt.Validate(); err != nil {
		return opt, false, fmt.Errorf("--rescore-alpha/--rescore-iou: %w", err)
	}
	return opt, true, nil
}

var evalModelCommand = &cli.Command{
	Name:  "model",
	Usage: "evaluate a trained job's weights on its plan's test set as the training run did (same loader, evaluator, metric, base/novel split), optionally rescored by a second model",
	UsageText: "fsodgpu eval model --plan configs/demo.yaml --weights runs/demo/finetune/5shot_seed0/model_final.safetensors \\\n" +
		"     [--rescore-weights runs/demo-yolo/finetune/5shot_seed0/model_final.safetensors] [--json out.json]",
	Flags: append([]cli.Flag{
		&cli.StringFlag{Name: "plan", Required: true, Usage: "the plan YAML the job was trained with (its dataset, class split and metric; a job's config.yaml does not hold them)"},
		&cli.StringFlag{Name: "weights", Required: true, Usage: "the job's model_final.safetensors (or a checkpoint)"},
		&cli.StringFlag{Name: "config", Usage: "the job's config.yaml (default: the one beside --weights)"},
		&cli.StringFlag{Name: "json", Usage: "also write the metrics (percent) to this JSON file"},
		&cli.StringFlag{Name: "backend", Value: "cpu", Usage: "cpu or cuda"},
		&cli.IntFlag{Name: "device", Usage: "GPU index for the cuda backend"},
		&cli.BoolFlag{Name: "quiet", Usage: "no progress bars"},
		precisionFlag(""),
	}, rescoreFlags()...),
	Action: evalModelAction,
}

func evalModelAction(c *cli.Context) error {
	ropt, rescore, err := rescoreOptions(c)
	if err != nil {
		return err
	}
	plan, err := train.LoadPlan(c.String("plan"))
	if err != nil {
		return fmt.Errorf("--plan: %w", err)
	}
	be, err := backend.Open(c.String("backend"), c.Int("device"))
	if err != nil {
		return err
	}
	if _, err := applyPrecision(os.Stderr, be, c.String("precision")); err != nil {
		return err
	}
	opt := train.EvalModelOptions{Plan: plan, PlanPath: c.String("plan"), Weights: c.String("weights"), Config: c.String("config"),
		Quiet: c.Bool("quiet"), Log: os.Stderr}
	if rescore {
		opt.RescoreWeights, opt.RescoreConfig, opt.Rescore = c.String("rescore-weights"), c.String("rescore-config"), ropt
	}
	res, err := train.EvalModel(be, opt)
	if err != nil {
		return err
	}
	w := c.App.Writer
	row := func(name string, m map[string]float64) {
		fmt.Fprintf(w, "%-10s %7.2f %7s %7s %7.2f\n", name, m["AP50"], optPct(m, "bAP50"), optPct(m, "nAP50"), m["AP"])
	}
	fmt.Fprintf(w, "%s (%s), %d test images, metric %s\n", res.Job, res.Kind, res.Images, res.Metric)
	fmt.Fprintf(w, "%-10s %7s %7s %7s %7s\n", "", "AP50", "bAP50", "nAP50", "AP")
	row("model", res.Metrics)
	if res.Rescored != nil {
		row("rescored", res.Rescored)
		d := map[string]float64{}
		for k, v := range res.Rescored {
			d[k] = v - res.Metrics[k]
		}
		fmt.Fprintf(w, "%-10s %+7.2f %7s %7s %+7.2f\n", "delta", d["AP50"], optSigned(d, "bAP50"), optSigned(d, "nAP50"), d["AP"])
		fmt.Fprintf(w, "%d of %d boxes boosted (alpha %g, min IoU %g)\n", res.Boosted, res.Boxes, res.Options.Alpha, res.Options.MinIoU)
	}
	if out := c.String("json"); out != "" {
		return eval.WriteJSONFile(out, res)
	}
	return nil
}

func optPct(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprintf("%.2f", v)
	}
	return "-"
}

func optSigned(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprintf("%+.2f", v)
	}
	return "-"
}
