package model

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/internal/geom"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// attention is one TEM adapter: x ⊙ σ(W2·relu(W1·pool(x)+b1)+b2).
type attention struct {
	fc1, fc2 *nn.Linear
	pool     string
}

func newAttention(s *nn.Store, name string, c, reduction int, pool string) *attention {
	hid := max(c/reduction, 1)
	return &attention{
		fc1:  nn.NewLinear(s, name+".fc1", c, hid, nn.KaimingUniformFanIn(c)),
		fc2:  nn.NewLinear(s, name+".fc2", hid, c, nn.KaimingUniformFanIn(hid)),
		pool: pool,
	}
}

func (a *attention) forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.ChannelAttention(x, a.fc1.W.Var, a.fc1.B.Var, a.fc2.W.Var, a.fc2.B.Var, a.pool)
}

// roiHeads is detectron2's Res5ROIHeads with DeFRCN's output layers and the
// MFE parts: res5 on RoI-Aligned res4 features, mean pooling, then the
// classifier and box regressor, optionally behind TEM adapters.
type roiHeads struct {
	cfg            Config
	res5           *stage
	cls, box       *nn.Linear
	temCls, temReg *attention
	agnostic       bool
}

func newROIHeads(s *nn.Store, cfg Config, in int) *roiHeads {
	h := &roiHeads{cfg: cfg, agnostic: cfg.ROI.ClassAgnostic || cfg.MFE.SEM}
	h.res5 = newStage(s, "roi_heads.res5", cfg.Backbone, 5, in)
	d := h.res5.out
	if cfg.MFE.TEM {
		h.temCls = newAttention(s, "roi_heads.tem_cls", d, cfg.MFE.TEMReduction, cfg.MFE.TEMPool)
		h.temReg = newAttention(s, "roi_heads.tem_reg", d, cfg.MFE.TEMReduction, cfg.MFE.TEMPool)
	}
	const p = "roi_heads.box_predictor"
	h.cls = nn.NewLinear(s, p+".cls_score", d, cfg.NumClasses+1, nn.Normal(0.01))
	nBox := 4 * cfg.NumClasses
	if h.agnostic {
		nBox = 4
	}
	h.box = nn.NewLinear(s, p+".bbox_pred", d, nBox, nn.Normal(0.001))
	return h
}

// roiSet is a batch of RoIs: boxes with their image, and in training their
// class labels (NumClasses = background) and matched gt boxes.
type roiSet struct {
	img    []int
	boxes  [][4]float32
	labels []int64
	gt     [][4]float32
	fg     []int // rows with a foreground label
}

func (rs *roiSet) len() int { return len(rs.boxes) }

// tensor is the [R,5] (batch index, box) tensor RoIAlign takes.
func (rs *roiSet) tensor(be backend.Backend) *backend.Tensor {
	v := make([]float32, 0, 5*rs.len())
	for i, b := range rs.boxes {
		v = append(v, float32(rs.img[i]), b[0], b[1], b[2], b[3])
	}
	return be.FromFloat32(v, rs.len(), 5)
}

// withBoxes is rs with new boxes (the labels and gt stay).
func (rs *roiSet) withBoxes(boxes [][4]float32) *roiSet {
	c := *rs
	c.boxes = boxes
	return &c
}

// labelAndSample adds the gt boxes to each image's proposals, matches them
// to gt at the IoU threshold (no low-quality matches) and samples the
// per-image batch, fg first (detectron2's label_and_sample_proposals).
func (h *roiHeads) labelAndSample(be backend.Backend, in *Input, props [][]proposal, seed uint64, iter int) *roiSet {
	rs := &roiSet{}
	rng := stepRand(seed, iter, 2)
	for i := range props {
		cand := make([][4]float32, 0, len(props[i])+len(in.Boxes[i]))
		for _, p := range props[i] {
			cand = append(cand, p.box)
		}
		cand = append(cand, in.Boxes[i]...)
		g, m := len(in.Boxes[i]), len(cand)
		var iou []float32
		if g > 0 {
			gtT := be.FromFloat32(flatBoxes(in.Boxes[i]), g, 4)
			cT := be.FromFloat32(flatBoxes(cand), m, 4)
			iouT := be.BoxIoU(gtT, cT)
			iou = be.ToFloat32(iouT)
			for _, x := range []*backend.Tensor{gtT, cT, iouT} {
				be.Free(x)
			}
		}
		gtIdx, label := match(iou, g, m, h.cfg.ROI.IoU, h.cfg.ROI.IoU, false)
		fg, bg := sample(label, h.cfg.ROI.BatchSizePerImage, h.cfg.ROI.PositiveFraction, rng)
		for _, j := range fg {
			rs.fg = append(rs.fg, rs.len())
			rs.img = append(rs.img, i)
			rs.boxes = append(rs.boxes, cand[j])
			rs.labels = append(rs.labels, in.Classes[i][gtIdx[j]])
			rs.gt = append(rs.gt, in.Boxes[i][gtIdx[j]])
		}
		for _, j := range bg {
			rs.img = append(rs.img, i)
			rs.boxes = append(rs.boxes, cand[j])
			rs.labels = append(rs.labels, int64(h.cfg.NumClasses))
			rs.gt = append(rs.gt, [4]float32{})
		}
	}
	return rs
}

