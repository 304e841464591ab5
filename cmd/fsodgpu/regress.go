package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/eval"
)

func init() {
	register(&cli.Command{
		Name:      "regress",
		Usage:     "compare fine-tune results (mean ± 95% CI over jobs) with published numbers",
		ArgsUsage: "RUN_DIR...",
		Description: "Finds every results.json at or below each RUN_DIR, groups the jobs by dataset, split,\n" +
			"protocol, shots and method, and compares each group's mean with the entry of the\n" +
			"reported file. Fails when a group is below its reported number by more than the\n" +
			"tolerance, or when no results.json is found.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "reported", Usage: "published numbers (configs/reported/*.yaml)", Required: true},
			&cli.Float64Flag{Name: "tolerance", Usage: "allowed shortfall in AP points", Value: 2.0},
			&cli.StringFlag{Name: "metric", Usage: "compare this metric of ours (e.g. nAP50) instead of each table's"},
		},
		Action: regressAction,
	})
}

func regressAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return fmt.Errorf("regress: give at least one RUN_DIR")
	}
	tol := c.Float64("tolerance")
	if !(tol >= 0) {
		return fmt.Errorf("--tolerance %g: want >= 0", tol)
	}
	rep, err := eval.ReadReported(c.String("reported"))
	if err != nil {
		return err
	}
	paths, err := eval.FindJobResults(c.Args().Slice())
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no %s found below %v", eval.ResultsFileName, c.Args().Slice())
	}
	groups, err := eval.Regress(paths, rep, c.String("metric"), tol)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%d jobs against %s (%s), tolerance %g AP points\n", len(paths), rep.Name, c.String("reported"), tol)
	if err := eval.WriteRegressTable(c.App.Writer, groups, tol); err != nil {
		return err
	}
	below := 0
	for _, g := range groups {
		if g.Below {
			below++
		}
	}
	if below > 0 {
		return fmt.Errorf("%d of %d groups are below the reported numbers by more than %g AP points", below, len(groups), tol)
	}
	return nil
}
