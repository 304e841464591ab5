package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/data/coco"
	"github.com/fsodgpu/fsodgpu/engine/data/synth"
	"github.com/fsodgpu/fsodgpu/engine/data/voc"
	"github.com/fsodgpu/fsodgpu/engine/dist"
	"github.com/fsodgpu/fsodgpu/engine/eval"
)

// RunOptions are the command line's choices for a plan.
type RunOptions struct {
	Out     string // the plan's output directory
	Shots   []int  // overrides finetune.shots when non-empty
	Seeds   []int  // overrides finetune.seeds when non-empty
	Backend string // cpu or cuda
	GPUs    []int  // devices for the cuda backend: one fine-tune per GPU at a time
	// Replicas overrides base.replicas and finetune.stage.replicas when > 0.
	Replicas int
	// Precision overrides base.precision and finetune.stage.precision when
	// not "" (fp32, tf32 or bf16).
	Precision string
	Resume    bool
	Quiet     bool
	Log       io.Writer
	// Stop, when requested (a signal), makes the running job checkpoint at
	// its current iteration and Run return an *InterruptedError.
	Stop *Stop
	// Shard of Shards (0 <= Shard < Shards; Shards <= 1 = everything) runs
	// the fine-tunes whose plan index is Shard mod Shards, sharing Out with
	// the other shards; see shard.go.
	Shard, Shards int
	// Stage "base" runs base training and surgery only; "finetune" waits for
	// them (done by another process); "" runs base in shard 0 and waits in
	// the others.
	Stage string
	// BaseTimeout bounds the wait for another process's base training.
	BaseTimeout time.Duration
	// Group, when its world has more than one process (torchrun's or
	// Slurm's environment), makes base training data-parallel across the
	// processes; rank 0 then runs surgery and the fine-tunes alone and the
	// other ranks return after base training.
	Group *dist.Group
}

// JobOutcome is one fine-tune's result or failure.
type JobOutcome struct {
	Name    string
	Shots   int
	Seed    int
	Repeat  int
	Dir     string
	Metrics map[string]float64
	Err     error
	// Pending: another shard's job (or one locked by another process) that
	// has no results.json yet; not a failure, and not in the table.
	Pending bool
}

// classSets are the class lists of a plan's stages.
type classSets struct {
	base, novel, all []string
}

func (p *Plan) classes() (classSets, error) {
	switch p.Dataset.Kind {
	case "synth":
		return classSets{synth.BaseClasses(), synth.NovelClasses(), append(synth.BaseClasses(), synth.NovelClasses()...)}, nil
	case "voc":
		b, n, a, err := voc.Split(p.Dataset.Split)
		return classSets{b, n, a}, err
	default:
		b, n, a := coco.Split()
		return classSets{b, n, a}, nil
	}
}

// dataRoot resolves the dataset root, writing the synthetic set on first use.
func (p *Plan) dataRoot(log func(string, ...any)) (string, error) {
	if p.Dataset.Kind != "synth" {
		if p.Dataset.Root == "" {
			return "", fmt.Errorf("dataset.root is not set for dataset.kind %s", p.Dataset.Kind)
		}
		return p.Dataset.Root, nil
	}
	cache := p.Dataset.Root
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cache = filepath.Join(dir, "fsodgpu")
	}
	t0 := time.Now()
	root, err := synth.Ensure(cache, synth.Params{Images: p.Dataset.SynthImages, Size: p.Dataset.SynthSize, Seed: p.Dataset.SynthSeed})
	if err != nil {
		return "", err
	}
	log("synthetic dataset at %s (%.1fs)", root, time.Since(t0).Seconds())
	return root, nil
}

func (p *Plan) resolve(root, rel string) string {
	if rel == "" || filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(root, rel)
}

func (p *Plan) loadOpts(kept, known []string, log func(string, ...any)) data.LoadOptions {
	return data.LoadOptions{Classes: kept, KnownClasses: known, SkipBad: p.Dataset.SkipBad,
		Warn: func(err error) { log("skipping: %v", err) }}
}

