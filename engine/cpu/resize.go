package cpu

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// bilinearTaps returns, for each of out positions resized from in, the two
// source indices and the weight of the second, as PyTorch computes them
// for align_corners=false in float32: src = (dst+0.5)·in/out − 0.5, clamped
// at 0 below; the upper tap is clamped to the last pixel.
func bilinearTaps(in, out int) (i0, i1 []int, l1 []float32) {
	i0, i1, l1 = make([]int, out), make([]int, out), make([]float32, out)
	scale := float32(in) / float32(out)
	for d := range out {
		src := scale*(float32(d)+0.5) - 0.5
		if src < 0 {
			src = 0
		}
		lo := int(src)
		i0[d], l1[d] = lo, src-float32(lo)
		i1[d] = lo
		if lo < in-1 {
			i1[d] = lo + 1
		}
	}
	return i0, i1, l1
}

// ResizeBilinear is F.interpolate(x, size=(outH,outW), mode="bilinear",
// align_corners=False) without antialiasing, for x [N,C,H,W].
func (c *CPU) ResizeBilinear(x *backend.Tensor, outH, outW int) *backend.Tensor {
	if len(x.Shape) != 4 || outH < 1 || outW < 1 || x.Shape[2] < 1 || x.Shape[3] < 1 {
		panic(fmt.Sprintf("cpu: ResizeBilinear of %v to %dx%d", x.Shape, outH, outW))
	}
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	y0, y1, ly := bilinearTaps(h, outH)
	x0, x1, lx := bilinearTaps(w, outW)
	out := c.newF32(n, ch, outH, outW)
	xv, ov := F32(x), F32(out)
	c.parallelFor(n*ch*outH, max(1, elemGrain/outW), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			pl, i := r/outH, r%outH
			top := xv[pl*h*w+y0[i]*w : pl*h*w+y0[i]*w+w]
			bot := xv[pl*h*w+y1[i]*w : pl*h*w+y1[i]*w+w]
			wy1 := ly[i]
			wy0 := 1 - wy1
			dst := ov[r*outW : (r+1)*outW]
			for j := range dst {
				wx1 := lx[j]
				wx0 := 1 - wx1
				dst[j] = wy0*(wx0*top[x0[j]]+wx1*top[x1[j]]) + wy1*(wx0*bot[x0[j]]+wx1*bot[x1[j]])
			}
		}
	})
	return out
}
