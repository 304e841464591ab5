// Package train runs training plans: base training on the base classes,
// checkpoint surgery, then one fine-tune per (shots, seed, repeat) on the
// K-shot splits, each in its own run directory, then evaluation and an
// aggregate table over seeds.
//
// A run directory (one per job) holds:
//
//	config.yaml           the resolved configuration of the job
//	metrics.json          one JSON object per logged iteration (detectron2 style)
//	checkpoints/          model_0000500.safetensors ... (atomic writes, SHA-256 in the metadata)
//	last_checkpoint       the name of the newest checkpoint
//	model_final.safetensors
//	results.json          final evaluation (engine/eval.JobResult)
//
// Everything random in a job is a function of (seed, iteration): the batches
// (data.Loader with StartIter), the RPN/RoI sampling and the dropout masks
// (the model derives them from the iteration), so --resume from a checkpoint
// reaches the numbers an uninterrupted run reaches.
package train

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/model"
)

// Plan is a whole experiment: dataset, detector, the base stage, the
// surgery and the fine-tune stage with its shots and seeds.
type Plan struct {
	Name     string         `yaml:"name"`
	Method   string         `yaml:"method"` // label written into results.json: mfe, defrcn, tfa, ...
	Dataset  DatasetConfig  `yaml:"dataset"`
	Model    model.Config   `yaml:"model"`
	Base     StageConfig    `yaml:"base"`
	Surgery  SurgeryConfig  `yaml:"surgery"`
	FineTune FineTuneConfig `yaml:"finetune"`
	Eval     EvalConfig     `yaml:"eval"`
	// Input is how images are decoded, resized and padded, in training and
	// test alike; the zero value is detectron2's (data.InputConfig).
	Input data.InputConfig `yaml:"input"`
}

// DatasetConfig names the data. Kind synth needs nothing else: the
// synthetic set is written into a cache directory on first use.
type DatasetConfig struct {
	Kind string `yaml:"kind"` // voc, coco or synth
	// Root: VOC devkit root (holding VOC2007/, VOC2012/), COCO root, or the
	// synthetic set's cache directory ("" = the user cache directory).
	Root      string   `yaml:"root"`
	Split     int      `yaml:"split"`      // VOC class split 1, 2 or 3
	TrainSets []string `yaml:"train_sets"` // VOC: ["VOC2007/trainval", "VOC2012/trainval"]
	TestSet   string   `yaml:"test_set"`   // VOC: "VOC2007/test"
	SplitDir  string   `yaml:"split_dir"`  // vocsplit/cocosplit directory; default <root>/vocsplit or <root>/cocosplit
	// COCO files, relative to Root unless absolute.
	TrainJSON string `yaml:"train_json"`
	TestJSON  string `yaml:"test_json"`
	TrainDir  string `yaml:"train_images"`
	TestDir   string `yaml:"test_images"`
	// Synthetic set parameters.
	SynthImages int   `yaml:"synth_images"`
	SynthTest   int   `yaml:"synth_test_images"`
	SynthSize   int   `yaml:"synth_size"`
	SynthSeed   int64 `yaml:"synth_seed"`
	SkipBad     bool  `yaml:"skip_bad"` // log and skip bad images/annotations instead of stopping
	// MaxTestImages caps the test set (0 = all); for quick checks only.
	MaxTestImages int `yaml:"max_test_images"`
}

// StageConfig is one training stage's solver and input settings.
type StageConfig struct {
	MaxIter        int     `yaml:"max_iter"`
	LR             float32 `yaml:"base_lr"`
	Steps          []int   `yaml:"steps"`
	Gamma          float32 `yaml:"gamma"`
	WarmupIters    int     `yaml:"warmup_iters"`
	WarmupFactor   float32 `yaml:"warmup_factor"`
	Momentum       float32 `yaml:"momentum"`
	WeightDecay    float32 `yaml:"weight_decay"`
	ClipGradNorm   float32 `yaml:"clip_grad_norm"` // 0 = off
	ImagesPerBatch int     `yaml:"ims_per_batch"`  // per iteration, over all replicas (detectron2's IMS_PER_BATCH)
	// Replicas is the number of data-parallel model copies the batch is split
	// over (one per GPU; in-process on the CPU). 0 = one per GPU given with
	// --gpus, 1 on the CPU. With real batch norm the number changes the
	// statistics, so set it when results must not depend on the machine.
	Replicas        int    `yaml:"replicas"`
	ShortSides      []int  `yaml:"min_size_train"`
	MaxSize         int    `yaml:"max_size_train"`
	TestShortSide   int    `yaml:"min_size_test"`
	TestMaxSize     int    `yaml:"max_size_test"`
	Flip            bool   `yaml:"flip"`
	CheckpointEvery int    `yaml:"checkpoint_period"`
	LogEvery        int    `yaml:"log_period"`
	Seed            int64  `yaml:"seed"`
	Weights         string `yaml:"weights"` // initial weights (safetensors) for the base stage; "" = random init
	// Precision is the matrix arithmetic of the stage's convolutions and
	// GEMMs: fp32, tf32 or bf16 (all of them in it), or "" for the
	// backend's default (README "Precision"); --precision overrides it.
	Precision string    `yaml:"precision,omitempty"`
	Model     yaml.Node `yaml:"model"` // overrides of the plan's model config for this stage
}

