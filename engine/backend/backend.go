// Package backend defines the tensor type and the Backend interface: every op
// the engine needs, forward and backward. The pure-Go CPU backend
// (engine/cpu) is the reference; the CUDA backend (cuda/, build tag cuda)
// implements the same methods with hand-written kernels. The engine never
// touches device memory: it calls these methods and reads results back with
// ToFloat32/ToInt64.
//
// Conventions shared by every implementation:
//   - Layout is NCHW, float32; indices and labels are int64 (BFloat16 is a
//     CUDA storage type for activations, see DType).
//   - Boxes are x1,y1,x2,y2 in input-image pixels, no +1 in widths.
//   - Ops return new tensors; methods named ...Into or ...InPlace write into
//     an argument. The caller owns returned tensors and may Free them.
//   - Programmer errors (shape mismatches, wrong dtypes) panic with a message
//     naming the op and the shapes; user-input errors never reach a backend.
package backend

import (
	"errors"
	"fmt"
	"strings"
)

// ErrOutOfMemory is what a backend's allocation failure matches with
// errors.Is. Backends panic with such an error (ops have no error results);
// the trainer recovers it and reports the batch that did not fit.
var ErrOutOfMemory = errors.New("out of memory")

// DType is the element type of a tensor.
type DType uint8

const (
	F32 DType = iota // float32
	I64              // int64 (indices, labels, NMS keep lists)
	// BFloat16 is storage only: the upper 16 bits of a float32, rounded to
	// nearest even. The CUDA backend keeps the RoI-Align input and output so
	// under precision bf16 (README "Precision"); the ops that accept it say
	// so, every other op panics on it, ToFloat32 widens it exactly, and the
	// CPU backend never makes one.
	BFloat16
)

func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case I64:
		return "I64"
	case BFloat16:
		return "BF16"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Tensor is a dense row-major n-d array living on one backend.
// Storage is backend-specific: the CPU backend keeps []float32 or []int64,
// the CUDA backend a device allocation. Shape is never mutated in place;
// Reshape returns a new header sharing Storage.
type Tensor struct {
	Shape   []int
	DType   DType
	Backend Backend
	Storage any
}

// Numel is the number of elements.
func (t *Tensor) Numel() int { return Numel(t.Shape) }

// Dim returns Shape[i]; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Reshape returns a tensor sharing storage with t under a new shape. One
// dimension may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	s := append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range s {
		if d == -1 {
			if infer >= 0 {
				panic("backend: Reshape with two -1 dimensions")
			}
			infer = i
		} else {
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || t.Numel()%known != 0 {
			panic(fmt.Sprintf("backend: cannot reshape %v to %v", t.Shape, shape))
		}
		s[infer] = t.Numel() / known
	}
	if Numel(s) != t.Numel() {
		panic(fmt.Sprintf("backend: cannot reshape %v (%d elements) to %v", t.Shape, t.Numel(), shape))
	}
	return &Tensor{Shape: s, DType: t.DType, Backend: t.Backend, Storage: t.Storage}
}

func (t *Tensor) String() string {
	return fmt.Sprintf("Tensor(%s%v on %s)", t.DType, t.Shape, t.Backend.Name())
}

// Numel is the product of a shape's dimensions (1 for a scalar shape).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ShapeString formats a shape as [a,b,c] for error messages.
func ShapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// BinaryOp selects an elementwise binary operation.
type BinaryOp uint8

const (
	Add BinaryOp = iota
	Sub
	Mul
	Div
	Maximum
	Minimum
)

// UnaryOp selects an elementwise unary operation.
type UnaryOp uint8

const (
	Neg UnaryOp = iota
	Exp
	Log
	Sqrt
	Abs
	ReLU
	Sigmoid
	Tanh
)

// Conv2dParams are the attributes of a 2-D convolution (groups 1).
type Conv2dParams struct {
	StrideH, StrideW     int
	PadH, PadW           int
	DilationH, DilationW int
}

// OutSize is the output spatial size for input h×w and kernel r×s.
func (p Conv2dParams) OutSize(h, w, r, s int) (int, int) {
	oh := (h+2*p.PadH-p.DilationH*(r-1)-1)/p.StrideH + 1
	ow := (w+2*p.PadW-p.DilationW*(s-1)-1)/p.StrideW + 1
	return oh, ow
}

// PoolParams are the attributes of max pooling.
type PoolParams struct {
	KernelH, KernelW int
	StrideH, StrideW int
	PadH, PadW       int
}

