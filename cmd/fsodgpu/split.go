package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/data/splits"
)

func init() {
	register(&cli.Command{
		Name:  "split",
		Usage: "sample K-shot split files in the TFA/DeFRCN format for any shots and seeds",
		Description: "VOC: writes OUT/box_{K}shot_{class}_train.txt for seed 0 and OUT/seed{S}/... for the others,\n" +
			"sampling from the trainval images of --sets under --root. COCO: writes OUT/full_box_{K}shot_{class}_trainval.json\n" +
			"(and OUT/seed{S}/...) for every category of the instances file --root (or ROOT/datasplit/trainvalno5k.json).\n" +
			"Each (class, K, seed) file depends only on the data, the class, K and the seed.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dataset", Usage: "voc or coco", Required: true},
			&cli.StringFlag{Name: "root", Usage: "VOC: the tree holding the sets; COCO: the instances JSON file or a cocosplit directory", Required: true},
			&cli.StringFlag{Name: "shots", Usage: "shot counts, e.g. 1,2,3,5,10 (default VOC 1,2,3,5,10; COCO 1,2,3,5,10,30)"},
			&cli.StringFlag{Name: "seeds", Value: "0-9", Usage: "seeds, e.g. 0-29 or 0,3,7"},
			&cli.StringFlag{Name: "out", Usage: "output directory (vocsplit or cocosplit)", Required: true},
			&cli.StringFlag{Name: "sets", Usage: "VOC image sets (default VOC2007/trainval,VOC2012/trainval, or trainval when ROOT is itself in VOC layout)"},
			&cli.StringFlag{Name: "classes", Usage: "VOC classes, comma-separated (default ROOT/classes.txt if present, else the 20 VOC classes)"},
			&cli.BoolFlag{Name: "skip-bad", Usage: "report and skip bad annotations instead of failing"},
			&cli.BoolFlag{Name: "force", Usage: "replace existing split files with other content (seed 0 sits where TFA's published splits are)"},
		},
		Action: runSplit,
	})
}

func runSplit(c *cli.Context) error {
	ds := c.String("dataset")
	shotsArg := c.String("shots")
	if shotsArg == "" {
		shotsArg = map[string]string{"voc": "1,2,3,5,10", "coco": "1,2,3,5,10,30"}[ds]
	}
	shots, err := splits.ParseList("--shots", shotsArg)
	if err != nil {
		return err
	}
	seeds, err := splits.ParseList("--seeds", c.String("seeds"))
	if err != nil {
		return err
	}
	root, out := c.String("root"), c.String("out")
	var n int
	switch ds {
	case "voc":
		o := splits.VOCOptions{Root: root, Shots: shots, Seeds: seeds, Out: out, Overwrite: c.Bool("force")}
		o.Load.SkipBad = c.Bool("skip-bad")
		if s := c.String("sets"); s != "" {
			o.Sets = strings.Split(s, ",")
		} else if isDir(filepath.Join(root, "ImageSets")) {
			o.Sets = []string{"trainval"}
		} else {
			o.Sets = []string{"VOC2007/trainval", "VOC2012/trainval"}
		}
		if s := c.String("classes"); s != "" {
			o.Classes = strings.Split(s, ",")
		} else if b, err := os.ReadFile(filepath.Join(root, "classes.txt")); err == nil {
			o.Classes = strings.Fields(string(b))
		}
		n, err = splits.WriteVOC(o)
	case "coco":
		ann := root
		if isDir(root) {
			ann = filepath.Join(root, "datasplit", "trainvalno5k.json")
		}
		n, err = splits.WriteCOCO(splits.COCOOptions{AnnFile: ann, Shots: shots, Seeds: seeds, Out: out, Overwrite: c.Bool("force")})
	default:
		return fmt.Errorf("--dataset %q: want voc or coco", ds)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %d split files to %s (shots %v, %d seeds)\n", n, out, shots, len(seeds))
	return nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
