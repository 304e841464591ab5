package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// ArchYOLOv1 is the one-stage detector of the YOLO paper (Redmon et al.
// 2016): one regression over an S×S grid, B boxes per cell, C class scores
// per cell, output S×S×(5B+C) in GOLDEN.md's yolov1_loss layout.
const ArchYOLOv1 = "yolov1"

// YOLOConfig is model.yolo: the YOLOv1 settings (ignored by faster_rcnn).
type YOLOConfig struct {
	// InputSize is the square network input (448 in the paper): every image
	// is resized to it (aspect not kept), boxes with it.
	InputSize int `yaml:"input_size"`
	S         int `yaml:"grid"`
	B         int `yaml:"boxes_per_cell"`
	// Backbone is darknet24 (the paper's 24 convolutions), fast (Fast
	// YOLO's 9) or resnet (model.backbone's ResNet up to res4). The feature
	// map is max-pooled to S×S (the identity for darknet24/fast at
	// input_size 64·S), then two fully connected layers.
	Backbone string `yaml:"backbone"`
	// Width multiplies every convolution's filters (1 = the paper's).
	Width float64 `yaml:"width"`
	// FC is the first fully connected layer's size (4096 in the paper);
	// with head conv, the channels of its 3×3 convolution.
	FC int `yaml:"fc"`
	// Head is fc (the paper's: two fully connected layers over the whole
	// S×S map, so every cell has its own output weights) or conv (a 3×3
	// convolution of FC channels then a 1×1 convolution to 5B+C, one set of
	// weights shared by every cell, as YOLOv2 does: each cell's objects train
	// the same weights, which a small data set needs; see README).
	Head string `yaml:"head"`
	// Dropout after the first fully connected layer (0.5 in the paper).
	Dropout     float32 `yaml:"dropout"`
	LambdaCoord float32 `yaml:"lambda_coord"`
	LambdaNoobj float32 `yaml:"lambda_noobj"`
	// Training augmentation, as the paper: a random scale of 1±Scale and
	// a translation of up to Translate of the image on each axis; exposure
	// (V) and saturation (S) scaled by up to Exposure and Saturation (a
	// factor f means a draw in [1/f, f]) in HSV. 0 (or 1 for the HSV ones)
	// turns each off.
	Scale      float32 `yaml:"aug_scale"`
	Translate  float32 `yaml:"aug_translate"`
	Exposure   float32 `yaml:"aug_exposure"`
	Saturation float32 `yaml:"aug_saturation"`
	// Test time: class-specific confidence threshold, per-class NMS IoU and
	// the detections kept per image.
	ScoreThresh  float32 `yaml:"score_thresh_test"`
	NMS          float32 `yaml:"nms_thresh_test"`
	DetsPerImage int     `yaml:"detections_per_image"`
}

// DefaultYOLOConfig is the paper's YOLOv1 on VOC.
func DefaultYOLOConfig() YOLOConfig {
	return YOLOConfig{InputSize: 448, S: 7, B: 2, Backbone: "darknet24", Width: 1, FC: 4096, Head: "fc", Dropout: 0.5,
		LambdaCoord: 5, LambdaNoobj: 0.5, Scale: 0.2, Translate: 0.2, Exposure: 1.5, Saturation: 1.5,
		ScoreThresh: 0.05, NMS: 0.5, DetsPerImage: 100}
}

