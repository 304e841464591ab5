package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/configs"
	"github.com/fsodgpu/fsodgpu/engine/data/splits"
	"github.com/fsodgpu/fsodgpu/engine/dist"
	"github.com/fsodgpu/fsodgpu/engine/train"
)

func init() {
	register(&cli.Command{
		Name:  "train",
		Usage: "run a training plan: base training, surgery, then every (shots, seed) fine-tune, evaluation and a summary",
		UsageText: "fsodgpu train                      # the embedded demo on the CPU\n" +
			"   fsodgpu train --config configs/voc/split1/mfe_gfsod.yaml --shots 1,5,10 --seeds 0-9 --gpus 0,1,2,3 --out runs/voc1\n" +
			"   fsodgpu train --config ... --out runs/voc1 --resume   # continue killed jobs, skip finished ones",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "plan YAML (default: the embedded demo, configs/demo.yaml)"},
			&cli.StringFlag{Name: "shots", Usage: "override finetune.shots, e.g. 1,2,3,5,10"},
			&cli.StringFlag{Name: "seeds", Usage: "override finetune.seeds, e.g. 0-9"},
			&cli.StringFlag{Name: "gpus", Usage: "GPU indices, e.g. 0,1: one fine-tune per GPU at a time (implies --backend cuda)"},
			&cli.IntFlag{Name: "replicas", Usage: "data-parallel replicas per job, overriding base.replicas and finetune.stage.replicas (CPU: in-process; GPUs: spread over --gpus)"},
			&cli.StringFlag{Name: "backend", Usage: "cpu or cuda (default cpu, or cuda when --gpus is given)"},
			precisionFlag(""),
			&cli.StringFlag{Name: "out", Usage: "output directory (default runs/<plan name>)"},
			&cli.BoolFlag{Name: "resume", Usage: "continue every unfinished job from its last checkpoint"},
			&cli.BoolFlag{Name: "quiet", Usage: "log lines instead of progress bars (also the default when stderr is not a terminal)"},
			&cli.StringFlag{Name: "shard", Usage: "run shard I/N of the fine-tunes (e.g. 0/3; default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX with --shards)"},
			&cli.IntFlag{Name: "shards", Usage: "the shard count for a Kubernetes Indexed Job (JOB_COMPLETION_INDEX); equal to the Job's completions"},
			&cli.StringFlag{Name: "stage", Usage: "base: base training and surgery only; finetune: wait for them (done by another process) and run the fine-tunes"},
			&cli.DurationFlag{Name: "base-timeout", Usage: "how long a shard other than 0 (or --stage finetune) waits for base/eval.json", Value: 24 * time.Hour},
			&cli.DurationFlag{Name: "rendezvous-timeout", Usage: "under torchrun/srun with several processes: how long the ranks wait for each other", Value: 10 * time.Minute},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a Go CPU profile of the whole plan to this file (go tool pprof)"},
		},
		Action: trainAction,
	})
}

