//go:build cuda

package cuda

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Launchers for the detection kernels (kernels/roi_align.cu, nms.cu,
// channel_attention.cu, rc_loss.cu, losses.cu, boxes.cu, rng.cu). Each
// checks shapes and dtypes the way engine/cpu does (programmer errors panic
// naming the op and the shapes) and queues its kernels; semantics are the
// CPU backend's, documented at the top of each .cu file.
//
// Scratch buffers of doubles (loss partial sums) are allocated as I64
// tensors: both are 8 bytes per element and the kernels only see pointers.

const (
	// warpRowThreads is the block size of the one-warp-per-row kernels
	// (losses, RC loss): eight rows per block.
	warpRowThreads = 256
	// lossBlocks caps the grid of the elementwise loss reduction. The grid is
	// a function of the element count only, so the partial sums, and the
	// loss, are the same on every run.
	lossBlocks = 1024
	// attentionSamples is CA_SAMPLES in channel_attention.cu.
	attentionSamples = 8
	// roiAlignBlocks is the grid size the RoI-Align backward aims for (a
	// few waves of blocks on the largest GPUs), roiAlignMaxChannels the most
	// channels one of its blocks handles per RoI.
	roiAlignBlocks      = 2048
	roiAlignMaxChannels = 16
	// maxDynamicShared is the dynamic shared memory a launch may use without
	// the opt-in attribute (48 KiB), less room for the kernel's static
	// shared arrays.
	maxDynamicShared = 46 << 10
	// sortBlock is SORT_BLOCK in nms.cu: elements sorted per block in
	// shared memory.
	sortBlock = 2048
)

// noTensor is a null device pointer argument: launch takes a typed nil
// tensor as 0, an untyped nil not at all.
var noTensor *backend.Tensor

// boxScaleClamp bounds dw, dh in BoxDecode (detectron2's log(1000/16)),
// the same float32 the CPU backend uses.
var boxScaleClamp = float32(math.Log(1000.0 / 16))

func detectBoxes(op string, b *backend.Tensor) int {
	if b.DType != backend.F32 || len(b.Shape) != 2 || b.Shape[1] != 4 {
		panic(fmt.Sprintf("cuda: %s: boxes %s%v, want F32 [M,4]", op, b.DType, b.Shape))
	}
	return b.Shape[0]
}

func detectRoIs(op string, rois *backend.Tensor, p backend.RoIAlignParams) int {
	if rois.DType != backend.F32 || len(rois.Shape) != 2 || rois.Shape[1] != 5 {
		panic(fmt.Sprintf("cuda: %s: rois %s%v, want F32 [R,5]", op, rois.DType, rois.Shape))
	}
	if p.OutH <= 0 || p.OutW <= 0 {
		panic(fmt.Sprintf("cuda: %s: output size %dx%d", op, p.OutH, p.OutW))
	}
	return rois.Shape[0]
}

// warpRowGrid is the launch shape for a kernel with one warp per row.
func warpRowGrid(rows int) (grid, block [3]int) {
	return [3]int{max(1, min(ceilDiv(rows, warpRowThreads/32), maxGrid1D)), 1, 1}, [3]int{warpRowThreads, 1, 1}
}

// meanScale is 1/n, or 0 for n = 0 (a mean over nothing is 0, as engine/cpu).
func meanScale(n int) float64 {
	if n == 0 {
		return 0
	}
	return 1 / float64(n)
}

// finalizeLoss writes float(scale·Σ partial[0..np)) into a new scalar.
func (be *Backend) finalizeLoss(partial *backend.Tensor, np int, scale float64) *backend.Tensor {
	out := be.empty(backend.F32)
	be.launch("loss_finalize_kernel", [3]int{1, 1, 1}, [3]int{256, 1, 1}, 0, out, partial, np, scale)
	return out
}

func detectScalar(op string, t *backend.Tensor) {
	if t.DType != backend.F32 || t.Numel() != 1 {
		panic(fmt.Sprintf("cuda: %s: dloss %s%v, want an F32 scalar", op, t.DType, t.Shape))
	}
}

// ---- RoI-Align ----

// RoIAlign pools x [N,C,H,W] over rois [R,5] into [R,C,OutH,OutW], one
// thread per output element. Under a BF16 conv policy the output is BF16
// storage, gathered from a BF16 copy of x (bf16.go); x may then already be
// BF16 storage.
func (be *Backend) RoIAlign(x, rois *backend.Tensor, p backend.RoIAlignParams) *backend.Tensor {
	if !(x.DType == backend.BFloat16 && be.bf16Storage()) {
		mustF32("RoIAlign", x)
	}
	if len(x.Shape) != 4 {
		panic(fmt.Sprintf("cuda: RoIAlign: x %v, want [N,C,H,W]", x.Shape))
	}
	nr := detectRoIs("RoIAlign", rois, p)
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	kernel, dt := "roi_align_forward_kernel", backend.F32
	if be.bf16Storage() {
		kernel, dt = "roi_align_forward_bfloat16_kernel", backend.BFloat16
		if x.DType == backend.F32 {
			x = be.ToBF16(x)
			// Stream order: the cast, the gather, then any reuse of the block.
			defer be.Free(x)
		}
	}
	out := be.empty(dt, nr, c, p.OutH, p.OutW)
	if h == 0 || w == 0 {
		be.memsetZero(out)
		return out
	}
	be.launch1D(kernel, out.Numel(), out, x, rois, nr, n, c, h, w, p.OutH, p.OutW,
		p.SpatialScale, p.SamplingRatio, p.Aligned)
	return out
}

// RoIAlignBackward scatters dy [R,C,OutH,OutW] onto zeros of xShape: per-RoI
// separable sample tables, then one block per (image, channel group) adds
// the patches of the image's RoIs in RoI order, with no atomics, so dx is
// bitwise deterministic (see roi_align.cu). Feature maps too large for the
// tables in shared memory take torchvision's per-sample atomic kernel
// instead, which is not.
func (be *Backend) RoIAlignBackward(dy, rois *backend.Tensor, xShape []int, p backend.RoIAlignParams) *backend.Tensor {
	mustF32("RoIAlignBackward", dy)
	if len(xShape) != 4 {
		panic(fmt.Sprintf("cuda: RoIAlignBackward: xShape %v, want [N,C,H,W]", xShape))
	}
	nr := detectRoIs("RoIAlignBackward", rois, p)
	n, c, h, w := xShape[0], xShape[1], xShape[2], xShape[3]
	if !backend.SameShape(dy.Shape, []int{nr, c, p.OutH, p.OutW}) {
		panic(fmt.Sprintf("cuda: RoIAlignBackward: dy %v, want [%d,%d,%d,%d]", dy.Shape, nr, c, p.OutH, p.OutW))
	}
	dx := be.Zeros(backend.F32, xShape...)
	if nr == 0 || n == 0 || c == 0 || h == 0 || w == 0 {
		return dx
	}
	shmem := 4 * (p.OutH*h + p.OutW*w + p.OutH*p.OutW + p.OutH*w)
	if shmem > maxDynamicShared {
		be.launch1D("roi_align_backward_atomic_kernel", dy.Numel(), dx, dy, rois, nr, n, c, h, w, p.OutH, p.OutW,
			p.SpatialScale, p.SamplingRatio, p.Aligned)
		return dx
	}
	wy := be.empty(backend.F32, nr, p.OutH, h)
	wx := be.empty(backend.F32, nr, p.OutW, w)
	meta := be.empty(backend.I64, nr, 5)
	defer be.Free(wy)
	defer be.Free(wx)
	defer be.Free(meta)
	be.launch1D("roi_align_backward_tables_kernel", 2*nr, wy, wx, meta, rois, nr, h, w, p.OutH, p.OutW,
		p.SpatialScale, p.SamplingRatio, p.Aligned)
	chunk := roiAlignChannelChunk(n, c)
	be.launch("roi_align_backward_kernel", [3]int{n, ceilDiv(c, chunk), 1}, [3]int{256, 1, 1}, shmem,
		dx, dy, rois, wy, wx, meta, nr, c, h, w, p.OutH, p.OutW, chunk)
	return dx
}

// roiAlignChannelChunk is how many channels one backward block handles: as
// many as keep at least roiAlignBlocks blocks in the grid (a block walks its
// image's RoIs in order, so parallelism comes from images × channel groups),
// at most roiAlignMaxChannels to reuse each RoI's tables.
func roiAlignChannelChunk(n, c int) int {
	return max(1, min(roiAlignMaxChannels, n*c/roiAlignBlocks))
}

// ---- channel attention ----

func attentionShapes(op string, x, w1, w2 *backend.Tensor, pool string) (n, c, hw, cr int, isMax bool) {
	mustF32(op, x, w1, w2)
	if len(x.Shape) != 4 || len(w1.Shape) != 2 || len(w2.Shape) != 2 ||
		w1.Shape[1] != x.Shape[1] || w2.Shape[0] != x.Shape[1] || w2.Shape[1] != w1.Shape[0] {
		panic(fmt.Sprintf("cuda: %s: x %v, w1 %v, w2 %v; want [N,C,H,W], [C/r,C], [C,C/r]", op, x.Shape, w1.Shape, w2.Shape))
	}
	switch pool {
	case "max":
		isMax = true
	case "avg":
	default:
		panic(fmt.Sprintf("cuda: %s: pool %q, want \"max\" or \"avg\"", op, pool))
	}
	n, c, hw, cr = x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3], w1.Shape[0]
	if hw == 0 {
		panic(fmt.Sprintf("cuda: %s: empty spatial plane in x %v", op, x.Shape))
	}
	return n, c, hw, cr, isMax
}

