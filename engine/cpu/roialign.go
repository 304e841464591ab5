package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// RoI-Align follows torchvision.ops.roi_align (roi_align_kernel.cpp) in
// float32: for aligned=false the RoI is scaled and its width and height are
// clamped to at least 1; for aligned=true (detectron2 ROIAlignV2) half a pixel
// is subtracted from the scaled corners and no minimum size applies, so an
// empty box has an adaptive grid of 0 samples and pools to 0. Each bin
// averages grid_h×grid_w bilinear samples, grid = sampling_ratio or, when it
// is 0, ceil(roi_size / out_size).

// roiSample is one bilinear sample: four flat h*w offsets and their weights.
// A sample outside the map has zero weights (and offsets 0) so the inner
// loops need no branch.
type roiSample struct {
	p  [4]int32
	wt [4]float32
}

// roiGeometry fills buf with the samples of one RoI, bin by bin in (ph, pw)
// order; bins[k] is the index in buf where bin k starts (len OutH*OutW+1).
// It returns the batch index of the RoI and the sample count every bin is
// divided by (at least 1, as torchvision).
func roiGeometry(roi []float32, h, w int, p backend.RoIAlignParams, buf []roiSample, bins []int) (int, float32, []roiSample) {
	var offset float32
	if p.Aligned {
		offset = 0.5
	}
	sx := roi[1]*p.SpatialScale - offset
	sy := roi[2]*p.SpatialScale - offset
	ex := roi[3]*p.SpatialScale - offset
	ey := roi[4]*p.SpatialScale - offset
	rw, rh := ex-sx, ey-sy
	if !p.Aligned {
		rw = max(rw, 1)
		rh = max(rh, 1)
	}
	binH := rh / float32(p.OutH)
	binW := rw / float32(p.OutW)
	gh, gw := p.SamplingRatio, p.SamplingRatio
	if p.SamplingRatio <= 0 {
		gh = int(math.Ceil(float64(rh / float32(p.OutH))))
		gw = int(math.Ceil(float64(rw / float32(p.OutW))))
	}
	// A negative size (an inverted box, aligned=true) gives a negative grid:
	// torchvision's loops then run zero times and the bin is 0.
	gh, gw = max(gh, 0), max(gw, 0)
	buf = buf[:0]
	for ph := 0; ph < p.OutH; ph++ {
		for pw := 0; pw < p.OutW; pw++ {
			bins[ph*p.OutW+pw] = len(buf)
			for iy := 0; iy < gh; iy++ {
				y := sy + float32(ph)*binH + (float32(iy)+0.5)*binH/float32(gh)
				for ix := 0; ix < gw; ix++ {
					x := sx + float32(pw)*binW + (float32(ix)+0.5)*binW/float32(gw)
					buf = append(buf, bilinearSample(y, x, h, w))
				}
			}
		}
	}
	bins[p.OutH*p.OutW] = len(buf)
	return int(roi[0]), float32(max(gh*gw, 1)), buf
}

// bilinearSample applies torchvision's border rules: a point more than one
// pixel outside the map contributes nothing; otherwise coordinates below 0
// are clamped to 0 and those at or past the last row/column collapse onto it.
func bilinearSample(y, x float32, h, w int) roiSample {
	if y < -1 || y > float32(h) || x < -1 || x > float32(w) {
		return roiSample{}
	}
	y, x = max(y, 0), max(x, 0)
	yl, xl := int(y), int(x)
	var yh, xh int
	if yl >= h-1 {
		yl, yh = h-1, h-1
		y = float32(yl)
	} else {
		yh = yl + 1
	}
	if xl >= w-1 {
		xl, xh = w-1, w-1
		x = float32(xl)
	} else {
		xh = xl + 1
	}
	ly, lx := y-float32(yl), x-float32(xl)
	hy, hx := 1-ly, 1-lx
	return roiSample{
		p:  [4]int32{int32(yl*w + xl), int32(yl*w + xh), int32(yh*w + xl), int32(yh*w + xh)},
		wt: [4]float32{hy * hx, hy * lx, ly * hx, ly * lx},
	}
}

func checkRoIs(op string, rois *backend.Tensor, p backend.RoIAlignParams) int {
	if rois.DType != backend.F32 || len(rois.Shape) != 2 || rois.Shape[1] != 5 {
		panic(fmt.Sprintf("cpu: %s: rois %s %v, want F32 [R,5]", op, rois.DType, rois.Shape))
	}
	if p.OutH <= 0 || p.OutW <= 0 {
		panic(fmt.Sprintf("cpu: %s: output size %dx%d", op, p.OutH, p.OutW))
	}
	return rois.Shape[0]
}

func checkBatchIndex(op string, r, b, n int) {
	if b < 0 || b >= n {
		panic(fmt.Sprintf("cpu: %s: roi %d has batch index %d, input batch is %d", op, r, b, n))
	}
}

// roiChannelBlock is how many channels share one pass over the RoIs: their
// planes (32 × H·W floats, 300 KB at 38×63) stay in cache while every RoI's
// samples are applied to them, instead of streaming all C planes per RoI.
const roiChannelBlock = 32