func trainAction(c *cli.Context) error {
	var plan *train.Plan
	var err error
	if path := c.String("config"); path != "" {
		plan, err = train.LoadPlan(path)
	} else {
		plan, err = train.ParsePlan(configs.Demo)
		if err != nil {
			err = fmt.Errorf("embedded demo config: %w", err)
		}
	}
	if err != nil {
		return err
	}
	opt := train.RunOptions{Backend: c.String("backend"), Resume: c.Bool("resume"), Quiet: c.Bool("quiet"), Log: os.Stderr,
		Replicas: c.Int("replicas"), Precision: c.String("precision")}
	var shardFrom string
	if opt.Shard, opt.Shards, shardFrom, err = shardFromFlags(c.String("shard"), c.Int("shards"), os.Getenv); err != nil {
		return err
	}
	opt.Stage, opt.BaseTimeout = c.String("stage"), c.Duration("base-timeout")
	if opt.Stage != "" && opt.Stage != "base" && opt.Stage != "finetune" {
		return fmt.Errorf("--stage %q: want base or finetune", opt.Stage)
	}
	if opt.Replicas < 0 {
		return fmt.Errorf("--replicas %d < 0", opt.Replicas)
	}
	if s := c.String("shots"); s != "" {
		if opt.Shots, err = splits.ParseList("shots", s); err != nil {
			return err
		}
	}
	if s := c.String("seeds"); s != "" {
		if opt.Seeds, err = splits.ParseList("seeds", s); err != nil {
			return err
		}
	}
	if s := c.String("gpus"); s != "" {
		if opt.GPUs, err = splits.ParseList("gpus", s); err != nil {
			return err
		}
		if opt.Backend == "" {
			opt.Backend = "cuda"
		}
	}
	if opt.Backend == "" {
		opt.Backend = "cpu"
	}
	opt.Out = c.String("out")
	if opt.Out == "" {
		opt.Out = filepath.Join("runs", plan.Name)
	}
	if path := c.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	fmt.Fprintf(os.Stderr, "plan %s (%s, %s, %s): output in %s, backend %s\n", plan.Name, plan.Method,
		plan.Dataset.Kind, plan.FineTune.Protocol, opt.Out, opt.Backend)
	if opt.Shards > 1 {
		fmt.Fprintf(os.Stderr, "shard %d/%d (from %s)\n", opt.Shard, opt.Shards, shardFrom)
	}
	// A torchrun or srun launch of several processes: base training becomes
	// data-parallel across them (TCP all-reduce, see engine/dist/tcp.go).
	if w, ok, err := dist.WorldFromEnv(os.Getenv); err != nil {
		return fmt.Errorf("launcher environment: %w", err)
	} else if ok && w.Size > 1 {
		fmt.Fprintf(os.Stderr, "rank %d of %d (from %s): joining %s:%d\n", w.Rank, w.Size, w.From, w.MasterAddr, w.MasterPort)
		if opt.Backend == "cuda" && len(opt.GPUs) == 0 {
			n, err := visibleGPUs()
			if err != nil {
				return err
			}
			gpu, err := rankGPU(w.LocalRank, n)
			if err != nil {
				return fmt.Errorf("%s: %w", w.From, err)
			}
			opt.GPUs = []int{gpu}
			fmt.Fprintf(os.Stderr, "rank %d: GPU %d of the %d visible (local rank %d)\n", w.Rank, gpu, n, w.LocalRank)
		}
		g, err := dist.Connect(w, c.Duration("rendezvous-timeout"))
		if err != nil {
			return err
		}
		defer g.Close()
		opt.Group = g
	}
	opt.Stop = &train.Stop{}
	resume := resumeCommand(os.Args)
	gotSignal, release := catchStopSignals(opt.Stop, resume)
	defer release()
	outcomes, err := train.Run(plan, opt)
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(os.Stderr, "fsodgpu: %v\nresume with:\n  %s\n", err, resume)
		code := 1
		if s := gotSignal(); s != nil {
			code = signalExitCode(s)
		}
		return cli.Exit("", code)
	}
	if err != nil {
		return err
	}
	if opt.Group != nil && opt.Group.World().Rank > 0 {
		return nil // rank 0 runs the rest of the plan
	}
	if opt.Stage == "base" {
		fmt.Fprintf(os.Stderr, "base stage done in %.1f min: %s\n", time.Since(start).Minutes(), filepath.Join(opt.Out, "base"))
		return nil
	}
	fmt.Printf("\n%s: %d fine-tune(s) in %.1f min; %s (percent; mean ± 95%% CI over seeds)\n",
		plan.Name, len(outcomes), time.Since(start).Minutes(), plan.Eval.Metric)
	rows := train.Aggregate(os.Stdout, outcomes)
	summary := map[string]any{"plan": plan.Name, "method": plan.Method, "metric": plan.Eval.Metric, "rows": rows}
	if data, err := json.MarshalIndent(summary, "", "  "); err == nil {
		// Shards finishing together may both write it: rename makes it atomic.
		if tmp, err := os.CreateTemp(opt.Out, ".summary.json.tmp*"); err == nil {
			tmp.Write(append(data, '\n'))
			tmp.Close()
			os.Rename(tmp.Name(), filepath.Join(opt.Out, "summary.json"))
		}
	}
	var failed []string
	for _, o := range outcomes {
		if o.Err != nil && !o.Pending {
			failed = append(failed, fmt.Sprintf("%s: %v", o.Name, o.Err))
		}
	}
	if len(failed) > 0 {
		return errors.New(fmt.Sprint(len(failed), " fine-tune(s) failed:\n  ", strings.Join(failed, "\n  ")))
	}
	return nil
}
