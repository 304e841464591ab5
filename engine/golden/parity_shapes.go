package golden

import (
	"encoding/json"
	"math"
	"math/rand"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// Tolerances for parity: as for the golden cases, ops that reduce may sum in
// a different order on each backend; elementwise ops should agree to float32
// rounding; NMS keep lists must be equal.
const (
	reducingTol    = 1e-4
	elementwiseTol = 1e-5
)

// TrainingShapes are the shapes the detector trains at (R-101 C4, DeFRCN
// sizes: a 2-image batch of about 600×1000 gives a 38×63 res4 map, 512 RoIs
// per image, 81 COCO classes); `fsodgpu check --backend cuda` runs them
// against the CPU backend.
func TrainingShapes() []ParitySpec {
	return []ParitySpec{
		convSpec("conv2d_res4_3x3_256", 2, 256, 38, 63, 256, 3, 1, 1, 1, false),
		convSpec("conv2d_res4_1x1_1024to256", 2, 1024, 38, 63, 256, 1, 1, 0, 1, false),
		convSpec("conv2d_stem_7x7_s2", 1, 3, 480, 640, 64, 7, 2, 3, 1, false),
		linearSpec("linear_cls_2048to81", 512, 2048, 81),
		roiAlignSpec("roi_align_res4_1024ch", 2, 1024, 38, 63, 512, 14, 1.0/16, 0, true),
		nmsSpec("nms_rpn_12000", 12000, 1, 0.7, 1000, 600),
		nmsSpec("nms_test_20class_5000", 5000, 20, 0.5, 1000, 600),
		attentionSpec("channel_attention_512x2048x4x4", 512, 2048, 4, 4, 16, "max"),
		rcLossSpec("rc_loss_512x81", 512, 81),
		crossEntropySpec("cross_entropy_512x81", 512, 81),
		smoothL1Spec("smooth_l1_512x4_beta0_sum", 512, 0, "sum"),
		bceSpec("bce_with_logits_rpn_512", 512, "mean"),
		reluSpec("relu_res4", 2, 1024, 38, 63),
		frozenBNSpec("frozen_bn_res4", 2, 256, 38, 63),
		maxPoolSpec("max_pool2d_stem", 1, 64, 240, 320, 3, 2, 1),
		dropoutSpec("dropout_512x2048_p0.8", 512, 2048, 0.8),
	}
}

// SmallShapes are the same ops at small shapes, fast enough for unit tests.
func SmallShapes() []ParitySpec {
	return []ParitySpec{
		convSpec("conv2d_3x3", 2, 8, 9, 11, 6, 3, 1, 1, 1, true),
		convSpec("conv2d_3x3_s2_dil2", 1, 4, 13, 10, 5, 3, 2, 2, 2, false),
		linearSpec("linear", 16, 32, 10),
		roiAlignSpec("roi_align_aligned", 2, 8, 12, 16, 20, 4, 0.25, 0, true),
		roiAlignSpec("roi_align_legacy_s2", 2, 8, 12, 16, 20, 3, 0.25, 2, false),
		nmsSpec("nms", 300, 3, 0.5, 200, 150),
		attentionSpec("channel_attention_max", 4, 32, 4, 4, 16, "max"),
		attentionSpec("channel_attention_avg", 4, 32, 3, 5, 4, "avg"),
		rcLossSpec("rc_loss", 16, 21),
		crossEntropySpec("cross_entropy", 16, 21),
		smoothL1Spec("smooth_l1", 16, 1.0/9, "mean"),
		bceSpec("bce_with_logits", 64, "sum"),
		reluSpec("relu", 2, 4, 5, 6),
		frozenBNSpec("frozen_bn", 2, 8, 5, 6),
		maxPoolSpec("max_pool2d", 2, 3, 11, 13, 3, 2, 1),
		dropoutSpec("dropout", 8, 64, 0.5),
	}
}

// builder assembles a synthetic case from random draws.
type builder struct {
	rng *rand.Rand
	c   *Case
}

func newBuilder(rng *rand.Rand, name, op string, attrs map[string]any) *builder {
	c := &Case{Name: name, Path: "parity:" + name, Op: op, Attrs: map[string]json.RawMessage{},
		Tensors: map[string]safetensors.Tensor{}}
	for k, v := range attrs {
		raw, err := json.Marshal(v)
		if err != nil {
			panic("golden: parity attribute " + k + ": " + err.Error())
		}
		c.Attrs[k] = raw
	}
	return &builder{rng, c}
}

func (b *builder) floats(full string, data []float32, shape ...int) {
	b.c.Tensors[full] = safetensors.FromFloat32(data, shape...)
}

func (b *builder) randn(full string, scale float64, shape ...int) {
	v := make([]float32, backend.Numel(shape))
	for i := range v {
		v[i] = float32(b.rng.NormFloat64() * scale)
	}
	b.floats(full, v, shape...)
}

func (b *builder) uniform(lo, hi float64) float32 { return float32(lo + (hi-lo)*b.rng.Float64()) }

func convSpec(name string, n, c, h, w, k, r, stride, pad, dil int, bias bool) ParitySpec {
	return ParitySpec{Name: name, Op: "conv2d", Tol: reducingTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "conv2d", map[string]any{
			"stride": []int{stride, stride}, "padding": []int{pad, pad}, "dilation": []int{dil, dil}})
		b.randn("in.x", 1, n, c, h, w)
		b.randn("in.w", 1/math.Sqrt(float64(c*r*r)), k, c, r, r)
		if bias {
			b.randn("in.b", 0.1, k)
		}
		p := backend.Conv2dParams{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad, DilationH: dil, DilationW: dil}
		oh, ow := p.OutSize(h, w, r, r)
		b.randn("grad_out.y", 1, n, k, oh, ow)
		return b.c
	}}
}

