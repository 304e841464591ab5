//go:build cuda

// Temporary stubs for the detection ops so the cuda build compiles while
// their kernels are written. Owned by the detection-kernels engineer from the
// commit that created it: delete each stub as its method lands in
// cuda/ops_detect.go, and delete this file when it is empty.
package cuda

import "github.com/fsodgpu/fsodgpu/engine/backend"

func (be *Backend) RoIAlign(x, rois *backend.Tensor, p backend.RoIAlignParams) *backend.Tensor {
	panic("cuda: RoIAlign not implemented")
}
func (be *Backend) RoIAlignBackward(dy, rois *backend.Tensor, xShape []int, p backend.RoIAlignParams) *backend.Tensor {
	panic("cuda: RoIAlignBackward not implemented")
}
func (be *Backend) ChannelAttention(x, w1, b1, w2, b2 *backend.Tensor, pool string) (y *backend.Tensor, cache *backend.AttentionCache) {
	panic("cuda: ChannelAttention not implemented")
}
func (be *Backend) ChannelAttentionBackward(x, w1, w2, dy *backend.Tensor, cache *backend.AttentionCache, pool string) (dx, dw1, db1, dw2, db2 *backend.Tensor) {
	panic("cuda: ChannelAttentionBackward not implemented")
}
func (be *Backend) BatchedNMS(boxes, scores, classes *backend.Tensor, iou float32) *backend.Tensor {
	panic("cuda: BatchedNMS not implemented")
}
func (be *Backend) BoxIoU(a, b *backend.Tensor) *backend.Tensor {
	panic("cuda: BoxIoU not implemented")
}
func (be *Backend) BoxEncode(ref, gt *backend.Tensor, weights [4]float32) *backend.Tensor {
	panic("cuda: BoxEncode not implemented")
}
func (be *Backend) BoxDecode(ref, deltas *backend.Tensor, weights [4]float32) *backend.Tensor {
	panic("cuda: BoxDecode not implemented")
}
func (be *Backend) ClipBoxes(boxes *backend.Tensor, h, w float32) *backend.Tensor {
	panic("cuda: ClipBoxes not implemented")
}
func (be *Backend) Anchors(h, w int, stride float32, sizes, ratios []float32) *backend.Tensor {
	panic("cuda: Anchors not implemented")
}
func (be *Backend) TopK(x *backend.Tensor, k int) (values, indices *backend.Tensor) {
	panic("cuda: TopK not implemented")
}
func (be *Backend) CrossEntropy(logits, target *backend.Tensor) *backend.Tensor {
	panic("cuda: CrossEntropy not implemented")
}
func (be *Backend) CrossEntropyBackward(logits, target, dloss *backend.Tensor) *backend.Tensor {
	panic("cuda: CrossEntropyBackward not implemented")
}
func (be *Backend) SmoothL1(x, target *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	panic("cuda: SmoothL1 not implemented")
}
func (be *Backend) SmoothL1Backward(x, target, dloss *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	panic("cuda: SmoothL1Backward not implemented")
}
func (be *Backend) BCEWithLogits(x, target *backend.Tensor, r backend.Reduction) *backend.Tensor {
	panic("cuda: BCEWithLogits not implemented")
}
func (be *Backend) BCEWithLogitsBackward(x, target, dloss *backend.Tensor, r backend.Reduction) *backend.Tensor {
	panic("cuda: BCEWithLogitsBackward not implemented")
}
func (be *Backend) RCLoss(a, b *backend.Tensor) *backend.Tensor {
	panic("cuda: RCLoss not implemented")
}
func (be *Backend) RCLossBackward(a, b, dloss *backend.Tensor) (da, db *backend.Tensor) {
	panic("cuda: RCLossBackward not implemented")
}
func (be *Backend) DropoutMask(n int, p float32, seed, offset uint64) *backend.Tensor {
	panic("cuda: DropoutMask not implemented")
}
func (be *Backend) Dropout(x, mask *backend.Tensor, p float32) *backend.Tensor {
	panic("cuda: Dropout not implemented")
}