// trainSet is the base stage's training data (base classes only).
func (p *Plan) trainSet(root string, cs classSets, log func(string, ...any)) (*data.Dataset, error) {
	switch p.Dataset.Kind {
	case "coco":
		return coco.Load(p.resolve(root, p.Dataset.TrainJSON), p.resolve(root, p.Dataset.TrainDir), p.loadOpts(cs.base, nil, log))
	case "synth":
		return voc.Load(root, []string{"trainval"}, p.loadOpts(cs.base, cs.all, log))
	default:
		return voc.Load(root, p.Dataset.TrainSets, p.loadOpts(cs.base, nil, log))
	}
}

// testSet is the evaluation data restricted to the given classes.
func (p *Plan) testSet(root string, cs classSets, kept []string, log func(string, ...any)) (*data.Dataset, error) {
	var ds *data.Dataset
	var err error
	switch p.Dataset.Kind {
	case "coco":
		ds, err = coco.Load(p.resolve(root, p.Dataset.TestJSON), p.resolve(root, p.Dataset.TestDir), p.loadOpts(kept, nil, log))
	case "synth":
		ds, err = voc.Load(root, []string{"test"}, p.loadOpts(kept, cs.all, log))
	default:
		ds, err = voc.Load(root, []string{p.Dataset.TestSet}, p.loadOpts(kept, nil, log))
	}
	if err == nil && p.Dataset.MaxTestImages > 0 && len(ds.Records) > p.Dataset.MaxTestImages {
		ds.Records = ds.Records[:p.Dataset.MaxTestImages]
	}
	return ds, err
}

// shotSet is a fine-tune's K-shot training data.
func (p *Plan) shotSet(root string, cs classSets, kept []string, shots, seed int, log func(string, ...any)) (*data.Dataset, error) {
	switch p.Dataset.Kind {
	case "coco":
		dir := p.Dataset.SplitDir
		if dir == "" {
			dir = filepath.Join(root, "cocosplit")
		}
		return coco.LoadShots(p.resolve(root, dir), p.resolve(root, p.Dataset.TrainDir), kept, shots, seed, p.loadOpts(kept, nil, log))
	default:
		dir := p.Dataset.SplitDir
		if dir == "" {
			dir = filepath.Join(root, "vocsplit")
		}
		var known []string
		if p.Dataset.Kind == "synth" {
			known = cs.all
		}
		return voc.LoadShots(root, p.resolve(root, dir), kept, shots, seed, p.loadOpts(kept, known, log))
	}
}

func indices(of, in []string) []int {
	pos := data.ClassIndex(in)
	var out []int
	for _, c := range of {
		if i, ok := pos[c]; ok {
			out = append(out, i)
		}
	}
	return out
}