// relabel matches each RoI of rs to its image's gt: the class of the gt of
// highest IoU when that IoU reaches roi_heads.iou_threshold, else
// background (ties to the lower gt index, as match does).
func (h *roiHeads) relabel(in *Input, rs *roiSet) []int64 {
	out := make([]int64, rs.len())
	for k, b := range rs.boxes {
		out[k] = int64(h.cfg.NumClasses)
		best := float32(-1)
		for g, gt := range in.Boxes[rs.img[k]] {
			if v := geom.IoU(b, gt); v > best {
				best = v
				if v >= h.cfg.ROI.IoU {
					out[k] = in.Classes[rs.img[k]][g]
				} else {
					out[k] = int64(h.cfg.NumClasses)
				}
			}
		}
	}
	return out
}

// features is res5 over RoI-Aligned feat: [R,C5,P/2,P/2].
func (h *roiHeads) features(t *autograd.Tape, feat *autograd.Var, rs *roiSet) *autograd.Var {
	be := t.Backend()
	rois := t.Keep(rs.tensor(be))
	p := h.cfg.ROI.PoolerResolution
	return h.res5.forward(t, h.pool(t, feat, rois, p))
}

// pool is the box head's pooler (detectron2's POOLER_TYPE): RoI-Align with
// the half-pixel shift (ROIAlignV2, the default), without it (ROIAlign), or
// Fast R-CNN's RoI max pooling (ROIPool, SPP-net's one-level pyramid).
func (h *roiHeads) pool(t *autograd.Tape, feat *autograd.Var, rois *backend.Tensor, p int) *autograd.Var {
	if h.cfg.ROI.PoolerType == "ROIPool" {
		return t.RoIPool(feat, rois, backend.RoIPoolParams{OutH: p, OutW: p, SpatialScale: 1.0 / featureStride})
	}
	return t.RoIAlign(feat, rois, backend.RoIAlignParams{OutH: p, OutW: p, SpatialScale: 1.0 / featureStride,
		SamplingRatio: h.cfg.ROI.SamplingRatio, Aligned: h.cfg.ROI.PoolerType != "ROIAlign"})
}

// clsFeature and regFeature mean-pool z, each behind its TEM adapter if on.
func (h *roiHeads) clsFeature(t *autograd.Tape, z *autograd.Var) *autograd.Var {
	if h.temCls != nil {
		z = h.temCls.forward(t, z)
	}
	return t.MeanHW(z)
}

func (h *roiHeads) regFeature(t *autograd.Tape, z *autograd.Var) *autograd.Var {
	if h.temReg != nil {
		z = h.temReg.forward(t, z)
	}
	return t.MeanHW(z)
}

// dropout applies a mask drawn for (iteration, stream) from the run seed:
// deterministic, and the same on every backend.
func dropout(t *autograd.Tape, x *autograd.Var, p float32, seed uint64, iter, stream int) *autograd.Var {
	be := t.Backend()
	// 2^28 counters per stream (2^30 elements) and 16 streams per iteration.
	offset := uint64(iter)<<32 | uint64(stream)<<28
	mask := t.Keep(be.DropoutMask(x.Value.Numel(), p, seed, offset))
	return t.Dropout(x, mask.Reshape(x.Shape()...), p)
}

// classifyLoss is the classification loss of feature f [R,D]: plain CE,
// CE after DeFRCN's dropout, or with RC the mean CE of two dropout samples
// plus α·the symmetric KL between them (returned separately as loss_rc).
func (h *roiHeads) classifyLoss(t *autograd.Tape, f *autograd.Var, labels *backend.Tensor, seed uint64, iter, stream int, losses map[string]*autograd.Var, key string) {
	switch {
	case h.cfg.MFE.RC:
		p := h.cfg.MFE.RCDropout
		g1 := h.cls.Forward(t, dropout(t, f, p, seed, iter, stream))
		g2 := h.cls.Forward(t, dropout(t, f, p, seed, iter, stream+1))
		ce := t.Add(t.CrossEntropy(g1, labels), t.CrossEntropy(g2, labels))
		losses[key] = t.Scale(ce, 0.5, 0)
		losses[key+"_rc"] = t.Scale(t.RCLoss(g1, g2), h.cfg.MFE.Alpha, 0)
	case h.cfg.ROI.ClsDropout:
		g := h.cls.Forward(t, dropout(t, f, h.cfg.ROI.DropoutRatio, seed, iter, stream))
		losses[key] = t.CrossEntropy(g, labels)
	default:
		losses[key] = t.CrossEntropy(h.cls.Forward(t, f), labels)
	}
}

