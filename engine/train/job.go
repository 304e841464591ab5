package train

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/dist"
	"github.com/fsodgpu/fsodgpu/engine/eval"
	"github.com/fsodgpu/fsodgpu/engine/model"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// Job is one training run (the base stage or one fine-tune) in its own directory.
type Job struct {
	Name   string // "base", "5shot_seed0", ...
	Dir    string
	Kind   string // base or finetune
	Stage  StageConfig
	Model  model.Config
	Train  *data.Dataset
	Test   *data.Dataset
	Base   []int  // indices of the base classes in Test.Classes (for bAP)
	Novel  []int  // indices of the novel classes (for nAP)
	Init   string // weights to start from ("" = random init)
	Seed   uint64
	Metric string // voc07, area or coco
	Info   JobInfo
	Input  data.InputConfig // decoding, resizing, padding (the plan's input:)

	Backend backend.Backend
	// Precision is the matrix policy the job's backends run with (set on
	// each of them when the job starts; the zero value is all FP32).
	// Run resolves it from the stage's precision: key and --precision.
	Precision backend.MatrixPolicy
	// Backends places the data-parallel replicas: replica r on Backends[r].
	// Nil means Stage.Replicas replicas, all on Backend (in-process on the CPU).
	Backends []backend.Backend
	Reducer  dist.Reducer // nil = dist.Host
	// Group, when its world has more than one process, makes this job one
	// rank of multi-process data parallelism: this process runs its
	// replicas as global replicas rank·len(replicas)+r, reads their shares
	// of each global batch, averages gradients over every rank through the
	// group (unless Reducer is set), and only rank 0 writes config,
	// metrics, checkpoints, final weights and evaluation; the others wait
	// for it at a barrier and return nil metrics.
	Group  *dist.Group
	Resume bool
	Quiet  bool      // no progress bar: a log line every log_period iterations
	Log    io.Writer // progress and messages; os.Stderr when nil
	Stop   *Stop     // checkpoint and return when requested (nil = never)
}

// JobInfo identifies a fine-tune in results.json.
type JobInfo struct {
	Dataset  string `yaml:"dataset"`
	Split    int    `yaml:"split"`
	Protocol string `yaml:"protocol"`
	Shots    int    `yaml:"shots"`
	Seed     int    `yaml:"seed"`
	Repeat   int    `yaml:"repeat"`
	Method   string `yaml:"method"`
}

// ErrNonFinite marks a job stopped by a NaN or infinite loss.
var ErrNonFinite = errors.New("non-finite loss")

func (j *Job) logf(format string, args ...any) {
	w := j.Log
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "[%s] %s\n", j.Name, fmt.Sprintf(format, args...))
}

// resolvedConfig is what config.yaml holds.
type resolvedConfig struct {
	Job     string       `yaml:"job"`
	Kind    string       `yaml:"kind"`
	Classes []string     `yaml:"classes"` // model class index → name
	Info    JobInfo      `yaml:"info"`
	Seed    uint64       `yaml:"seed"`
	Init    string       `yaml:"init"`
	Stage   StageConfig  `yaml:"stage"`
	Model   model.Config `yaml:"model"`
	// Input is written with its defaults spelled out; a config.yaml from
	// before the key existed reads as detectron2's defaults.
	Input data.InputConfig `yaml:"input"`
	// Precision is the effective matrix policy the job trained with.
	Precision precisionConfig `yaml:"precision"`
}

// precisionConfig is config.yaml's record of a job's matrix policy.
type precisionConfig struct {
	Conv   string `yaml:"conv"`
	MatMul string `yaml:"matmul"`
}

func (j *Job) writeConfig() error {
	st := j.Stage
	st.Model = yaml.Node{} // the overrides are already applied to Model
	data, err := yaml.Marshal(resolvedConfig{Job: j.Name, Kind: j.Kind, Classes: j.Test.Classes, Info: j.Info, Seed: j.Seed, Init: j.Init, Stage: st, Model: j.Model, Input: j.Input.WithDefaults(),
		Precision: precisionConfig{Conv: j.Precision.Conv.String(), MatMul: j.Precision.MatMul.String()}})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(j.Dir, "config.yaml"), data, 0o644)
}

