package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/model"
	"github.com/fsodgpu/fsodgpu/engine/train"
)

// benchDetectCommand times inference of each plan's detector in one run, so
// the numbers share a machine and its load: YOLOv1 against Faster R-CNN.
var benchDetectCommand = &cli.Command{
	Name:      "detect",
	Usage:     "inference images/s of each plan's detector (forward pass at the plan's test size, batch 1, CPU)",
	UsageText: "fsodgpu bench detect --config configs/demo.yaml --config configs/demo-yolo.yaml [--weights A --weights B]",
	Flags: []cli.Flag{
		&cli.StringSliceFlag{Name: "config", Usage: "a plan file (repeat for each detector)", Required: true},
		&cli.StringSliceFlag{Name: "weights", Usage: "trained weights per --config, in order, each with its job's config.yaml beside it (default: random init of the base model)"},
		&cli.IntFlag{Name: "images", Value: 30, Usage: "timed images per detector (after 3 untimed)"},
	},
	Action: func(c *cli.Context) error {
		configs, weights := c.StringSlice("config"), c.StringSlice("weights")
		if len(weights) > 0 && len(weights) != len(configs) {
			return fmt.Errorf("--weights: %d files for %d --config plans (give one per plan, or none)", len(weights), len(configs))
		}
		n := c.Int("images")
		if n < 1 {
			return fmt.Errorf("--images %d < 1", n)
		}
		be := cpu.New()
		fmt.Fprintf(c.App.Writer, "%-28s %-12s %8s %10s %10s\n", "plan", "arch", "size", "ms/img", "images/s")
		for i, path := range configs {
			p, err := train.LoadPlan(path)
			if err != nil {
				return err
			}
			mc, err := p.StageModel(&p.Base)
			if err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			if len(weights) > 0 {
				// The model a job trained is the one its config.yaml (beside
				// the weights) describes: a fine-tune has the fine-tune
				// stage's classes and layers (e.g. the decoupling affines),
				// not the base stage's.
				pr, err := train.LoadPredictor(be, weights[i], "")
				if err != nil {
					return err
				}
				if err := timeDetector(c, p.Name, pr.Det.Config(), pr.Det, pr.Short, n); err != nil {
					return err
				}
				continue
			}
			m, err := model.Build(be, mc, 1)
			if err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			if err := timeDetector(c, p.Name, mc, m, p.Base.TestShortSide, n); err != nil {
				return err
			}
		}
		return nil
	},
}

func timeDetector(c *cli.Context, name string, mc model.Config, m model.Model, size, n int) error {
	be := m.Backend()
	rng := rand.New(rand.NewPCG(1, 2))
	img := make([]float32, 3*size*size)
	for i := range img {
		img[i] = float32(rng.IntN(256))
	}
	in := model.Input{Images: be.FromFloat32(img, 1, 3, size, size), Sizes: [][2]int{{size, size}}}
	defer be.Free(in.Images)
	var total time.Duration
	for i := 0; i < n+3; i++ {
		t0 := time.Now()
		if _, err := m.Forward(in, 0, false); err != nil {
			return err
		}
		if i >= 3 {
			total += time.Since(t0)
		}
	}
	per := total.Seconds() / float64(n)
	arch := mc.Arch
	if arch == "" {
		arch = model.ArchFasterRCNN
	}
	_, err := fmt.Fprintf(c.App.Writer, "%-28s %-12s %8d %10.1f %10.1f\n", name, arch, size, 1000*per, 1/per)
	return err
}