// Run executes the plan: base training (skipped when its final weights
// exist), surgery, every fine-tune (in parallel across GPUs; a failed one is
// reported and the others go on), then the aggregate table.
func Run(p *Plan, opt RunOptions) ([]JobOutcome, error) {
	logw := opt.Log
	if logw == nil {
		logw = os.Stderr
	}
	var logMu sync.Mutex
	log := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(logw, format+"\n", args...)
	}
	// Every requested shot count and seed must be valid and scheduled: fail
	// before hours of base training.
	if err := p.checkJobs(opt.Shots, opt.Seeds); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, err
	}
	cs, err := p.classes()
	if err != nil {
		return nil, err
	}
	root, err := p.dataRoot(log)
	if err != nil {
		return nil, err
	}
	devices := opt.GPUs
	if opt.Backend == "cpu" || len(devices) == 0 {
		devices = []int{0}
	}
	pool := &backendPool{name: opt.Backend, open: map[int]backend.Backend{}}
	if opt.Replicas > 0 {
		p.Base.Replicas, p.FineTune.Stage.Replicas = opt.Replicas, opt.Replicas
	}

	// ---- base stage ----
	be0, err := pool.get(devices[0])
	if err != nil {
		return nil, err
	}
	baseStage := p.Base
	baseDevs, err := placeReplicas(&baseStage, "base", opt.Backend, devices)
	if err != nil {
		return nil, err
	}
	baseBackends, err := pool.getAll(baseDevs)
	if err != nil {
		return nil, err
	}
	// The matrix policy of both stages is decided (and a precision the
	// backend cannot run refused) before any training.
	if opt.Precision != "" {
		if _, err := backend.ParsePrecision(opt.Precision); err != nil {
			return nil, fmt.Errorf("--precision: %w", err)
		}
		p.Base.Precision, p.FineTune.Stage.Precision = opt.Precision, opt.Precision
	}
	ftDevs := devices
	if opt.Backend == "cpu" {
		ftDevs = []int{devices[0]}
	}
	ftBackends, err := pool.getAll(ftDevs)
	if err != nil {
		return nil, err
	}
	basePolicy, err := stagePolicy("base", append([]backend.Backend{be0}, baseBackends...), p.Base.Precision, log)
	if err != nil {
		return nil, err
	}
	ftPolicy, err := stagePolicy("finetune", ftBackends, p.FineTune.Stage.Precision, log)
	if err != nil {
		return nil, err
	}
	baseModel, err := p.StageModel(&p.Base)
	if err != nil {
		return nil, err
	}
	baseModel.NumClasses = len(cs.base)
	baseTrain, err := p.trainSet(root, cs, log)
	if err != nil {
		return nil, err
	}
	baseTest, err := p.testSet(root, cs, cs.base, log)
	if err != nil {
		return nil, err
	}
	// Everything the fine-tunes read is loaded and every image decoded now,
	// so a bad split file or a cut JPEG fails before base training.
	pre, err := p.preflight(root, cs, opt, baseTrain, baseTest, log)
	if err != nil {
		return nil, err
	}
	baseJob := &Job{Name: "base", Dir: filepath.Join(opt.Out, "base"), Kind: "base", Stage: baseStage, Model: baseModel,
		Train: baseTrain, Test: baseTest, Base: indices(cs.base, cs.base), Init: p.Base.Weights,
		Seed: uint64(p.Base.Seed), Metric: p.Eval.Metric, Input: p.Input, Backend: be0, Backends: baseBackends, Precision: basePolicy, Resume: opt.Resume, Quiet: opt.Quiet, Log: logw, Stop: opt.Stop,
		Group: opt.Group, Info: JobInfo{Dataset: p.Dataset.Kind, Split: p.Dataset.Split, Protocol: "base", Method: p.Method}}
	runsBase := opt.Stage == "base" || opt.Stage == "" && opt.Shard == 0
	if _, err := os.Stat(filepath.Join(baseJob.Dir, "eval.json")); err == nil {
		log("base: done earlier (%s)", baseJob.Dir)
	} else if !runsBase {
		timeout := opt.BaseTimeout
		if timeout <= 0 {
			timeout = 24 * time.Hour
		}
		if err := waitForBase(baseJob.Dir, timeout, opt.Stop, log); err != nil {
			return nil, err
		}
	} else {
		t0 := time.Now()
		res, err := baseJob.Run()
		if err != nil {
			return nil, fmt.Errorf("base training: %w", err)
		}
		log("base: AP50 %.2f on %d base classes (%.1f min)", res["AP50"], len(cs.base), time.Since(t0).Minutes())
	}

	if opt.Group != nil && opt.Group.World().Rank > 0 {
		w := opt.Group.World()
		log("rank %d of %d: base training done; rank 0 runs surgery and the fine-tunes", w.Rank, w.Size)
		return nil, nil
	}

	// ---- surgery ----
	ftClasses := cs.all
	if p.FineTune.Protocol == "fsod" {
		ftClasses = cs.novel
	}
	init := baseJob.FinalWeights()
	if p.Surgery.Method != "none" {
		init = filepath.Join(opt.Out, "surgery", "model_"+p.Surgery.Method+".safetensors")
		// Every shard reaches this point; the lock lets one write the file.
		lk, err := lock(filepath.Join(opt.Out, "surgery", ".lock"))
		if err != nil {
			return nil, err
		}
		defer lk.unlock()
		if _, err := os.Stat(init); err != nil {
			if err := Surgery(baseJob.FinalWeights(), init, p.Surgery.Method, p.Model, cs.base, ftClasses, uint64(p.FineTune.Stage.Seed)); err != nil {
				return nil, fmt.Errorf("surgery: %w", err)
			}
			log("surgery %s: %s -> %s (%d classes)", p.Surgery.Method, baseJob.FinalWeights(), init, len(ftClasses))
		}
		lk.unlock()
	}
	if opt.Stage == "base" {
		return nil, nil
	}

	// ---- fine-tunes ----
	ftModel, err := p.StageModel(&p.FineTune.Stage)
	if err != nil {
		return nil, err
	}
	ftModel.NumClasses = len(ftClasses)
	shots, seeds := p.FineTune.Shots, p.FineTune.Seeds
	if len(opt.Shots) > 0 {
		shots = opt.Shots
	}
	if len(opt.Seeds) > 0 {
		seeds = opt.Seeds
	}
	ftTest := pre.ftTest
	// Fine-tunes run in parallel over groups of devices, one job per group;
	// a group is as many GPUs as the stage has replicas (one by default).
	ftStage := p.FineTune.Stage
	ftStage.Replicas = max(1, ftStage.Replicas)
	groups := deviceGroups(opt.Backend, devices, ftStage.Replicas)
	if ftStage.ImagesPerBatch%ftStage.Replicas != 0 {
		return nil, fmt.Errorf("finetune: ims_per_batch %d does not split evenly over %d replicas", ftStage.ImagesPerBatch, ftStage.Replicas)
	}
	var jobs []*Job
	for _, k := range shots {
		st, err := p.ShotStage(k)
		if err != nil {
			return nil, err
		}
		st.Replicas = ftStage.Replicas
		for _, s := range seeds {
			for r := 0; r < p.FineTune.Repeats; r++ {
				name := fmt.Sprintf("%dshot_seed%d", k, s)
				if p.FineTune.Repeats > 1 {
					name += fmt.Sprintf("_rep%d", r)
				}
				jobs = append(jobs, &Job{Name: name, Dir: filepath.Join(opt.Out, "finetune", name), Kind: "finetune",
					Stage: st, Model: ftModel, Train: pre.shotSets[[2]int{k, s}], Test: ftTest, Base: indices(cs.base, ftClasses), Novel: indices(cs.novel, ftClasses),
					Init: init, Seed: uint64(st.Seed) + uint64(1000*s+r), Metric: p.Eval.Metric, Input: p.Input, Precision: ftPolicy,
					Resume: opt.Resume, Quiet: opt.Quiet || len(groups) > 1, Log: logw, Stop: opt.Stop,
					Info: JobInfo{Dataset: p.Dataset.Kind, Split: p.Dataset.Split, Protocol: p.FineTune.Protocol,
						Shots: k, Seed: s, Repeat: r, Method: p.Method}})
			}
		}
	}
	outcomes := make([]JobOutcome, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for _, group := range groups {
		wg.Add(1)
		go func(group []int) {
			defer wg.Done()
			var bes []backend.Backend
			var err error
			if opt.Backend != "cpu" {
				devs := make([]int, ftStage.Replicas)
				for r := range devs {
					devs[r] = group[r%len(group)]
				}
				bes, err = pool.getAll(devs)
			}
			be := be0
			if err == nil && len(bes) > 0 {
				be = bes[0]
			}
			for i := range next {
				if err != nil {
					outcomes[i] = JobOutcome{Name: jobs[i].Name, Err: err}
					continue
				}
				jobs[i].Backends = bes
				// The lock keeps two processes on one --out (overlapping
				// shards, a requeued shard whose old copy still runs) off
				// the same job.
				lk, lerr := tryLock(filepath.Join(jobs[i].Dir, ".lock"))
				if lerr != nil {
					log("%s: skipped: %v", jobs[i].Name, lerr)
					outcomes[i] = JobOutcome{Name: jobs[i].Name, Shots: jobs[i].Info.Shots, Seed: jobs[i].Info.Seed,
						Repeat: jobs[i].Info.Repeat, Dir: jobs[i].Dir, Pending: true, Err: lerr}
					if !errors.Is(lerr, ErrJobLocked) {
						outcomes[i].Pending = false
					}
					continue
				}
				outcomes[i] = runFineTune(jobs[i], be, root, cs, p, ftClasses, log)
				lk.unlock()
			}
		}(group)
	}
	if opt.Shards > 1 {
		log("shard %d of %d: %d of the plan's %d fine-tunes", opt.Shard, opt.Shards, (len(jobs)-opt.Shard+opt.Shards-1)/opt.Shards, len(jobs))
	}
	for i := range jobs {
		if opt.Stop.Requested() {
			break // the jobs not started are simply left for --resume
		}
		if inShard(i, opt.Shard, opt.Shards) {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	// The table covers the whole tree: the other shards' jobs as the shared
	// --out shows them now.
	for i := range jobs {
		if !inShard(i, opt.Shard, opt.Shards) {
			outcomes[i] = treeOutcome(jobs[i])
		}
	}
	for _, o := range outcomes {
		if errors.Is(o.Err, ErrInterrupted) {
			return outcomes, o.Err
		}
	}
	return outcomes, nil
}

// stagePolicy resolves a stage's matrix policy on its backends and logs it
// (one line per stage); the error names the stage's key.
func stagePolicy(stage string, bes []backend.Backend, req string, log func(string, ...any)) (backend.MatrixPolicy, error) {
	pol, note, err := backend.ResolvePolicy(bes, req)
	if err != nil {
		key := "base.precision"
		if stage == "finetune" {
			key = "finetune.stage.precision"
		}
		return pol, fmt.Errorf("%s (%s or --precision): %w", stage, key, err)
	}
	log("%s: precision %s (%s)", stage, pol, note)
	return pol, nil
}

// backendPool opens each device's backend once, whichever jobs share it.
type backendPool struct {
	name string
	mu   sync.Mutex
	open map[int]backend.Backend
}

func (p *backendPool) get(dev int) (backend.Backend, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if be, ok := p.open[dev]; ok {
		return be, nil
	}
	be, err := backend.Open(p.name, dev)
	if err != nil {
		return nil, err
	}
	p.open[dev] = be
	return be, nil
}

// getAll returns the backends of devs (nil for none).
func (p *backendPool) getAll(devs []int) ([]backend.Backend, error) {
	var bes []backend.Backend
	for _, d := range devs {
		be, err := p.get(d)
		if err != nil {
			return nil, err
		}
		bes = append(bes, be)
	}
	return bes, nil
}

// placeReplicas resolves a stage's replica count (0 = one per GPU given, 1 on
// the CPU) into st.Replicas and returns the device of every replica (round
// robin over the devices; nil on the CPU, where replicas share the backend).
func placeReplicas(st *StageConfig, name, backendName string, devices []int) ([]int, error) {
	n := st.Replicas
	if n == 0 {
		n = 1
		if backendName != "cpu" {
			n = len(devices)
		}
		if st.ImagesPerBatch%n != 0 {
			return nil, fmt.Errorf("%s: ims_per_batch %d does not split over the %d GPUs given; set %s.replicas", name,
				st.ImagesPerBatch, n, name)
		}
	}
	st.Replicas = n
	if backendName == "cpu" {
		return nil, nil
	}
	devs := make([]int, n)
	for r := range devs {
		devs[r] = devices[r%len(devices)]
	}
	return devs, nil
}

// deviceGroups splits the devices into groups of min(replicas, devices)
// GPUs, one fine-tune per group at a time; on the CPU there is one group.
func deviceGroups(backendName string, devices []int, replicas int) [][]int {
	if backendName == "cpu" {
		return [][]int{{0}}
	}
	var groups [][]int
	g := max(1, min(replicas, len(devices)))
	for k := 0; k+g <= len(devices); k += g {
		groups = append(groups, devices[k:k+g])
	}
	return groups
}

func runFineTune(j *Job, be backend.Backend, root string, cs classSets, p *Plan, classes []string, log func(string, ...any)) JobOutcome {
	o := JobOutcome{Name: j.Name, Shots: j.Info.Shots, Seed: j.Info.Seed, Repeat: j.Info.Repeat, Dir: j.Dir}
	if res, err := eval.ReadJobResults(filepath.Join(j.Dir, "results.json")); err == nil {
		log("%s: done earlier: AP50 %.2f nAP50 %.2f", j.Name, res.Metrics["AP50"], res.Metrics["nAP50"])
		o.Metrics = res.Metrics
		return o
	}
	j.Backend = be
	if j.Train == nil { // preflight loads every shot set; this is a fallback
		train, err := p.shotSet(root, cs, classes, j.Info.Shots, j.Info.Seed, log)
		if err != nil {
			o.Err = err
			log("%s: FAILED: %v", j.Name, err)
			return o
		}
		j.Train = train
	}
	t0 := time.Now()
	o.Metrics, o.Err = j.Run()
	if errors.Is(o.Err, ErrInterrupted) {
		log("%s: stopped: %v", j.Name, o.Err)
	} else if o.Err != nil {
		log("%s: FAILED: %v", j.Name, o.Err)
	} else {
		log("%s: AP50 %.2f  bAP50 %s  nAP50 %s (%.1f min)", j.Name, o.Metrics["AP50"], fmtOpt(o.Metrics, "bAP50"),
			fmtOpt(o.Metrics, "nAP50"), time.Since(t0).Minutes())
	}
	return o
}

// Aggregate prints mean ± 95% CI over seeds per shot count and returns the rows.
func Aggregate(w io.Writer, outcomes []JobOutcome) []AggregateRow {
	byShots := map[int][]JobOutcome{}
	pending := 0
	for _, o := range outcomes {
		if o.Pending {
			pending++
			continue
		}
		byShots[o.Shots] = append(byShots[o.Shots], o)
	}
	var shots []int
	for k := range byShots {
		shots = append(shots, k)
	}
	sort.Ints(shots)
	keys := []string{"AP50", "bAP50", "nAP50", "AP", "nAP"}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "shots\tjobs\tfailed\t%s\t\n", strings.Join(keys, "\t"))
	var rows []AggregateRow
	for _, k := range shots {
		row := AggregateRow{Shots: k, Mean: map[string]float64{}, CI: map[string]float64{}}
		vals := map[string][]float64{}
		for _, o := range byShots[k] {
			if o.Err != nil {
				row.Failed++
				continue
			}
			row.Jobs++
			for _, key := range keys {
				if v, ok := o.Metrics[key]; ok {
					vals[key] = append(vals[key], v)
				}
			}
		}
		cells := make([]string, len(keys))
		for i, key := range keys {
			if len(vals[key]) == 0 {
				cells[i] = "-"
				continue
			}
			m, ci := eval.MeanCI(vals[key])
			row.Mean[key], row.CI[key] = m, ci
			cells[i] = fmt.Sprintf("%.2f ± %.2f", m, ci)
			if len(vals[key]) == 1 {
				// One seed has no spread: a ± 0.00 would read as a tight interval.
				cells[i] = fmt.Sprintf("%.2f (n=1)", m)
			}
		}
		rows = append(rows, row)
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t\n", k, row.Jobs, row.Failed, strings.Join(cells, "\t"))
	}
	tw.Flush()
	if pending > 0 {
		fmt.Fprintf(w, "%d fine-tune(s) of other shards or processes have no results yet and are not in the table\n", pending)
	}
	return rows
}

// AggregateRow is one shot count's mean and 95% CI over its jobs.
type AggregateRow struct {
	Shots  int                `json:"shots"`
	Jobs   int                `json:"jobs"`
	Failed int                `json:"failed"`
	Mean   map[string]float64 `json:"mean"`
	CI     map[string]float64 `json:"ci95"`
}
