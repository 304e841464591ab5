//go:build cuda

// Temporary stubs for the dense ops not written yet; each is deleted as its
// kernel family lands, and this file with the last one.
package cuda

import "github.com/fsodgpu/fsodgpu/engine/backend"

func (be *Backend) Binary(op backend.BinaryOp, a, b *backend.Tensor) *backend.Tensor {
	panic("cuda: Binary not implemented")
}
func (be *Backend) Unary(op backend.UnaryOp, x *backend.Tensor) *backend.Tensor {
	panic("cuda: Unary not implemented")
}
func (be *Backend) UnaryBackward(op backend.UnaryOp, x, y, dy *backend.Tensor) *backend.Tensor {
	panic("cuda: UnaryBackward not implemented")
}
func (be *Backend) Affine(x *backend.Tensor, alpha, beta float32) *backend.Tensor {
	panic("cuda: Affine not implemented")
}
func (be *Backend) AxpyInPlace(y *backend.Tensor, alpha float32, x *backend.Tensor) {
	panic("cuda: AxpyInPlace not implemented")
}
func (be *Backend) Fill(t *backend.Tensor, v float32) {
	panic("cuda: Fill not implemented")
}
func (be *Backend) Where(cond, a, b *backend.Tensor) *backend.Tensor {
	panic("cuda: Where not implemented")
}
func (be *Backend) Sum(x *backend.Tensor, axes []int, keepDims bool) *backend.Tensor {
	panic("cuda: Sum not implemented")
}
func (be *Backend) SumTo(x *backend.Tensor, shape []int) *backend.Tensor {
	panic("cuda: SumTo not implemented")
}
func (be *Backend) Max(x *backend.Tensor, axis int) (values, indices *backend.Tensor) {
	panic("cuda: Max not implemented")
}
func (be *Backend) Softmax(x *backend.Tensor) *backend.Tensor {
	panic("cuda: Softmax not implemented")
}
func (be *Backend) LogSoftmax(x *backend.Tensor) *backend.Tensor {
	panic("cuda: LogSoftmax not implemented")
}
func (be *Backend) Permute(x *backend.Tensor, perm ...int) *backend.Tensor {
	panic("cuda: Permute not implemented")
}
func (be *Backend) Concat(axis int, xs ...*backend.Tensor) *backend.Tensor {
	panic("cuda: Concat not implemented")
}
func (be *Backend) Slice(x *backend.Tensor, axis, start, end int) *backend.Tensor {
	panic("cuda: Slice not implemented")
}
func (be *Backend) SliceBackward(dy *backend.Tensor, shape []int, axis, start int) *backend.Tensor {
	panic("cuda: SliceBackward not implemented")
}
func (be *Backend) Gather(x, idx *backend.Tensor) *backend.Tensor {
	panic("cuda: Gather not implemented")
}
func (be *Backend) ScatterAdd(src, idx *backend.Tensor, rows int) *backend.Tensor {
	panic("cuda: ScatterAdd not implemented")
}
func (be *Backend) MatMul(a, b *backend.Tensor, transA, transB bool) *backend.Tensor {
	panic("cuda: MatMul not implemented")
}
func (be *Backend) Conv2d(x, w, b *backend.Tensor, p backend.Conv2dParams) *backend.Tensor {
	panic("cuda: Conv2d not implemented")
}
func (be *Backend) Conv2dBackward(x, w, dy *backend.Tensor, p backend.Conv2dParams, needDx, hasBias bool) (dx, dw, db *backend.Tensor) {
	panic("cuda: Conv2dBackward not implemented")
}
func (be *Backend) MaxPool2d(x *backend.Tensor, p backend.PoolParams) (y, argmax *backend.Tensor) {
	panic("cuda: MaxPool2d not implemented")
}
func (be *Backend) MaxPool2dBackward(dy, argmax *backend.Tensor, xShape []int) *backend.Tensor {
	panic("cuda: MaxPool2dBackward not implemented")
}
func (be *Backend) ChannelAffine(x, scale, shift *backend.Tensor) *backend.Tensor {
	panic("cuda: ChannelAffine not implemented")
}
func (be *Backend) ResizeBilinear(x *backend.Tensor, outH, outW int) *backend.Tensor {
	panic("cuda: ResizeBilinear not implemented")
}
func (be *Backend) SGDStep(param, grad, buf *backend.Tensor, lr, momentum, weightDecay float32) {
	panic("cuda: SGDStep not implemented")
}