// SurgeryConfig says how the base checkpoint becomes the fine-tune's start.
type SurgeryConfig struct {
	Method string `yaml:"method"` // randinit (G-FSOD), remove (FSOD), none
}

// FineTuneConfig is the K-shot stage, run for every (shots, seed, repeat).
type FineTuneConfig struct {
	Protocol string `yaml:"protocol"` // gfsod: base+novel classes; fsod: novel only
	Shots    []int  `yaml:"shots"`
	Seeds    []int  `yaml:"seeds"`
	// Repeats fine-tunes each split seed this many times with different
	// training seeds (DeFRCN's FSOD protocol: seed 0 fine-tuned 10 times).
	Repeats int `yaml:"repeats"`
	// Stage holds the settings shared by every shot; Schedules overrides
	// max_iter and steps per shot count, as the published tables do.
	Stage     StageConfig          `yaml:"stage"`
	Schedules map[int]ShotSchedule `yaml:"schedules"`
}

// ShotSchedule is the per-shot iteration budget.
type ShotSchedule struct {
	MaxIter int   `yaml:"max_iter"`
	Steps   []int `yaml:"steps"`
}

// EvalConfig chooses the metric reported per job.
type EvalConfig struct {
	Metric string `yaml:"metric"` // voc07 (11-point), area (all-point) or coco
}

// LoadPlan reads a plan file. Unknown keys are errors naming the key.
func LoadPlan(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := ParsePlan(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePlan parses a plan, filling unset keys with DeFRCN's defaults.
func ParsePlan(data []byte) (*Plan, error) {
	p := DefaultPlan()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty plan: the file holds no YAML document (configs/demo.yaml is a complete example)")
		}
		return nil, fmt.Errorf("config: %s", cleanYAMLError(err))
	}
	// A second document would be silently ignored: refuse it.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config: more than one YAML document (a '---' separator); a plan is one document")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// cleanYAMLError turns yaml.v3's "field x not found in type train.Plan" into
// a message a user can act on.
func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n  ")
	if i := strings.Index(s, "field "); i >= 0 && strings.Contains(s, "not found in type") {
		j := strings.Index(s, " not found in type")
		return s[:i] + "unknown key \"" + s[i+len("field "):j] + "\" (check the spelling; see README's config keys)"
	}
	return s
}

// DefaultPlan is DeFRCN's VOC split-1 G-FSOD plan (REFERENCE.md).
func DefaultPlan() *Plan {
	ft := StageConfig{
		LR: 0.01, Gamma: 0.1, WarmupIters: 0, WarmupFactor: 0.001, Momentum: 0.9, WeightDecay: 5e-5,
		ImagesPerBatch: 16, ShortSides: vocShortSides(), MaxSize: 1333, TestShortSide: 800, TestMaxSize: 1333,
		Flip: true, CheckpointEvery: 500, LogEvery: 20,
	}
	base := ft
	base.LR, base.MaxIter, base.Steps, base.WarmupIters = 0.02, 15000, []int{10000, 13300}, 100
	base.CheckpointEvery = 1000
	return &Plan{
		Name:    "defrcn-voc-split1",
		Method:  "defrcn",
		Dataset: DatasetConfig{Kind: "voc", Split: 1, TrainSets: []string{"VOC2007/trainval", "VOC2012/trainval"}, TestSet: "VOC2007/test"},
		Model:   model.DefaultConfig(),
		Base:    base,
		Surgery: SurgeryConfig{Method: "randinit"},
		FineTune: FineTuneConfig{
			Protocol: "gfsod", Shots: []int{1, 2, 3, 5, 10}, Seeds: []int{0}, Repeats: 1, Stage: ft,
			Schedules: map[int]ShotSchedule{
				1: {800, []int{640}}, 2: {1200, []int{960}}, 3: {1600, []int{1280}},
				5: {2000, []int{1600}}, 10: {4000, []int{3200}},
			},
		},
		Eval: EvalConfig{Metric: "voc07"},
	}
}

func vocShortSides() []int {
	var s []int
	for v := 480; v <= 800; v += 32 {
		s = append(s, v)
	}
	return s
}

// StageModel returns the model config for a stage: the plan's model with the
// stage's `model:` overrides decoded on top (unknown keys are errors).
func (p *Plan) StageModel(st *StageConfig) (model.Config, error) {
	cfg := p.Model
	// Deep-copy the slices so overrides never alias the plan's.
	cfg.RPN.AnchorSizes = slices.Clone(cfg.RPN.AnchorSizes)
	cfg.RPN.AnchorRatios = slices.Clone(cfg.RPN.AnchorRatios)
	cfg.Freeze = slices.Clone(cfg.Freeze)
	cfg.Neck = cfg.Neck.Clone()
	if st.Model.Kind == 0 {
		return cfg, nil
	}
	raw, err := yaml.Marshal(&st.Model)
	if err != nil {
		return cfg, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("stage model overrides: %s", cleanYAMLError(err))
	}
	return cfg, nil
}

