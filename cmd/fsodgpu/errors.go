package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/eval"
	"github.com/fsodgpu/fsodgpu/engine/viz"
)

var evalErrorsCommand = &cli.Command{
	Name:  "errors",
	Usage: "YOLO-paper error analysis: Correct / Localization / Similar / Other / Background of each class's top-N detections",
	UsageText: "fsodgpu eval errors --gt instances.json --results dets.json [--json errors.json] [--png errors.png] [--novel 3,7]\n" +
		"   similar classes: --groups FILE, else the COCO supercategories, else the built-in VOC grouping",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "gt", Usage: "COCO instances JSON (ground truth)", Required: true},
		&cli.StringFlag{Name: "results", Usage: "detections in COCO results format", Required: true},
		&cli.StringFlag{Name: "json", Usage: "write the counts to this JSON file"},
		&cli.StringFlag{Name: "png", Usage: "write the stacked-bar chart to this PNG file"},
		&cli.StringFlag{Name: "novel", Usage: "comma-separated novel category ids (the rest are base); adds base/novel groups and their confusion"},
		&cli.StringFlag{Name: "groups", Usage: "JSON file {group: [class name, ...]} of similar classes (overrides supercategories and the VOC grouping)"},
	},
	Action: evalErrorsAction,
}

func evalErrorsAction(c *cli.Context) error {
	gt, err := eval.ReadCOCOGroundTruth(c.String("gt"))
	if err != nil {
		return err
	}
	dets, err := eval.ReadCOCOResults(c.String("results"), gt)
	if err != nil {
		return err
	}
	names := make([]string, len(gt.Categories))
	for k, cat := range gt.Categories {
		names[k] = cat.Name
	}
	group, err := errorGroups(c.String("groups"), gt, names)
	if err != nil {
		return err
	}
	var base, novel []int
	novelSet := map[int]bool{}
	if s := c.String("novel"); s != "" {
		for _, f := range strings.Split(s, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("--novel %q: %q is not a category id", s, f)
			}
			k, ok := gt.ClassIndex(id)
			if !ok {
				return fmt.Errorf("--novel: category id %d is not in %s", id, gt.Path)
			}
			novelSet[k] = true
		}
		for k := range gt.Categories {
			if novelSet[k] {
				novel = append(novel, k)
			} else {
				base = append(base, k)
			}
		}
	}
	objs, flat := gt.ErrorInputs(dets)
	a, err := eval.AnalyzeErrors(objs, flat, len(names), group)
	if err != nil {
		return err
	}
	if novel != nil {
		a.SetSplit(flat, base, novel)
	}
	if err := a.WriteTable(c.App.Writer, names, novelSet); err != nil {
		return err
	}
	if out := c.String("json"); out != "" {
		if err := eval.WriteJSONFile(out, a.Report(gt.CategoryIDStrings())); err != nil {
			return err
		}
	}
	if out := c.String("png"); out != "" {
		img, err := viz.ErrorChart(a, names, novelSet, "error analysis")
		if err != nil {
			return err
		}
		return viz.WritePNG(out, img)
	}
	return nil
}

// errorGroups picks the similar-class grouping: the --groups file, else
// the COCO supercategories when the file has any, else the built-in VOC one.
func errorGroups(path string, gt *eval.COCOGroundTruth, names []string) ([]string, error) {
	if path != "" {
		g, err := eval.ReadSimilarGroups(path)
		if err != nil {
			return nil, err
		}
		return eval.GroupsByName(names, g), nil
	}
	sup, err := eval.ReadCOCOSupercategories(gt.Path)
	if err != nil {
		return nil, err
	}
	group := make([]string, len(names))
	any := false
	for k, cat := range gt.Categories {
		group[k] = sup[cat.ID]
		any = any || group[k] != ""
	}
	if any {
		return group, nil
	}
	return eval.GroupsByName(names, eval.VOCSimilarGroups), nil
}
