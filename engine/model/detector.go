package model

import (
	"fmt"
	"sort"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/neck"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// Input is one batch. Images are raw pixel values (0..255, channel order
// Config.InputFormat) padded to a common size; Sizes are the (h, w) of each
// unpadded image; Boxes and Classes are the gt (training only), boxes in
// the Images' pixels, classes in [0, NumClasses).
type Input struct {
	Images  *backend.Tensor // [B,3,H,W]
	Sizes   [][2]int
	Boxes   [][][4]float32
	Classes [][]int64
}

// Output is what Forward returns: losses by name in training (the values
// after weighting; their sum is the loss that was back-propagated), or the
// detections of every image at inference.
type Output struct {
	Losses     map[string]float32
	Detections []Detections
}

// Detector is Faster R-CNN C4 with DeFRCN's decoupled layers and the MFE head.
type Detector struct {
	be    backend.Backend
	cfg   Config
	seed  uint64 // the RPN/RoI sampling and dropout streams (see SetReplica)
	store *nn.Store

	backbone        *Backbone
	neck            neck.Block // nil without model.neck
	affRPN, affRCNN *nn.Affine
	rpn             *rpn
	heads           *roiHeads
	scale, shift    *backend.Tensor // pixel normalisation folded to a channel affine
}

// New builds the detector with seeded random init (load weights after with
// LoadStateDict) and applies the config's freezing.
func New(be backend.Backend, cfg Config, seed uint64) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := nn.NewStore(be, seed)
	s.TrainableNorm = cfg.Backbone.Norm == "affine"
	s.BatchNorm = cfg.Backbone.Norm == "bn"
	d := &Detector{be: be, cfg: cfg, seed: seed, store: s}
	d.backbone = NewBackbone(s, cfg.Backbone, 4)
	c4 := d.backbone.OutChannels()
	if cfg.Neck.Enabled() {
		// The neck's BN follows backbone.norm through the store's flags.
		b, err := neck.New(s, "neck", cfg.Neck, c4)
		if err != nil {
			return nil, fmt.Errorf("model config: neck: %v", err)
		}
		d.neck, c4 = b, b.OutChannels()
	}
	if cfg.RPN.Decouple {
		d.affRPN = nn.NewAffine(s, "affine_rpn", c4)
	}
	if cfg.ROI.Decouple {
		d.affRCNN = nn.NewAffine(s, "affine_rcnn", c4)
	}
	d.rpn = newRPN(s, cfg.RPN, c4)
	d.heads = newROIHeads(s, cfg, c4)
	pats := freezePatterns(cfg.Backbone.FreezeAt)
	if cfg.ROI.FreezeFeat {
		pats = append(pats, "roi_heads.res5.*")
	}
	if cfg.Neck.Freeze && d.neck != nil {
		pats = append(pats, "neck.*")
	}
	if _, err := s.Freeze(append(pats, cfg.Freeze...)...); err != nil {
		return nil, fmt.Errorf("model config: %v", err)
	}
	var sc, sh [3]float32
	for i := range sc {
		sc[i] = 1 / cfg.PixelStd[i]
		sh[i] = -cfg.PixelMean[i] / cfg.PixelStd[i]
	}
	d.scale, d.shift = be.FromFloat32(sc[:], 3), be.FromFloat32(sh[:], 3)
	return d, nil
}

// SetReplica makes the detector replica r of a data-parallel group: every
// replica starts from the same weights (the init seed is unchanged), but each
// draws its own anchor/RoI samples and dropout masks, as each DDP worker does.
// Replica 0 keeps the single-process streams, so a one-replica run is the
// same as before.
func (d *Detector) SetReplica(r int, seed uint64) {
	d.seed = seed
	if r > 0 {
		d.seed = seed ^ (uint64(r) * 0xD1B54A32D192ED03)
	}
}

// Backend is the backend the detector's tensors live on.
func (d *Detector) Backend() backend.Backend { return d.be }

// Config is the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Params returns every parameter and buffer (frozen ones included).
func (d *Detector) Params() []*nn.Param { return d.store.Params() }

// Freeze freezes the parameters matching the glob patterns.
func (d *Detector) Freeze(patterns ...string) (int, error) { return d.store.Freeze(patterns...) }

// ZeroGrad drops every parameter gradient.
func (d *Detector) ZeroGrad() { d.store.ZeroGrad() }

// StateDict maps every parameter name to its tensor (aliased).
func (d *Detector) StateDict() map[string]*backend.Tensor { return d.store.StateDict() }

// LoadStateDict copies values by name; see nn.Store.LoadStateDict.
func (d *Detector) LoadStateDict(sd map[string]*backend.Tensor, strict bool) error {
	return d.store.LoadStateDict(sd, strict)
}

// check validates a batch: user input, so errors, not panics.
func (d *Detector) check(in *Input, train bool) error { return checkInput(in, train, d.cfg.NumClasses) }

// checkInput validates a batch for a detector of numClasses classes.
func checkInput(in *Input, train bool, numClasses int) error {
	if in.Images == nil || len(in.Images.Shape) != 4 || in.Images.Shape[1] != 3 {
		return fmt.Errorf("input: images must be [B,3,H,W], got %v", in.Images)
	}
	b, h, w := in.Images.Shape[0], in.Images.Shape[2], in.Images.Shape[3]
	if len(in.Sizes) != b {
		return fmt.Errorf("input: %d sizes for %d images", len(in.Sizes), b)
	}
	for i, s := range in.Sizes {
		if s[0] < 1 || s[1] < 1 || s[0] > h || s[1] > w {
			return fmt.Errorf("input: image %d: size %dx%d outside the padded %dx%d", i, s[0], s[1], h, w)
		}
	}
	if !train {
		return nil
	}
	if len(in.Boxes) != b || len(in.Classes) != b {
		return fmt.Errorf("input: %d box lists and %d class lists for %d images", len(in.Boxes), len(in.Classes), b)
	}
	for i := range in.Boxes {
		if len(in.Boxes[i]) != len(in.Classes[i]) {
			return fmt.Errorf("input: image %d: %d boxes but %d classes", i, len(in.Boxes[i]), len(in.Classes[i]))
		}
		for j, bx := range in.Boxes[i] {
			if !(bx[0] <= bx[2] && bx[1] <= bx[3]) || !finite(bx[:]) {
				return fmt.Errorf("input: image %d: object %d: box %v has x1 > x2 or y1 > y2", i, j, bx)
			}
		}
		if err := checkLabels(in.Classes[i], numClasses, i); err != nil {
			return fmt.Errorf("input: %v", err)
		}
	}
	return nil
}