// FinalWeights is the path of a finished job's final model.
func (j *Job) FinalWeights() string { return filepath.Join(j.Dir, "model_final.safetensors") }

// Run trains the job (resuming or skipping finished work) and evaluates it.
// It returns the job's metrics in percent.
func (j *Job) Run() (map[string]float64, error) {
	rank, _ := j.world()
	if rank > 0 {
		return nil, j.runFollower()
	}
	res, err := j.run()
	if err == nil && j.Group != nil {
		err = j.Group.Barrier("the end of " + j.Name) // the other ranks wait for rank 0's files
	}
	return res, err
}

// runFollower is Run on a rank other than 0: train this rank's replicas
// from the same start as rank 0 and write nothing.
func (j *Job) runFollower() error {
	be := j.Backend
	if err := backend.ApplyPolicy(j.allBackends(), j.Precision); err != nil {
		return err
	}
	det, err := model.Build(be, j.Model, j.Seed)
	if err != nil {
		return err
	}
	start := 0
	momentum := map[string]*backend.Tensor{}
	if _, err := os.Stat(j.FinalWeights()); err == nil {
		start = j.Stage.MaxIter
	} else if ck, path := j.resumePoint(); ck != nil {
		if err := det.LoadStateDict(ck.StateDict(be), true); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for name, v := range ck.Momentum {
			momentum[name] = be.FromFloat32(v, ck.Shapes[name]...)
		}
		start = ck.Iter
	} else if j.Init != "" {
		ck, err := LoadCheckpoint(j.Init)
		if err != nil {
			return err
		}
		if err := loadInit(det, ck.StateDict(be), j.Init, j.logf); err != nil {
			return err
		}
	}
	if start < j.Stage.MaxIter {
		reps, err := j.replicas(det, momentum)
		if err != nil {
			return err
		}
		if err := j.train(reps, start); err != nil {
			return err
		}
	}
	return j.Group.Barrier("the end of " + j.Name)
}

// allBackends is every backend the job computes on: Backend and the
// replicas' Backends.
func (j *Job) allBackends() []backend.Backend {
	bes := []backend.Backend{j.Backend}
	for _, b := range j.Backends {
		if b != nil && b != j.Backend {
			bes = append(bes, b)
		}
	}
	return bes
}

// world is this job's rank and number of processes (0, 1 without a Group).
func (j *Job) world() (rank, size int) {
	if j.Group == nil {
		return 0, 1
	}
	w := j.Group.World()
	return w.Rank, w.Size
}

func (j *Job) run() (map[string]float64, error) {
	if err := os.MkdirAll(filepath.Join(j.Dir, "checkpoints"), 0o755); err != nil {
		return nil, err
	}
	if err := j.writeConfig(); err != nil {
		return nil, err
	}
	be := j.Backend
	if err := backend.ApplyPolicy(j.allBackends(), j.Precision); err != nil {
		return nil, err
	}
	det, err := model.Build(be, j.Model, j.Seed)
	if err != nil {
		return nil, err
	}
	start := 0
	momentum := map[string]*backend.Tensor{}
	if _, err := os.Stat(j.FinalWeights()); err == nil {
		// Training finished earlier; only the evaluation may be missing.
		ck, err := LoadCheckpoint(j.FinalWeights())
		if err != nil {
			return nil, err
		}
		if err := det.LoadStateDict(ck.StateDict(be), true); err != nil {
			return nil, fmt.Errorf("%s: %w", j.FinalWeights(), err)
		}
		start = j.Stage.MaxIter
		j.logf("training already finished (%s); evaluating", j.FinalWeights())
	} else if ck, path := j.resumePoint(); ck != nil {
		if err := det.LoadStateDict(ck.StateDict(be), true); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for name, v := range ck.Momentum {
			momentum[name] = be.FromFloat32(v, ck.Shapes[name]...)
		}
		start = ck.Iter
		j.logf("resuming from %s at iteration %d", path, start)
	} else if j.Init != "" {
		ck, err := LoadCheckpoint(j.Init)
		if err != nil {
			return nil, err
		}
		if err := loadInit(det, ck.StateDict(be), j.Init, j.logf); err != nil {
			return nil, err
		}
	}
	if start < j.Stage.MaxIter {
		reps, err := j.replicas(det, momentum)
		if err != nil {
			return nil, err
		}
		if err := j.train(reps, start); err != nil {
			return nil, err
		}
	}
	res, kept, err := evaluate(det, j.Test, &j.Stage, j.Input, j.Base, j.Novel, j.Metric, !j.bars(), j.Log)
	if err != nil {
		return nil, err
	}
	if err := appendEvalRow(filepath.Join(j.Dir, "metrics.json"), j.Stage.MaxIter, res); err != nil {
		return nil, err
	}
	if j.Kind != "finetune" {
		// The base stage is not a few-shot result: keep it out of results.json,
		// which `fsodgpu regress` collects.
		return res, eval.WriteJSONFile(filepath.Join(j.Dir, "eval.json"), res)
	}
	if err := j.writeErrors(kept); err != nil {
		return nil, err
	}
	return res, eval.WriteJobResults(filepath.Join(j.Dir, "results.json"), &eval.JobResults{
		Dataset: j.Info.Dataset, Split: j.Info.Split, Protocol: j.Info.Protocol, Shots: j.Info.Shots,
		Seed: j.Info.Seed, Method: j.Info.Method, Metrics: res})
}

