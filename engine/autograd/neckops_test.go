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

// TestGradRoIPool: RoI max pooling after a convolution (the ROIPool pooler
// of a C4 head), by finite differences through the tape.
func TestGradRoIPool(t *testing.T) {
	be := cpu.New()
	r := rand.New(rand.NewPCG(13, 14))
	rois := be.FromFloat32([]float32{0, 4, 4, 60, 44, 1, 10, 0, 30, 30, 0, -20, -20, 20, 20, 1, 70, 60, 200, 200}, 4, 5)
	p := backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}
	weights := be.FromFloat32(randVals(r, 4*3*3*2, -1, 1), 4, 3, 3, 2)
	f := func(tp *Tape, v []*Var) *Var {
		y := tp.RoIPool(tp.Conv2d(v[0], v[1], nil, p), rois, backend.RoIPoolParams{OutH: 3, OutW: 2, SpatialScale: 0.125})
		return tp.Sum(tp.Mul(y, tp.Const(weights)), nil)
	}
	leaves := [][]float32{randVals(r, 2*2*8*8, -1, 1), randVals(r, 3*2*3*3, -1, 1)}
	gradCheck(t, be, f, leaves, [][]int{{2, 2, 8, 8}, {3, 2, 3, 3}}, 1e-3, 2e-2)
}

// TestGradYOLOv1Loss runs the loss on a linear head's output. The targets
// sit where no predicted box overlaps them (every IoU 0, predictor 0
// responsible) so that the finite differences of the forward pass, which
// see the IoU move, agree with the gradient that holds it constant.
func TestGradYOLOv1Loss(t *testing.T) {
	be := cpu.New()
	r := rand.New(rand.NewPCG(15, 16))
	lp := backend.YOLOv1LossParams{S: 2, B: 2, C: 3, LambdaCoord: 5, LambdaNoobj: 0.5}
	obj := be.FromFloat32([]float32{1, 0, 0, 1, 0, 1, 0, 0}, 2, 2, 2)
	box := make([]float32, 2*2*2*4)
	for q := range 8 {
		copy(box[q*4:], []float32{0.95, 0.95, 0.01, 0.01})
	}
	cls := be.FromInt64([]int64{2, 0, 0, 1, 0, 0, 0, 0}, 2, 2, 2)
	f := func(tp *Tape, v []*Var) *Var {
		pred := tp.Reshape(tp.Linear(v[0], v[1], nil), 2, 2, 2, 13)
		return tp.YOLOv1Loss(pred, obj, be.FromFloat32(box, 2, 2, 2, 4), cls, lp)
	}
	// Inputs and weights in [0, 0.3]: the centres stay near the cell's
	// corner and the boxes small, far from the targets at (0.95, 0.95).
	leaves := [][]float32{randVals(r, 8*3, 0, 0.3), randVals(r, 13*3, 0, 0.3)}
	gradCheck(t, be, f, leaves, [][]int{{8, 3}, {13, 3}}, 1e-3, 1e-2)
}
