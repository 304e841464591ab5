package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/bench"
	"github.com/fsodgpu/fsodgpu/engine/backend"
)

func init() {
	register(&cli.Command{
		Name:  "bench",
		Usage: "kernel microbenchmarks at the R-101 C4 training shapes",
		Subcommands: []*cli.Command{
			{
				Name:  "kernels",
				Usage: "time every kernel family; GFLOP/s or GB/s beside the time",
				UsageText: "fsodgpu bench kernels --backend cpu --json bench/results/kernels-cpu.json\n" +
					"   fsodgpu bench kernels --backend cuda --device 0 --json bench/results/kernels-h100.json",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "backend", Value: "cpu", Usage: "cpu or cuda"},
					&cli.IntFlag{Name: "device", Value: 0, Usage: "GPU index for the cuda backend"},
					precisionFlag("fp32"),
					&cli.StringFlag{Name: "json", Usage: "write the report to this file"},
					&cli.StringFlag{Name: "filter", Usage: "run only cases whose name contains this (comma-separated: any of them, e.g. conv.,gemm.)"},
					&cli.IntFlag{Name: "images", Usage: "images per batch (default 16 on cuda, 1 on cpu)"},
					&cli.DurationFlag{Name: "min-time", Value: 2 * time.Second, Usage: "time spent repeating each case"},
					&cli.IntFlag{Name: "min-reps", Value: 3, Usage: "at least this many timed repeats"},
					&cli.BoolFlag{Name: "list", Usage: "list the cases and exit"},
					&cli.BoolFlag{Name: "quiet", Usage: "no progress bar"},
				},
				Action: benchKernels,
			},
			{
				Name:      "compare",
				Usage:     "compare two reports case by case (ours vs bench/torch_bench.py's)",
				UsageText: "fsodgpu bench compare bench/results/kernels-cpu.json bench/results/torch-cpu.json",
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return fmt.Errorf("bench compare needs two report files, got %d", c.NArg())
					}
					ours, err := bench.ReadReport(c.Args().Get(0))
					if err != nil {
						return err
					}
					theirs, err := bench.ReadReport(c.Args().Get(1))
					if err != nil {
						return err
					}
					bench.PrintComparison(os.Stdout, ours, theirs, bench.Compare(ours, theirs))
					return nil
				},
			},
			benchDetectCommand,
		},
	})
}

func benchKernels(c *cli.Context) error {
	name := c.String("backend")
	sz := bench.CPUSizes()
	if name != "cpu" {
		sz = bench.GPUSizes()
	}
	if n := c.Int("images"); n > 0 {
		sz.Images = n
	}
	cases := bench.Cases(sz)
	if c.Bool("list") {
		for _, n := range bench.Names(cases) {
			fmt.Println(n)
		}
		return nil
	}
	be, err := backend.Open(name, c.Int("device"))
	if err != nil {
		return err
	}
	timing := "host clock"
	if _, ok := be.(bench.Timer); ok {
		timing = "device events"
	}
	pol, err := applyPrecision(os.Stdout, be, c.String("precision"))
	if err != nil {
		return err
	}
	device := deviceName(be)
	fmt.Printf("bench kernels: backend %s, device %s, %d images/batch, timing by %s, precision %s\n", name, device, sz.Images, timing, pol)
	opt := bench.Options{Filter: c.String("filter"), MinReps: c.Int("min-reps"), MaxReps: 200, MinTime: c.Duration("min-time")}
	if !c.Bool("quiet") {
		var bar *progressbar.ProgressBar
		opt.Progress = func(done, total int, caseName string) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
					progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30))
			}
			bar.Describe(fmt.Sprintf("%-28s", caseName))
			_ = bar.Set(done)
		}
	}
	results := bench.Run(be, cases, opt)
	bench.PrintTable(os.Stdout, results)
	if path := c.String("json"); path != "" {
		rep := bench.NewReport(name, device, version, sz, timing, results)
		rep.Precision = pol.String()
		if err := bench.WriteReport(path, rep); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	for _, r := range results {
		if r.Error != "" {
			return fmt.Errorf("%s failed: %s", r.Name, r.Error)
		}
	}
	return nil
}

// deviceName asks the backend for its device (CUDA backends know theirs);
// for the CPU it reads the processor model.
func deviceName(be backend.Backend) string {
	if d, ok := be.(interface{ DeviceName() string }); ok {
		return d.DeviceName()
	}
	model := runtime.GOARCH
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s (%d threads)", model, runtime.GOMAXPROCS(0))
}
