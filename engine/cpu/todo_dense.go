// Stubs for the ops not written yet (dense ops). Each is replaced by a real
// implementation in its own file; this file is deleted when empty.
package cpu

import "github.com/fsodgpu/fsodgpu/engine/backend"

func (c *CPU) Binary(op backend.BinaryOp, a, b *backend.Tensor) *backend.Tensor {
	panic("cpu: Binary not implemented")
}
func (c *CPU) Unary(op backend.UnaryOp, x *backend.Tensor) *backend.Tensor {
	panic("cpu: Unary not implemented")
}
func (c *CPU) UnaryBackward(op backend.UnaryOp, x, y, dy *backend.Tensor) *backend.Tensor {
	panic("cpu: UnaryBackward not implemented")
}
func (c *CPU) Affine(x *backend.Tensor, alpha, beta float32) *backend.Tensor {
	panic("cpu: Affine not implemented")
}
func (c *CPU) AxpyInPlace(y *backend.Tensor, alpha float32, x *backend.Tensor) {
	panic("cpu: AxpyInPlace not implemented")
}
func (c *CPU) Fill(t *backend.Tensor, v float32)                { panic("cpu: Fill not implemented") }
func (c *CPU) Where(cond, a, b *backend.Tensor) *backend.Tensor { panic("cpu: Where not implemented") }
func (c *CPU) Sum(x *backend.Tensor, axes []int, keepDims bool) *backend.Tensor {
	panic("cpu: Sum not implemented")
}
func (c *CPU) SumTo(x *backend.Tensor, shape []int) *backend.Tensor {
	panic("cpu: SumTo not implemented")
}
func (c *CPU) Max(x *backend.Tensor, axis int) (values, indices *backend.Tensor) {
	panic("cpu: Max not implemented")
}
func (c *CPU) Softmax(x *backend.Tensor) *backend.Tensor    { panic("cpu: Softmax not implemented") }
func (c *CPU) LogSoftmax(x *backend.Tensor) *backend.Tensor { panic("cpu: LogSoftmax not implemented") }
func (c *CPU) Permute(x *backend.Tensor, perm ...int) *backend.Tensor {
	panic("cpu: Permute not implemented")
}
func (c *CPU) Concat(axis int, xs ...*backend.Tensor) *backend.Tensor {
	panic("cpu: Concat not implemented")
}
func (c *CPU) Slice(x *backend.Tensor, axis, start, end int) *backend.Tensor {
	panic("cpu: Slice not implemented")
}
func (c *CPU) SliceBackward(dy *backend.Tensor, shape []int, axis, start int) *backend.Tensor {
	panic("cpu: SliceBackward not implemented")
}
func (c *CPU) Gather(x, idx *backend.Tensor) *backend.Tensor { panic("cpu: Gather not implemented") }
func (c *CPU) ScatterAdd(src, idx *backend.Tensor, rows int) *backend.Tensor {
	panic("cpu: ScatterAdd not implemented")
}
func (c *CPU) MatMul(a, b *backend.Tensor, transA, transB bool) *backend.Tensor {
	panic("cpu: MatMul not implemented")
}
func (c *CPU) Conv2d(x, w, b *backend.Tensor, p backend.Conv2dParams) *backend.Tensor {
	panic("cpu: Conv2d not implemented")
}
func (c *CPU) Conv2dBackward(x, w, dy *backend.Tensor, p backend.Conv2dParams, needDx, hasBias bool) (dx, dw, db *backend.Tensor) {
	panic("cpu: Conv2dBackward not implemented")
}
func (c *CPU) MaxPool2d(x *backend.Tensor, p backend.PoolParams) (y, argmax *backend.Tensor) {
	panic("cpu: MaxPool2d not implemented")
}
func (c *CPU) MaxPool2dBackward(dy, argmax *backend.Tensor, xShape []int) *backend.Tensor {
	panic("cpu: MaxPool2dBackward not implemented")
}
func (c *CPU) ChannelAffine(x, scale, shift *backend.Tensor) *backend.Tensor {
	panic("cpu: ChannelAffine not implemented")
}
func (c *CPU) ResizeBilinear(x *backend.Tensor, outH, outW int) *backend.Tensor {
	panic("cpu: ResizeBilinear not implemented")
}
func (c *CPU) SGDStep(param, grad, buf *backend.Tensor, lr, momentum, weightDecay float32) {
	panic("cpu: SGDStep not implemented")
}