func attentionBias(op string, b *backend.Tensor, n int) {
	if b != nil && (b.DType != backend.F32 || b.Numel() != n) {
		panic(fmt.Sprintf("cuda: %s: bias %s%v, want F32 [%d]", op, b.DType, b.Shape, n))
	}
}

// ChannelAttention runs MFE's adapter in one fused launch, eight samples per
// block; b1 and b2 may be nil.
func (be *Backend) ChannelAttention(x, w1, b1, w2, b2 *backend.Tensor, pool string) (*backend.Tensor, *backend.AttentionCache) {
	n, c, hw, cr, isMax := attentionShapes("ChannelAttention", x, w1, w2, pool)
	attentionBias("ChannelAttention", b1, cr)
	attentionBias("ChannelAttention", b2, c)
	cache := &backend.AttentionCache{
		Pooled: be.empty(backend.F32, n, c),
		Hidden: be.empty(backend.F32, n, cr),
		Gate:   be.empty(backend.F32, n, c),
	}
	if isMax {
		cache.ArgMax = be.empty(backend.I64, n, c)
	}
	y := be.empty(backend.F32, x.Shape...)
	be.launch("channel_attention_forward_kernel", [3]int{ceilDiv(n, attentionSamples), 1, 1}, [3]int{256, 1, 1}, 0,
		y, cache.Pooled, cache.ArgMax, cache.Hidden, cache.Gate, x, w1, b1, w2, b2, n, c, hw, cr, isMax)
	return y, cache
}

