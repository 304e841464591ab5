package train

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/data"
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

	Backend backend.Backend
	Resume  bool
	Quiet   bool      // no progress bar: a log line every log_period iterations
	Log     io.Writer // progress and messages; os.Stderr when nil
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
}

func (j *Job) writeConfig() error {
	st := j.Stage
	st.Model = yaml.Node{} // the overrides are already applied to Model
	data, err := yaml.Marshal(resolvedConfig{Job: j.Name, Kind: j.Kind, Classes: j.Test.Classes, Info: j.Info, Seed: j.Seed, Init: j.Init, Stage: st, Model: j.Model})
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
	if err := os.MkdirAll(filepath.Join(j.Dir, "checkpoints"), 0o755); err != nil {
		return nil, err
	}
	if err := j.writeConfig(); err != nil {
		return nil, err
	}
	be := j.Backend
	det, err := model.New(be, j.Model, j.Seed)
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
		if err := j.train(det, start, momentum); err != nil {
			return nil, err
		}
	}
	res, err := Evaluate(det, j.Test, &j.Stage, j.Base, j.Novel, j.Metric, j.Quiet, j.Log)
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
func loadInit(det *model.Detector, sd map[string]*backend.Tensor, path string, logf func(string, ...any)) error {
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
	logf("initialised from %s (%d tensors; %d left at random init%s; %d ignored%s)", path, len(sd),
		len(missing), preview(missing), len(unexpected), preview(unexpected))
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

func (j *Job) loaderConfig(start int) data.LoaderConfig {
	return data.LoaderConfig{
		BatchSize: j.Stage.ImagesPerBatch, ShortSides: j.Stage.ShortSides, MaxSize: j.Stage.MaxSize,
		Flip: j.Stage.Flip, RGB: j.Model.InputFormat == "RGB", Seed: j.Stage.Seed + int64(j.Seed), StartIter: start,
		Warn: func(err error) { j.logf("skipping: %v", err) }, SkipBad: false,
	}
}

func (j *Job) train(det *model.Detector, start int, momentum map[string]*backend.Tensor) error {
	be := j.Backend
	st := &j.Stage
	loader, err := data.NewLoader(j.Train, j.loaderConfig(start))
	if err != nil {
		return err
	}
	defer loader.Close()
	mw, err := OpenMetrics(filepath.Join(j.Dir, "metrics.json"), start)
	if err != nil {
		return err
	}
	defer mw.Close()

	var trainable []*nn.Param
	for _, p := range det.Params() {
		if !p.Frozen && !p.Buffer {
			trainable = append(trainable, p)
			if momentum[p.Name] == nil {
				momentum[p.Name] = be.Zeros(backend.F32, p.Value.Shape...)
			}
		}
	}
	j.logf("training %s: iterations %d..%d, %d trainable tensors, %d images/batch, %d training images",
		j.Kind, start, st.MaxIter, len(trainable), st.ImagesPerBatch, len(j.Train.Records))

	var bar *progressbar.ProgressBar
	if !j.Quiet {
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
	saveMomentum := func() map[string]*backend.Tensor { return momentum }
	for it := start; it < st.MaxIter; it++ {
		t0 := time.Now()
		batch, err := loader.Next()
		if err != nil {
			return err
		}
		dataTime := loader.DataTime().Seconds()
		in := toInput(be, batch)
		det.ZeroGrad()
		out, err := det.Forward(in, it, true)
		be.Free(in.Images)
		if err != nil {
			return fmt.Errorf("iteration %d: %w", it, err)
		}
		total := float32(0)
		for _, v := range out.Losses {
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
				ErrNonFinite, it, formatLosses(out.Losses), LearningRate(st, it), where)
		}
		lr := LearningRate(st, it)
		if st.ClipGradNorm > 0 {
			clipGradients(be, trainable, st.ClipGradNorm)
		}
		for _, p := range trainable {
			if p.Grad == nil {
				continue
			}
			be.SGDStep(p.Value, p.Grad, momentum[p.Name], lr, st.Momentum, st.WeightDecay)
		}
		winTime += time.Since(t0).Seconds()
		winData += dataTime
		winN++
		if (it+1)%logEvery == 0 || it+1 == st.MaxIter {
			row := Metrics{Iter: it, Losses: out.Losses, TotalLoss: total, LR: lr,
				Time: winTime / float64(winN), DataTime: winData / float64(winN), MemoryMB: memoryMB(be)}
			if err := mw.Write(row); err != nil {
				return err
			}
			if j.Quiet {
				j.logf("iter %d/%d  loss %.4f (%s)  lr %.5g  %.3fs/it  data %.3fs", it+1, st.MaxIter, total,
					formatLosses(out.Losses), lr, row.Time, row.DataTime)
			}
			winTime, winData, winN = 0, 0, 0
		}
		if bar != nil {
			bar.Describe(fmt.Sprintf("[%s] loss %.3f", j.Name, total))
			_ = bar.Add(1)
		}
		next := it + 1
		if st.CheckpointEvery > 0 && next%st.CheckpointEvery == 0 && next < st.MaxIter {
			path := filepath.Join(j.Dir, "checkpoints", checkpointName(next))
			if err := SaveCheckpoint(path, be, det.StateDict(), saveMomentum(), next, j.Seed, j.Name); err != nil {
				return fmt.Errorf("saving %s: %w", path, err)
			}
			lastGood = path
			os.WriteFile(filepath.Join(j.Dir, "last_checkpoint"), []byte(filepath.Base(path)+"\n"), 0o644)
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	return SaveCheckpoint(j.FinalWeights(), be, det.StateDict(), nil, st.MaxIter, j.Seed, j.Name)
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
