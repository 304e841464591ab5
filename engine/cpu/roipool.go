package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// RoI max pooling follows torchvision.ops.roi_pool (roi_pool_kernel.cpp) in
// float32: the box corners are scaled and rounded half away from zero to
// feature cells, the RoI spans end − start + 1 cells (at least 1), and bin
// (ph, pw) takes rows floor(ph·h/OutH) … ceil((ph+1)·h/OutH)−1 of it (the
// same for columns), clipped to the map. A bin left empty by the clipping
// pools to 0 with argmax −1; otherwise the first strictly larger value wins
// from −FLT_MAX, so a NaN never wins (torchvision's comparison).

// roiPoolBin is one bin's input rows [h0,h1) and columns [w0,w1).
type roiPoolBin struct{ h0, h1, w0, w1 int }

// roiPoolBins returns the batch index of roi and its OutH·OutW bins.
func roiPoolBins(roi []float32, h, w int, p backend.RoIPoolParams, bins []roiPoolBin) int {
	round := func(v float32) int { return int(math.Round(float64(v))) }
	sw, sh := round(roi[1]*p.SpatialScale), round(roi[2]*p.SpatialScale)
	ew, eh := round(roi[3]*p.SpatialScale), round(roi[4]*p.SpatialScale)
	rw, rh := max(ew-sw+1, 1), max(eh-sh+1, 1)
	binH, binW := float32(rh)/float32(p.OutH), float32(rw)/float32(p.OutW)
	clip := func(v, lo, n int) int { return min(max(v+lo, 0), n) }
	for ph := range p.OutH {
		h0 := clip(int(math.Floor(float64(float32(ph)*binH))), sh, h)
		h1 := clip(int(math.Ceil(float64(float32(ph+1)*binH))), sh, h)
		for pw := range p.OutW {
			w0 := clip(int(math.Floor(float64(float32(pw)*binW))), sw, w)
			w1 := clip(int(math.Ceil(float64(float32(pw+1)*binW))), sw, w)
			bins[ph*p.OutW+pw] = roiPoolBin{h0, h1, w0, w1}
		}
	}
	return int(roi[0])
}

func checkRoIPool(op string, xShape []int, rois *backend.Tensor, p backend.RoIPoolParams) int {
	if len(xShape) != 4 {
		panic(fmt.Sprintf("cpu: %s: x %v, want [N,C,H,W]", op, xShape))
	}
	if rois.DType != backend.F32 || len(rois.Shape) != 2 || rois.Shape[1] != 5 {
		panic(fmt.Sprintf("cpu: %s: rois %s %v, want F32 [R,5]", op, rois.DType, rois.Shape))
	}
	if p.OutH <= 0 || p.OutW <= 0 {
		panic(fmt.Sprintf("cpu: %s: output size %dx%d", op, p.OutH, p.OutW))
	}
	return rois.Shape[0]
}

// RoIPool pools x [N,C,H,W] over rois [R,5] (batch index, x1,y1,x2,y2) into
// y [R,C,OutH,OutW] and argmax (I64, flat h*W+w in the RoI's input plane,
// −1 for an empty bin). Parallel over RoIs, each worker writing its own.
func (c *CPU) RoIPool(x, rois *backend.Tensor, p backend.RoIPoolParams) (y, argmax *backend.Tensor) {
	nr := checkRoIPool("RoIPool", x.Shape, rois, p)
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	nb := p.OutH * p.OutW
	y, argmax = c.newF32(nr, ch, p.OutH, p.OutW), c.newI64(nr, ch, p.OutH, p.OutW)
	xs, ys, as, rs := F32(x), F32(y), I64(argmax), F32(rois)
	c.parallelFor(nr, max(1, elemGrain/max(1, ch*h*w)), func(lo, hi int) {
		bins := make([]roiPoolBin, nb)
		for r := lo; r < hi; r++ {
			b := roiPoolBins(rs[r*5:r*5+5], h, w, p, bins)
			checkBatchIndex("RoIPool", r, b, n)
			for k := range ch {
				plane := xs[(b*ch+k)*h*w : (b*ch+k+1)*h*w]
				dst, idx := ys[(r*ch+k)*nb:(r*ch+k+1)*nb], as[(r*ch+k)*nb:(r*ch+k+1)*nb]
				for i, bn := range bins {
					if bn.h1 <= bn.h0 || bn.w1 <= bn.w0 {
						dst[i], idx[i] = 0, -1
						continue
					}
					best, bi := float32(-math.MaxFloat32), -1
					for hh := bn.h0; hh < bn.h1; hh++ {
						for ww := bn.w0; ww < bn.w1; ww++ {
							if v := plane[hh*w+ww]; v > best {
								best, bi = v, hh*w+ww
							}
						}
					}
					dst[i], idx[i] = best, int64(bi)
				}
			}
		}
	})
	return y, argmax
}

// RoIPoolBackward adds dy [R,C,OutH,OutW] into zeros of xShape at the argmax
// positions in each RoI's image; argmax −1 (an empty bin) adds nothing.
// Deterministic: a worker owns a range of channels of every image and visits
// the RoIs and bins in order.
func (c *CPU) RoIPoolBackward(dy, argmax, rois *backend.Tensor, xShape []int) *backend.Tensor {
	nr := checkRoIPool("RoIPoolBackward", xShape, rois, backend.RoIPoolParams{OutH: 1, OutW: 1})
	n, ch, h, w := xShape[0], xShape[1], xShape[2], xShape[3]
	if len(dy.Shape) != 4 || dy.Shape[0] != nr || dy.Shape[1] != ch || !backend.SameShape(dy.Shape, argmax.Shape) {
		panic(fmt.Sprintf("cpu: RoIPoolBackward: dy %v, argmax %v for %d rois into %v", dy.Shape, argmax.Shape, nr, xShape))
	}
	nb := dy.Shape[2] * dy.Shape[3]
	dx := c.newF32(xShape...)
	gs, as, ds, rs := F32(dy), I64(argmax), F32(dx), F32(rois)
	c.parallelFor(ch, max(1, elemGrain/max(1, nr*nb)), func(lo, hi int) {
		for r := range nr {
			b := int(rs[r*5])
			checkBatchIndex("RoIPoolBackward", r, b, n)
			for k := lo; k < hi; k++ {
				plane := ds[(b*ch+k)*h*w : (b*ch+k+1)*h*w]
				o := (r*ch + k) * nb
				for i, a := range as[o : o+nb] {
					if a < 0 {
						continue
					}
					if int(a) >= h*w {
						panic(fmt.Sprintf("cpu: RoIPoolBackward argmax %d out of a %d-element plane", a, h*w))
					}
					plane[a] += gs[o+i]
				}
			}
		}
	})
	return dx
}