// normalise maps raw pixels to (x − mean)/std and zeroes the padding, as
// detectron2 normalises before padding.
func (d *Detector) normalise(t *autograd.Tape, in *Input) *autograd.Var {
	x := t.ChannelAffine(t.Const(in.Images), d.scale, d.shift)
	b, h, w := in.Images.Shape[0], in.Images.Shape[2], in.Images.Shape[3]
	padded := false
	mask := make([]float32, b*h*w)
	for i, s := range in.Sizes {
		for y := 0; y < s[0]; y++ {
			for xx := 0; xx < s[1]; xx++ {
				mask[(i*h+y)*w+xx] = 1
			}
		}
		padded = padded || s[0] < h || s[1] < w
	}
	if !padded {
		return x
	}
	m := t.Keep(d.be.FromFloat32(mask, b, 1, h, w))
	return t.Mul(x, t.Const(m))
}

// features is res4, through the neck when there is one: the map the RPN
// and the RoI heads read.
func (d *Detector) features(t *autograd.Tape, in *Input) *autograd.Var {
	feats := d.backbone.Forward(t, d.normalise(t, in))
	res4 := feats[len(feats)-1]
	if d.neck != nil {
		res4 = d.neck.Forward(t, res4)
	}
	return res4
}

// losses runs the training graph on t and returns the named loss Vars.
func (d *Detector) losses(t *autograd.Tape, in *Input, iter int) map[string]*autograd.Var {
	res4 := d.features(t, in)
	rpnFeat, rcnnFeat := res4, res4
	if d.affRPN != nil {
		rpnFeat = d.affRPN.Forward(t, t.GradScale(res4, d.cfg.RPN.GDLScale))
	}
	if d.affRCNN != nil {
		rcnnFeat = d.affRCNN.Forward(t, t.GradScale(res4, d.cfg.ROI.GDLScale))
	}
	props, losses := d.rpn.forward(t, rpnFeat, in, d.seed, iter, true)
	for k, v := range d.heads.trainLosses(t, rcnnFeat, in, props, d.seed, iter) {
		losses[k] = v
	}
	return losses
}

// Forward runs one batch. In training it samples anchors and RoIs and draws
// dropout masks from (seed, iter), back-propagates the sum of the losses
// into the parameters' gradients (accumulating; call ZeroGrad between
// steps) and returns the losses. At inference it returns detections.
func (d *Detector) Forward(in Input, iter int, train bool) (*Output, error) {
	if err := d.check(&in, train); err != nil {
		return nil, err
	}
	t := autograd.NewTape(d.be, train)
	if !train {
		defer t.Release()
		res4 := d.features(t, &in)
		rpnFeat, rcnnFeat := res4, res4
		if d.affRPN != nil {
			rpnFeat = d.affRPN.Forward(t, res4)
		}
		if d.affRCNN != nil {
			rcnnFeat = d.affRCNN.Forward(t, res4)
		}
		props, _ := d.rpn.forward(t, rpnFeat, &in, d.seed, iter, false)
		return &Output{Detections: d.heads.infer(t, rcnnFeat, &in, props)}, nil
	}
	losses := d.losses(t, &in, iter)
	out := &Output{Losses: map[string]float32{}}
	total := sumLosses(t, losses, out.Losses)
	// A batch without foreground has no box losses; report them as 0, as
	// detectron2 does, so every step logs the same keys.
	for _, k := range d.lossNames() {
		if _, ok := out.Losses[k]; !ok {
			out.Losses[k] = 0
		}
	}
	if total == nil {
		t.Release()
		return out, nil
	}
	if total.RequiresGrad {
		t.Backward(total)
	} else {
		t.Release()
	}
	return out, nil
}

// lossNames are the losses a training step reports under this config.
func (d *Detector) lossNames() []string {
	names := []string{"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg"}
	if d.cfg.MFE.RC {
		names = append(names, "loss_cls_rc")
	}
	if d.cfg.MFE.SEM && d.cfg.MFE.SEMC {
		names = append(names, "loss_cls_raw")
		if d.cfg.MFE.RC {
			names = append(names, "loss_cls_raw_rc")
		}
	}
	if d.cfg.MFE.SEM && d.cfg.MFE.SEMR {
		names = append(names, "loss_box_reg_refined")
	}
	return names
}

// sumLosses reads every loss to the host (into vals) and returns their sum
// on the tape, in name order so the sum is deterministic.
func sumLosses(t *autograd.Tape, losses map[string]*autograd.Var, vals map[string]float32) *autograd.Var {
	names := make([]string, 0, len(losses))
	for k := range losses {
		names = append(names, k)
	}
	sort.Strings(names)
	var total *autograd.Var
	for _, k := range names {
		vals[k] = t.Backend().ToFloat32(losses[k].Value)[0]
		if total == nil {
			total = losses[k]
		} else {
			total = t.Add(total, losses[k])
		}
	}
	return total
}
