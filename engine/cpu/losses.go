package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Losses accumulate in float64 and return float32. A mean over zero elements
// is 0 (torch gives NaN); detection batches with no foreground are routine
// and must not poison the total loss.

// scalar returns the single value of a loss gradient (shape [] or [1]).
func scalar(op string, t *backend.Tensor) float32 {
	if t.Numel() != 1 {
		panic(fmt.Sprintf("cpu: %s: dloss %v, want a scalar", op, t.Shape))
	}
	return F32(t)[0]
}

func (c *CPU) newScalar(v float64) *backend.Tensor {
	t := c.newF32()
	F32(t)[0] = float32(v)
	return t
}

// meanScale is 1/n, or 0 for n = 0.
func meanScale(n int) float64 {
	if n == 0 {
		return 0
	}
	return 1 / float64(n)
}

func checkCE(op string, logits, target *backend.Tensor) (n, k int) {
	if logits.DType != backend.F32 || len(logits.Shape) != 2 || target.DType != backend.I64 ||
		target.Numel() != logits.Shape[0] {
		panic(fmt.Sprintf("cpu: %s: logits %s%v, target %s%v; want F32 [N,K], I64 [N]",
			op, logits.DType, logits.Shape, target.DType, target.Shape))
	}
	n, k = logits.Shape[0], logits.Shape[1]
	for i, t := range I64(target) {
		if t < 0 || int(t) >= k {
			panic(fmt.Sprintf("cpu: %s: target[%d] = %d outside [0,%d)", op, i, t, k))
		}
	}
	return n, k
}

// logSumExp of one row, shifted by its maximum.
func logSumExp(row []float32) (lse, mx float64) {
	mx = math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s), mx
}

// CrossEntropy is F.cross_entropy(logits, target) with reduction mean.
func (c *CPU) CrossEntropy(logits, target *backend.Tensor) *backend.Tensor {
	n, k := checkCE("CrossEntropy", logits, target)
	ls, ts := F32(logits), I64(target)
	var s float64
	for i := 0; i < n; i++ {
		row := ls[i*k : (i+1)*k]
		lse, _ := logSumExp(row)
		s += lse - float64(row[ts[i]])
	}
	return c.newScalar(s * meanScale(n))
}

// CrossEntropyBackward returns dloss·(softmax(logits) − onehot(target))/N.
func (c *CPU) CrossEntropyBackward(logits, target, dloss *backend.Tensor) *backend.Tensor {
	n, k := checkCE("CrossEntropyBackward", logits, target)
	g := float64(scalar("CrossEntropyBackward", dloss)) * meanScale(n)
	ls, ts := F32(logits), I64(target)
	dx := c.newF32(n, k)
	ds := F32(dx)
	for i := 0; i < n; i++ {
		row, drow := ls[i*k:(i+1)*k], ds[i*k:(i+1)*k]
		lse, _ := logSumExp(row)
		for j, v := range row {
			p := math.Exp(float64(v) - lse)
			if int64(j) == ts[i] {
				p--
			}
			drow[j] = float32(g * p)
		}
	}
	return dx
}

func checkPair(op string, x, target *backend.Tensor) {
	if x.DType != backend.F32 || target.DType != backend.F32 || !backend.SameShape(x.Shape, target.Shape) {
		panic(fmt.Sprintf("cpu: %s: x %s%v, target %s%v; want equal F32 shapes", op, x.DType, x.Shape, target.DType, target.Shape))
	}
}

// reduce turns per-element losses into the op's output.
func (c *CPU) reduce(per []float64, shape []int, r backend.Reduction) *backend.Tensor {
	switch r {
	case backend.ReduceNone:
		out := c.newF32(shape...)
		os := F32(out)
		for i, v := range per {
			os[i] = float32(v)
		}
		return out
	case backend.ReduceSum, backend.ReduceMean:
		var s float64
		for _, v := range per {
			s += v
		}
		if r == backend.ReduceMean {
			s *= meanScale(len(per))
		}
		return c.newScalar(s)
	}
	panic(fmt.Sprintf("cpu: unknown reduction %d", r))
}