func (y YOLOConfig) validate() error {
	switch {
	case y.InputSize < 32:
		return fmt.Errorf("model config: yolo.input_size %d < 32", y.InputSize)
	case y.S < 1 || y.B < 1:
		return fmt.Errorf("model config: yolo.grid %d and yolo.boxes_per_cell %d must be ≥ 1", y.S, y.B)
	case y.Backbone != "darknet24" && y.Backbone != "fast" && y.Backbone != "resnet":
		return fmt.Errorf("model config: yolo.backbone %q (want darknet24, fast or resnet)", y.Backbone)
	case y.Head != "" && y.Head != "fc" && y.Head != "conv": // "" (configs before the key): fc
		return fmt.Errorf("model config: yolo.head %q (want fc or conv)", y.Head)
	case !(y.Width > 0):
		return fmt.Errorf("model config: yolo.width %g must be > 0", y.Width)
	case y.FC < 1:
		return fmt.Errorf("model config: yolo.fc %d < 1", y.FC)
	case y.Dropout < 0 || y.Dropout >= 1:
		return fmt.Errorf("model config: yolo.dropout %g not in [0,1)", y.Dropout)
	case y.Scale < 0 || y.Scale >= 1 || y.Translate < 0 || y.Translate >= 1:
		return fmt.Errorf("model config: yolo.aug_scale %g and aug_translate %g must be in [0,1)", y.Scale, y.Translate)
	case y.Exposure < 1 || y.Saturation < 1:
		return fmt.Errorf("model config: yolo.aug_exposure %g and aug_saturation %g must be ≥ 1 (1 = off)", y.Exposure, y.Saturation)
	case y.DetsPerImage < 1:
		return fmt.Errorf("model config: yolo.detections_per_image %d < 1", y.DetsPerImage)
	}
	return nil
}

// darknetLayer is one convolution (k×k, out filters, stride) optionally
// followed by a 2×2/2 max-pool.
type darknetLayer struct {
	k, out, stride int
	pool           bool
}

// darknet24 is the paper's Figure 3: 24 convolutions, 1×1 reductions
// alternating with 3×3 convolutions, four max-pools (448 → 7).
func darknet24() []darknetLayer {
	l := []darknetLayer{{7, 64, 2, true}, {3, 192, 1, true}, {1, 128, 1, false}, {3, 256, 1, false}, {1, 256, 1, false}, {3, 512, 1, true}}
	for i := 0; i < 4; i++ {
		l = append(l, darknetLayer{1, 256, 1, false}, darknetLayer{3, 512, 1, false})
	}
	l = append(l, darknetLayer{1, 512, 1, false}, darknetLayer{3, 1024, 1, true})
	for i := 0; i < 2; i++ {
		l = append(l, darknetLayer{1, 512, 1, false}, darknetLayer{3, 1024, 1, false})
	}
	return append(l, darknetLayer{3, 1024, 1, false}, darknetLayer{3, 1024, 2, false}, darknetLayer{3, 1024, 1, false}, darknetLayer{3, 1024, 1, false})
}

// fastYOLO is Fast YOLO's 9 convolutions (darknet's tiny-yolo v1): 3×3
// convolutions of 16..512 filters each followed by a max-pool (448 → 7),
// then 1024, 1024 and 256 filters.
func fastYOLO() []darknetLayer {
	var l []darknetLayer
	for _, c := range []int{16, 32, 64, 128, 256, 512} {
		l = append(l, darknetLayer{3, c, 1, true})
	}
	return append(l, darknetLayer{3, 1024, 1, false}, darknetLayer{3, 1024, 1, false}, darknetLayer{3, 256, 1, false})
}

// YOLOv1 is the detector. Parameter names: yolo.conv<i> (darknet24/fast)
// or backbone.* (resnet), then with head fc yolo.fc1 and yolo.fc2 (the
// last, linear layer whose rows are the grid's outputs, cell-major: row
// (i·S+j)·(5B+C)+k), with head conv yolo.head (3×3) and yolo.pred (1×1,
// linear; output channel k of every cell).
type YOLOv1 struct {
	be    backend.Backend
	cfg   Config
	y     YOLOConfig
	seed  uint64
	store *nn.Store

	convs    []*nn.Conv2d
	pools    []bool
	backbone *Backbone
	fc1, fc2 *nn.Linear
	hconv    *nn.Conv2d // head conv: 3×3, FC channels
	pred     *nn.Conv2d // head conv: 1×1 to 5B+C
	featC    int
}

