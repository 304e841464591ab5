//go:build cuda

// Temporary stubs for the dense ops not written yet; each is deleted as its
// kernel family lands, and this file with the last one.
package cuda

import "github.com/fsodgpu/fsodgpu/engine/backend"

func (be *Backend) MaxPool2d(x *backend.Tensor, p backend.PoolParams) (y, argmax *backend.Tensor) {
	panic("cuda: MaxPool2d not implemented")
}
func (be *Backend) MaxPool2dBackward(dy, argmax *backend.Tensor, xShape []int) *backend.Tensor {
	panic("cuda: MaxPool2dBackward not implemented")
}
func (be *Backend) ResizeBilinear(x *backend.Tensor, outH, outW int) *backend.Tensor {
	panic("cuda: ResizeBilinear not implemented")
}