// ChannelAttentionBackward returns dx, dW1, db1, dW2, db2; the weight
// gradients are reduced over the batch in a fixed order (deterministic).
func (be *Backend) ChannelAttentionBackward(x, w1, w2, dy *backend.Tensor, cache *backend.AttentionCache, pool string) (dx, dw1, db1, dw2, db2 *backend.Tensor) {
	n, c, hw, cr, isMax := attentionShapes("ChannelAttentionBackward", x, w1, w2, pool)
	mustF32("ChannelAttentionBackward", dy)
	mustSameShape("ChannelAttentionBackward", dy, x)
	if cache == nil || cache.Pooled == nil || cache.Hidden == nil || cache.Gate == nil || (isMax && cache.ArgMax == nil) {
		panic(fmt.Sprintf("cuda: ChannelAttentionBackward: incomplete cache for pool %q", pool))
	}
	dz2 := be.empty(backend.F32, n, c)
	dz1 := be.empty(backend.F32, n, cr)
	dp := be.empty(backend.F32, n, c)
	defer be.Free(dz2)
	defer be.Free(dz1)
	defer be.Free(dp)
	dx = be.empty(backend.F32, x.Shape...)
	be.launch("channel_attention_backward_kernel", [3]int{ceilDiv(n, attentionSamples), 1, 1}, [3]int{256, 1, 1}, 0,
		dx, dz2, dz1, dp, x, w1, w2, dy, cache.Hidden, cache.Gate, cache.ArgMax, n, c, hw, cr, isMax)
	dw1, db1 = be.empty(backend.F32, cr, c), be.empty(backend.F32, cr)
	dw2, db2 = be.empty(backend.F32, c, cr), be.empty(backend.F32, c)
	be.attentionWeightGrad(dw2, db2, dz2, cache.Hidden, n, c, cr)
	be.attentionWeightGrad(dw1, db1, dz1, cache.Pooled, n, cr, c)
	return dx, dw1, db1, dw2, db2
}