// RoIAlignParams follow torchvision.ops.roi_align.
type RoIAlignParams struct {
	OutH, OutW    int
	SpatialScale  float32
	SamplingRatio int  // 0 = adaptive: ceil(roi_size / out_size) per bin
	Aligned       bool // true = detectron2 ROIAlignV2 (half-pixel shift)
}

// RoIPoolParams follow torchvision.ops.roi_pool: box corners are scaled by
// SpatialScale and rounded (half away from zero) to feature cells.
type RoIPoolParams struct {
	OutH, OutW   int
	SpatialScale float32
}

// YOLOv1LossParams are the grid size S, predictors per cell B, classes C and
// the paper's weights of the coordinate and no-object terms.
type YOLOv1LossParams struct {
	S, B, C                  int
	LambdaCoord, LambdaNoobj float32
}

// Reduction for losses.
type Reduction uint8

const (
	ReduceMean Reduction = iota
	ReduceSum
	ReduceNone
)

// AttentionCache holds what ChannelAttention's backward needs.
type AttentionCache struct {
	Pooled *Tensor // [N,C]
	ArgMax *Tensor // [N,C] I64 flat h*w index of the max (pool "max"), nil for "avg"
	Hidden *Tensor // [N,C/r] post-ReLU
	Gate   *Tensor // [N,C] sigmoid output
}