func init() {
	builders[ArchYOLOv1] = func(be backend.Backend, cfg Config, seed uint64) (Model, error) { return NewYOLOv1(be, cfg, seed) }
	surgeons[ArchYOLOv1] = yoloSurgery
}

// NewYOLOv1 builds the detector with seeded random init.
func NewYOLOv1(be backend.Backend, cfg Config, seed uint64) (*YOLOv1, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	y := cfg.YOLO
	if err := y.validate(); err != nil {
		return nil, err
	}
	s := nn.NewStore(be, seed)
	s.TrainableNorm = cfg.Backbone.Norm == "affine"
	s.BatchNorm = cfg.Backbone.Norm == "bn"
	m := &YOLOv1{be: be, cfg: cfg, y: y, seed: seed, store: s}
	if y.Backbone == "resnet" {
		m.backbone = NewBackbone(s, cfg.Backbone, 4)
		m.featC = m.backbone.OutChannels()
	} else {
		layers := darknet24()
		if y.Backbone == "fast" {
			layers = fastYOLO()
		}
		in := 3
		for i, l := range layers {
			out := max(1, int(math.Round(float64(l.out)*y.Width)))
			c := nn.NewConv2d(s, fmt.Sprintf("yolo.conv%d", i), in, out, l.k, l.stride, l.k/2, true, nn.KaimingFanOut())
			m.convs, m.pools, in = append(m.convs, c), append(m.pools, l.pool), out
		}
		m.featC = in
	}
	d := 5*y.B + cfg.NumClasses
	if y.Head == "conv" {
		m.hconv = nn.NewConv2d(s, "yolo.head", m.featC, y.FC, 3, 1, 1, true, nn.KaimingFanOut())
		m.pred = nn.NewConv2d(s, "yolo.pred", y.FC, d, 1, 1, 0, true, nn.Normal(0.01))
	} else {
		m.fc1 = nn.NewLinear(s, "yolo.fc1", m.featC*y.S*y.S, y.FC, nn.KaimingUniformFanIn(m.featC*y.S*y.S))
		m.fc2 = nn.NewLinear(s, "yolo.fc2", y.FC, y.S*y.S*d, nn.Normal(0.01))
	}
	pats := cfg.Freeze
	if m.backbone != nil {
		pats = append(freezePatterns(cfg.Backbone.FreezeAt), pats...)
	}
	if _, err := s.Freeze(pats...); err != nil {
		return nil, fmt.Errorf("model config: %v", err)
	}
	return m, nil
}

func (m *YOLOv1) Backend() backend.Backend               { return m.be }
func (m *YOLOv1) Config() Config                         { return m.cfg }
func (m *YOLOv1) Params() []*nn.Param                    { return m.store.Params() }
func (m *YOLOv1) Freeze(patterns ...string) (int, error) { return m.store.Freeze(patterns...) }
func (m *YOLOv1) ZeroGrad()                              { m.store.ZeroGrad() }
func (m *YOLOv1) StateDict() map[string]*backend.Tensor  { return m.store.StateDict() }
func (m *YOLOv1) LoadStateDict(sd map[string]*backend.Tensor, strict bool) error {
	return m.store.LoadStateDict(sd, strict)
}

// SetReplica gives replica r its own augmentation and dropout streams.
func (m *YOLOv1) SetReplica(r int, seed uint64) {
	m.seed = seed
	if r > 0 {
		m.seed = seed ^ (uint64(r) * 0xD1B54A32D192ED03)
	}
}

// leakySlope is the paper's leaky ReLU slope, after every layer but the last.
const leakySlope = 0.1

