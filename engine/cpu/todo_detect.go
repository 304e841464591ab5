// Stubs for the ops not written yet (detection ops). Each is replaced by a real
// implementation in its own file; this file is deleted when empty.
package cpu

import "github.com/fsodgpu/fsodgpu/engine/backend"

func (c *CPU) RoIAlign(x, rois *backend.Tensor, p backend.RoIAlignParams) *backend.Tensor {
	panic("cpu: RoIAlign not implemented")
}
func (c *CPU) RoIAlignBackward(dy, rois *backend.Tensor, xShape []int, p backend.RoIAlignParams) *backend.Tensor {
	panic("cpu: RoIAlignBackward not implemented")
}
func (c *CPU) ChannelAttention(x, w1, b1, w2, b2 *backend.Tensor, pool string) (y *backend.Tensor, cache *backend.AttentionCache) {
	panic("cpu: ChannelAttention not implemented")
}
func (c *CPU) ChannelAttentionBackward(x, w1, w2, dy *backend.Tensor, cache *backend.AttentionCache, pool string) (dx, dw1, db1, dw2, db2 *backend.Tensor) {
	panic("cpu: ChannelAttentionBackward not implemented")
}
func (c *CPU) BatchedNMS(boxes, scores, classes *backend.Tensor, iou float32) *backend.Tensor {
	panic("cpu: BatchedNMS not implemented")
}
func (c *CPU) BoxIoU(a, b *backend.Tensor) *backend.Tensor { panic("cpu: BoxIoU not implemented") }
func (c *CPU) BoxEncode(ref, gt *backend.Tensor, weights [4]float32) *backend.Tensor {
	panic("cpu: BoxEncode not implemented")
}
func (c *CPU) BoxDecode(ref, deltas *backend.Tensor, weights [4]float32) *backend.Tensor {
	panic("cpu: BoxDecode not implemented")
}
func (c *CPU) ClipBoxes(boxes *backend.Tensor, h, w float32) *backend.Tensor {
	panic("cpu: ClipBoxes not implemented")
}
func (c *CPU) Anchors(h, w int, stride float32, sizes, ratios []float32) *backend.Tensor {
	panic("cpu: Anchors not implemented")
}
func (c *CPU) TopK(x *backend.Tensor, k int) (values, indices *backend.Tensor) {
	panic("cpu: TopK not implemented")
}
func (c *CPU) CrossEntropy(logits, target *backend.Tensor) *backend.Tensor {
	panic("cpu: CrossEntropy not implemented")
}
func (c *CPU) CrossEntropyBackward(logits, target, dloss *backend.Tensor) *backend.Tensor {
	panic("cpu: CrossEntropyBackward not implemented")
}
func (c *CPU) SmoothL1(x, target *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	panic("cpu: SmoothL1 not implemented")
}
func (c *CPU) SmoothL1Backward(x, target, dloss *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	panic("cpu: SmoothL1Backward not implemented")
}
func (c *CPU) BCEWithLogits(x, target *backend.Tensor, r backend.Reduction) *backend.Tensor {
	panic("cpu: BCEWithLogits not implemented")
}
func (c *CPU) BCEWithLogitsBackward(x, target, dloss *backend.Tensor, r backend.Reduction) *backend.Tensor {
	panic("cpu: BCEWithLogitsBackward not implemented")
}
func (c *CPU) RCLoss(a, b *backend.Tensor) *backend.Tensor { panic("cpu: RCLoss not implemented") }
func (c *CPU) RCLossBackward(a, b, dloss *backend.Tensor) (da, db *backend.Tensor) {
	panic("cpu: RCLossBackward not implemented")
}
func (c *CPU) DropoutMask(n int, p float32, seed, offset uint64) *backend.Tensor {
	panic("cpu: DropoutMask not implemented")
}
func (c *CPU) Dropout(x, mask *backend.Tensor, p float32) *backend.Tensor {
	panic("cpu: Dropout not implemented")
}