// attentionWeightGrad computes dw [m,p] = aᵀ·b and db [m] = column sums of
// a, for a [n,m] and b [n,p].
func (be *Backend) attentionWeightGrad(dw, db, a, b *backend.Tensor, n, m, p int) {
	be.launch("channel_attention_wgrad_kernel", [3]int{ceilDiv(p, 16), ceilDiv(m, 16), 1}, [3]int{16, 16, 1}, 0,
		dw, db, a, b, n, m, p)
}

// ---- sorting, NMS, TopK ----

// sortSize is the bitonic network's size for n keys: a power of two ≥ 2.
func sortSize(n int) int {
	p := 2
	for p < n {
		p <<= 1
	}
	return p
}

// sortKeys sorts p (a power of two) (hi, lo) uint64 pairs ascending in
// place; hi may be nil. Chunks of sortBlock sort in shared memory, then each
// larger stage runs its long-distance steps globally and finishes in shared
// memory.
func (be *Backend) sortKeys(hi, lo *backend.Tensor, p int) {
	chunk := min(p, sortBlock)
	be.launch("sort_block_kernel", [3]int{p / chunk, 1, 1}, [3]int{min(chunk/2, 1024), 1, 1}, 0, hi, lo, p)
	for k := 2 * sortBlock; k <= p; k <<= 1 {
		for j := k / 2; j >= sortBlock; j >>= 1 {
			be.launch1D("sort_merge_global_kernel", p/2, hi, lo, p, k, j)
		}
		be.launch("sort_merge_block_kernel", [3]int{p / sortBlock, 1, 1}, [3]int{1024, 1, 1}, 0, hi, lo, p, k)
	}
}