// upstream returns a function giving the upstream gradient of element i: the
// element of dloss for ReduceNone, the scalar (divided by the count for
// ReduceMean) otherwise.
func upstream(op string, dloss *backend.Tensor, shape []int, r backend.Reduction) func(i int) float64 {
	switch r {
	case backend.ReduceNone:
		if !backend.SameShape(dloss.Shape, shape) {
			panic(fmt.Sprintf("cpu: %s: dloss %v with reduction none, want %v", op, dloss.Shape, shape))
		}
		ds := F32(dloss)
		return func(i int) float64 { return float64(ds[i]) }
	case backend.ReduceSum, backend.ReduceMean:
		g := float64(scalar(op, dloss))
		if r == backend.ReduceMean {
			g *= meanScale(backend.Numel(shape))
		}
		return func(int) float64 { return g }
	}
	panic(fmt.Sprintf("cpu: %s: unknown reduction %d", op, r))
}

// SmoothL1 is F.smooth_l1_loss: 0.5·d²/beta where |d| < beta, |d| − 0.5·beta
// elsewhere, d = x − target; beta = 0 is the L1 loss.
func (c *CPU) SmoothL1(x, target *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	checkPair("SmoothL1", x, target)
	xs, ts := F32(x), F32(target)
	b := float64(beta)
	per := make([]float64, len(xs))
	for i := range xs {
		d := math.Abs(float64(xs[i]) - float64(ts[i]))
		if d < b {
			per[i] = 0.5 * d * d / b
		} else {
			per[i] = d - 0.5*b
		}
	}
	return c.reduce(per, x.Shape, r)
}

// SmoothL1Backward returns d/dx: d/beta inside the quadratic zone, sign(d)
// outside (0 at d = 0, as torch's sign).
func (c *CPU) SmoothL1Backward(x, target, dloss *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	checkPair("SmoothL1Backward", x, target)
	g := upstream("SmoothL1Backward", dloss, x.Shape, r)
	xs, ts := F32(x), F32(target)
	b := float64(beta)
	dx := c.newF32(x.Shape...)
	ds := F32(dx)
	for i := range xs {
		d := float64(xs[i]) - float64(ts[i])
		var v float64
		switch {
		case math.Abs(d) < b:
			v = d / b
		case d > 0:
			v = 1
		case d < 0:
			v = -1
		}
		ds[i] = float32(g(i) * v)
	}
	return dx
}

// BCEWithLogits is F.binary_cross_entropy_with_logits in its stable form
// max(x,0) − x·t + log1p(exp(−|x|)).
func (c *CPU) BCEWithLogits(x, target *backend.Tensor, r backend.Reduction) *backend.Tensor {
	checkPair("BCEWithLogits", x, target)
	xs, ts := F32(x), F32(target)
	per := make([]float64, len(xs))
	for i := range xs {
		v, t := float64(xs[i]), float64(ts[i])
		per[i] = math.Max(v, 0) - v*t + math.Log1p(math.Exp(-math.Abs(v)))
	}
	return c.reduce(per, x.Shape, r)
}

// BCEWithLogitsBackward returns (σ(x) − t)·upstream.
func (c *CPU) BCEWithLogitsBackward(x, target, dloss *backend.Tensor, r backend.Reduction) *backend.Tensor {
	checkPair("BCEWithLogitsBackward", x, target)
	g := upstream("BCEWithLogitsBackward", dloss, x.Shape, r)
	xs, ts := F32(x), F32(target)
	dx := c.newF32(x.Shape...)
	ds := F32(dx)
	for i := range xs {
		v := float64(xs[i])
		var s float64
		if v >= 0 {
			s = 1 / (1 + math.Exp(-v))
		} else {
			e := math.Exp(v)
			s = e / (1 + e)
		}
		ds[i] = float32(g(i) * (s - float64(ts[i])))
	}
	return dx
}