func linearSpec(name string, n, in, out int) ParitySpec {
	return ParitySpec{Name: name, Op: "linear", Tol: reducingTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "linear", nil)
		b.randn("in.x", 1, n, in)
		b.randn("in.w", 1/math.Sqrt(float64(in)), out, in)
		b.randn("in.b", 0.1, out)
		b.randn("grad_out.y", 1, n, out)
		return b.c
	}}
}

// roiAlignSpec draws r boxes over the n images (h/scale × w/scale pixels),
// some reaching past the image border as proposals do before clipping.
func roiAlignSpec(name string, n, c, h, w, r, out int, scale float64, sampling int, aligned bool) ParitySpec {
	return ParitySpec{Name: name, Op: "roi_align", Tol: reducingTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "roi_align", map[string]any{"output_size": []int{out, out},
			"spatial_scale": scale, "sampling_ratio": sampling, "aligned": aligned})
		b.randn("in.x", 1, n, c, h, w)
		imgH, imgW := float64(h)/scale, float64(w)/scale
		rois := make([]float32, 0, 5*r)
		for range r {
			x1, y1 := b.uniform(-0.1*imgW, 0.9*imgW), b.uniform(-0.1*imgH, 0.9*imgH)
			bw, bh := b.uniform(0, 0.5*imgW), b.uniform(0, 0.5*imgH)
			rois = append(rois, float32(rng.Intn(n)), x1, y1, x1+bw, y1+bh)
		}
		b.floats("in.rois", rois, r, 5)
		b.randn("grad_out.y", 1, r, c, out, out)
		return b.c
	}}
}

func nmsSpec(name string, m, classes int, iou, imgW, imgH float64) ParitySpec {
	return ParitySpec{Name: name, Op: "nms", Tol: 0, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "nms", map[string]any{"iou_threshold": iou})
		boxes, scores, cls := make([]float32, 0, 4*m), make([]float32, m), make([]int64, m)
		for i := range m {
			x1, y1 := b.uniform(0, imgW), b.uniform(0, imgH)
			boxes = append(boxes, x1, y1, x1+b.uniform(8, 0.4*imgW), y1+b.uniform(8, 0.4*imgH))
			scores[i] = float32(rng.Float64())
			cls[i] = int64(rng.Intn(classes))
		}
		b.floats("in.boxes", boxes, m, 4)
		b.floats("in.scores", scores, m)
		b.c.Tensors["in.classes"] = safetensors.FromInt64(cls, m)
		return b.c
	}}
}

func attentionSpec(name string, n, c, h, w, red int, pool string) ParitySpec {
	return ParitySpec{Name: name, Op: "channel_attention", Tol: reducingTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "channel_attention", map[string]any{"pool": pool, "reduction": red})
		b.randn("in.x", 1, n, c, h, w)
		b.randn("in.w1", 1/math.Sqrt(float64(c)), c/red, c)
		b.randn("in.b1", 0.1, c/red)
		b.randn("in.w2", 1/math.Sqrt(float64(c/red)), c, c/red)
		b.randn("in.b2", 0.1, c)
		b.randn("grad_out.y", 1, n, c, h, w)
		return b.c
	}}
}