// resumePoint returns the checkpoint to continue from when resuming.
func (j *Job) resumePoint() (*Checkpoint, string) {
	if !j.Resume {
		if len(listCheckpoints(j.Dir)) > 0 {
			j.logf("%s has checkpoints but --resume was not given: starting over", j.Dir)
		}
		return nil, ""
	}
	return newestValidCheckpoint(j.Dir, func(m string) { j.logf("%s", m) })
}

// loadInit loads initial weights non-strictly: parameters the file lacks keep
// their random init (a new head after surgery "remove"); names the model does
// not have are reported. A shape mismatch is an error.
func loadInit(det model.Model, sd map[string]*backend.Tensor, path string, logf func(string, ...any)) error {
	own := det.StateDict()
	var missing, unexpected []string
	for name := range own {
		if _, ok := sd[name]; !ok {
			missing = append(missing, name)
		}
	}
	for name := range sd {
		if _, ok := own[name]; !ok {
			unexpected = append(unexpected, name)
			delete(sd, name)
		}
	}
	if err := det.LoadStateDict(sd, false); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	sort.Strings(missing)
	sort.Strings(unexpected)
	// The GDL affines (affine_rpn, affine_rcnn) start as the identity, not
	// at random: say so, the log is how users tell a bad import from a new head.
	var identity, random []string
	for _, name := range missing {
		if strings.HasPrefix(name, "affine_") {
			identity = append(identity, name)
		} else {
			random = append(random, name)
		}
	}
	kept := ""
	if len(identity) > 0 {
		kept = fmt.Sprintf("; %d GDL affine parameters start as the identity%s", len(identity), preview(identity))
	}
	logf("initialised from %s (%d tensors; %d left at random init%s%s; %d ignored%s)", path, len(sd),
		len(random), preview(random), kept, len(unexpected), preview(unexpected))
	return nil
}

func preview(names []string) string {
	if len(names) == 0 {
		return ""
	}
	if len(names) > 4 {
		return ": " + strings.Join(names[:4], ", ") + ", ..."
	}
	return ": " + strings.Join(names, ", ")
}

// toInput uploads a loader batch.
func toInput(be backend.Backend, b *data.Batch) model.Input {
	in := model.Input{Images: be.FromFloat32(b.Images, len(b.Items), 3, b.H, b.W)}
	for _, it := range b.Items {
		in.Sizes = append(in.Sizes, [2]int{it.H, it.W})
		in.Boxes = append(in.Boxes, it.Boxes)
		in.Classes = append(in.Classes, it.Classes)
	}
	return in
}

