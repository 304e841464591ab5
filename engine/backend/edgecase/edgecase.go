// Package edgecase is one table of edge-shape calls (empty batches, zero
// RoIs, empty reduced axes, one-element tensors) for every op of
// backend.Backend. engine/cpu's tests run it against the stated results; the
// cuda-tagged tests in cuda/ run it on both backends and compare, so each op
// is checked at these shapes on both.
package edgecase

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Case is one edge-shape call.
type Case struct {
	Name string
	// Run calls the op on b and returns its outputs.
	Run func(b backend.Backend) []*backend.Tensor
	// Shapes are the outputs' shapes.
	Shapes [][]int
	// Zero: every output element is 0 (sums over nothing, gradients of
	// nothing). Otherwise Want, where non-nil, lists each output's values.
	Zero bool
	Want [][]float64
}

// Values is t's contents as float64 (F32 or I64).
func Values(b backend.Backend, t *backend.Tensor) []float64 {
	var out []float64
	if t.DType == backend.I64 {
		for _, v := range b.ToInt64(t) {
			out = append(out, float64(v))
		}
		return out
	}
	for _, v := range b.ToFloat32(t) {
		out = append(out, float64(v))
	}
	return out
}

// Check runs c on b and compares the outputs with the case's shapes and
// values (tol: absolute tolerance on values in Want).
func (c Case) Check(b backend.Backend, tol float64) ([]*backend.Tensor, error) {
	outs := c.Run(b)
	if len(outs) != len(c.Shapes) {
		return outs, fmt.Errorf("%d outputs, want %d", len(outs), len(c.Shapes))
	}
	for i, o := range outs {
		if !backend.SameShape(o.Shape, c.Shapes[i]) {
			return outs, fmt.Errorf("output %d has shape %v, want %v", i, o.Shape, c.Shapes[i])
		}
		v := Values(b, o)
		var want []float64
		switch {
		case c.Zero:
			want = make([]float64, len(v))
		case i < len(c.Want):
			want = c.Want[i]
		}
		if want == nil {
			continue
		}
		if len(want) != len(v) {
			return outs, fmt.Errorf("output %d: %d values, want %d", i, len(v), len(want))
		}
		for j := range v {
			if math.IsNaN(v[j]) || math.Abs(v[j]-want[j]) > tol {
				return outs, fmt.Errorf("output %d [%d] = %v, want %v", i, j, v[j], want[j])
			}
		}
	}
	return outs, nil
}

func f32(b backend.Backend, shape []int, vals ...float32) *backend.Tensor {
	n := backend.Numel(shape)
	data := make([]float32, n)
	for i := range data {
		if len(vals) > 0 {
			data[i] = vals[i%len(vals)]
		} else {
			data[i] = float32(i%7) - 2.5
		}
	}
	return b.FromFloat32(data, shape...)
}

func i64(b backend.Backend, vals []int64, shape ...int) *backend.Tensor {
	return b.FromInt64(vals, shape...)
}

func sh(s ...int) []int { return s }

var (
	conv1   = backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}
	convOne = backend.Conv2dParams{StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	pool2   = backend.PoolParams{KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2}
	pool1   = backend.PoolParams{KernelH: 1, KernelW: 1, StrideH: 1, StrideW: 1}
	roi2    = backend.RoIAlignParams{OutH: 2, OutW: 2, SpatialScale: 1, SamplingRatio: 2, Aligned: true}
	bw      = [4]float32{10, 10, 5, 5}
)

