package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/data/coco"
	"github.com/fsodgpu/fsodgpu/engine/data/synth"
	"github.com/fsodgpu/fsodgpu/engine/data/voc"
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
				&cli.IntFlag{Name: "images", Value: 1000, Usage: "number of images (at least 25)"},
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
		}, {
			Name:  "check",
			Usage: "load a dataset (or a K-shot split of it), report every problem and print the instances per class",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "dataset", Usage: "voc or coco", Required: true},
				&cli.StringFlag{Name: "root", Usage: "VOC: the tree holding the sets; COCO: the instances JSON file", Required: true},
				&cli.StringFlag{Name: "images", Usage: "COCO: the image directory"},
				&cli.StringFlag{Name: "sets", Usage: "VOC image sets (default VOC2007/trainval,VOC2012/trainval, or trainval when ROOT is in VOC layout)"},
				&cli.StringFlag{Name: "classes", Usage: "kept classes, comma-separated (VOC default: ROOT/classes.txt if present, else the 20 VOC classes)"},
				&cli.StringFlag{Name: "split-dir", Usage: "read the K-shot split in this vocsplit/cocosplit directory instead"},
				&cli.IntFlag{Name: "shots", Usage: "K of the split"},
				&cli.IntFlag{Name: "seed", Usage: "seed of the split"},
				&cli.BoolFlag{Name: "no-decode", Usage: "only check that images exist instead of decoding every image fully"},
			},
			Action: runDataCheck,
		}},
	})
}

func runDataCheck(c *cli.Context) error {
	root := c.String("root")
	var problems []string
	opts := data.LoadOptions{CheckImages: !c.Bool("no-decode"), SkipBad: true,
		Warn: func(err error) { problems = append(problems, err.Error()) }}
	if s := c.String("classes"); s != "" {
		opts.Classes = strings.Split(s, ",")
	}
	var ds *data.Dataset
	var err error
	switch c.String("dataset") {
	case "voc":
		if b, rerr := os.ReadFile(filepath.Join(root, "classes.txt")); rerr == nil {
			opts.KnownClasses = strings.Fields(string(b))
		}
		if c.String("split-dir") != "" {
			ds, err = voc.LoadShots(root, c.String("split-dir"), opts.Classes, c.Int("shots"), c.Int("seed"), opts)
			break
		}
		sets := []string{"VOC2007/trainval", "VOC2012/trainval"}
		if s := c.String("sets"); s != "" {
			sets = strings.Split(s, ",")
		} else if isDir(filepath.Join(root, "ImageSets")) {
			sets = []string{"trainval"}
		}
		ds, err = voc.Load(root, sets, opts)
	case "coco":
		if c.String("split-dir") != "" {
			classes := opts.Classes
			if classes == nil {
				_, _, classes = coco.Split()
			}
			ds, err = coco.LoadShots(c.String("split-dir"), c.String("images"), classes, c.Int("shots"), c.Int("seed"), opts)
			break
		}
		ds, err = coco.Load(root, c.String("images"), opts)
	default:
		return fmt.Errorf("--dataset %q: want voc or coco", c.String("dataset"))
	}
	if err != nil {
		return err
	}
	if !c.Bool("no-decode") {
		// Headers were checked while loading; decode every image fully too,
		// as training will, so cut or corrupt pixel data shows up now.
		if err := data.DecodeAll(data.InputConfig{}, opts, ds); err != nil {
			return err
		}
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "%s: %d images\n", ds.Name, len(ds.Records))
	for i, n := range ds.NumInstances() {
		fmt.Fprintf(w, "  %s\t%d\n", ds.Classes[i], n)
	}
	w.Flush()
	for _, p := range problems {
		fmt.Fprintln(c.App.ErrWriter, "problem:", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems (those images were left out above)", len(problems))
	}
	return nil
}
