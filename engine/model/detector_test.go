package model

import (
	"math"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/internal/geom"
)

// tinyConfig is a detector small enough for finite differences: 64×64
// images give a 4×4 res4 map with 9 anchors per cell.
func tinyConfig() Config {
	c := DemoConfig()
	c.NumClasses = 3
	c.Backbone.StemWidth = 4
	c.RPN.AnchorSizes = []float32{16, 32, 48}
	c.ROI.PoolerResolution = 4
	c.MFE.TEMReduction = 4
	return c
}

// tinyBatch is two 64×64 images (the second padded from 56×60) with bright
// rectangles on a dark background as objects.
func tinyBatch(be backend.Backend) Input {
	boxes := [][][4]float32{{{8, 10, 40, 44}, {30, 4, 60, 24}}, {{12, 20, 50, 52}}}
	classes := [][]int64{{0, 2}, {1}}
	sizes := [][2]int{{64, 64}, {56, 60}}
	img := make([]float32, 2*3*64*64)
	for i := range img {
		img[i] = 30 + float32((i*7919)%23)
	}
	for n, bs := range boxes {
		for k, b := range bs {
			for c := 0; c < 3; c++ {
				for y := int(b[1]); y < int(b[3]); y++ {
					for x := int(b[0]); x < int(b[2]); x++ {
						img[((n*3+c)*64+y)*64+x] = 200 - 60*float32(classes[n][k]) + 20*float32(c)
					}
				}
			}
		}
	}
	return Input{Images: be.FromFloat32(img, 2, 3, 64, 64), Sizes: sizes, Boxes: boxes, Classes: classes}
}

