package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// graph builds a scalar loss from leaves on a tape.
type graph func(t *Tape, leaves []*Var) *Var

// gradCheck compares the tape's gradients of every leaf with central finite
// differences of the float32 forward pass. eps and tol are loose because the
// forward runs in float32: a wrong backward is off by O(1), rounding by ~1e-3.
func gradCheck(t *testing.T, be backend.Backend, f graph, leaves [][]float32, shapes [][]int, eps, tol float64) {
	t.Helper()
	mk := func(grad bool) []*Var {
		vs := make([]*Var, len(leaves))
		for i := range leaves {
			vs[i] = NewLeaf(be.FromFloat32(leaves[i], shapes[i]...), grad)
		}
		return vs
	}
	vs := mk(true)
	tp := NewTape(be, true)
	loss := f(tp, vs)
	tp.Backward(loss)
	eval := func() float64 {
		tp := NewTape(be, false)
		l := f(tp, mk(false))
		v := float64(be.ToFloat32(l.Value)[0])
		tp.Release()
		return v
	}
	for k := range leaves {
		if vs[k].Grad == nil {
			t.Fatalf("leaf %d: no gradient", k)
		}
		got := be.ToFloat32(vs[k].Grad)
		want := make([]float64, len(got))
		for i := range leaves[k] {
			orig := leaves[k][i]
			leaves[k][i] = orig + float32(eps)
			lp := eval()
			leaves[k][i] = orig - float32(eps)
			lm := eval()
			leaves[k][i] = orig
			want[i] = (lp - lm) / (2 * eps)
		}
		var num, den float64
		for i := range want {
			if math.IsNaN(float64(got[i])) || math.IsInf(float64(got[i]), 0) {
				t.Fatalf("leaf %d: non-finite gradient at %d", k, i)
			}
			d := float64(got[i]) - want[i]
			num += d * d
			den += want[i] * want[i]
		}
		if den == 0 {
			t.Fatalf("leaf %d: numerical gradient is all zero; the check would prove nothing", k)
		}
		if e := math.Sqrt(num / den); e > tol {
			t.Errorf("leaf %d: relative error %.3g > %.3g\n got %v\nwant %v", k, e, tol, got, want)
		}
	}
}

func randVals(r *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return v
}

func TestGradConvBNReLUPoolLinearCE(t *testing.T) {
	be := cpu.New()
	r := rand.New(rand.NewPCG(1, 2))
	scale := be.FromFloat32([]float32{0.9, 1.3, -0.7}, 3)
	shift := be.FromFloat32([]float32{0.1, -0.2, 0.05}, 3)
	target := be.FromInt64([]int64{2, 0}, 2)
	p := backend.Conv2dParams{StrideH: 1, StrideW: 2, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}
	f := func(tp *Tape, v []*Var) *Var {
		y := tp.Conv2d(v[0], v[1], v[2], p)
		y = tp.ChannelAffine(y, scale, shift)
		y = tp.ReLU(y)
		y = tp.MaxPool2d(y, backend.PoolParams{KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2})
		h := tp.MeanHW(y)
		logits := tp.Linear(h, v[3], v[4])
		return tp.CrossEntropy(logits, target)
	}
	leaves := [][]float32{randVals(r, 2*2*6*6, -1, 1), randVals(r, 3*2*3*3, -1, 1), randVals(r, 3, -0.5, 0.5),
		randVals(r, 4*3, -1, 1), randVals(r, 4, -0.5, 0.5)}
	shapes := [][]int{{2, 2, 6, 6}, {3, 2, 3, 3}, {3}, {4, 3}, {4}}
	gradCheck(t, be, f, leaves, shapes, 1e-3, 2e-2)
}

