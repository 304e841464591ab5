package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/train"
	"github.com/fsodgpu/fsodgpu/engine/viz"
)

func init() {
	register(&cli.Command{
		Name:      "plot",
		Usage:     "draw a job's loss curves and evaluation (from metrics.json) as a PNG",
		UsageText: "fsodgpu plot runs/demo/base            # writes runs/demo/base/curves.png\n   fsodgpu plot --out curves.png runs/demo/finetune/5shot_seed0",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "PNG path (default RUN_DIR/curves.png)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("plot needs one run directory (a job directory holding metrics.json)")
			}
			dir := c.Args().First()
			rows, err := train.ReadMetrics(filepath.Join(dir, "metrics.json"))
			if err != nil {
				return err
			}
			charts := curves(rows)
			out := c.String("out")
			if out == "" {
				out = filepath.Join(dir, "curves.png")
			}
			img, err := viz.Render(charts, 900, 320)
			if err != nil {
				return err
			}
			if err := viz.WritePNG(out, img); err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "wrote %s (%d logged iterations)\n", out, len(rows))
			return nil
		},
	})
}

// curves turns metrics rows into three panels: losses, learning rate, and
// the evaluation APs.
func curves(rows []train.Metrics) []viz.Chart {
	loss := map[string]*viz.Series{}
	total := &viz.Series{Name: "total"}
	lr := &viz.Series{Name: "lr"}
	ap := map[string]*viz.Series{}
	for _, r := range rows {
		x := float64(r.Iter + 1)
		if r.Eval != nil {
			for k, v := range r.Eval {
				if ap[k] == nil {
					ap[k] = &viz.Series{Name: k, Points: true}
				}
				ap[k].X, ap[k].Y = append(ap[k].X, x), append(ap[k].Y, v)
			}
			continue
		}
		total.X, total.Y = append(total.X, x), append(total.Y, float64(r.TotalLoss))
		lr.X, lr.Y = append(lr.X, x), append(lr.Y, float64(r.LR))
		for k, v := range r.Losses {
			if loss[k] == nil {
				loss[k] = &viz.Series{Name: k}
			}
			loss[k].X, loss[k].Y = append(loss[k].X, x), append(loss[k].Y, float64(v))
		}
	}
	lossSeries := []viz.Series{*total}
	for _, k := range sortedKeys(loss) {
		lossSeries = append(lossSeries, *loss[k])
	}
	var apSeries []viz.Series
	for _, k := range sortedKeys(ap) {
		if k == "AP50" || k == "bAP50" || k == "nAP50" || k == "AP" || k == "nAP" {
			apSeries = append(apSeries, *ap[k])
		}
	}
	return []viz.Chart{
		{Title: "losses", XLabel: "iteration", Series: lossSeries},
		{Title: "learning rate", XLabel: "iteration", Series: []viz.Series{*lr}},
		{Title: "evaluation (percent)", XLabel: "iteration", Series: apSeries},
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
