package model

import (
	"sort"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// featureStride is res4's stride, where the RPN and RoI-Align run.
const featureStride = 16

// rpn is detectron2's StandardRPNHead (3×3 conv, ReLU, 1×1 objectness and
// 1×1 deltas) with the RPN's labelling, losses and proposal selection.
type rpn struct {
	cfg                 RPNConfig
	numAnchors          int
	conv, obj, deltaOut *nn.Conv2d
}

func newRPN(s *nn.Store, cfg RPNConfig, in int) *rpn {
	a := len(cfg.AnchorSizes) * len(cfg.AnchorRatios)
	const p = "proposal_generator.rpn_head"
	return &rpn{
		cfg: cfg, numAnchors: a,
		conv:     nn.NewConv2d(s, p+".conv", in, in, 3, 1, 1, true, nn.Normal(0.01)),
		obj:      nn.NewConv2d(s, p+".objectness_logits", in, a, 1, 1, 0, true, nn.Normal(0.01)),
		deltaOut: nn.NewConv2d(s, p+".anchor_deltas", in, 4*a, 1, 1, 0, true, nn.Normal(0.01)),
	}
}

// proposal is a box and its objectness logit, in image pixels.
type proposal struct {
	box   [4]float32
	score float32
}

// forward runs the head on feat [N,C,H,W]. In training it labels and
// samples anchors and returns the two losses (objectness, box) as Vars; it
// always returns the proposals of every image.
func (r *rpn) forward(t *autograd.Tape, feat *autograd.Var, in *Input, seed uint64, iter int, train bool) ([][]proposal, map[string]*autograd.Var) {
	be := t.Backend()
	n, h, w := feat.Shape()[0], feat.Shape()[2], feat.Shape()[3]
	hidden := t.ReLU(r.conv.Forward(t, feat))
	obj := r.obj.Forward(t, hidden)         // [N,A,H,W]
	deltas := r.deltaOut.Forward(t, hidden) // [N,4A,H,W]
	// Flatten to detectron2's (image, y, x, anchor) order, the order of Anchors.
	hwa := h * w * r.numAnchors
	objFlat := t.Reshape(t.Permute(obj, 0, 2, 3, 1), n*hwa, 1)
	delFlat := t.Reshape(t.Permute(t.Reshape(deltas, n, r.numAnchors, 4, h, w), 0, 3, 4, 1, 2), n*hwa, 4)

	anchorsT := t.Keep(be.Anchors(h, w, featureStride, r.cfg.AnchorSizes, r.cfg.AnchorRatios))
	anchors := be.ToFloat32(anchorsT)
	logits := be.ToFloat32(objFlat.Value)

	props := r.proposals(be, anchorsT, logits, delFlat.Value, in, n, hwa, train)
	if !train {
		return props, nil
	}

	// Label anchors per image, sample, gather the sampled rows.
	var sampled, fgRows []int64
	var objTarget, fgAnchors, fgGT []float32
	rng := stepRand(seed, iter, 1)
	for i := 0; i < n; i++ {
		g := len(in.Boxes[i])
		var iou []float32
		if g > 0 {
			gtT := be.FromFloat32(flatBoxes(in.Boxes[i]), g, 4)
			iouT := be.BoxIoU(gtT, anchorsT)
			iou = be.ToFloat32(iouT)
			be.Free(iouT)
			be.Free(gtT)
		}
		gtIdx, label := match(iou, g, hwa, r.cfg.FgIoU, r.cfg.BgIoU, true)
		fg, bg := sample(label, r.cfg.BatchSizePerImage, r.cfg.PositiveFraction, rng)
		for _, j := range fg {
			sampled = append(sampled, int64(i*hwa+j))
			objTarget = append(objTarget, 1)
			fgRows = append(fgRows, int64(i*hwa+j))
			fgAnchors = append(fgAnchors, anchors[4*j:4*j+4]...)
			fgGT = append(fgGT, in.Boxes[i][gtIdx[j]][:]...)
		}
		for _, j := range bg {
			sampled = append(sampled, int64(i*hwa+j))
			objTarget = append(objTarget, 0)
		}
	}
	norm := float32(r.cfg.BatchSizePerImage * n)
	losses := map[string]*autograd.Var{}
	if len(sampled) > 0 {
		idx := t.Keep(be.FromInt64(sampled, len(sampled)))
		tgt := t.Keep(be.FromFloat32(objTarget, len(objTarget), 1))
		l := t.BCEWithLogits(t.Gather(objFlat, idx), tgt, backend.ReduceSum)
		losses["loss_rpn_cls"] = t.Scale(l, r.cfg.LossWeight/norm, 0)
	}
	if len(fgRows) > 0 {
		idx := t.Keep(be.FromInt64(fgRows, len(fgRows)))
		a := be.FromFloat32(fgAnchors, len(fgRows), 4)
		g := be.FromFloat32(fgGT, len(fgRows), 4)
		tgt := t.Keep(be.BoxEncode(a, g, r.cfg.BoxWeights))
		be.Free(a)
		be.Free(g)
		l := t.SmoothL1(t.Gather(delFlat, idx), tgt, r.cfg.SmoothL1Beta, backend.ReduceSum)
		losses["loss_rpn_loc"] = t.Scale(l, r.cfg.LossWeight/norm, 0)
	}
	return props, losses
}

// proposals selects, per image, the top pre-NMS anchors by objectness,
// decodes and clips them, drops boxes not larger than MinSize, applies NMS
// and keeps the top post-NMS (detectron2's find_top_rpn_proposals).
func (r *rpn) proposals(be backend.Backend, anchors *backend.Tensor, logits []float32, deltas *backend.Tensor, in *Input, n, hwa int, train bool) [][]proposal {
	pre, post := r.cfg.PreNMSTest, r.cfg.PostNMSTest
	if train {
		pre, post = r.cfg.PreNMSTrain, r.cfg.PostNMSTrain
	}
	out := make([][]proposal, n)
	for i := 0; i < n; i++ {
		scores := logits[i*hwa : (i+1)*hwa]
		order := make([]int, hwa)
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
		k := min(pre, hwa)
		rows := make([]int64, k)
		anchorRows := make([]int64, k)
		for j := 0; j < k; j++ {
			rows[j] = int64(i*hwa + order[j])
			anchorRows[j] = int64(order[j])
		}
		rowT := be.FromInt64(rows, k)
		arT := be.FromInt64(anchorRows, k)
		d := be.Gather(deltas, rowT)
		a := be.Gather(anchors, arT)
		dec := be.BoxDecode(a, d, r.cfg.BoxWeights)
		clip := be.ClipBoxes(dec, float32(in.Sizes[i][0]), float32(in.Sizes[i][1]))
		boxes := be.ToFloat32(clip)
		for _, x := range []*backend.Tensor{rowT, arT, d, a, dec, clip} {
			be.Free(x)
		}
		var keepBoxes, keepScores []float32
		for j := 0; j < k; j++ {
			b := boxes[4*j : 4*j+4]
			if b[2]-b[0] > r.cfg.MinSize && b[3]-b[1] > r.cfg.MinSize && finite(b) {
				keepBoxes = append(keepBoxes, b...)
				keepScores = append(keepScores, scores[order[j]])
			}
		}
		m := len(keepScores)
		if m == 0 {
			continue
		}
		keep := nms(be, keepBoxes, keepScores, make([]int64, m), r.cfg.NMS)
		for _, j := range keep[:min(post, len(keep))] {
			var p proposal
			copy(p.box[:], keepBoxes[4*j:4*j+4])
			p.score = keepScores[j]
			out[i] = append(out[i], p)
		}
	}
	return out
}

// nms runs the backend's batched NMS on host boxes and returns kept indices
// by decreasing score.
func nms(be backend.Backend, boxes, scores []float32, classes []int64, iou float32) []int64 {
	m := len(scores)
	bT := be.FromFloat32(boxes, m, 4)
	sT := be.FromFloat32(scores, m)
	cT := be.FromInt64(classes, m)
	kT := be.BatchedNMS(bT, sT, cT, iou)
	keep := be.ToInt64(kT)
	for _, x := range []*backend.Tensor{bT, sT, cT, kT} {
		be.Free(x)
	}
	return keep
}

func finite(b []float32) bool {
	for _, v := range b {
		if v != v || v > 3e38 || v < -3e38 {
			return false
		}
	}
	return true
}

func flatBoxes(bs [][4]float32) []float32 {
	out := make([]float32, 0, 4*len(bs))
	for _, b := range bs {
		out = append(out, b[:]...)
	}
	return out
}