func TestGradBroadcastShapeOps(t *testing.T) {
	be := cpu.New()
	r := rand.New(rand.NewPCG(3, 4))
	idx := be.FromInt64([]int64{2, 0, 2, 1}, 4)
	f := func(tp *Tape, v []*Var) *Var {
		// x [2,3,2,2] * w [1,3,1,1] + b [1,3,1,1]: the DeFRCN affine layer.
		y := tp.Add(tp.Mul(v[0], v[1]), v[2])
		y = tp.Permute(y, 0, 2, 3, 1)             // [2,2,2,3]
		y = tp.Reshape(y, 8, 3)                   // [8,3]
		y = tp.Concat(0, tp.Slice(y, 0, 1, 4), y) // [11,3]
		y = tp.Gather(y, idx)                     // [4,3]
		y = tp.Sub(y, v[3])                       // v[3] is [3]
		y = tp.Mul(y, y)
		y = tp.Binary(backend.Div, y, tp.Scale(v[3], 1, 2))
		return tp.Sum(y, nil)
	}
	leaves := [][]float32{randVals(r, 24, -1, 1), randVals(r, 3, 0.5, 1.5), randVals(r, 3, -0.5, 0.5), randVals(r, 3, -0.5, 0.5)}
	shapes := [][]int{{2, 3, 2, 2}, {1, 3, 1, 1}, {1, 3, 1, 1}, {3}}
	gradCheck(t, be, f, leaves, shapes, 1e-3, 1e-2)
}

func TestGradDetectionHead(t *testing.T) {
	be := cpu.New()
	r := rand.New(rand.NewPCG(5, 6))
	rois := be.FromFloat32([]float32{0, 1, 1, 9, 7, 1, 0.5, 2, 6, 9.5, 0, 3, 0, 10, 5}, 3, 5)
	mask1 := be.FromFloat32([]float32{1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0}, 3, 4)
	mask2 := be.FromFloat32([]float32{1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1}, 3, 4)
	target := be.FromInt64([]int64{1, 3, 0}, 3)
	boxT := be.FromFloat32(randVals(r, 12, -1, 1), 3, 4)
	objT := be.FromFloat32([]float32{1, 0, 1}, 3)
	ap := backend.RoIAlignParams{OutH: 2, OutW: 2, SpatialScale: 0.5, SamplingRatio: 0, Aligned: true}
	f := func(tp *Tape, v []*Var) *Var {
		x := tp.GradScale(v[0], 1) // identity both ways at λ = 1
		feat := tp.RoIAlign(x, rois, ap)
		feat = tp.ChannelAttention(feat, v[1], v[2], v[3], v[4], "max")
		h := tp.Reshape(feat, 3, 16)
		h2 := tp.Slice(h, 1, 0, 4)
		g1 := tp.Dropout(h2, mask1, 0.25)
		g2 := tp.Dropout(h2, mask2, 0.25)
		loss := tp.Add(tp.CrossEntropy(g1, target), tp.CrossEntropy(g2, target))
		loss = tp.Add(loss, tp.Scale(tp.RCLoss(g1, g2), 0.5, 0))
		box := tp.Slice(h, 1, 4, 8)
		loss = tp.Add(loss, tp.SmoothL1(box, boxT, 0.1, backend.ReduceSum))
		obj := tp.Reshape(tp.Slice(h, 1, 8, 9), 3)
		return tp.Add(loss, tp.BCEWithLogits(obj, objT, backend.ReduceMean))
	}
	leaves := [][]float32{randVals(r, 2*4*6*6, -1, 1), randVals(r, 2*4, -1, 1), randVals(r, 2, 0.5, 1),
		randVals(r, 4*2, -1, 1), randVals(r, 4, -0.2, 0.2)}
	shapes := [][]int{{2, 4, 6, 6}, {2, 4}, {2}, {4, 2}, {4}}
	gradCheck(t, be, f, leaves, shapes, 1e-2, 2e-2)
}