// BatchedNMS runs the whole of greedy batched NMS on the GPU (nms.cu). Two
// small device-to-host reads remain, both bounded: the segment totals (to
// size the bit mask and the tile grid) and the keep count (the output's
// shape).
func (be *Backend) BatchedNMS(boxes, scores, classes *backend.Tensor, iou float32) *backend.Tensor {
	m := detectBoxes("BatchedNMS", boxes)
	if scores.DType != backend.F32 || scores.Numel() != m || classes.Numel() != m || classes.DType != backend.I64 {
		panic(fmt.Sprintf("cuda: BatchedNMS: boxes %v, scores %s%v, classes %s%v; want [M,4], F32 [M], I64 [M]",
			boxes.Shape, scores.DType, scores.Shape, classes.DType, classes.Shape))
	}
	if m == 0 {
		return be.empty(backend.I64, 0)
	}
	if m >= 1<<32-1 {
		panic(fmt.Sprintf("cuda: BatchedNMS: %d boxes; the sort keys hold 32-bit indices", m))
	}
	p := sortSize(m)
	hi, lo := be.empty(backend.I64, p), be.empty(backend.I64, p)
	segStart, segMaskOff, segTileOff := be.empty(backend.I64, m), be.empty(backend.I64, m), be.empty(backend.I64, m+1)
	totals := be.empty(backend.I64, 4)
	sboxes := be.empty(backend.F32, m, 4)
	keepOut, keepFlag := be.empty(backend.I64, m), be.empty(backend.I64, m)
	count := be.Zeros(backend.I64, 1)
	temps := []*backend.Tensor{hi, lo, segStart, segMaskOff, segTileOff, totals, sboxes, keepOut, keepFlag, count}
	defer func() {
		for _, t := range temps {
			be.Free(t)
		}
	}()

	be.launch1D("nms_keys_kernel", p, hi, lo, scores, classes, m, p)
	be.sortKeys(hi, lo, p)
	be.launch("nms_segments_kernel", [3]int{1, 1, 1}, [3]int{1024, 1, 1}, 0, segStart, segMaskOff, segTileOff, totals, hi, m)
	be.launch1D("nms_gather_boxes_kernel", m, sboxes, boxes, lo, m)
	tot := be.ToInt64(totals)
	nseg, tiles, words, maxNb := int(tot[0]), int(tot[1]), int(tot[2]), int(tot[3])
	if tiles > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: BatchedNMS: %d boxes in one class need %d mask tiles, more than one launch holds", m, tiles))
	}
	mask := be.empty(backend.I64, words)
	temps = append(temps, mask)
	be.launch("nms_mask_kernel", [3]int{tiles, 1, 1}, [3]int{64, 1, 1}, 0,
		mask, sboxes, segStart, segMaskOff, segTileOff, nseg, m, iou)
	shmem := 8 * maxNb
	var removed *backend.Tensor
	if shmem > maxDynamicShared {
		removed = be.empty(backend.I64, nseg*maxNb)
		temps = append(temps, removed)
		shmem = 0
	}
	be.launch("nms_walk_kernel", [3]int{nseg, 1, 1}, [3]int{256, 1, 1}, shmem,
		keepOut, keepFlag, count, removed, maxNb, mask, lo, segStart, segMaskOff, nseg, m)
	k := int(be.ToInt64(count)[0])
	keep := be.empty(backend.I64, k)
	if nseg == 1 {
		be.launch1D("nms_copy_kernel", k, keep, keepOut, k)
		return keep
	}
	final := be.empty(backend.I64, p)
	temps = append(temps, final)
	be.launch1D("nms_final_keys_kernel", p, final, lo, keepFlag, m, p)
	be.sortKeys(noTensor, final, p)
	be.launch1D("nms_indices_kernel", k, keep, final, k)
	return keep
}

// TopK returns the k largest values of 1-D x in decreasing order with their
// indices, ties by lower index, NaN first; k is clamped to len(x). It sorts
// all of x with the bitonic network (a 20000-element pre-NMS list is one
// 32768-key sort).
func (be *Backend) TopK(x *backend.Tensor, k int) (values, indices *backend.Tensor) {
	if x.DType != backend.F32 || len(x.Shape) != 1 || k < 0 {
		panic(fmt.Sprintf("cuda: TopK: x %s%v, k %d; want F32 1-D, k ≥ 0", x.DType, x.Shape, k))
	}
	n := x.Numel()
	if n >= 1<<32-1 {
		panic(fmt.Sprintf("cuda: TopK: %d values; the sort keys hold 32-bit indices", n))
	}
	k = min(k, n)
	values, indices = be.empty(backend.F32, k), be.empty(backend.I64, k)
	if k == 0 {
		return values, indices
	}
	p := sortSize(n)
	lo := be.empty(backend.I64, p)
	defer be.Free(lo)
	be.launch1D("topk_keys_kernel", p, lo, x, n, p)
	be.sortKeys(noTensor, lo, p)
	be.launch1D("topk_gather_kernel", k, values, indices, lo, x, k)
	return values, indices
}