func TestTrainForwardGivesEveryLossAndGradient(t *testing.T) {
	be := cpu.New()
	for _, tc := range []struct {
		name string
		mfe  MFEConfig
		want []string
	}{
		{"defrcn", MFEConfig{}, []string{"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg"}},
		{"mfe", MFEConfig{SEM: true, SEMC: true, SEMR: true, TEM: true, TEMReduction: 4, TEMPool: "max", RC: true, RCDropout: 0.5, Alpha: 1},
			[]string{"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_cls_rc", "loss_box_reg", "loss_cls_raw", "loss_cls_raw_rc", "loss_box_reg_refined"}},
		{"sem-relabel", MFEConfig{SEM: true, SEMRelabel: true, TEM: true, TEMReduction: 4, TEMPool: "max"},
			[]string{"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.MFE = tc.mfe
			cfg.Backbone.FreezeAt = 2
			d, err := New(be, cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			out, err := d.Forward(tinyBatch(be), 0, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Losses) != len(tc.want) {
				t.Errorf("losses %v, want keys %v", out.Losses, tc.want)
			}
			for _, k := range tc.want {
				v, ok := out.Losses[k]
				if !ok || math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < 0 {
					t.Errorf("loss %s = %v (present %v)", k, v, ok)
				}
			}
			for _, p := range d.Params() {
				frozen := strings.HasPrefix(p.Name, "backbone.stem.") || strings.HasPrefix(p.Name, "backbone.res2.") || p.Buffer
				if p.Frozen != frozen {
					t.Errorf("%s: frozen %v, want %v", p.Name, p.Frozen, frozen)
				}
				// The RPN's decoupled layer has λ = 0: nothing below it learns from the RPN,
				// but every trainable parameter still receives a gradient from the R-CNN.
				if !p.Frozen && p.Grad == nil {
					t.Errorf("%s: trainable but no gradient", p.Name)
				}
				if p.Frozen && p.Grad != nil {
					t.Errorf("%s: frozen but has a gradient", p.Name)
				}
			}
		})
	}
}

// lossOf evaluates the sum of the named training losses (all when keys is
// nil) without back-propagation.
func lossOf(d *Detector, in Input, keys []string) float64 {
	tp := autograd.NewTape(d.be, false)
	defer tp.Release()
	vals := map[string]float32{}
	sumLosses(tp, pick(d.losses(tp, &in, 0), keys), vals)
	var s float64
	for _, v := range vals {
		s += float64(v)
	}
	return s
}

// backprop accumulates the gradients of the named losses into the params.
func backprop(d *Detector, in Input, keys []string) {
	tp := autograd.NewTape(d.be, true)
	tp.Backward(sumLosses(tp, pick(d.losses(tp, &in, 0), keys), map[string]float32{}))
}

func pick(losses map[string]*autograd.Var, keys []string) map[string]*autograd.Var {
	if keys == nil {
		return losses
	}
	out := map[string]*autograd.Var{}
	for _, k := range keys {
		out[k] = losses[k]
	}
	return out
}

// checkGrads compares back-propagated gradients of the named losses with
// central differences at the largest-gradient entry of each named param.
func checkGrads(t *testing.T, d *Detector, in Input, keys, names []string) {
	t.Helper()
	be := d.be
	d.ZeroGrad()
	backprop(d, in, keys)
	for _, name := range names {
		p := d.store.Get(name)
		if p == nil {
			t.Fatalf("no parameter %s", name)
		}
		if p.Grad == nil {
			t.Errorf("%s: no gradient", name)
			continue
		}
		grad := be.ToFloat32(p.Grad)
		// The entry of largest gradient: a check on a zero gradient proves nothing.
		k := 0
		for i, g := range grad {
			if math.Abs(float64(g)) > math.Abs(float64(grad[k])) {
				k = i
			}
		}
		vals := be.ToFloat32(p.Value)
		orig := vals[k]
		const eps = 2e-3
		set := func(v float32) {
			vals[k] = v
			be.Free(p.Value)
			p.Value = be.FromFloat32(vals, p.Value.Shape...)
		}
		set(orig + eps)
		lp := lossOf(d, in, keys)
		set(orig - eps)
		lm := lossOf(d, in, keys)
		set(orig)
		num := (lp - lm) / (2 * eps)
		got := float64(grad[k])
		if got == 0 || math.Abs(got-num) > 0.03*math.Abs(num)+1e-4 {
			t.Errorf("%s[%d]: backprop %.6g, numerical %.6g", name, k, got, num)
		}
	}
}

// gradConfig makes every anchor a proposal and every proposal a RoI, so a
// small weight change cannot change which boxes are sampled; dropout masks
// depend only on (seed, iter).
func gradConfig() Config {
	cfg := tinyConfig()
	cfg.Backbone.FreezeAt = 0
	cfg.RPN.PreNMSTrain, cfg.RPN.PostNMSTrain, cfg.RPN.NMS = 1000, 1000, 1.01
	cfg.ROI.BatchSizePerImage, cfg.ROI.PositiveFraction = 1000, 1
	// GDL scales gradients on purpose, which finite differences cannot see.
	cfg.RPN.GDLScale, cfg.ROI.GDLScale = 1, 1
	// L1 kinks crossed by the perturbation would swamp the comparison.
	cfg.ROI.SmoothL1Beta = 1
	return cfg
}

// TestDetectorGradientMatchesNumerical checks back-propagation through the
// whole detector against central differences on scalars from the stem,
// res4, both decoupled layers, the RPN head, res5, the TEM adapters and
// both predictors. Proposals and SEM's refined boxes are detached, as in
// detectron2, so the numerical derivative must not see them move: the RPN
// delta weights are zeroed (proposals = anchors whatever the features)
// except in the RPN-only check, and SEM is checked only downstream of the
// refined boxes.
func TestDetectorGradientMatchesNumerical(t *testing.T) {
	be := cpu.New()
	in := tinyBatch(be)
	t.Run("full", func(t *testing.T) {
		cfg := gradConfig()
		// No dropout here: a perturbed weight may reorder the proposals and so
		// the RoI rows the mask elements fall on.
		cfg.MFE = MFEConfig{TEM: true, TEMReduction: 4, TEMPool: "avg"}
		d, err := New(be, cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		be.Fill(d.store.Get("proposal_generator.rpn_head.anchor_deltas.weight").Value, 0)
		checkGrads(t, d, in, nil, []string{
			"backbone.stem.conv1.weight", "backbone.res4.0.conv2.weight", "affine_rpn.weight", "affine_rcnn.bias",
			"proposal_generator.rpn_head.conv.weight", "proposal_generator.rpn_head.objectness_logits.weight",
			"roi_heads.res5.1.conv1.weight", "roi_heads.tem_cls.fc1.weight", "roi_heads.tem_reg.fc2.bias",
			"roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.bbox_pred.weight",
		})
	})
	t.Run("rpn", func(t *testing.T) {
		d, err := New(be, gradConfig(), 4)
		if err != nil {
			t.Fatal(err)
		}
		checkGrads(t, d, in, []string{"loss_rpn_cls", "loss_rpn_loc"}, []string{
			"backbone.res3.1.conv1.weight", "proposal_generator.rpn_head.anchor_deltas.weight",
			"proposal_generator.rpn_head.anchor_deltas.bias"})
	})
	t.Run("sem", func(t *testing.T) {
		cfg := gradConfig()
		cfg.MFE = MFEConfig{SEM: true, SEMC: true, TEM: true, TEMReduction: 4, TEMPool: "max", RC: true, RCDropout: 0.3, Alpha: 1}
		d, err := New(be, cfg, 5)
		if err != nil {
			t.Fatal(err)
		}
		checkGrads(t, d, in, []string{"loss_cls", "loss_cls_rc", "loss_cls_raw", "loss_cls_raw_rc"}, []string{
			"roi_heads.tem_cls.fc1.weight", "roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.cls_score.bias"})
	})
}

func sgd(d *Detector, lr float32) {
	be := d.be
	for _, p := range d.Params() {
		if p.Frozen || p.Grad == nil {
			continue
		}
		buf := be.Zeros(backend.F32, p.Value.Shape...)
		be.SGDStep(p.Value, p.Grad, buf, lr, 0, 0)
		be.Free(buf)
	}
	d.ZeroGrad()
}

func TestSGDOnFixedBatchLowersLoss(t *testing.T) {
	be := cpu.New()
	cfg := tinyConfig()
	cfg.MFE = MFEConfig{SEM: true, TEM: true, TEMReduction: 4, TEMPool: "max", RC: true, RCDropout: 0.5, Alpha: 1}
	d, err := New(be, cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	in := tinyBatch(be)
	var first, last float32
	for it := 0; it < 15; it++ {
		out, err := d.Forward(in, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		var s float32
		for _, v := range out.Losses {
			s += v
		}
		if it == 0 {
			first = s
		}
		last = s
		sgd(d, 0.05)
	}
	if !(last < 0.85*first) {
		t.Fatalf("loss %.4f after 15 SGD steps, %.4f before: not falling", last, first)
	}
	t.Logf("loss %.4f → %.4f", first, last)
}

func TestInferenceIsDeterministicAndInsideImages(t *testing.T) {
	be := cpu.New()
	for _, sem := range []bool{false, true} {
		cfg := tinyConfig()
		cfg.MFE.SEM, cfg.MFE.SEMR, cfg.MFE.TEM = sem, sem, sem
		cfg.ROI.ScoreThresh = 0 // an untrained model's scores are near 1/(K+1)
		cfg.ROI.DetsPerImage = 7
		d, err := New(be, cfg, 9)
		if err != nil {
			t.Fatal(err)
		}
		in := tinyBatch(be)
		a, err := d.Forward(in, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.Forward(in, 3, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, det := range a.Detections {
			if len(det.Boxes) == 0 || len(det.Boxes) > 7 {
				t.Fatalf("sem %v image %d: %d detections (want 1..7)", sem, i, len(det.Boxes))
			}
			other := b.Detections[i]
			if len(other.Boxes) != len(det.Boxes) {
				t.Fatalf("sem %v image %d: %d vs %d detections on a repeat", sem, i, len(det.Boxes), len(other.Boxes))
			}
			for j := range det.Boxes {
				if det.Boxes[j] != other.Boxes[j] || det.Scores[j] != other.Scores[j] || det.Classes[j] != other.Classes[j] {
					t.Fatalf("sem %v image %d det %d differs on a repeat", sem, i, j)
				}
				bx, s := det.Boxes[j], in.Sizes[i]
				if bx[0] < 0 || bx[1] < 0 || bx[2] > float32(s[1]) || bx[3] > float32(s[0]) || bx[2] <= bx[0] || bx[3] <= bx[1] {
					t.Fatalf("image %d box %v outside %v", i, bx, s)
				}
				if det.Classes[j] < 0 || det.Classes[j] >= 3 || (j > 0 && det.Scores[j] > det.Scores[j-1]) {
					t.Fatalf("image %d det %d: class %d score %v (previous %v)", i, j, det.Classes[j], det.Scores[j], det.Scores[max(j-1, 0)])
				}
			}
		}
	}
}

func TestInputErrors(t *testing.T) {
	be := cpu.New()
	d, err := New(be, tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	in := tinyBatch(be)
	in.Classes = [][]int64{{0, 3}, {1}}
	if _, err := d.Forward(in, 0, true); err == nil || !strings.Contains(err.Error(), "image 0: object 1: class 3") {
		t.Fatalf("bad class: %v", err)
	}
	in = tinyBatch(be)
	in.Boxes[1][0] = [4]float32{50, 20, 12, 52}
	if _, err := d.Forward(in, 0, true); err == nil || !strings.Contains(err.Error(), "image 1: object 0") {
		t.Fatalf("bad box: %v", err)
	}
	in = tinyBatch(be)
	in.Sizes[1] = [2]int{65, 10}
	if _, err := d.Forward(in, 0, false); err == nil {
		t.Fatal("size larger than the padded batch accepted")
	}
	bad := tinyConfig()
	bad.MFE.SEMC = true
	if _, err := New(be, bad, 1); err == nil {
		t.Fatal("sem_c without sem accepted")
	}
}

// TestTrainingIsReproducible builds two detectors from one seed: the same
// iteration gives bit-identical losses and gradients (anchor and RoI
// sampling and dropout masks are functions of seed and iteration, which is
// what lets a resumed run repeat an uninterrupted one), another iteration
// draws other samples.
func TestTrainingIsReproducible(t *testing.T) {
	be := cpu.New()
	cfg := tinyConfig()
	cfg.MFE = MFEConfig{SEM: true, TEM: true, TEMReduction: 4, TEMPool: "max", RC: true, RCDropout: 0.5, Alpha: 1}
	run := func(iter int) (map[string]float32, []float32) {
		d, err := New(be, cfg, 11)
		if err != nil {
			t.Fatal(err)
		}
		out, err := d.Forward(tinyBatch(be), iter, true)
		if err != nil {
			t.Fatal(err)
		}
		return out.Losses, be.ToFloat32(d.store.Get("roi_heads.box_predictor.cls_score.weight").Grad)
	}
	la, ga := run(4)
	lb, gb := run(4)
	lc, _ := run(5)
	for k, v := range la {
		if lb[k] != v {
			t.Fatalf("%s: %v then %v at the same iteration", k, v, lb[k])
		}
	}
	for i := range ga {
		if ga[i] != gb[i] {
			t.Fatalf("gradient %d: %v then %v at the same iteration", i, ga[i], gb[i])
		}
	}
	if la["loss_cls"] == lc["loss_cls"] && la["loss_cls_rc"] == lc["loss_cls_rc"] {
		t.Fatal("iterations 4 and 5 drew the same samples and masks")
	}
}

func TestImagesWithoutObjectsReportEveryLoss(t *testing.T) {
	be := cpu.New()
	cfg := tinyConfig()
	cfg.MFE = MFEConfig{SEM: true, SEMR: true, RC: true, RCDropout: 0.5, Alpha: 1}
	d, err := New(be, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	in := tinyBatch(be)
	in.Boxes, in.Classes = [][][4]float32{{}, {}}, [][]int64{{}, {}}
	out, err := d.Forward(in, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"loss_rpn_cls": true, "loss_rpn_loc": false, "loss_cls": true, "loss_cls_rc": true,
		"loss_box_reg": false, "loss_box_reg_refined": false}
	if len(out.Losses) != len(want) {
		t.Fatalf("losses %v, want keys %v", out.Losses, want)
	}
	for k, positive := range want {
		v, ok := out.Losses[k]
		if !ok || (positive != (v > 0)) {
			t.Errorf("%s = %v (present %v), want positive %v", k, v, ok, positive)
		}
	}
}

// TestOverfitFindsTheObjects trains the demo detector (DeFRCN head) with
// SGD + momentum on one batch until inference finds every gt box with its
// class: the whole train → predict path working end to end.
func TestOverfitFindsTheObjects(t *testing.T) {
	if testing.Short() {
		t.Skip("120 training steps; skipped with -short")
	}
	be := cpu.New()
	d, err := New(be, DemoConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	in := tinyBatch(be)
	bufs := map[string]*backend.Tensor{}
	for it := 0; it < 120; it++ {
		if _, err := d.Forward(in, it, true); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Params() {
			if p.Frozen || p.Grad == nil {
				continue
			}
			if bufs[p.Name] == nil {
				bufs[p.Name] = be.Zeros(backend.F32, p.Value.Shape...)
			}
			be.SGDStep(p.Value, p.Grad, bufs[p.Name], 0.01, 0.9, 1e-4)
		}
		d.ZeroGrad()
	}
	out, err := d.Forward(in, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, gts := range in.Boxes {
		det := out.Detections[i]
		for j, gt := range gts {
			found := false
			for k := range det.Boxes {
				if det.Classes[k] == in.Classes[i][j] && det.Scores[k] > 0.5 && geom.IoU(det.Boxes[k], gt) > 0.5 {
					found = true
				}
			}
			if !found {
				t.Errorf("image %d: gt %v (class %d) not detected; detections %v %v %v", i, gt, in.Classes[i][j], det.Boxes, det.Scores, det.Classes)
			}
		}
	}
}