func rcLossSpec(name string, n, k int) ParitySpec {
	return ParitySpec{Name: name, Op: "rc_loss", Tol: reducingTol, Make: func(rng *rand.Rand) *Case {
		bl := newBuilder(rng, name, "rc_loss", nil)
		bl.randn("in.a", 2, n, k)
		a, _ := bl.c.Tensors["in.a"].Float32()
		for i := range a {
			a[i] += float32(rng.NormFloat64())
		}
		bl.floats("in.b", a, n, k)
		bl.randn("grad_out.loss", 1)
		return bl.c
	}}
}

func crossEntropySpec(name string, n, k int) ParitySpec {
	return ParitySpec{Name: name, Op: "cross_entropy", Tol: reducingTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "cross_entropy", nil)
		b.randn("in.logits", 2, n, k)
		target := make([]int64, n)
		for i := range target {
			target[i] = int64(rng.Intn(k))
		}
		b.c.Tensors["in.target"] = safetensors.FromInt64(target, n)
		b.randn("grad_out.loss", 1)
		return b.c
	}}
}

func smoothL1Spec(name string, n int, beta float64, reduction string) ParitySpec {
	return ParitySpec{Name: name, Op: "smooth_l1", Tol: reducingTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "smooth_l1", map[string]any{"beta": beta, "reduction": reduction})
		b.randn("in.x", 1, n, 4)
		b.randn("in.target", 0.5, n, 4)
		b.randn("grad_out.loss", 1)
		return b.c
	}}
}

func bceSpec(name string, n int, reduction string) ParitySpec {
	return ParitySpec{Name: name, Op: "bce_with_logits", Tol: reducingTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "bce_with_logits", map[string]any{"reduction": reduction})
		b.randn("in.x", 3, n)
		target := make([]float32, n)
		for i := range target {
			target[i] = float32(rng.Intn(2))
		}
		b.floats("in.target", target, n)
		b.randn("grad_out.loss", 1)
		return b.c
	}}
}

func reluSpec(name string, shape ...int) ParitySpec {
	return ParitySpec{Name: name, Op: "relu", Tol: elementwiseTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "relu", nil)
		b.randn("in.x", 1, shape...)
		b.randn("grad_out.y", 1, shape...)
		return b.c
	}}
}

func frozenBNSpec(name string, n, c, h, w int) ParitySpec {
	return ParitySpec{Name: name, Op: "frozen_bn", Tol: elementwiseTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "frozen_bn", map[string]any{"eps": 1e-5})
		b.randn("in.x", 1, n, c, h, w)
		b.randn("in.weight", 1, c)
		b.randn("in.bias", 1, c)
		b.randn("in.running_mean", 0.5, c)
		v := make([]float32, c)
		for i := range v {
			v[i] = b.uniform(0.5, 2)
		}
		b.floats("in.running_var", v, c)
		b.randn("grad_out.y", 1, n, c, h, w)
		return b.c
	}}
}

func maxPoolSpec(name string, n, c, h, w, k, stride, pad int) ParitySpec {
	return ParitySpec{Name: name, Op: "max_pool2d", Tol: elementwiseTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "max_pool2d", map[string]any{
			"kernel": []int{k, k}, "stride": []int{stride, stride}, "padding": []int{pad, pad}})
		b.randn("in.x", 1, n, c, h, w)
		oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
		b.randn("grad_out.y", 1, n, c, oh, ow)
		return b.c
	}}
}

func dropoutSpec(name string, n, d int, p float64) ParitySpec {
	return ParitySpec{Name: name, Op: "dropout", Tol: elementwiseTol, Make: func(rng *rand.Rand) *Case {
		b := newBuilder(rng, name, "dropout", map[string]any{"p": p})
		b.randn("in.x", 1, n, d)
		mask := make([]float32, n*d)
		for i := range mask {
			if rng.Float64() >= p {
				mask[i] = 1
			}
		}
		b.floats("in.mask", mask, n, d)
		b.randn("grad_out.y", 1, n, d)
		return b.c
	}}
}
