package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/data/synth"
)

func init() {
	register(&cli.Command{
		Name:  "data",
		Usage: "prepare datasets",
		Subcommands: []*cli.Command{{
			Name:  "synth",
			Usage: "write the synthetic few-shot dataset (20 shape classes, 15 base / 5 novel) in VOC layout with TFA-style split files",
			Description: "The same flags give byte-identical files. The first 80% of the images form trainval, the rest test;\n" +
				"vocsplit/ holds box_{K}shot_{class}_train.txt for K in 1,2,3,5,10 (seed 0) and vocsplit/seed{S}/.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Usage: "output directory (created; must be empty)", Required: true},
				&cli.IntFlag{Name: "images", Value: 1000, Usage: "number of images"},
				&cli.IntFlag{Name: "size", Value: 128, Usage: "image side in pixels"},
				&cli.Int64Flag{Name: "seed", Value: 0, Usage: "drawing seed"},
				&cli.IntFlag{Name: "split-seeds", Value: 10, Usage: "write K-shot splits for seeds 0..N-1"},
			},
			Action: func(c *cli.Context) error {
				p := synth.Params{Images: c.Int("images"), Size: c.Int("size"), Seed: c.Int64("seed"), SplitSeeds: c.Int("split-seeds")}
				t0 := time.Now()
				if err := synth.Write(c.String("out"), p); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "wrote %d images of %dx%d px to %s in %.1fs\n", p.Images, p.Size, p.Size, c.String("out"), time.Since(t0).Seconds())
				return nil
			},
		}},
	})
}
