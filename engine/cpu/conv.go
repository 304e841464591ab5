package cpu

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Convolution as GEMM, one image at a time (the GEMM itself is parallel):
//
//	forward          y[K, P]    = w[K, CRS] · col[CRS, P]
//	backward data    dcol[CRS,P] = wᵀ · dy[K, P], then col2im adds into dx
//	backward filter  dw[K, CRS] += dy[K, P] · colᵀ
//
// where P = OH·OW and col is the im2col matrix of the input. A 1×1, stride-1,
// unpadded convolution uses the input plane as col directly. Otherwise col is
// built for a band of output rows at a time so its size stays under
// convColBudget floats (the 7×7 stem on a 600×1000 image would need 88 MB).
const convColBudget = 1 << 22

// convGeom is the geometry of one convolution.
type convGeom struct {
	n, c, h, w, k, r, s, oh, ow int
	p                           backend.Conv2dParams
}

func convCheck(op string, x, w *backend.Tensor, p backend.Conv2dParams) convGeom {
	if len(x.Shape) != 4 || len(w.Shape) != 4 || x.Shape[1] != w.Shape[1] ||
		p.StrideH < 1 || p.StrideW < 1 || p.DilationH < 1 || p.DilationW < 1 || p.PadH < 0 || p.PadW < 0 {
		panic(fmt.Sprintf("cpu: %s of x %v with w %v, %+v (groups 1)", op, x.Shape, w.Shape, p))
	}
	g := convGeom{n: x.Shape[0], c: x.Shape[1], h: x.Shape[2], w: x.Shape[3],
		k: w.Shape[0], r: w.Shape[2], s: w.Shape[3], p: p}
	g.oh, g.ow = p.OutSize(g.h, g.w, g.r, g.s)
	if g.oh < 1 || g.ow < 1 {
		panic(fmt.Sprintf("cpu: %s of x %v with w %v, %+v gives an empty output", op, x.Shape, w.Shape, p))
	}
	return g
}

// direct reports whether the input plane is already the col matrix.
func (g convGeom) direct() bool {
	return g.r == 1 && g.s == 1 && g.p.StrideH == 1 && g.p.StrideW == 1 && g.p.PadH == 0 && g.p.PadW == 0
}

// band is the number of output rows whose col matrix fits the budget.
func (g convGeom) band() int {
	return max(1, min(g.oh, convColBudget/max(1, g.c*g.r*g.s*g.ow)))
}

// im2col writes col[(ci*R+ri)*S+si][(oy-oy0)*OW+ox] = x[ci, oy*sh-ph+ri*dh,
// ox*sw-pw+si*dw] (0 outside) for output rows [oy0, oy1) of one image.
func (c *CPU) im2col(col, x []float32, g convGeom, oy0, oy1 int) {
	p, cols := g.p, (oy1-oy0)*g.ow
	c.parallelFor(g.c*g.r*g.s, max(1, elemGrain/cols), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			ci, ri, si := row/(g.r*g.s), row/g.s%g.r, row%g.s
			dst := col[row*cols : (row+1)*cols]
			plane := x[ci*g.h*g.w : (ci+1)*g.h*g.w]
			for oy := oy0; oy < oy1; oy++ {
				d := dst[(oy-oy0)*g.ow : (oy-oy0+1)*g.ow]
				iy := oy*p.StrideH - p.PadH + ri*p.DilationH
				if iy < 0 || iy >= g.h {
					clear(d)
					continue
				}
				src := plane[iy*g.w : (iy+1)*g.w]
				ix := si*p.DilationW - p.PadW
				if p.StrideW == 1 && ix >= 0 && ix+g.ow <= g.w {
					copy(d, src[ix:])
					continue
				}
				for ox := range d {
					if ix >= 0 && ix < g.w {
						d[ox] = src[ix]
					} else {
						d[ox] = 0
					}
					ix += p.StrideW
				}
			}
		}
	})
}

// col2im adds col (laid out as im2col's) into the image dx for output rows
// [oy0, oy1). Goroutines own input channels and visit (ri, si, oy, ox) in a
// fixed order, so the sums are deterministic.
func (c *CPU) col2im(dx, col []float32, g convGeom, oy0, oy1 int) {
	p, cols := g.p, (oy1-oy0)*g.ow
	c.parallelFor(g.c, max(1, elemGrain/(cols*g.r*g.s)), func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			plane := dx[ci*g.h*g.w : (ci+1)*g.h*g.w]
			for ri := 0; ri < g.r; ri++ {
				for si := 0; si < g.s; si++ {
					row := (ci*g.r+ri)*g.s + si
					src := col[row*cols : (row+1)*cols]
					for oy := oy0; oy < oy1; oy++ {
						iy := oy*p.StrideH - p.PadH + ri*p.DilationH
						if iy < 0 || iy >= g.h {
							continue
						}
						dst := plane[iy*g.w : (iy+1)*g.w]
						ix := si*p.DilationW - p.PadW
						for _, v := range src[(oy-oy0)*g.ow : (oy-oy0+1)*g.ow] {
							if ix >= 0 && ix < g.w {
								dst[ix] += v
							}
							ix += p.StrideW
						}
					}
				}
			}
		}
	})
}