// Cases is the table.
func Cases() []Case {
	return []Case{
		// ---- empty batches and empty reduced axes ----
		{Name: "Conv2d N=0", Shapes: [][]int{sh(0, 4, 5, 5)}, Run: func(b backend.Backend) []*backend.Tensor {
			return []*backend.Tensor{b.Conv2d(f32(b, sh(0, 3, 5, 5)), f32(b, sh(4, 3, 3, 3)), f32(b, sh(4)), conv1)}
		}},
		{Name: "Conv2dBackward N=0", Zero: true, Shapes: [][]int{sh(0, 3, 5, 5), sh(4, 3, 3, 3), sh(4)},
			Run: func(b backend.Backend) []*backend.Tensor {
				dx, dw, db := b.Conv2dBackward(f32(b, sh(0, 3, 5, 5)), f32(b, sh(4, 3, 3, 3)), f32(b, sh(0, 4, 5, 5)), conv1, true, true)
				return []*backend.Tensor{dx, dw, db}
			}},
		{Name: "MatMul M=0", Shapes: [][]int{sh(0, 3)}, Run: func(b backend.Backend) []*backend.Tensor {
			return []*backend.Tensor{b.MatMul(f32(b, sh(0, 5)), f32(b, sh(5, 3)), false, false)}
		}},
		{Name: "MatMul K=0", Zero: true, Shapes: [][]int{sh(4, 3), sh(4, 3)}, Run: func(b backend.Backend) []*backend.Tensor {
			return []*backend.Tensor{b.MatMul(f32(b, sh(4, 0)), f32(b, sh(0, 3)), false, false),
				b.MatMul(f32(b, sh(0, 4)), f32(b, sh(0, 3)), true, false)}
		}},
		{Name: "Sum over empty axes", Zero: true, Shapes: [][]int{sh(5), sh(3), sh(2, 3), sh(), sh(1, 6), sh(6)},
			Run: func(b backend.Backend) []*backend.Tensor {
				return []*backend.Tensor{b.Sum(f32(b, sh(0, 5)), []int{0}, false), b.Sum(f32(b, sh(3, 0)), []int{1}, false),
					b.Sum(f32(b, sh(2, 0, 3)), []int{1}, false), b.Sum(f32(b, sh(0, 4)), nil, false),
					b.Sum(f32(b, sh(0, 6)), []int{0}, true), b.SumTo(f32(b, sh(0, 6)), sh(6))}
			}},
		{Name: "Sum keeping an empty axis", Shapes: [][]int{sh(0), sh(0, 1)}, Run: func(b backend.Backend) []*backend.Tensor {
			return []*backend.Tensor{b.Sum(f32(b, sh(0, 5)), []int{1}, false), b.Sum(f32(b, sh(0, 5)), []int{1}, true)}
		}},
		{Name: "Max/Softmax/LogSoftmax of no rows", Shapes: [][]int{sh(0), sh(0), sh(0, 5), sh(0, 5)},
			Run: func(b backend.Backend) []*backend.Tensor {
				v, i := b.Max(f32(b, sh(0, 5)), 1)
				return []*backend.Tensor{v, i, b.Softmax(f32(b, sh(0, 5))), b.LogSoftmax(f32(b, sh(0, 5)))}
			}},
		{Name: "elementwise on empty", Shapes: [][]int{sh(0, 3), sh(0), sh(0), sh(0, 3), sh(0), sh(0, 3, 2, 2)},
			Run: func(b backend.Backend) []*backend.Tensor {
				x := f32(b, sh(0))
				y := b.Unary(backend.ReLU, x)
				z := f32(b, sh(0, 3))
				b.AxpyInPlace(z, 2, f32(b, sh(0, 3)))
				b.Fill(z, 1)
				return []*backend.Tensor{b.Binary(backend.Add, f32(b, sh(0, 3)), f32(b, sh(3))), y,
					b.UnaryBackward(backend.ReLU, x, y, f32(b, sh(0))), b.Where(z, z, z), b.Affine(x, 2, 1),
					b.ChannelAffine(f32(b, sh(0, 3, 2, 2)), f32(b, sh(3)), f32(b, sh(3)))}
			}},
		{Name: "shape ops on empty", Shapes: [][]int{sh(2, 0, 3), sh(2, 3), sh(0, 3), sh(4, 3)},
			Run: func(b backend.Backend) []*backend.Tensor {
				x := f32(b, sh(2, 3))
				return []*backend.Tensor{b.Permute(f32(b, sh(0, 2, 3)), 1, 0, 2), b.Concat(0, f32(b, sh(0, 3)), x),
					b.Slice(f32(b, sh(4, 3)), 0, 2, 2), b.SliceBackward(f32(b, sh(0, 3)), sh(4, 3), 0, 1)}
			}},
		{Name: "SliceBackward of nothing is zeros", Zero: true, Shapes: [][]int{sh(4, 3)}, Run: func(b backend.Backend) []*backend.Tensor {
			return []*backend.Tensor{b.SliceBackward(f32(b, sh(0, 3)), sh(4, 3), 0, 1)}
		}},
		{Name: "Gather of no indices", Shapes: [][]int{sh(0, 3), sh(0, 2)}, Run: func(b backend.Backend) []*backend.Tensor {
			return []*backend.Tensor{b.Gather(f32(b, sh(5, 3)), i64(b, nil, 0)), b.Gather(i64(b, []int64{1, 2, 3, 4}, 2, 2), i64(b, nil, 0))}
		}},
		{Name: "ScatterAdd of no rows", Zero: true, Shapes: [][]int{sh(4, 3)}, Run: func(b backend.Backend) []*backend.Tensor {
			return []*backend.Tensor{b.ScatterAdd(f32(b, sh(0, 3)), i64(b, nil, 0), 4)}
		}},
		{Name: "MaxPool2d N=0", Shapes: [][]int{sh(0, 2, 2, 2), sh(0, 2, 2, 2), sh(0, 2, 4, 4)},
			Run: func(b backend.Backend) []*backend.Tensor {
				y, am := b.MaxPool2d(f32(b, sh(0, 2, 4, 4)), pool2)
				return []*backend.Tensor{y, am, b.MaxPool2dBackward(f32(b, sh(0, 2, 2, 2)), am, sh(0, 2, 4, 4))}
			}},
		{Name: "ResizeBilinear N=0", Shapes: [][]int{sh(0, 2, 5, 5)}, Run: func(b backend.Backend) []*backend.Tensor {
			return []*backend.Tensor{b.ResizeBilinear(f32(b, sh(0, 2, 3, 3)), 5, 5)}
		}},
		{Name: "RoIAlign zero RoIs", Zero: true, Shapes: [][]int{sh(0, 2, 2, 2), sh(1, 2, 6, 6)},
			Run: func(b backend.Backend) []*backend.Tensor {
				rois := f32(b, sh(0, 5))
				return []*backend.Tensor{b.RoIAlign(f32(b, sh(1, 2, 6, 6)), rois, roi2),
					b.RoIAlignBackward(f32(b, sh(0, 2, 2, 2)), rois, sh(1, 2, 6, 6), roi2)}
			}},
		{Name: "ChannelAttention N=0", Zero: true, Shapes: [][]int{sh(0, 4, 3, 3), sh(0, 4, 3, 3), sh(2, 4), sh(2), sh(4, 2), sh(4)},
			Run: func(b backend.Backend) []*backend.Tensor {
				x, w1, w2 := f32(b, sh(0, 4, 3, 3)), f32(b, sh(2, 4)), f32(b, sh(4, 2))
				y, cache := b.ChannelAttention(x, w1, f32(b, sh(2)), w2, f32(b, sh(4)), "max")
				dx, dw1, db1, dw2, db2 := b.ChannelAttentionBackward(x, w1, w2, f32(b, sh(0, 4, 3, 3)), cache, "max")
				return []*backend.Tensor{y, dx, dw1, db1, dw2, db2}
			}},
		{Name: "box ops on no boxes", Shapes: [][]int{sh(0), sh(0, 3), sh(0, 4), sh(0, 8), sh(0, 4), sh(0, 4), sh(0), sh(0)},
			Run: func(b backend.Backend) []*backend.Tensor {
				none := f32(b, sh(0, 4))
				v, i := b.TopK(f32(b, sh(0)), 5)
				return []*backend.Tensor{b.BatchedNMS(none, f32(b, sh(0)), i64(b, nil, 0), 0.5),
					b.BoxIoU(none, f32(b, sh(3, 4), 0, 0, 4, 4)), b.BoxEncode(none, none, bw),
					b.BoxDecode(none, f32(b, sh(0, 8)), bw), b.ClipBoxes(none, 10, 10),
					b.Anchors(0, 3, 16, []float32{32}, []float32{0.5, 1, 2}), v, i}
			}},
		{Name: "losses of no rows", Zero: true, Shapes: [][]int{sh(), sh(0, 5), sh(), sh(), sh(0), sh(), sh(0), sh(), sh(0, 4), sh(0, 4), sh(0), sh(0)},
			Run: func(b backend.Backend) []*backend.Tensor {
				one := f32(b, sh(), 1)
				lg, tg := f32(b, sh(0, 5)), i64(b, nil, 0)
				x, t := f32(b, sh(0)), f32(b, sh(0))
				a, c := f32(b, sh(0, 4)), f32(b, sh(0, 4))
				da, dc := b.RCLossBackward(a, c, one)
				mask := b.DropoutMask(0, 0.5, 1, 0)
				return []*backend.Tensor{b.CrossEntropy(lg, tg), b.CrossEntropyBackward(lg, tg, one),
					b.SmoothL1(x, t, 1, backend.ReduceMean), b.SmoothL1(x, t, 1, backend.ReduceSum),
					b.SmoothL1Backward(x, t, one, 1, backend.ReduceMean), b.BCEWithLogits(x, t, backend.ReduceMean),
					b.BCEWithLogitsBackward(x, t, one, backend.ReduceSum), b.RCLoss(a, c), da, dc,
					mask, b.Dropout(x, mask, 0.5)}
			}},

		// ---- one element ----
		{Name: "Conv2d of one pixel", Shapes: [][]int{sh(1, 1, 1, 1), sh(1, 1, 1, 1), sh(1, 1, 1, 1), sh(1)},
			Want: [][]float64{{-1.75}, {1.5}, {-1.5}, {0.5}},
			Run: func(b backend.Backend) []*backend.Tensor {
				x, w := f32(b, sh(1, 1, 1, 1), -1.5), f32(b, sh(1, 1, 1, 1), 1.5)
				dx, dw, db := b.Conv2dBackward(x, w, f32(b, sh(1, 1, 1, 1), 1), convOne, true, true)
				y := b.Conv2d(x, w, f32(b, sh(1), 0.5), convOne)
				// y = 1.5·(-1.5)+0.5; with dy = 1: dx = w, dw = x, db = 1 (halved to tell it from dy).
				return []*backend.Tensor{y, dx, dw, b.Affine(db, 0.5, 0)}
			}},
		{Name: "MatMul 1x1", Shapes: [][]int{sh(1, 1), sh(1, 1)}, Want: [][]float64{{-3}, {-3}},
			Run: func(b backend.Backend) []*backend.Tensor {
				x, y := f32(b, sh(1, 1), 1.5), f32(b, sh(1, 1), -2)
				return []*backend.Tensor{b.MatMul(x, y, false, false), b.MatMul(x, y, true, true)}
			}},
		{Name: "reductions of one element", Shapes: [][]int{sh(), sh(1), sh(1), sh(1), sh(1, 1), sh(1, 1)},
			Want: [][]float64{{1.25}, {1.25}, {1.25}, {0}, {1}, {0}},
			Run: func(b backend.Backend) []*backend.Tensor {
				x := f32(b, sh(1, 1), 1.25)
				v, i := b.Max(x, 1)
				return []*backend.Tensor{b.Sum(x, nil, false), b.Sum(x, []int{1}, false), v, i, b.Softmax(x), b.LogSoftmax(x)}
			}},
		{Name: "Gather/ScatterAdd of one row", Shapes: [][]int{sh(1, 2), sh(3, 2)}, Want: [][]float64{{3, 4}, {0, 0, 0, 0, 1.5, -2}},
			Run: func(b backend.Backend) []*backend.Tensor {
				idx := i64(b, []int64{1}, 1)
				return []*backend.Tensor{b.Gather(f32(b, sh(2, 2), 1, 2, 3, 4), idx),
					b.ScatterAdd(f32(b, sh(1, 2), 1.5, -2), i64(b, []int64{2}, 1), 3)}
			}},
		{Name: "pool and resize of one pixel", Shapes: [][]int{sh(1, 1, 1, 1), sh(1, 1, 1, 1), sh(1, 1, 1, 1), sh(1, 1, 2, 2)},
			Want: [][]float64{{0.75}, {0}, {2}, {0.75, 0.75, 0.75, 0.75}},
			Run: func(b backend.Backend) []*backend.Tensor {
				x := f32(b, sh(1, 1, 1, 1), 0.75)
				y, am := b.MaxPool2d(x, pool1)
				return []*backend.Tensor{y, am, b.MaxPool2dBackward(f32(b, sh(1, 1, 1, 1), 2), am, sh(1, 1, 1, 1)), b.ResizeBilinear(x, 2, 2)}
			}},
		{Name: "RoIAlign one RoI on one pixel", Shapes: [][]int{sh(1, 1, 1, 1), sh(1, 1, 1, 1)}, Want: [][]float64{{0.5}, nil},
			Run: func(b backend.Backend) []*backend.Tensor {
				p := backend.RoIAlignParams{OutH: 1, OutW: 1, SpatialScale: 1, SamplingRatio: 1, Aligned: true}
				x, rois := f32(b, sh(1, 1, 1, 1), 0.5), f32(b, sh(1, 5), 0, 0, 0, 1, 1)
				return []*backend.Tensor{b.RoIAlign(x, rois, p), b.RoIAlignBackward(f32(b, sh(1, 1, 1, 1), 1), rois, sh(1, 1, 1, 1), p)}
			}},
		{Name: "ChannelAttention of one channel and pixel", Shapes: [][]int{sh(1, 1, 1, 1), sh(1, 1, 1, 1), sh(1, 1), sh(1), sh(1, 1), sh(1)},
			Run: func(b backend.Backend) []*backend.Tensor {
				x, w1, w2 := f32(b, sh(1, 1, 1, 1), 0.5), f32(b, sh(1, 1), 2), f32(b, sh(1, 1), -1)
				y, cache := b.ChannelAttention(x, w1, nil, w2, nil, "avg")
				dx, dw1, db1, dw2, db2 := b.ChannelAttentionBackward(x, w1, w2, f32(b, sh(1, 1, 1, 1), 1), cache, "avg")
				return []*backend.Tensor{y, dx, dw1, db1, dw2, db2}
			}},
		{Name: "box ops on one box", Shapes: [][]int{sh(1), sh(1, 1), sh(1, 4), sh(1), sh(1)}, Want: [][]float64{{0}, {1}, {0, 0, 0, 0}, {0.25}, {0}},
			Run: func(b backend.Backend) []*backend.Tensor {
				box := f32(b, sh(1, 4), 1, 2, 5, 6)
				v, i := b.TopK(f32(b, sh(1), 0.25), 3)
				return []*backend.Tensor{b.BatchedNMS(box, f32(b, sh(1), 0.9), i64(b, []int64{3}, 1), 0.5),
					b.BoxIoU(box, box), b.BoxEncode(box, box, bw), v, i}
			}},
		{Name: "losses of one element", Shapes: [][]int{sh(), sh(1, 1), sh(), sh(), sh(1, 1), sh(1, 1)},
			Want: [][]float64{{0}, {0}, {0.125}, {0}, {0}, {0}},
			Run: func(b backend.Backend) []*backend.Tensor {
				one := f32(b, sh(), 1)
				lg, tg := f32(b, sh(1, 1), 3), i64(b, []int64{0}, 1)
				a := f32(b, sh(1, 1), 0.5)
				da, dc := b.RCLossBackward(a, a, one)
				// smooth L1 of 0.5 with beta 1: 0.5·0.5²/1 = 0.125.
				return []*backend.Tensor{b.CrossEntropy(lg, tg), b.CrossEntropyBackward(lg, tg, one),
					b.SmoothL1(f32(b, sh(1), 0.5), f32(b, sh(1), 0), 1, backend.ReduceMean), b.RCLoss(a, a), da, dc}
			}},
	}
}