// roiGeometries computes the samples of every RoI once; the channel workers
// share them read-only.
func (c *CPU) roiGeometries(op string, rs []float32, n, h, w int, p backend.RoIAlignParams) (samples [][]roiSample, bins [][]int, batch []int, count []float32) {
	nr := len(rs) / 5
	nb := p.OutH * p.OutW
	samples, bins = make([][]roiSample, nr), make([][]int, nr)
	batch, count = make([]int, nr), make([]float32, nr)
	c.parallelFor(nr, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bins[r] = make([]int, nb+1)
			batch[r], count[r], samples[r] = roiGeometry(rs[r*5:r*5+5], h, w, p, nil, bins[r])
			checkBatchIndex(op, r, batch[r], n)
		}
	})
	return samples, bins, batch, count
}

// RoIAlign pools x [N,C,H,W] over rois [R,5] (batch index, x1,y1,x2,y2) into
// [R,C,OutH,OutW]. Parallel over channel blocks: each worker writes the
// output of its channels for every RoI.
func (c *CPU) RoIAlign(x, rois *backend.Tensor, p backend.RoIAlignParams) *backend.Tensor {
	if len(x.Shape) != 4 {
		panic(fmt.Sprintf("cpu: RoIAlign: x %v, want [N,C,H,W]", x.Shape))
	}
	nr := checkRoIs("RoIAlign", rois, p)
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	nb := p.OutH * p.OutW
	out := c.newF32(nr, ch, p.OutH, p.OutW)
	xs, ys := F32(x), F32(out)
	samples, bins, batch, count := c.roiGeometries("RoIAlign", F32(rois), n, h, w, p)
	nblk := (ch + roiChannelBlock - 1) / roiChannelBlock
	c.parallelFor(nblk, 1, func(lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			k0, k1 := blk*roiChannelBlock, min((blk+1)*roiChannelBlock, ch)
			for r := 0; r < nr; r++ {
				b, buf, bn, cnt := batch[r], samples[r], bins[r], count[r]
				for k := k0; k < k1; k++ {
					plane := xs[(b*ch+k)*h*w : (b*ch+k+1)*h*w]
					dst := ys[(r*ch+k)*nb : (r*ch+k+1)*nb]
					for bin := range dst {
						var s float32
						for _, sm := range buf[bn[bin]:bn[bin+1]] {
							s += sm.wt[0]*plane[sm.p[0]] + sm.wt[1]*plane[sm.p[1]] +
								sm.wt[2]*plane[sm.p[2]] + sm.wt[3]*plane[sm.p[3]]
						}
						dst[bin] = s / cnt
					}
				}
			}
		}
	})
	return out
}

// RoIAlignBackward scatters dy [R,C,OutH,OutW] back onto zeros of xShape.
// Deterministic: the work is split by channel blocks, each goroutine owns the
// dx planes of its channels for every image and visits the RoIs in order, so
// the sums are formed in the same order whatever the worker count.
func (c *CPU) RoIAlignBackward(dy, rois *backend.Tensor, xShape []int, p backend.RoIAlignParams) *backend.Tensor {
	if len(xShape) != 4 {
		panic(fmt.Sprintf("cpu: RoIAlignBackward: xShape %v, want [N,C,H,W]", xShape))
	}
	nr := checkRoIs("RoIAlignBackward", rois, p)
	n, ch, h, w := xShape[0], xShape[1], xShape[2], xShape[3]
	if !backend.SameShape(dy.Shape, []int{nr, ch, p.OutH, p.OutW}) {
		panic(fmt.Sprintf("cpu: RoIAlignBackward: dy %v, want [%d,%d,%d,%d]", dy.Shape, nr, ch, p.OutH, p.OutW))
	}
	nb := p.OutH * p.OutW
	dx := c.newF32(xShape...)
	gs, ds := F32(dy), F32(dx)
	samples, bins, batch, count := c.roiGeometries("RoIAlignBackward", F32(rois), n, h, w, p)
	nblk := (ch + roiChannelBlock - 1) / roiChannelBlock
	c.parallelFor(nblk, 1, func(lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			k0, k1 := blk*roiChannelBlock, min((blk+1)*roiChannelBlock, ch)
			for r := 0; r < nr; r++ {
				b, buf, bn, cnt := batch[r], samples[r], bins[r], count[r]
				for k := k0; k < k1; k++ {
					plane := ds[(b*ch+k)*h*w : (b*ch+k+1)*h*w]
					g := gs[(r*ch+k)*nb : (r*ch+k+1)*nb]
					for bin, gv := range g {
						if gv == 0 {
							continue
						}
						gv /= cnt
						for _, sm := range buf[bn[bin]:bn[bin+1]] {
							plane[sm.p[0]] += gv * sm.wt[0]
							plane[sm.p[1]] += gv * sm.wt[1]
							plane[sm.p[2]] += gv * sm.wt[2]
							plane[sm.p[3]] += gv * sm.wt[3]
						}
					}
				}
			}
		}
	})
	return dx
}