// ShotStage returns the fine-tune stage for a shot count: the shared stage
// with that shot's schedule.
func (p *Plan) ShotStage(shots int) (StageConfig, error) {
	st := p.FineTune.Stage
	sch, ok := p.FineTune.Schedules[shots]
	if !ok {
		return st, fmt.Errorf("finetune.schedules has no entry for %d shots", shots)
	}
	st.MaxIter, st.Steps = sch.MaxIter, slices.Clone(sch.Steps)
	return st, nil
}

// Validate reports the first inconsistent setting.
func (p *Plan) Validate() error {
	switch p.Dataset.Kind {
	case "voc", "coco", "synth":
	default:
		return fmt.Errorf("dataset.kind %q: want voc, coco or synth", p.Dataset.Kind)
	}
	if p.Dataset.Kind == "voc" && (p.Dataset.Split < 1 || p.Dataset.Split > 3) {
		return fmt.Errorf("dataset.split %d: VOC splits are 1, 2 and 3", p.Dataset.Split)
	}
	switch p.Surgery.Method {
	case "randinit", "remove", "none":
	default:
		return fmt.Errorf("surgery.method %q: want randinit, remove or none", p.Surgery.Method)
	}
	switch p.FineTune.Protocol {
	case "gfsod", "fsod":
	default:
		return fmt.Errorf("finetune.protocol %q: want gfsod or fsod", p.FineTune.Protocol)
	}
	switch p.Eval.Metric {
	case "voc07", "area", "coco":
	default:
		return fmt.Errorf("eval.metric %q: want voc07, area or coco", p.Eval.Metric)
	}
	if err := p.Input.Validate(); err != nil {
		return err
	}
	if err := checkShots(p.Dataset.Kind, "finetune.shots", p.FineTune.Shots); err != nil {
		return err
	}
	if err := checkSeeds(p.Dataset.Kind, "finetune.seeds", p.FineTune.Seeds); err != nil {
		return err
	}
	for k := range p.FineTune.Schedules {
		if k < 1 {
			return fmt.Errorf("finetune.schedules: %d is not a shot count (want K >= 1 objects per class of the %s plan)", k, p.Dataset.Kind)
		}
	}
	if p.FineTune.Repeats < 1 {
		return fmt.Errorf("finetune.repeats %d < 1", p.FineTune.Repeats)
	}
	for _, k := range p.FineTune.Shots {
		if _, ok := p.FineTune.Schedules[k]; !ok {
			return fmt.Errorf("finetune.shots lists %d but finetune.schedules has no entry for it", k)
		}
	}
	if err := p.Base.validate("base"); err != nil {
		return err
	}
	for _, kv := range [][2]string{{"base.precision", p.Base.Precision}, {"finetune.stage.precision", p.FineTune.Stage.Precision}} {
		if kv[1] == "" {
			continue
		}
		if _, err := backend.ParsePrecision(kv[1]); err != nil {
			return fmt.Errorf("%s: %w", kv[0], err)
		}
	}
	for k, s := range p.FineTune.Schedules {
		st := p.FineTune.Stage
		st.MaxIter, st.Steps = s.MaxIter, s.Steps
		if err := st.validate(fmt.Sprintf("finetune (%d shots)", k)); err != nil {
			return err
		}
	}
	for _, st := range []*StageConfig{&p.Base, &p.FineTune.Stage} {
		m, err := p.StageModel(st)
		if err != nil {
			return err
		}
		m.NumClasses = max(m.NumClasses, 1)
		if err := m.Validate(); err != nil {
			return err
		}
	}
	return nil
}

func (s *StageConfig) validate(name string) error {
	switch {
	case s.MaxIter < 1:
		return fmt.Errorf("%s: max_iter %d < 1", name, s.MaxIter)
	case s.LR <= 0:
		return fmt.Errorf("%s: base_lr %g must be > 0", name, s.LR)
	case s.ImagesPerBatch < 1:
		return fmt.Errorf("%s: ims_per_batch %d < 1", name, s.ImagesPerBatch)
	case s.Replicas < 0:
		return fmt.Errorf("%s: replicas %d < 0", name, s.Replicas)
	case s.Replicas > 0 && s.ImagesPerBatch%s.Replicas != 0:
		return fmt.Errorf("%s: ims_per_batch %d does not split evenly over replicas %d", name, s.ImagesPerBatch, s.Replicas)
	case len(s.ShortSides) == 0 || s.TestShortSide < 1:
		return fmt.Errorf("%s: min_size_train and min_size_test must be set", name)
	case s.WarmupFactor < 0 || s.WarmupFactor > 1:
		return fmt.Errorf("%s: warmup_factor %g not in [0,1]", name, s.WarmupFactor)
	}
	for i, st := range s.Steps {
		if st <= 0 || (i > 0 && st <= s.Steps[i-1]) {
			return fmt.Errorf("%s: steps %v must be positive and increasing", name, s.Steps)
		}
	}
	return nil
}