// ---- boxes ----

func (be *Backend) BoxIoU(a, b *backend.Tensor) *backend.Tensor {
	n, m := detectBoxes("BoxIoU", a), detectBoxes("BoxIoU", b)
	out := be.empty(backend.F32, n, m)
	be.launch1D("box_iou_forward_kernel", n*m, out, a, b, n, m)
	return out
}

func (be *Backend) BoxEncode(ref, gt *backend.Tensor, weights [4]float32) *backend.Tensor {
	n := detectBoxes("BoxEncode", ref)
	if detectBoxes("BoxEncode", gt) != n {
		panic(fmt.Sprintf("cuda: BoxEncode: ref %v, gt %v", ref.Shape, gt.Shape))
	}
	out := be.empty(backend.F32, n, 4)
	be.launch1D("box_encode_forward_kernel", n, out, ref, gt, n, weights[0], weights[1], weights[2], weights[3])
	return out
}

func (be *Backend) BoxDecode(ref, deltas *backend.Tensor, weights [4]float32) *backend.Tensor {
	n := detectBoxes("BoxDecode", ref)
	if deltas.DType != backend.F32 || len(deltas.Shape) != 2 || deltas.Shape[0] != n || deltas.Shape[1]%4 != 0 {
		panic(fmt.Sprintf("cuda: BoxDecode: ref %v, deltas %v; want [N,4], [N,4k]", ref.Shape, deltas.Shape))
	}
	k := deltas.Shape[1] / 4
	out := be.empty(backend.F32, n, 4*k)
	be.launch1D("box_decode_forward_kernel", n*k, out, ref, deltas, n, k,
		weights[0], weights[1], weights[2], weights[3], boxScaleClamp)
	return out
}

func (be *Backend) ClipBoxes(boxes *backend.Tensor, h, w float32) *backend.Tensor {
	if boxes.DType != backend.F32 || len(boxes.Shape) != 2 || boxes.Shape[1]%4 != 0 {
		panic(fmt.Sprintf("cuda: ClipBoxes: boxes %s%v, want F32 [N,4k]", boxes.DType, boxes.Shape))
	}
	out := be.empty(backend.F32, boxes.Shape...)
	be.launch1D("clip_boxes_forward_kernel", out.Numel(), out, boxes, out.Numel(), h, w)
	return out
}

// Anchors computes the cell anchors on the host in float64 exactly as
// engine/cpu (detectron2 does it in Python), then shifts them on the GPU.
func (be *Backend) Anchors(h, w int, stride float32, sizes, ratios []float32) *backend.Tensor {
	if h < 0 || w < 0 || len(sizes) == 0 || len(ratios) == 0 {
		panic(fmt.Sprintf("cuda: Anchors: map %dx%d, %d sizes, %d ratios", h, w, len(sizes), len(ratios)))
	}
	cell := make([]float32, 0, 4*len(sizes)*len(ratios))
	for _, s := range sizes {
		area := float64(s) * float64(s)
		for _, r := range ratios {
			aw := math.Sqrt(area / float64(r))
			ah := float64(r) * aw
			cell = append(cell, float32(-aw/2), float32(-ah/2), float32(aw/2), float32(ah/2))
		}
	}
	na := len(cell) / 4
	ct := be.FromFloat32(cell, na, 4)
	defer be.Free(ct)
	out := be.empty(backend.F32, h*w*na, 4)
	be.launch1D("anchors_forward_kernel", h*w*na, out, ct, h, w, na, stride)
	return out
}

// ---- losses ----

func detectCE(op string, logits, target *backend.Tensor) (n, k int) {
	if logits.DType != backend.F32 || len(logits.Shape) != 2 || target.DType != backend.I64 ||
		target.Numel() != logits.Shape[0] {
		panic(fmt.Sprintf("cuda: %s: logits %s%v, target %s%v; want F32 [N,K], I64 [N]",
			op, logits.DType, logits.Shape, target.DType, target.Shape))
	}
	return logits.Shape[0], logits.Shape[1]
}