func TestGradScaleMultipliesGradient(t *testing.T) {
	be := cpu.New()
	grad := func(lambda float32) []float32 {
		x := NewLeaf(be.FromFloat32([]float32{1, -2, 3}, 3), true)
		w := NewLeaf(be.FromFloat32([]float32{0.5, 0.25, -1}, 3), true)
		tp := NewTape(be, true)
		y := tp.GradScale(x, lambda)
		if got := be.ToFloat32(y.Value); got[1] != -2 {
			t.Fatalf("GradScale forward changed the value: %v", got)
		}
		tp.Backward(tp.Sum(tp.Mul(y, w), nil))
		return be.ToFloat32(x.Grad)
	}
	full, scaled := grad(1), grad(0.01)
	for i := range full {
		if math.Abs(float64(scaled[i]-0.01*full[i])) > 1e-7 || full[i] == 0 {
			t.Fatalf("GradScale(0.01) grad %v, λ=1 grad %v", scaled, full)
		}
	}
}

func TestBackwardAccumulatesSharedUse(t *testing.T) {
	// y = x*x + x uses x three times: dy/dx = 2x + 1.
	be := cpu.New()
	x := NewLeaf(be.FromFloat32([]float32{1.5, -3}, 2), true)
	tp := NewTape(be, true)
	tp.Backward(tp.Sum(tp.Add(tp.Mul(x, x), x), nil))
	got := be.ToFloat32(x.Grad)
	if got[0] != 4 || got[1] != -5 {
		t.Fatalf("grad %v, want [4 -5]", got)
	}
	// A second pass accumulates into the existing gradient.
	tp.Backward(tp.Sum(x, nil))
	if got := be.ToFloat32(x.Grad); got[0] != 5 || got[1] != -4 {
		t.Fatalf("accumulated grad %v, want [5 -4]", got)
	}
}

func TestFrozenLeafGetsNoGradient(t *testing.T) {
	be := cpu.New()
	x := NewLeaf(be.FromFloat32([]float32{1, 2}, 2), true)
	w := NewLeaf(be.FromFloat32([]float32{3, 4}, 2), false)
	tp := NewTape(be, true)
	tp.Backward(tp.Sum(tp.Mul(x, w), nil))
	if w.Grad != nil {
		t.Fatal("a leaf without RequiresGrad received a gradient")
	}
	if got := be.ToFloat32(x.Grad); got[0] != 3 || got[1] != 4 {
		t.Fatalf("grad %v, want [3 4]", got)
	}
}

// TestBackwardFreesIntermediates checks the memory contract: after Backward
// every intermediate value and gradient is freed (views excepted, their
// storage belongs to their input), saved tensors handed to Keep are freed,
// and leaves keep their values.
func TestBackwardFreesIntermediates(t *testing.T) {
	be := cpu.New()
	x := NewLeaf(be.FromFloat32([]float32{1, -2, 3, 4, -5, 6, 7, -8}, 1, 2, 2, 2), true)
	w := NewLeaf(be.FromFloat32([]float32{0.5, -1}, 1, 2, 1, 1), true)
	tp := NewTape(be, true)
	y := tp.Mul(x, w)
	r := tp.ReLU(y)
	p := tp.MaxPool2d(r, backend.PoolParams{KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2})
	v := tp.Reshape(p, 2)
	loss := tp.Sum(v, nil)
	saved := tp.aux[0] // MaxPool2d's argmax
	tp.Backward(loss)
	for i, iv := range []*Var{y, r, p, loss} {
		if iv.Value.Storage != nil || iv.Grad != nil {
			t.Errorf("intermediate %d not freed", i)
		}
	}
	if v.Value.Storage == nil {
		t.Error("a view was freed (its storage is its input's)")
	}
	if saved.Storage != nil {
		t.Error("saved argmax not freed")
	}
	if x.Value.Storage == nil || w.Value.Storage == nil || x.Grad == nil || w.Grad == nil {
		t.Error("leaf value or gradient freed")
	}
	if len(tp.nodes) != 0 || len(tp.aux) != 0 {
		t.Errorf("tape keeps %d nodes and %d saved tensors after Backward", len(tp.nodes), len(tp.aux))
	}
}
