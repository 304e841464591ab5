package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// MaxPool2d is F.max_pool2d (ceil_mode false): padding reads as -inf, the
// first maximum in row-major window order wins a tie, and a NaN wins over any
// number. argmax is I64, the flat h*W+w index of the winner in its input plane.
func (c *CPU) MaxPool2d(x *backend.Tensor, p backend.PoolParams) (y, argmax *backend.Tensor) {
	if len(x.Shape) != 4 || p.KernelH < 1 || p.KernelW < 1 || p.StrideH < 1 || p.StrideW < 1 ||
		p.PadH < 0 || p.PadW < 0 || 2*p.PadH > p.KernelH || 2*p.PadW > p.KernelW {
		panic(fmt.Sprintf("cpu: MaxPool2d of %v with %+v", x.Shape, p))
	}
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh := (h+2*p.PadH-p.KernelH)/p.StrideH + 1
	ow := (w+2*p.PadW-p.KernelW)/p.StrideW + 1
	if oh < 1 || ow < 1 {
		panic(fmt.Sprintf("cpu: MaxPool2d of %v with %+v gives an empty output", x.Shape, p))
	}
	y, argmax = c.newF32(n, ch, oh, ow), c.newI64(n, ch, oh, ow)
	xv, yv, av := F32(x), F32(y), I64(argmax)
	c.parallelFor(n*ch, max(1, elemGrain/(oh*ow*p.KernelH*p.KernelW)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := xv[pl*h*w : (pl+1)*h*w]
			dst, idx := yv[pl*oh*ow:(pl+1)*oh*ow], av[pl*oh*ow:(pl+1)*oh*ow]
			for i := 0; i < oh; i++ {
				h0 := i*p.StrideH - p.PadH
				for j := 0; j < ow; j++ {
					w0 := j*p.StrideW - p.PadW
					best, bi := float32(math.Inf(-1)), -1
				window:
					for r := max(h0, 0); r < min(h0+p.KernelH, h); r++ {
						for s := max(w0, 0); s < min(w0+p.KernelW, w); s++ {
							v := src[r*w+s]
							if v > best || bi < 0 || v != v {
								best, bi = v, r*w+s
								if v != v {
									break window
								}
							}
						}
					}
					dst[i*ow+j], idx[i*ow+j] = best, int64(bi)
				}
			}
		}
	})
	return y, argmax
}

// MaxPool2dBackward routes dy to the argmax positions of x's planes. Each
// goroutine owns whole planes and adds in output order: deterministic.
func (c *CPU) MaxPool2dBackward(dy, argmax *backend.Tensor, xShape []int) *backend.Tensor {
	if len(xShape) != 4 || len(dy.Shape) != 4 || !backend.SameShape(dy.Shape, argmax.Shape) ||
		dy.Shape[0] != xShape[0] || dy.Shape[1] != xShape[1] {
		panic(fmt.Sprintf("cpu: MaxPool2dBackward of dy %v, argmax %v into %v", dy.Shape, argmax.Shape, xShape))
	}
	planes, plane := xShape[0]*xShape[1], xShape[2]*xShape[3]
	op := dy.Shape[2] * dy.Shape[3]
	dx := c.newF32(xShape...)
	gv, av, dv := F32(dy), I64(argmax), F32(dx)
	c.parallelFor(planes, max(1, elemGrain/max(1, op)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			dst := dv[pl*plane : (pl+1)*plane]
			for k, a := range av[pl*op : (pl+1)*op] {
				if a < 0 || int(a) >= plane {
					panic(fmt.Sprintf("cpu: MaxPool2dBackward argmax %d out of a %d-element plane", a, plane))
				}
				dst[a] += gv[pl*op+k]
			}
		}
	})
	return dx
}