// boxLoss is the regression loss of deltas [R,4] or [R,4K] for the fg rows
// of rs relative to ref boxes, summed and divided by the RoI count.
func (h *roiHeads) boxLoss(t *autograd.Tape, deltas *autograd.Var, rs *roiSet, ref [][4]float32) *autograd.Var {
	if len(rs.fg) == 0 {
		return nil
	}
	be := t.Backend()
	r := rs.len()
	rows := make([]int64, len(rs.fg))
	var refs, gts []float32
	for i, j := range rs.fg {
		rows[i] = int64(j)
		if !h.agnostic {
			rows[i] = int64(j*h.cfg.NumClasses) + rs.labels[j]
		}
		refs = append(refs, ref[j][:]...)
		gts = append(gts, rs.gt[j][:]...)
	}
	if !h.agnostic {
		deltas = t.Reshape(deltas, r*h.cfg.NumClasses, 4)
	}
	refT := be.FromFloat32(refs, len(rows), 4)
	gtT := be.FromFloat32(gts, len(rows), 4)
	target := t.Keep(be.BoxEncode(refT, gtT, h.cfg.ROI.BoxWeights))
	be.Free(refT)
	be.Free(gtT)
	idx := t.Keep(be.FromInt64(rows, len(rows)))
	l := t.SmoothL1(t.Gather(deltas, idx), target, h.cfg.ROI.SmoothL1Beta, backend.ReduceSum)
	return t.Scale(l, 1/float32(r), 0)
}

// refine decodes class-agnostic deltas [R,4] on boxes and clips each to its
// image: SEM's refined boxes (no gradient flows through them).
func (h *roiHeads) refine(be backend.Backend, deltas *backend.Tensor, rs *roiSet, sizes [][2]int) [][4]float32 {
	ref := be.FromFloat32(flatBoxes(rs.boxes), rs.len(), 4)
	dec := be.BoxDecode(ref, deltas, h.cfg.ROI.BoxWeights)
	v := be.ToFloat32(dec)
	be.Free(ref)
	be.Free(dec)
	out := make([][4]float32, rs.len())
	for i := range out {
		s := sizes[rs.img[i]]
		w, hh := float32(s[1]), float32(s[0])
		out[i] = [4]float32{clamp(v[4*i], 0, w), clamp(v[4*i+1], 0, hh), clamp(v[4*i+2], 0, w), clamp(v[4*i+3], 0, hh)}
	}
	return out
}

func clamp(v, lo, hi float32) float32 { return min(max(v, lo), hi) }

// trainLosses runs the head on sampled RoIs and returns its losses.
func (h *roiHeads) trainLosses(t *autograd.Tape, feat *autograd.Var, in *Input, props [][]proposal, seed uint64, iter int) map[string]*autograd.Var {
	be := t.Backend()
	rs := h.labelAndSample(be, in, props, seed, iter)
	losses := map[string]*autograd.Var{}
	if rs.len() == 0 {
		return losses
	}
	labels := t.Keep(be.FromInt64(rs.labels, rs.len()))
	z := h.features(t, feat, rs)
	deltas := h.box.Forward(t, h.regFeature(t, z))
	if l := h.boxLoss(t, deltas, rs, rs.boxes); l != nil {
		losses["loss_box_reg"] = l
	}
	if !h.cfg.MFE.SEM {
		h.classifyLoss(t, h.clsFeature(t, z), labels, seed, iter, 0, losses, "loss_cls")
		return losses
	}
	// SEM: classify the refined boxes with a second RoI-Align + res5 pass.
	refined := h.refine(be, deltas.Value, rs, in.Sizes)
	rs2 := rs.withBoxes(refined)
	z2 := h.features(t, feat, rs2)
	labels2 := labels
	if h.cfg.MFE.SEMRelabel {
		labels2 = t.Keep(be.FromInt64(h.relabel(in, rs2), rs2.len()))
	}
	h.classifyLoss(t, h.clsFeature(t, z2), labels2, seed, iter, 0, losses, "loss_cls")
	if h.cfg.MFE.SEMC {
		h.classifyLoss(t, h.clsFeature(t, z), labels, seed, iter, 2, losses, "loss_cls_raw")
	}
	if h.cfg.MFE.SEMR {
		d2 := h.box.Forward(t, h.regFeature(t, z2))
		if l := h.boxLoss(t, d2, rs2, refined); l != nil {
			losses["loss_box_reg_refined"] = l
		}
	}
	return losses
}