// Backend is every op the engine uses. Shapes in comments: x is [N,C,H,W],
// w is [K,C,R,S]. All float inputs are F32 unless said otherwise.
type Backend interface {
	Name() string

	// ---- memory ----
	Zeros(dt DType, shape ...int) *Tensor
	FromFloat32(data []float32, shape ...int) *Tensor
	FromInt64(data []int64, shape ...int) *Tensor
	ToFloat32(t *Tensor) []float32 // a host copy
	ToInt64(t *Tensor) []int64     // a host copy
	Clone(t *Tensor) *Tensor
	Free(t *Tensor)
	Sync() error // waits for queued work; returns the first asynchronous error

	// ---- elementwise and broadcast arithmetic ----
	// Binary applies op with numpy broadcasting of a and b.
	Binary(op BinaryOp, a, b *Tensor) *Tensor
	Unary(op UnaryOp, x *Tensor) *Tensor
	// UnaryBackward returns dL/dx given x, y = op(x) and dy.
	UnaryBackward(op UnaryOp, x, y, dy *Tensor) *Tensor
	// Affine returns alpha*x + beta.
	Affine(x *Tensor, alpha, beta float32) *Tensor
	// AxpyInPlace does y += alpha*x (same shapes): gradient accumulation.
	AxpyInPlace(y *Tensor, alpha float32, x *Tensor)
	Fill(t *Tensor, v float32)
	// Where returns cond != 0 ? a : b elementwise (all same shape).
	Where(cond, a, b *Tensor) *Tensor

	// ---- reductions and softmax ----
	// Sum over the given axes (kept as size 1 when keepDims).
	Sum(x *Tensor, axes []int, keepDims bool) *Tensor
	// SumTo reduces a broadcast gradient back to shape (backward of Binary).
	SumTo(x *Tensor, shape []int) *Tensor
	Max(x *Tensor, axis int) (values, indices *Tensor)
	Softmax(x *Tensor) *Tensor    // over the last axis
	LogSoftmax(x *Tensor) *Tensor // over the last axis

	// ---- shape and indexing ----
	Permute(x *Tensor, perm ...int) *Tensor
	Concat(axis int, xs ...*Tensor) *Tensor
	Slice(x *Tensor, axis, start, end int) *Tensor
	// SliceBackward embeds dy into zeros of shape along axis at start.
	SliceBackward(dy *Tensor, shape []int, axis, start int) *Tensor
	// Gather selects rows: out[i,...] = x[idx[i],...] (idx I64, 1-D).
	Gather(x, idx *Tensor) *Tensor
	// ScatterAdd returns zeros(shape) with out[idx[i],...] += src[i,...].
	ScatterAdd(src, idx *Tensor, rows int) *Tensor

	// ---- dense linear algebra ----
	// MatMul returns op(a)·op(b) for 2-D a, b; op transposes when the flag is set.
	MatMul(a, b *Tensor, transA, transB bool) *Tensor

	// ---- activations with their own parameters (YOLO and SPP necks) ----
	// SiLU is x·σ(x) (F.silu); SiLUBackward returns dy·σ(x)·(1 + x·(1 − σ(x))).
	SiLU(x *Tensor) *Tensor
	SiLUBackward(x, dy *Tensor) *Tensor
	// LeakyReLU is x > 0 ? x : slope·x (F.leaky_relu); the backward passes dy
	// where x > 0 and slope·dy elsewhere (x = 0 included, as PyTorch).
	LeakyReLU(x *Tensor, slope float32) *Tensor
	LeakyReLUBackward(x, dy *Tensor, slope float32) *Tensor

	// ---- convolution and pooling ----
	Conv2d(x, w, b *Tensor, p Conv2dParams) *Tensor // b may be nil
	// Conv2dBackward returns dx (nil unless needDx), dw and db (nil if hasBias false).
	Conv2dBackward(x, w, dy *Tensor, p Conv2dParams, needDx, hasBias bool) (dx, dw, db *Tensor)
	MaxPool2d(x *Tensor, p PoolParams) (y, argmax *Tensor) // argmax I64, flat h*w index in the input plane
	MaxPool2dBackward(dy, argmax *Tensor, xShape []int) *Tensor
	// AdaptiveMaxPool2d is F.adaptive_max_pool2d to outH×outW: output row i
	// takes input rows floor(i·H/outH) … ceil((i+1)·H/outH)−1 (columns
	// likewise), SPP-net's bins. argmax is as MaxPool2d's, so
	// MaxPool2dBackward is its backward.
	AdaptiveMaxPool2d(x *Tensor, outH, outW int) (y, argmax *Tensor)
	// ChannelAffine returns x*scale[c] + shift[c] (frozen BN); shift may be nil.
	ChannelAffine(x, scale, shift *Tensor) *Tensor
	// ResizeBilinear resizes [N,C,H,W] to [N,C,outH,outW] (align_corners=false, no antialias).
	ResizeBilinear(x *Tensor, outH, outW int) *Tensor

	// ---- detection ops ----
	// RoIAlign: x [N,C,H,W], rois [R,5] (batch index, x1,y1,x2,y2) → [R,C,OutH,OutW].
	RoIAlign(x, rois *Tensor, p RoIAlignParams) *Tensor
	RoIAlignBackward(dy, rois *Tensor, xShape []int, p RoIAlignParams) *Tensor
	// RoIPool is torchvision.ops.roi_pool (Fast R-CNN's RoI max pooling): x
	// [N,C,H,W], rois [R,5] → y [R,C,OutH,OutW] and argmax (I64, the flat
	// h*W+w index of each maximum in its RoI's input plane, −1 for an empty
	// bin, whose output is 0).
	RoIPool(x, rois *Tensor, p RoIPoolParams) (y, argmax *Tensor)
	// RoIPoolBackward adds dy into zeros of xShape at the argmax positions of
	// each RoI's image (the batch index in rois' first column).
	RoIPoolBackward(dy, argmax, rois *Tensor, xShape []int) *Tensor
	// ChannelAttention: y = x ⊙ σ(W2·relu(W1·pool(x)+b1)+b2); pool is "max" or "avg".
	ChannelAttention(x, w1, b1, w2, b2 *Tensor, pool string) (y *Tensor, cache *AttentionCache)
	ChannelAttentionBackward(x, w1, w2, dy *Tensor, cache *AttentionCache, pool string) (dx, dw1, db1, dw2, db2 *Tensor)
	// BatchedNMS keeps boxes [M,4] by decreasing score, suppressing a box whose
	// IoU with a kept box of the same class exceeds iou. classes is I64.
	BatchedNMS(boxes, scores, classes *Tensor, iou float32) *Tensor
	// BoxIoU returns [N,M] IoUs of boxes a [N,4] and b [M,4].
	BoxIoU(a, b *Tensor) *Tensor
	// BoxEncode returns deltas (dx,dy,dw,dh)·weights of gt relative to ref (both [N,4]).
	BoxEncode(ref, gt *Tensor, weights [4]float32) *Tensor
	// BoxDecode applies deltas [N,4k] to ref [N,4]; dw/dh clamped at log(1000/16).
	BoxDecode(ref, deltas *Tensor, weights [4]float32) *Tensor
	// ClipBoxes clamps boxes [N,4] to [0,w]×[0,h].
	ClipBoxes(boxes *Tensor, h, w float32) *Tensor
	// Anchors returns [H*W*A,4] anchors for a feature map of h×w at stride,
	// ordered (y, x, anchor) with anchors ordered (size, ratio) as detectron2.
	Anchors(h, w int, stride float32, sizes, ratios []float32) *Tensor
	// TopK returns the k largest values of 1-D x and their indices (I64),
	// ties broken by lower index.
	TopK(x *Tensor, k int) (values, indices *Tensor)

	// ---- losses (scalar outputs are shape [] tensors) ----
	CrossEntropy(logits, target *Tensor) *Tensor // mean over rows; target I64
	CrossEntropyBackward(logits, target, dloss *Tensor) *Tensor
	SmoothL1(x, target *Tensor, beta float32, r Reduction) *Tensor
	SmoothL1Backward(x, target, dloss *Tensor, beta float32, r Reduction) *Tensor
	BCEWithLogits(x, target *Tensor, r Reduction) *Tensor
	BCEWithLogitsBackward(x, target, dloss *Tensor, r Reduction) *Tensor
	// RCLoss = mean over rows of KL(p_a‖p_b) + KL(p_b‖p_a) for logits a, b [N,K].
	RCLoss(a, b *Tensor) *Tensor
	RCLossBackward(a, b, dloss *Tensor) (da, db *Tensor)
	// YOLOv1Loss is the YOLOv1 paper's sum-squared loss divided by N (GOLDEN.md's
	// yolov1_loss): pred [N,S,S,5B+C], obj [N,S,S] F32 (nonzero where a target
	// centre falls), box [N,S,S,4] (tx,ty,tw,th), cls [N,S,S] I64 (read in obj
	// cells only). The responsible predictor of an obj cell has the largest
	// IoU with the target (lowest index on ties); its IoU is a constant target.
	YOLOv1Loss(pred, obj, box, cls *Tensor, p YOLOv1LossParams) *Tensor
	// YOLOv1LossBackward returns dL/dpred scaled by the scalar dloss.
	YOLOv1LossBackward(pred, obj, box, cls, dloss *Tensor, p YOLOv1LossParams) *Tensor

	// ---- randomness and dropout ----
	// DropoutMask returns a {0,1} F32 mask of n elements, keep probability 1-p,
	// from Philox4x32-10 keyed by seed at counter offset (engine/rng defines the stream).
	DropoutMask(n int, p float32, seed, offset uint64) *Tensor
	// Dropout returns x*mask/(1-p); it is also its own backward with dy for x.
	Dropout(x, mask *Tensor, p float32) *Tensor

	// ---- optimiser ----
	// SGDStep: buf = momentum*buf + (grad + wd*param); param -= lr*buf (PyTorch's SGD, dampening 0).
	SGDStep(param, grad, buf *Tensor, lr, momentum, weightDecay float32)
}

