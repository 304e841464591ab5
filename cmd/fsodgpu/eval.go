package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/eval"
)

func init() {
	register(&cli.Command{
		Name:  "eval",
		Usage: "score detection files with COCO (pycocotools) or PASCAL VOC (voc_eval) rules, or a trained model on its plan's test set",
		Subcommands: []*cli.Command{
			{
				Name:  "coco",
				Usage: "COCO bbox AP/AR of a results file against an instances file",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "gt", Usage: "COCO instances JSON (ground truth)", Required: true},
					&cli.StringFlag{Name: "results", Usage: "detections in COCO results format", Required: true},
					&cli.StringFlag{Name: "json", Usage: "also write the numbers (fractions) to this JSON file"},
				},
				Action: evalCOCOAction,
			},
			{
				Name:  "voc",
				Usage: "PASCAL VOC AP of devkit result files (comp4_det_<set>_<class>.txt)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "devkit", Usage: "VOC tree with Annotations/ and ImageSets/Main/", Required: true},
					&cli.StringFlag{Name: "set", Usage: "image set (ImageSets/Main/<set>.txt)", Value: "test"},
					&cli.StringFlag{Name: "dets", Usage: "directory of comp4_det_<set>_<class>.txt files", Required: true},
					&cli.StringFlag{Name: "metric", Usage: "voc07 (11-point) or area (all-point)", Value: "voc07"},
					&cli.StringFlag{Name: "iou", Usage: "IoU threshold (a match needs a strictly greater overlap), or 0.5:0.95 for the mean over 0.50, 0.55, ..., 0.95", Value: "0.5"},
					&cli.StringFlag{Name: "classes", Usage: "comma-separated class names (default: classes.txt in --devkit or its parent, else every class in the annotations and result files)"},
					&cli.StringFlag{Name: "json", Usage: "also write the numbers (fractions) to this JSON file"},
				},
				Action: evalVOCAction,
			},
			evalErrorsCommand,
			evalModelCommand,
		},
	})
}

func evalCOCOAction(c *cli.Context) error {
	gt, err := eval.ReadCOCOGroundTruth(c.String("gt"))
	if err != nil {
		return err
	}
	dets, err := eval.ReadCOCOResults(c.String("results"), gt)
	if err != nil {
		return err
	}
	res, err := gt.Evaluate(dets)
	if err != nil {
		return err
	}
	if err := eval.WriteCOCOSummary(c.App.Writer, res.Stats); err != nil {
		return err
	}
	if out := c.String("json"); out != "" {
		return eval.WriteJSONFile(out, eval.NewCOCOReport(gt, res))
	}
	return nil
}

func evalVOCAction(c *cli.Context) error {
	metric, err := eval.ParseVOCMetric(c.String("metric"))
	if err != nil {
		return fmt.Errorf("--metric: %v", err)
	}
	ious, err := eval.ParseVOCIoU(c.String("iou"))
	if err != nil {
		return fmt.Errorf("--iou: %v", err)
	}
	var classes []string
	if s := c.String("classes"); s != "" {
		for _, name := range strings.Split(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				classes = append(classes, name)
			}
		}
		if len(classes) == 0 {
			return fmt.Errorf("--classes %q: no class names", s)
		}
		seen := map[string]bool{}
		for _, n := range classes {
			if seen[n] {
				return fmt.Errorf("--classes: %q listed twice", n)
			}
			seen[n] = true
		}
	} else {
		var err error
		if classes, err = devkitClasses(c.String("devkit")); err != nil {
			return err
		}
	}
	// classes nil: every class of the annotations and the result files.
	kit, err := eval.ReadVOCDevkit(c.String("devkit"), c.String("set"), classes)
	if err != nil {
		return err
	}
	classes = kit.Classes
	if err := kit.ReadDetections(c.String("dets")); err != nil {
		return err
	}
	found := false
	for c := range classes {
		found = found || kit.Data.HasDetections(c)
	}
	if !found {
		// Almost always a wrong --set or --dets; an empty result file is how a
		// detector that found nothing says so.
		if len(classes) == 0 {
			return fmt.Errorf("%s: no %s file and no annotated object in %s", c.String("dets"), eval.VOCResultFile(c.String("set"), "<class>"), c.String("devkit"))
		}
		return fmt.Errorf("%s: no %s file for any of %v", c.String("dets"), eval.VOCResultFile(c.String("set"), "<class>"), classes)
	}
	rep := eval.NewVOCReport(kit, ious, metric)
	if err := rep.Write(c.App.Writer); err != nil {
		return err
	}
	if out := c.String("json"); out != "" {
		return eval.WriteJSONFile(out, rep)
	}
	return nil
}

// devkitClasses reads the dataset's class list from classes.txt in the devkit
// directory or the one above it (VOCdevkit/classes.txt beside VOC2007/), one
// name a line; nil when there is none.
func devkitClasses(devkit string) ([]string, error) {
	for _, dir := range []string{devkit, filepath.Dir(filepath.Clean(devkit))} {
		path := filepath.Join(dir, "classes.txt")
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		names := strings.Fields(string(b))
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: no class names", path)
		}
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				return nil, fmt.Errorf("%s: class %q listed twice", path, n)
			}
			seen[n] = true
		}
		return names, nil
	}
	return nil, nil
}