// loaders opens one loader per replica: replica r of n reads its share of
// each iteration's global batch of ims_per_batch images (the loader's rank
// sharding, padded per share), so the images are those of a one-replica run.
// With a Group, the shares are those of the global replicas rank·n+r.
func (j *Job) loaders(start, n int) ([]*data.Loader, error) {
	rank, size := j.world()
	ls := make([]*data.Loader, n)
	for r := range ls {
		l, err := data.NewLoader(j.Train, data.LoaderConfig{
			BatchSize: j.Stage.ImagesPerBatch / (n * size), Rank: rank*n + r, WorldSize: n * size,
			ShortSides: j.Stage.ShortSides, MaxSize: j.Stage.MaxSize,
			Flip: j.Stage.Flip, RGB: j.Model.InputFormat == "RGB", Input: j.Input, Seed: j.Stage.Seed + int64(j.Seed), StartIter: start,
			Warn: func(err error) { j.logf("skipping: %v", err) }, SkipBad: false,
		})
		if err != nil {
			for _, o := range ls[:r] {
				o.Close()
			}
			return nil, err
		}
		ls[r] = l
	}
	return ls, nil
}

// replica is one data-parallel copy of the model with its optimizer state.
type replica struct {
	be        backend.Backend
	det       model.Model
	trainable []*nn.Param
	momentum  map[string]*backend.Tensor
}

// numReplicas is the stage's data-parallel width (at least 1).
func (j *Job) numReplicas() int {
	if len(j.Backends) > 0 {
		return len(j.Backends)
	}
	return max(1, j.Stage.Replicas)
}

// replicas builds the data-parallel group around det (replica 0, already
// loaded or resumed): every other replica gets det's weights and buffers and
// a copy of the momentum on its own backend, and its own sampling streams.
func (j *Job) replicas(det model.Model, momentum map[string]*backend.Tensor) ([]*replica, error) {
	n := j.numReplicas()
	rank, size := j.world()
	if j.Stage.ImagesPerBatch%(n*size) != 0 {
		return nil, fmt.Errorf("ims_per_batch %d does not split evenly over %d replicas (%d per process × %d processes)", j.Stage.ImagesPerBatch, n*size, n, size)
	}
	reps := make([]*replica, n)
	for r := range reps {
		be := j.Backend
		if len(j.Backends) > 0 {
			be = j.Backends[r]
		}
		d := det
		mom := momentum
		if r > 0 {
			var err error
			if d, err = model.Build(be, j.Model, j.Seed); err != nil {
				return nil, err
			}
			if err := d.LoadStateDict(det.StateDict(), true); err != nil {
				return nil, fmt.Errorf("replica %d: %w", r, err)
			}
			mom = map[string]*backend.Tensor{}
			for name, v := range momentum {
				mom[name] = be.FromFloat32(v.Backend.ToFloat32(v), v.Shape...)
			}
		}
		if g := rank*n + r; g > 0 {
			// Global replica g's sampling streams (on rank > 0 its first
			// replica too).
			d.SetReplica(g, j.Seed)
		}
		rep := &replica{be: be, det: d, momentum: mom}
		for _, p := range d.Params() {
			if !p.Frozen && !p.Buffer {
				rep.trainable = append(rep.trainable, p)
				if mom[p.Name] == nil {
					mom[p.Name] = be.Zeros(backend.F32, p.Value.Shape...)
				}
			}
		}
		reps[r] = rep
	}
	return reps, nil
}

// each runs f for every replica: concurrently on the CPU (the replicas share
// its cores), and on GPUs one goroutine per device, running the replicas
// that share a device one after another so their activations never coexist.
func each(reps []*replica, f func(r int) error) error {
	errs := make([]error, len(reps))
	if len(reps) == 1 {
		return f(0)
	}
	slots := map[any][]int{}
	var order []any
	for r, rep := range reps {
		var key any = rep.be
		if rep.be.Name() == "cpu" {
			key = r
		}
		if _, ok := slots[key]; !ok {
			order = append(order, key)
		}
		slots[key] = append(slots[key], r)
	}
	var wg sync.WaitGroup
	for _, key := range order {
		wg.Add(1)
		go func(rs []int) {
			defer wg.Done()
			for _, r := range rs {
				errs[r] = f(r)
			}
		}(slots[key])
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			return fmt.Errorf("replica %d: %w", r, err)
		}
	}
	return nil
}