// BroadcastShape is numpy's broadcast of shapes a and b, shared by every
// backend so they agree on it; it panics naming op when they do not broadcast.
func BroadcastShape(op string, a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			panic(fmt.Sprintf("%s cannot broadcast %v with %v", op, a, b))
		}
	}
	return out
}

// SplitAxis normalises axis (negative counts from the end) and returns the
// element counts before it, along it and after it; it panics naming op
// when the axis is out of range.
func SplitAxis(op string, shape []int, axis int) (outer, n, inner, ax int) {
	ax = axis
	if ax < 0 {
		ax += len(shape)
	}
	if ax < 0 || ax >= len(shape) {
		panic(fmt.Sprintf("%s axis %d out of range for %v", op, axis, shape))
	}
	return Numel(shape[:ax]), shape[ax], Numel(shape[ax+1:]), ax
}

// ConcatShape checks that xs can be concatenated along axis (same rank,
// dtype and sizes off the axis) and returns the normalised axis and the
// output shape; it panics naming op otherwise.
func ConcatShape(op string, axis int, xs []*Tensor) (int, []int) {
	if len(xs) == 0 {
		panic(op + " of no tensors")
	}
	_, _, _, ax := SplitAxis(op, xs[0].Shape, axis)
	shape := append([]int(nil), xs[0].Shape...)
	shape[ax] = 0
	for _, x := range xs {
		if len(x.Shape) != len(shape) || x.DType != xs[0].DType {
			panic(fmt.Sprintf("%s of %v with %v", op, xs[0], x))
		}
		for d := range shape {
			if d != ax && x.Shape[d] != shape[d] {
				panic(fmt.Sprintf("%s along %d of %v with %v", op, ax, xs[0].Shape, x.Shape))
			}
		}
		shape[ax] += x.Shape[ax]
	}
	return ax, shape
}
