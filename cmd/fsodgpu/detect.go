package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/train"
	"github.com/fsodgpu/fsodgpu/engine/viz"
)

func init() {
	register(&cli.Command{
		Name:  "detect",
		Usage: "run a trained detector on images: prints the detections and writes PNGs with labelled boxes",
		UsageText: "fsodgpu detect --weights runs/demo/finetune/5shot_seed0/model_final.safetensors --out dets/ img1.jpg img2.png\n" +
			"   fsodgpu detect --weights runs/demo/finetune/5shot_seed0/model_final.safetensors \\\n" +
			"     --rescore-weights runs/demo-yolo/finetune/5shot_seed0/model_final.safetensors img1.png   # rescored by YOLO",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "weights", Required: true, Usage: "model weights (a job's model_final.safetensors or a checkpoint)"},
			&cli.StringFlag{Name: "config", Usage: "the job's config.yaml (default: the one beside the weights)"},
			&cli.StringFlag{Name: "out", Value: "detections", Usage: "directory for the annotated PNGs"},
			&cli.Float64Flag{Name: "threshold", Value: 0.5, Usage: "minimum score to print and draw (with --rescore-weights, of the rescored score, which can exceed 1)"},
			&cli.StringFlag{Name: "backend", Value: "cpu", Usage: "cpu or cuda"},
			&cli.IntFlag{Name: "device", Usage: "GPU index for the cuda backend"},
			precisionFlag(""),
		}, rescoreFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return fmt.Errorf("detect needs at least one image")
			}
			ropt, rescore, err := rescoreOptions(c)
			if err != nil {
				return err
			}
			be, err := backend.Open(c.String("backend"), c.Int("device"))
			if err != nil {
				return err
			}
			if _, err := applyPrecision(os.Stderr, be, c.String("precision")); err != nil {
				return err
			}
			p, err := train.LoadPredictor(be, c.String("weights"), c.String("config"))
			if err != nil {
				return err
			}
			var second *train.Predictor
			if rescore {
				if second, err = train.LoadPredictor(be, c.String("rescore-weights"), c.String("rescore-config")); err != nil {
					return err
				}
				if err := train.SameClasses(p, second); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(c.String("out"), 0o755); err != nil {
				return err
			}
			thr := float32(c.Float64("threshold"))
			w := c.App.Writer
			classIdx := data.ClassIndex(p.Classes)
			for _, path := range c.Args().Slice() {
				if err := data.CheckHeader(path); err != nil {
					return err
				}
				img, err := p.DecodeFile(path)
				if err != nil {
					return err
				}
				dets, err := p.Predict(img)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				if second != nil {
					// The second model reads the file as its own job did.
					img2, err := second.DecodeFile(path)
					if err != nil {
						return err
					}
					other, err := second.Predict(img2)
					if err != nil {
						return fmt.Errorf("%s: %s: %w", path, c.String("rescore-weights"), err)
					}
					if dets, err = train.Rescore(p, dets, other, ropt); err != nil {
						return err
					}
					// Rescoring reorders: print and draw by the new scores.
					sort.SliceStable(dets, func(i, j int) bool { return dets[i].Score > dets[j].Score })
				}
				var boxes []viz.Box
				fmt.Fprintf(w, "%s (%dx%d):\n", path, img.W, img.H)
				for _, d := range dets {
					if d.Score < thr {
						continue
					}
					fmt.Fprintf(w, "  %-12s %.3f  [%.1f, %.1f, %.1f, %.1f]\n", d.Class, d.Score, d.Box[0], d.Box[1], d.Box[2], d.Box[3])
					boxes = append(boxes, viz.Box{X1: d.Box[0], Y1: d.Box[1], X2: d.Box[2], Y2: d.Box[3],
						Label: fmt.Sprintf("%s %.2f", d.Class, d.Score), Class: classIdx[d.Class]})
				}
				if len(boxes) == 0 {
					fmt.Fprintf(w, "  (nothing above %.2f)\n", thr)
				}
				rgba := img.ToRGBA()
				viz.DrawBoxes(rgba, boxes)
				name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ".png"
				out := filepath.Join(c.String("out"), name)
				if err := viz.WritePNG(out, rgba); err != nil {
					return err
				}
				fmt.Fprintf(w, "  wrote %s\n", out)
			}
			return nil
		},
	})
}