// head runs the network on a prepared [N,3,I,I] input to pred [N,S,S,5B+C].
func (m *YOLOv1) head(t *autograd.Tape, x *autograd.Var, train bool, iter int) *autograd.Var {
	if m.backbone != nil {
		feats := m.backbone.Forward(t, x)
		x = t.LeakyReLU(feats[len(feats)-1], leakySlope)
	} else {
		for i, c := range m.convs {
			x = t.LeakyReLU(c.Forward(t, x), leakySlope)
			if m.pools[i] {
				x = t.MaxPool2d(x, backend.PoolParams{KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2})
			}
		}
	}
	s := m.y.S
	if h, w := x.Shape()[2], x.Shape()[3]; h != s || w != s {
		x = t.AdaptiveMaxPool2d(x, s, s)
	}
	n := x.Shape()[0]
	if m.pred != nil {
		h := t.LeakyReLU(m.hconv.Forward(t, x), leakySlope)
		if train && m.y.Dropout > 0 {
			h = dropout(t, h, m.y.Dropout, m.seed, iter, 0)
		}
		// [N,5B+C,S,S] → [N,S,S,5B+C], the loss's layout.
		return t.Permute(m.pred.Forward(t, h), 0, 2, 3, 1)
	}
	h := t.LeakyReLU(m.fc1.Forward(t, t.Reshape(x, n, m.featC*s*s)), leakySlope)
	if train && m.y.Dropout > 0 {
		h = dropout(t, h, m.y.Dropout, m.seed, iter, 0)
	}
	return t.Reshape(m.fc2.Forward(t, h), n, s, s, 5*m.y.B+m.cfg.NumClasses)
}

// rawPred is the network's output [N,S,S,5B+C] on a batch, without
// augmentation or dropout (tests read the layout with it).
func (m *YOLOv1) rawPred(images *backend.Tensor, sizes [][2]int) []float32 {
	in := Input{Images: images, Sizes: sizes}
	prep := m.prepare(&in, nil)
	t := autograd.NewTape(m.be, false)
	defer t.Release()
	x := t.Const(t.Keep(m.be.FromFloat32(prep.pixels, len(sizes), 3, m.y.InputSize, m.y.InputSize)))
	return m.be.ToFloat32(m.head(t, x, false, 0).Value)
}

// Forward trains on or detects in one batch (see Model).
func (m *YOLOv1) Forward(in Input, iter int, train bool) (*Output, error) {
	if err := checkInput(&in, train, m.cfg.NumClasses); err != nil {
		return nil, err
	}
	var rng *rand.Rand
	if train {
		rng = rand.New(rand.NewPCG(m.seed, uint64(iter)))
	}
	prep := m.prepare(&in, rng)
	t := autograd.NewTape(m.be, train)
	x := t.Const(t.Keep(m.be.FromFloat32(prep.pixels, len(in.Sizes), 3, m.y.InputSize, m.y.InputSize)))
	pred := m.head(t, x, train, iter)
	if !train {
		defer t.Release()
		return &Output{Detections: m.decode(m.be.ToFloat32(pred.Value), prep, in.Sizes)}, nil
	}
	tg := AssignYOLOTargets(prep.boxes, in.Classes, m.y.S, m.y.InputSize)
	n := len(in.Sizes)
	obj := t.Keep(m.be.FromFloat32(tg.Obj, n, m.y.S, m.y.S))
	box := t.Keep(m.be.FromFloat32(tg.Box, n, m.y.S, m.y.S, 4))
	cls := t.Keep(m.be.FromInt64(tg.Cls, n, m.y.S, m.y.S))
	loss := t.YOLOv1Loss(pred, obj, box, cls, backend.YOLOv1LossParams{S: m.y.S, B: m.y.B, C: m.cfg.NumClasses,
		LambdaCoord: m.y.LambdaCoord, LambdaNoobj: m.y.LambdaNoobj})
	out := &Output{Losses: map[string]float32{"loss_yolo": m.be.ToFloat32(loss.Value)[0]}}
	t.Backward(loss)
	return out, nil
}