// step runs one iteration's forward and backward on every replica (replica
// r on subs[r], its share of the batch) and
// leaves the mean gradient on each; it returns the losses averaged over the
// replicas (in replica order), as detectron2 logs them. With a Group the
// gradients are averaged over every rank's replicas, the losses over this
// process's only (they are for the log).
func (j *Job) step(reps []*replica, subs []*data.Batch, it int) (map[string]float32, error) {
	outs := make([]*model.Output, len(reps))
	err := each(reps, func(r int) (err error) {
		rep := reps[r]
		defer func() {
			if v := recover(); v != nil {
				e, ok := v.(error)
				if !ok || !errors.Is(e, backend.ErrOutOfMemory) {
					panic(v)
				}
				// Backends panic on a failed allocation; say which batch
				// did not fit and what to change. Checkpoints already
				// written stay, so --resume continues after the change.
				err = fmt.Errorf("%w\n  the batch was %d image(s) of %dx%d padded pixels on this replica (ims_per_batch %d over %d replica(s));"+
					" lower ims_per_batch or min_size_train/max_size_train, or spread it over more replicas/GPUs, then --resume",
					e, len(subs[r].Items), subs[r].H, subs[r].W, j.Stage.ImagesPerBatch, len(reps))
			}
		}()
		in := toInput(rep.be, subs[r])
		rep.det.ZeroGrad()
		out, err := rep.det.Forward(in, it, true)
		rep.be.Free(in.Images)
		outs[r] = out
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("iteration %d: %w", it, err)
	}
	if _, size := j.world(); len(reps) == 1 && size == 1 {
		return outs[0].Losses, nil
	}
	losses := map[string]float32{}
	for _, o := range outs {
		for k, v := range o.Losses {
			losses[k] += v / float32(len(reps))
		}
	}
	grads := make([][]*backend.Tensor, len(reps))
	bes := make([]backend.Backend, len(reps))
	for r, rep := range reps {
		bes[r] = rep.be
		for _, p := range rep.trainable {
			grads[r] = append(grads[r], p.Grad)
		}
	}
	red := j.Reducer
	if red == nil {
		red = dist.Host{}
	}
	if err := red.AllReduceMean(bes, grads); err != nil {
		return nil, fmt.Errorf("iteration %d: %s all-reduce: %w", it, red.Name(), err)
	}
	for r, rep := range reps {
		for i, p := range rep.trainable {
			p.Grad = grads[r][i]
		}
	}
	return losses, nil
}

func (j *Job) train(reps []*replica, start int) error {
	// From here on a stop request is answered with a checkpoint (at the
	// first iteration boundary), so the signal handler must not exit at once.
	j.Stop.enter()
	defer j.Stop.leave()
	st := &j.Stage
	rep0 := reps[0]
	loaders, err := j.loaders(start, len(reps))
	if err != nil {
		return err
	}
	defer func() {
		for _, l := range loaders {
			l.Close()
		}
	}()
	rank, size := j.world()
	var mw *MetricsWriter
	if rank == 0 {
		if mw, err = OpenMetrics(filepath.Join(j.Dir, "metrics.json"), start); err != nil {
			return err
		}
		defer mw.Close()
	}

	par := ""
	plan := ""
	if size > 1 {
		why := "given"
		if j.Reducer == nil {
			bes := make([]backend.Backend, len(reps))
			for r, rep := range reps {
				bes[r] = rep.be
			}
			if j.Reducer, why, err = dist.ForGroup(j.Group, bes, j.Name); err != nil {
				return fmt.Errorf("%s: %w", j.Name, err)
			}
			defer func() {
				if c, ok := j.Reducer.(io.Closer); ok && j.Reducer != dist.Reducer(j.Group) {
					c.Close()
				}
				j.Reducer = nil
			}()
		}
		if ss, ok := j.Reducer.(interface{ SetShapes([][]int) }); ok {
			// A rank with no local gradient for a parameter still sends zeros.
			shapes := make([][]int, len(rep0.trainable))
			for i, p := range rep0.trainable {
				shapes[i] = p.Value.Shape
			}
			ss.SetShapes(shapes)
		}
		plan = j.fingerprint()
		par = fmt.Sprintf(" over %d data-parallel replicas (%d per process, rank %d of %d processes, %s all-reduce: %s)", len(reps)*size, len(reps), rank, size, j.Reducer.Name(), why)
	} else if len(reps) > 1 {
		if j.Reducer == nil {
			bes := make([]backend.Backend, len(reps))
			for r, rep := range reps {
				bes[r] = rep.be
			}
			var why string
			j.Reducer, why = dist.For(bes)
			if c, ok := j.Reducer.(io.Closer); ok {
				defer func() { c.Close(); j.Reducer = nil }()
			}
			par = ", " + why
		}
		par = fmt.Sprintf(" over %d data-parallel replicas%s", len(reps), par)
	}
	j.logf("training %s: iterations %d..%d, %d trainable tensors, %d images/batch%s, %d training images",
		j.Kind, start, st.MaxIter, len(rep0.trainable), st.ImagesPerBatch, par, len(j.Train.Records))

	var bar *progressbar.ProgressBar
	if j.bars() {
		bar = progressbar.NewOptions(st.MaxIter, progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(fmt.Sprintf("[%s] train", j.Name)), progressbar.OptionShowCount(),
			progressbar.OptionShowIts(), progressbar.OptionSetItsString("it"), progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(25))
		_ = bar.Set(start)
	}
	logEvery := max(st.LogEvery, 1)
	var winTime, winData float64
	var winN int
	lastGood := ""
	for it := start; it < st.MaxIter; it++ {
		stop, reason := j.Stop.Requested(), ""
		if stop {
			reason = j.Stop.why()
		}
		if size > 1 {
			// Every rank says where it is and whether it was signalled;
			// ranks elsewhere fail everywhere, a signal on any rank stops
			// all of them here (see dist.Group).
			all, by, err := j.Group.Step(fmt.Sprintf("iteration %d of %s (max_iter %d, %d trainable tensors × %d local replicas, plan %s)",
				it, j.Name, st.MaxIter, len(rep0.trainable), len(reps), plan), stop)
			if err != nil {
				return fmt.Errorf("%s: %w", j.Name, err)
			}
			if all && !stop {
				stop, reason = true, "a stop request on "+by
			}
		}
		if stop {
			if bar != nil {
				_ = bar.Exit()
			}
			if size == 1 {
				return j.saveInterrupted(rep0, it)
			}
			// Rank 0 writes the checkpoint; the others wait for it, so that
			// a launcher restarting every rank with --resume finds it.
			path := "(written by rank 0)"
			if rank == 0 {
				ierr := j.saveInterrupted(rep0, it)
				var ie *InterruptedError
				if !errors.As(ierr, &ie) {
					return ierr
				}
				path = ie.Checkpoint
			}
			if err := j.Group.Barrier(fmt.Sprintf("the checkpoint of %s at iteration %d", j.Name, it)); err != nil {
				return fmt.Errorf("%s: %w", j.Name, err)
			}
			return &InterruptedError{Job: j.Name, Iter: it, Checkpoint: path, Reason: reason}
		}
		t0 := time.Now()
		batches := make([]*data.Batch, len(loaders))
		var dataTime float64
		for r, l := range loaders {
			if batches[r], err = l.Next(); err != nil {
				return err
			}
			dataTime = max(dataTime, l.DataTime().Seconds())
		}
		losses, err := j.step(reps, batches, it)
		if err != nil {
			return err
		}
		total := float32(0)
		for _, v := range losses {
			total += v
		}
		if !finite(total) {
			where := "no checkpoint was written yet"
			if lastGood != "" {
				where = "the last good checkpoint is " + lastGood
			} else if ps := listCheckpoints(j.Dir); len(ps) > 0 {
				where = "the last good checkpoint is " + ps[0]
			}
			return fmt.Errorf("%w at iteration %d: %s (lr %.4g); %s; lower base_lr or check the data",
				ErrNonFinite, it, formatLosses(losses), LearningRate(st, it), where)
		}
		lr := LearningRate(st, it)
		// After the all-reduce every replica holds the same gradients and
		// momentum, so the same step keeps the copies identical.
		_ = each(reps, func(r int) error {
			rep := reps[r]
			if st.ClipGradNorm > 0 {
				clipGradients(rep.be, rep.trainable, st.ClipGradNorm)
			}
			for _, p := range rep.trainable {
				if p.Grad != nil {
					rep.be.SGDStep(p.Value, p.Grad, rep.momentum[p.Name], lr, st.Momentum, st.WeightDecay)
				}
			}
			return nil
		})
		winTime += time.Since(t0).Seconds()
		winData += dataTime
		winN++
		if (it+1)%logEvery == 0 || it+1 == st.MaxIter {
			row := Metrics{Iter: it, Losses: losses, TotalLoss: total, LR: lr,
				Time: winTime / float64(winN), DataTime: winData / float64(winN), MemoryMB: memoryMB(rep0.be)}
			if mw != nil {
				if err := mw.Write(row); err != nil {
					return err
				}
			}
			if bar == nil {
				j.logf("%s", logLine(it, st.MaxIter, total, losses, lr, row.Time, row.DataTime))
			}
			winTime, winData, winN = 0, 0, 0
		}
		if bar != nil {
			bar.Describe(fmt.Sprintf("[%s] loss %.3f", j.Name, total))
			_ = bar.Add(1)
		}
		next := it + 1
		if rank == 0 && st.CheckpointEvery > 0 && next%st.CheckpointEvery == 0 && next < st.MaxIter {
			// Replica 0 speaks for the group: the weights are identical, and
			// its batch-norm running statistics are the ones kept (DDP
			// broadcasts rank 0's buffers the same way).
			if lastGood, err = j.saveCheckpoint(rep0, next); err != nil {
				return err
			}
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if rank > 0 {
		return nil
	}
	return SaveCheckpoint(j.FinalWeights(), rep0.be, rep0.det.StateDict(), nil, st.MaxIter, j.Seed, j.Name)
}

// fingerprint is a short hash of what every rank's copy of the job must
// agree on (stage, model, seed, input, initial weights' name), so ranks
// started with different plans fail at the first iteration instead of
// averaging the gradients of unrelated models.
func (j *Job) fingerprint() string {
	st := j.Stage
	st.Model = yaml.Node{}
	data, _ := yaml.Marshal(struct {
		Stage StageConfig
		Model model.Config
		Seed  uint64
		Input data.InputConfig
		Init  string
	}{st, j.Model, j.Seed, j.Input, filepath.Base(j.Init)})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:4])
}

// saveCheckpoint writes the state before iteration next into checkpoints/
// and points last_checkpoint at it.
func (j *Job) saveCheckpoint(rep0 *replica, next int) (string, error) {
	path := filepath.Join(j.Dir, "checkpoints", checkpointName(next))
	if err := SaveCheckpoint(path, rep0.be, rep0.det.StateDict(), rep0.momentum, next, j.Seed, j.Name); err != nil {
		return "", fmt.Errorf("saving %s: %w", path, err)
	}
	os.WriteFile(filepath.Join(j.Dir, "last_checkpoint"), []byte(filepath.Base(path)+"\n"), 0o644)
	return path, nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

func formatLosses(l map[string]float32) string {
	names := make([]string, 0, len(l))
	for k := range l {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s=%.4g", k, l[k])
	}
	return strings.Join(parts, " ")
}

// clipGradients scales every gradient so their global L2 norm is at most maxNorm.
func clipGradients(be backend.Backend, ps []*nn.Param, maxNorm float32) {
	var ss float64
	for _, p := range ps {
		if p.Grad == nil {
			continue
		}
		for _, v := range be.ToFloat32(p.Grad) {
			ss += float64(v) * float64(v)
		}
	}
	norm := math.Sqrt(ss)
	if norm <= float64(maxNorm) || norm == 0 {
		return
	}
	scale := float32(float64(maxNorm) / norm)
	for _, p := range ps {
		if p.Grad != nil {
			g := be.Affine(p.Grad, scale, 0)
			be.Free(p.Grad)
			p.Grad = g
		}
	}
}

// memoryMB is the device pool in use where the backend reports it, else the Go heap.
func memoryMB(be backend.Backend) float64 {
	if m, ok := be.(interface{ MemoryInUse() int64 }); ok {
		return float64(m.MemoryInUse()) / (1 << 20)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

func appendEvalRow(path string, iter int, res map[string]float64) error {
	mw, err := OpenMetrics(path, -1)
	if err != nil {
		return err
	}
	defer mw.Close()
	return mw.Write(Metrics{Iter: iter, Eval: res})
}