// Detections are one image's results in input-image pixels.
type Detections struct {
	Boxes   [][4]float32
	Scores  []float32
	Classes []int64
}

// infer scores every proposal and returns per-image detections: softmax
// scores, per-class (or SEM's refined) boxes, score threshold, per-class
// NMS, top DetsPerImage.
func (h *roiHeads) infer(t *autograd.Tape, feat *autograd.Var, in *Input, props [][]proposal) []Detections {
	be := t.Backend()
	n := len(props)
	rs := &roiSet{}
	for i := range props {
		for _, p := range props[i] {
			rs.img = append(rs.img, i)
			rs.boxes = append(rs.boxes, p.box)
		}
	}
	out := make([]Detections, n)
	if rs.len() == 0 {
		return out
	}
	k := h.cfg.NumClasses
	z := h.features(t, feat, rs)
	deltas := h.box.Forward(t, h.regFeature(t, z))
	var boxes []float32 // [R,4] (agnostic) or [R,4K]
	var logits *autograd.Var
	if h.cfg.MFE.SEM {
		refined := h.refine(be, deltas.Value, rs, in.Sizes)
		rs2 := rs.withBoxes(refined)
		z2 := h.features(t, feat, rs2)
		logits = h.cls.Forward(t, h.clsFeature(t, z2))
		if h.cfg.MFE.SEMR {
			d2 := h.box.Forward(t, h.regFeature(t, z2))
			refined = h.refine(be, d2.Value, rs2, in.Sizes)
		}
		boxes = flatBoxes(refined)
	} else {
		logits = h.cls.Forward(t, h.clsFeature(t, z))
		ref := be.FromFloat32(flatBoxes(rs.boxes), rs.len(), 4)
		dec := be.BoxDecode(ref, deltas.Value, h.cfg.ROI.BoxWeights)
		boxes = be.ToFloat32(dec)
		be.Free(ref)
		be.Free(dec)
	}
	probT := be.Softmax(logits.Value)
	prob := be.ToFloat32(probT)
	be.Free(probT)
	perBox := len(boxes) / rs.len() / 4 // 1 or K
	cands := make([][][4]float32, n)
	cScores := make([][]float32, n)
	cClasses := make([][]int64, n)
	for r := 0; r < rs.len(); r++ {
		i := rs.img[r]
		s := in.Sizes[i]
		w, hh := float32(s[1]), float32(s[0])
		for c := 0; c < k; c++ {
			sc := prob[r*(k+1)+c]
			if sc <= h.cfg.ROI.ScoreThresh {
				continue
			}
			off := 4 * r * perBox
			if perBox > 1 {
				off += 4 * c
			}
			b := [4]float32{clamp(boxes[off], 0, w), clamp(boxes[off+1], 0, hh), clamp(boxes[off+2], 0, w), clamp(boxes[off+3], 0, hh)}
			if b[2] <= b[0] || b[3] <= b[1] || !finite(b[:]) {
				continue
			}
			cands[i] = append(cands[i], b)
			cScores[i] = append(cScores[i], sc)
			cClasses[i] = append(cClasses[i], int64(c))
		}
	}
	for i := 0; i < n; i++ {
		if len(cands[i]) == 0 {
			continue
		}
		flat := make([]float32, 0, 4*len(cands[i]))
		for _, c := range cands[i] {
			flat = append(flat, c[:]...)
		}
		keep := nms(be, flat, cScores[i], cClasses[i], h.cfg.ROI.NMS)
		keep = keep[:min(len(keep), h.cfg.ROI.DetsPerImage)]
		for _, j := range keep {
			out[i].Boxes = append(out[i].Boxes, cands[i][j])
			out[i].Scores = append(out[i].Scores, cScores[i][j])
			out[i].Classes = append(out[i].Classes, cClasses[i][j])
		}
	}
	return out
}

// checkLabels reports a label outside [0, numClasses) in image i.
func checkLabels(classes []int64, numClasses, img int) error {
	for j, c := range classes {
		if c < 0 || c >= int64(numClasses) {
			return fmt.Errorf("image %d: object %d: class %d outside [0,%d)", img, j, c, numClasses)
		}
	}
	return nil
}
