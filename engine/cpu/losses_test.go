package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

func refCrossEntropy(logits []float64, target []int64, k int) float64 {
	n := len(target)
	s := 0.0
	for i := 0; i < n; i++ {
		row := logits[i*k : (i+1)*k]
		z := 0.0
		for _, v := range row {
			z += math.Exp(v)
		}
		s += -math.Log(math.Exp(row[target[i]]) / z)
	}
	return s / float64(n)
}

func TestCrossEntropy(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(51, 52))
	n, k := 9, 6
	lf, ld := randF32(r, n*k, -4, 4)
	tg := make([]int64, n)
	for i := range tg {
		tg[i] = int64(r.IntN(k))
	}
	logits, target := c.FromFloat32(lf, n, k), c.FromInt64(tg, n)
	loss := c.CrossEntropy(logits, target)
	if len(loss.Shape) != 0 {
		t.Fatalf("loss shape %v, want []", loss.Shape)
	}
	assertClose(t, "CrossEntropy", F32(loss), []float64{refCrossEntropy(ld, tg, k)}, 1e-6)
	got := F32(c.CrossEntropyBackward(logits, target, c.FromFloat32([]float32{0.7})))
	want := numericGrad(func(in [][]float64) []float64 { return []float64{refCrossEntropy(in[0], tg, k)} },
		[][]float64{ld}, []float64{0.7}, 1e-5)[0]
	assertClose(t, "CrossEntropyBackward", got, want, 1e-5)
	// Large logits stay finite: log-sum-exp is shifted by the row maximum.
	big := F32(c.CrossEntropy(c.FromFloat32([]float32{1000, 0, -1000}, 1, 3), c.FromInt64([]int64{1}, 1)))
	if math.Abs(float64(big[0])-1000) > 1e-3 {
		t.Fatalf("CE of logits ±1000 = %v, want 1000", big[0])
	}
	if z := F32(c.CrossEntropy(c.Zeros(backend.F32, 0, 3), c.Zeros(backend.I64, 0))); z[0] != 0 {
		t.Fatalf("CE over no rows = %v, want 0", z[0])
	}
}

// reduce64 applies a reduction to per-element losses in float64.
func reduce64(per []float64, r backend.Reduction) []float64 {
	if r == backend.ReduceNone {
		return per
	}
	s := 0.0
	for _, v := range per {
		s += v
	}
	if r == backend.ReduceMean {
		s /= float64(len(per))
	}
	return []float64{s}
}

func refSmoothL1(x, t []float64, beta float64, r backend.Reduction) []float64 {
	per := make([]float64, len(x))
	for i := range x {
		d := math.Abs(x[i] - t[i])
		if beta > 0 && d < beta {
			per[i] = 0.5 * d * d / beta
		} else {
			per[i] = d - 0.5*beta
		}
	}
	return reduce64(per, r)
}

func refBCE(x, t []float64, r backend.Reduction) []float64 {
	per := make([]float64, len(x))
	for i := range x {
		p := 1 / (1 + math.Exp(-x[i]))
		per[i] = -(t[i]*math.Log(p) + (1-t[i])*math.Log(1-p))
	}
	return reduce64(per, r)
}

var reductions = []struct {
	name string
	r    backend.Reduction
}{{"mean", backend.ReduceMean}, {"sum", backend.ReduceSum}, {"none", backend.ReduceNone}}

// upstreamFor returns an upstream gradient for a loss of the reduction.
func upstreamFor(c *CPU, rnd *rand.Rand, r backend.Reduction, shape []int) (*backend.Tensor, []float64) {
	if r == backend.ReduceNone {
		f, d := randF32(rnd, backend.Numel(shape), -1, 1)
		return c.FromFloat32(f, shape...), d
	}
	return c.FromFloat32([]float32{1.5}), []float64{1.5}
}

func TestSmoothL1(t *testing.T) {
	c := New()
	rnd := rand.New(rand.NewPCG(53, 54))
	shape := []int{7, 4}
	xf, xd := randF32(rnd, 28, -2, 2)
	tf, td := randF32(rnd, 28, -2, 2)
	betas := []float32{0, 1.0 / 9, 0.5}
	// Keep every |x−t| away from each beta and 0, where the loss has kinks
	// and central differences are meaningless.
	for i := range xf {
		for _, b := range betas {
			if d := math.Abs(xd[i] - td[i]); math.Abs(d-float64(b)) < 0.01 {
				xf[i] += 0.03
				xd[i] = float64(xf[i])
			}
		}
	}
	x, tg := c.FromFloat32(xf, shape...), c.FromFloat32(tf, shape...)
	for _, beta := range betas {
		for _, red := range reductions {
			got := c.SmoothL1(x, tg, beta, red.r)
			want := refSmoothL1(xd, td, float64(beta), red.r)
			assertClose(t, "SmoothL1 "+red.name, F32(got), want, 1e-6)
			dl, dld := upstreamFor(c, rnd, red.r, shape)
			g := F32(c.SmoothL1Backward(x, tg, dl, beta, red.r))
			wg := numericGrad(func(in [][]float64) []float64 { return refSmoothL1(in[0], td, float64(beta), red.r) },
				[][]float64{append([]float64(nil), xd...)}, dld, 1e-6)[0]
			assertClose(t, "SmoothL1Backward "+red.name, g, wg, 1e-5)
		}
	}
	if got := F32(c.SmoothL1(c.FromFloat32([]float32{0.2, 3}, 2), c.FromFloat32([]float32{0, 0}, 2), 1, backend.ReduceNone)); math.Abs(float64(got[0])-0.02) > 1e-7 || got[1] != 2.5 {
		t.Fatalf("SmoothL1 beta 1 of [0.2 3] = %v, want [0.02 2.5]", got)
	}
}

func TestBCEWithLogits(t *testing.T) {
	c := New()
	rnd := rand.New(rand.NewPCG(55, 56))
	shape := []int{5, 3}
	xf, xd := randF32(rnd, 15, -6, 6)
	tf, td := randF32(rnd, 15, 0, 1)
	tf[0], td[0], tf[1], td[1] = 0, 0, 1, 1
	x, tg := c.FromFloat32(xf, shape...), c.FromFloat32(tf, shape...)
	for _, red := range reductions {
		assertClose(t, "BCEWithLogits "+red.name, F32(c.BCEWithLogits(x, tg, red.r)), refBCE(xd, td, red.r), 1e-6)
		dl, dld := upstreamFor(c, rnd, red.r, shape)
		g := F32(c.BCEWithLogitsBackward(x, tg, dl, red.r))
		wg := numericGrad(func(in [][]float64) []float64 { return refBCE(in[0], td, red.r) },
			[][]float64{append([]float64(nil), xd...)}, dld, 1e-6)[0]
		assertClose(t, "BCEWithLogitsBackward "+red.name, g, wg, 1e-5)
	}
	// Stable at large |x|: log(1+e^100) − 0 = 100, not Inf.
	big := F32(c.BCEWithLogits(c.FromFloat32([]float32{100, -100}, 2), c.FromFloat32([]float32{0, 1}, 2), backend.ReduceNone))
	if math.Abs(float64(big[0])-100) > 1e-4 || math.Abs(float64(big[1])-100) > 1e-4 {
		t.Fatalf("BCE at ±100 = %v, want [100 100]", big)
	}
}