// Conv2d is F.conv2d with groups 1: x [N,C,H,W], w [K,C,R,S], b [K] or nil.
func (c *CPU) Conv2d(x, w, b *backend.Tensor, p backend.Conv2dParams) *backend.Tensor {
	g := convCheck("Conv2d", x, w, p)
	if b != nil && b.Numel() != g.k {
		panic(fmt.Sprintf("cpu: Conv2d bias %v for w %v", b.Shape, w.Shape))
	}
	y := c.newF32(g.n, g.k, g.oh, g.ow)
	xv, wv, yv := F32(x), F32(w), F32(y)
	crs, pix := g.c*g.r*g.s, g.oh*g.ow
	var col []float32
	if !g.direct() {
		buf := getScratch(crs * g.band() * g.ow)
		defer scratch.Put(buf)
		col = *buf
	}
	for n := 0; n < g.n; n++ {
		xn, yn := xv[n*g.c*g.h*g.w:(n+1)*g.c*g.h*g.w], yv[n*g.k*pix:(n+1)*g.k*pix]
		if g.direct() {
			c.sgemm(false, false, g.k, pix, crs, wv, crs, xn, pix, yn, pix, false)
			continue
		}
		for oy0 := 0; oy0 < g.oh; oy0 += g.band() {
			oy1 := min(g.oh, oy0+g.band())
			cols := (oy1 - oy0) * g.ow
			c.im2col(col, xn, g, oy0, oy1)
			c.sgemm(false, false, g.k, cols, crs, wv, crs, col, cols, yn[oy0*g.ow:], pix, false)
		}
	}
	if b != nil {
		bv := F32(b)
		c.parallelFor(g.n*g.k, max(1, elemGrain/pix), func(lo, hi int) {
			for q := lo; q < hi; q++ {
				bias := bv[q%g.k]
				for i := range yv[q*pix : (q+1)*pix] {
					yv[q*pix+i] += bias
				}
			}
		})
	}
	return y
}

// Conv2dBackward returns dx (when needDx), dw, and db (when hasBias) for
// y = Conv2d(x, w, b) and upstream gradient dy. dw sums over images in
// order and db in float64, both deterministic.
func (c *CPU) Conv2dBackward(x, w, dy *backend.Tensor, p backend.Conv2dParams, needDx, hasBias bool) (dx, dw, db *backend.Tensor) {
	g := convCheck("Conv2dBackward", x, w, p)
	if !backend.SameShape(dy.Shape, []int{g.n, g.k, g.oh, g.ow}) {
		panic(fmt.Sprintf("cpu: Conv2dBackward dy %v for x %v, w %v, %+v", dy.Shape, x.Shape, w.Shape, p))
	}
	xv, wv, gv := F32(x), F32(w), F32(dy)
	crs, pix, img := g.c*g.r*g.s, g.oh*g.ow, g.c*g.h*g.w
	dw = c.newF32(w.Shape...)
	dwv := F32(dw)
	var dxv []float32
	if needDx {
		dx = c.newF32(x.Shape...)
		dxv = F32(dx)
	}
	var col, dcol []float32
	if !g.direct() {
		buf := getScratch(crs * g.band() * g.ow)
		defer scratch.Put(buf)
		col = *buf
		if needDx {
			dbuf := getScratch(crs * g.band() * g.ow)
			defer scratch.Put(dbuf)
			dcol = *dbuf
		}
	}
	for n := 0; n < g.n; n++ {
		xn, gn := xv[n*img:(n+1)*img], gv[n*g.k*pix:(n+1)*g.k*pix]
		if g.direct() {
			c.sgemm(false, true, g.k, crs, pix, gn, pix, xn, pix, dwv, crs, n > 0)
			if needDx {
				c.sgemm(true, false, crs, pix, g.k, wv, crs, gn, pix, dxv[n*img:(n+1)*img], pix, false)
			}
			continue
		}
		for oy0 := 0; oy0 < g.oh; oy0 += g.band() {
			oy1 := min(g.oh, oy0+g.band())
			cols := (oy1 - oy0) * g.ow
			c.im2col(col, xn, g, oy0, oy1)
			c.sgemm(false, true, g.k, crs, cols, gn[oy0*g.ow:], pix, col, cols, dwv, crs, n > 0 || oy0 > 0)
			if needDx {
				c.sgemm(true, false, crs, cols, g.k, wv, crs, gn[oy0*g.ow:], pix, dcol, cols, false)
				c.col2im(dxv[n*img:(n+1)*img], dcol, g, oy0, oy1)
			}
		}
	}
	if hasBias {
		db = c.Sum(dy, []int{0, 2, 3}, false)
	}
	return dx, dw, db
}
