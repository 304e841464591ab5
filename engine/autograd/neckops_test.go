package autograd

import (
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// TestGradNeckOps checks, by finite differences, the ops the SPP-family
// necks are built from: a dilated 3×3 and a (3,1) convolution with (1,0)
// padding, SiLU, leaky ReLU, stride-1 max pools of 5 and 9 with padding
// k//2, and SPP-net's adaptive levels, concatenated as the blocks do.
func TestGradNeckOps(t *testing.T) {
	be := cpu.New()
	r := rand.New(rand.NewPCG(11, 12))
	dil := backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilationH: 2, DilationW: 2}
	tall := backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 0, DilationH: 1, DilationW: 1}
	pool := func(k int) backend.PoolParams {
		return backend.PoolParams{KernelH: k, KernelW: k, StrideH: 1, StrideW: 1, PadH: k / 2, PadW: k / 2}
	}
	weights := be.FromFloat32(randVals(r, 2*4*7*6, -1, 1), 2, 4, 7, 6)
	f := func(tp *Tape, v []*Var) *Var {
		a := tp.SiLU(tp.Conv2d(v[0], v[1], v[2], dil))        // [2,3,7,6]
		b := tp.LeakyReLU(tp.Conv2d(a, v[3], nil, tall), 0.1) // [2,4,7,6]
		y := tp.Concat(1, b, tp.MaxPool2d(b, pool(5)), tp.MaxPool2d(tp.MaxPool2d(b, pool(5)), pool(5)), tp.MaxPool2d(b, pool(9)))
		loss := tp.Sum(tp.Mul(tp.Slice(y, 1, 0, 4), tp.Const(weights)), nil)
		loss = tp.Add(loss, tp.Sum(tp.Mul(tp.Slice(y, 1, 4, 16), tp.Slice(y, 1, 4, 16)), nil))
		var levels []*Var
		for _, l := range []int{4, 2, 1} {
			levels = append(levels, tp.Reshape(tp.AdaptiveMaxPool2d(b, l, l), 2, -1))
		}
		spp := tp.Concat(1, levels...) // [2, 4·21]
		return tp.Add(loss, tp.Sum(tp.Mul(spp, spp), nil))
	}
	leaves := [][]float32{randVals(r, 2*2*7*6, -1, 1), randVals(r, 3*2*3*3, -1, 1), randVals(r, 3, -0.5, 0.5),
		randVals(r, 4*3*3*1, -1, 1)}
	shapes := [][]int{{2, 2, 7, 6}, {3, 2, 3, 3}, {3}, {4, 3, 3, 1}}
	gradCheck(t, be, f, leaves, shapes, 1e-3, 2e-2)
}