// CrossEntropy is the mean over rows of F.cross_entropy. A target outside
// [0,K) makes the loss NaN (the CPU backend panics; checking here would
// need a device-to-host copy every step).
func (be *Backend) CrossEntropy(logits, target *backend.Tensor) *backend.Tensor {
	n, k := detectCE("CrossEntropy", logits, target)
	rows := be.empty(backend.I64, n) // doubles
	defer be.Free(rows)
	grid, block := warpRowGrid(n)
	if n > 0 {
		be.launch("cross_entropy_forward_kernel", grid, block, 0, rows, logits, target, n, k)
	}
	return be.finalizeLoss(rows, n, meanScale(n))
}

func (be *Backend) CrossEntropyBackward(logits, target, dloss *backend.Tensor) *backend.Tensor {
	n, k := detectCE("CrossEntropyBackward", logits, target)
	detectScalar("CrossEntropyBackward", dloss)
	dx := be.empty(backend.F32, n, k)
	grid, block := warpRowGrid(n)
	if n > 0 {
		be.launch("cross_entropy_backward_kernel", grid, block, 0, dx, logits, target, dloss, n, k)
	}
	return dx
}

const (
	lossSmoothL1 = 0 // kind codes of elementwise_loss_*_kernel
	lossBCE      = 1
)

func detectPair(op string, x, target *backend.Tensor, r backend.Reduction) {
	if x.DType != backend.F32 || target.DType != backend.F32 || !backend.SameShape(x.Shape, target.Shape) {
		panic(fmt.Sprintf("cuda: %s: x %s%v, target %s%v; want equal F32 shapes", op, x.DType, x.Shape, target.DType, target.Shape))
	}
	if r > backend.ReduceNone {
		panic(fmt.Sprintf("cuda: %s: unknown reduction %d", op, r))
	}
}

// elementwiseLoss is the forward of smooth L1 and BCE: per-element values
// for reduction none, else a deterministic two-pass sum.
func (be *Backend) elementwiseLoss(kind int, x, target *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	n := x.Numel()
	if r == backend.ReduceNone {
		out := be.empty(backend.F32, x.Shape...)
		be.launch1D("elementwise_loss_forward_kernel", n, out, noTensor, x, target, n, kind, beta, int(r))
		return out
	}
	blocks := max(1, min(ceilDiv(n, 256), lossBlocks))
	partial := be.Zeros(backend.I64, blocks) // doubles
	defer be.Free(partial)
	if n > 0 {
		be.launch("elementwise_loss_forward_kernel", [3]int{blocks, 1, 1}, [3]int{256, 1, 1}, 0,
			noTensor, partial, x, target, n, kind, beta, int(r))
	}
	scale := 1.0
	if r == backend.ReduceMean {
		scale = meanScale(n)
	}
	return be.finalizeLoss(partial, blocks, scale)
}

func (be *Backend) elementwiseLossBackward(op string, kind int, x, target, dloss *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	if r == backend.ReduceNone {
		if dloss.DType != backend.F32 || !backend.SameShape(dloss.Shape, x.Shape) {
			panic(fmt.Sprintf("cuda: %s: dloss %v with reduction none, want %v", op, dloss.Shape, x.Shape))
		}
	} else {
		detectScalar(op, dloss)
	}
	n := x.Numel()
	dx := be.empty(backend.F32, x.Shape...)
	be.launch1D("elementwise_loss_backward_kernel", n, dx, x, target, dloss, n, kind, beta, int(r))
	return dx
}

func (be *Backend) SmoothL1(x, target *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	detectPair("SmoothL1", x, target, r)
	return be.elementwiseLoss(lossSmoothL1, x, target, beta, r)
}

