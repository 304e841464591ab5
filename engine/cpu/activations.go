package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// SiLU is x·σ(x) (F.silu), evaluated in float64 and rounded once.
func (c *CPU) SiLU(x *backend.Tensor) *backend.Tensor {
	out := c.newF32(x.Shape...)
	xv, ov := F32(x), F32(out)
	c.parallelFor(len(ov), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(xv[i])
			ov[i] = float32(v * sigmoid64(v))
		}
	})
	return out
}

// SiLUBackward is dy·σ(x)·(1 + x·(1 − σ(x))), PyTorch's silu_backward.
func (c *CPU) SiLUBackward(x, dy *backend.Tensor) *backend.Tensor {
	if !backend.SameShape(x.Shape, dy.Shape) {
		panic(fmt.Sprintf("cpu: SiLUBackward shapes differ: x %v, dy %v", x.Shape, dy.Shape))
	}
	out := c.newF32(x.Shape...)
	xv, gv, ov := F32(x), F32(dy), F32(out)
	c.parallelFor(len(ov), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(xv[i])
			s := sigmoid64(v)
			ov[i] = float32(float64(gv[i]) * s * (1 + v*(1-s)))
		}
	})
	return out
}

// LeakyReLU is x > 0 ? x : slope·x (F.leaky_relu; a NaN stays NaN).
func (c *CPU) LeakyReLU(x *backend.Tensor, slope float32) *backend.Tensor {
	out := c.newF32(x.Shape...)
	xv, ov := F32(x), F32(out)
	c.parallelFor(len(ov), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if v := xv[i]; v > 0 {
				ov[i] = v
			} else {
				ov[i] = v * slope
			}
		}
	})
	return out
}

// LeakyReLUBackward passes dy where x > 0 and slope·dy elsewhere: at x = 0
// PyTorch takes the negative side.
func (c *CPU) LeakyReLUBackward(x, dy *backend.Tensor, slope float32) *backend.Tensor {
	if !backend.SameShape(x.Shape, dy.Shape) {
		panic(fmt.Sprintf("cpu: LeakyReLUBackward shapes differ: x %v, dy %v", x.Shape, dy.Shape))
	}
	out := c.newF32(x.Shape...)
	xv, gv, ov := F32(x), F32(dy), F32(out)
	c.parallelFor(len(ov), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if xv[i] > 0 {
				ov[i] = gv[i]
			} else {
				ov[i] = gv[i] * slope
			}
		}
	})
	return out
}

// adaptiveBin is PyTorch's adaptive pooling bin i of n over size: rows
// floor(i·size/n) up to ceil((i+1)·size/n), exclusive.
func adaptiveBin(i, n, size int) (lo, hi int) {
	return i * size / n, ((i+1)*size + n - 1) / n
}

// AdaptiveMaxPool2d is F.adaptive_max_pool2d: every bin is non-empty for
// any H, W ≥ 1, bins may overlap when the size does not divide. Ties and
// NaNs follow MaxPool2d (first maximum in row-major order, a NaN wins);
// argmax is the flat h*W+w index in the input plane.
func (c *CPU) AdaptiveMaxPool2d(x *backend.Tensor, outH, outW int) (y, argmax *backend.Tensor) {
	if len(x.Shape) != 4 || outH < 1 || outW < 1 || x.Shape[2] < 1 || x.Shape[3] < 1 {
		panic(fmt.Sprintf("cpu: AdaptiveMaxPool2d of %v to %dx%d", x.Shape, outH, outW))
	}
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	y, argmax = c.newF32(n, ch, outH, outW), c.newI64(n, ch, outH, outW)
	xv, yv, av := F32(x), F32(y), I64(argmax)
	c.parallelFor(n*ch, max(1, elemGrain/(h*w)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := xv[pl*h*w : (pl+1)*h*w]
			dst, idx := yv[pl*outH*outW:(pl+1)*outH*outW], av[pl*outH*outW:(pl+1)*outH*outW]
			for i := range outH {
				r0, r1 := adaptiveBin(i, outH, h)
				for j := range outW {
					s0, s1 := adaptiveBin(j, outW, w)
					best, bi := float32(math.Inf(-1)), -1
				bin:
					for r := r0; r < r1; r++ {
						for s := s0; s < s1; s++ {
							v := src[r*w+s]
							if v > best || bi < 0 || v != v {
								best, bi = v, r*w+s
								if v != v {
									break bin
								}
							}
						}
					}
					dst[i*outW+j], idx[i*outW+j] = best, int64(bi)
				}
			}
		}
	})
	return y, argmax
}