func (be *Backend) SmoothL1Backward(x, target, dloss *backend.Tensor, beta float32, r backend.Reduction) *backend.Tensor {
	detectPair("SmoothL1Backward", x, target, r)
	return be.elementwiseLossBackward("SmoothL1Backward", lossSmoothL1, x, target, dloss, beta, r)
}

func (be *Backend) BCEWithLogits(x, target *backend.Tensor, r backend.Reduction) *backend.Tensor {
	detectPair("BCEWithLogits", x, target, r)
	return be.elementwiseLoss(lossBCE, x, target, 0, r)
}

func (be *Backend) BCEWithLogitsBackward(x, target, dloss *backend.Tensor, r backend.Reduction) *backend.Tensor {
	detectPair("BCEWithLogitsBackward", x, target, r)
	return be.elementwiseLossBackward("BCEWithLogitsBackward", lossBCE, x, target, dloss, 0, r)
}

func detectRC(op string, a, b *backend.Tensor) (n, k int) {
	if a.DType != backend.F32 || len(a.Shape) != 2 || !backend.SameShape(a.Shape, b.Shape) || b.DType != backend.F32 {
		panic(fmt.Sprintf("cuda: %s: a %s%v, b %s%v; want equal F32 [N,K]", op, a.DType, a.Shape, b.DType, b.Shape))
	}
	return a.Shape[0], a.Shape[1]
}

// RCLoss = mean over rows of KL(p_a‖p_b) + KL(p_b‖p_a); rows in parallel,
// summed in a fixed order.
func (be *Backend) RCLoss(a, b *backend.Tensor) *backend.Tensor {
	n, k := detectRC("RCLoss", a, b)
	rows := be.empty(backend.I64, n) // doubles
	defer be.Free(rows)
	grid, block := warpRowGrid(n)
	if n > 0 {
		be.launch("rc_loss_forward_kernel", grid, block, 0, rows, a, b, n, k)
	}
	return be.finalizeLoss(rows, n, meanScale(n))
}

func (be *Backend) RCLossBackward(a, b, dloss *backend.Tensor) (da, db *backend.Tensor) {
	n, k := detectRC("RCLossBackward", a, b)
	detectScalar("RCLossBackward", dloss)
	da, db = be.empty(backend.F32, n, k), be.empty(backend.F32, n, k)
	grid, block := warpRowGrid(n)
	if n > 0 {
		be.launch("rc_loss_backward_kernel", grid, block, 0, da, db, a, b, dloss, n, k)
	}
	return da, db
}

// ---- randomness and dropout ----

// DropoutMask draws the engine/rng Philox stream on the GPU, one thread per
// four-element Philox block.
func (be *Backend) DropoutMask(n int, p float32, seed, offset uint64) *backend.Tensor {
	if n < 0 || p < 0 || p > 1 || p != p {
		panic(fmt.Sprintf("cuda: DropoutMask: n %d, p %v; want n ≥ 0, p in [0,1]", n, p))
	}
	out := be.empty(backend.F32, n)
	be.launch1D("dropout_mask_forward_kernel", ceilDiv(n, 4), out, n, p, seed, offset)
	return out
}

// Dropout returns x·mask/(1−p) with the CPU backend's rounding (the scale is
// the float32 1/(1−p)); p = 1 gives zeros.
func (be *Backend) Dropout(x, mask *backend.Tensor, p float32) *backend.Tensor {
	if x.DType != backend.F32 || mask.DType != backend.F32 || x.Numel() != mask.Numel() || p < 0 || p > 1 {
		panic(fmt.Sprintf("cuda: Dropout: x %s%v, mask %s%v, p %v", x.DType, x.Shape, mask.DType, mask.Shape, p))
	}
	if p == 1 {
		return be.Zeros(backend.F32, x.Shape...)
	}
	scale := 1 / (1 - p)
	out := be.empty(backend.F32, x.Shape...)
	be.launch1D("dropout_forward_kernel", out.Numel(), out, x, mask, out.Numel(), scale)
	return out
}
