package cpu

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Convolution as GEMM over chunks of output columns:
//
//	forward          y[K, cols]    = w[K, CRS] · col[CRS, cols]
//	backward data    dcol[CRS, cols] = wᵀ · dy[K, cols], then col2im adds into dx
//	backward filter  dw[K, CRS]   += dy[K, cols] · colᵀ
//
// where col is the im2col matrix of the chunk. A chunk is either a band of
// output rows of one image, sized so col stays under convColBudget floats
// (the 7×7 stem on a 600×1000 image would need 88 MB at once), or several
// whole images side by side when one image has few output pixels: the R-CNN
// head runs res5 on hundreds of 14×14 RoIs, and one 49-column GEMM per RoI
// would spend its time packing the weights and padding tiles. A 1×1,
// stride-1, unpadded convolution of a single image uses the input plane as
// col directly, and the GEMM writes straight into y when the chunk is one
// image. The weights (wᵀ for dx) are packed for the GEMM once per call, and
// col itself is never built: the forward pass writes it straight into the
// GEMM's packed panels (im2colPacked), the filter gradient its transpose
// (im2colPackedT). Chunks depend only on the shapes, so results are
// deterministic.
const (
	convColBudget = 1 << 22
	convGroupCols = 1024 // group whole images until a chunk has this many columns
	im2colGroup   = 16   // panels per im2colPacked task
)

// convGeom is the geometry of one convolution.
type convGeom struct {
	n, c, h, w, k, r, s, oh, ow int
	p                           backend.Conv2dParams
}

// convChunk is images [n0,n1) × output rows [oy0,oy1); several images only
// with all their rows.
type convChunk struct{ n0, n1, oy0, oy1 int }

func (ch convChunk) cols(g convGeom) int { return (ch.n1 - ch.n0) * (ch.oy1 - ch.oy0) * g.ow }

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

// direct reports whether an input plane is already its col matrix.
func (g convGeom) direct() bool {
	return g.r == 1 && g.s == 1 && g.p.StrideH == 1 && g.p.StrideW == 1 && g.p.PadH == 0 && g.p.PadW == 0
}

// chunks splits the output columns of all images into GEMM-sized chunks.
func (g convGeom) chunks() []convChunk {
	crs, pix := g.c*g.r*g.s, g.oh*g.ow
	var out []convChunk
	if perImg := crs * pix; pix < convGroupCols && perImg <= convColBudget {
		group := max(1, min(g.n, convColBudget/perImg, (convGroupCols+pix-1)/pix))
		for n := 0; n < g.n; n += group {
			out = append(out, convChunk{n, min(g.n, n+group), 0, g.oh})
		}
		return out
	}
	band := g.oh
	if !g.direct() {
		band = max(1, min(g.oh, convColBudget/max(1, crs*g.ow)))
	}
	for n := 0; n < g.n; n++ {
		for oy := 0; oy < g.oh; oy += band {
			out = append(out, convChunk{n, n + 1, oy, min(g.oh, oy+band)})
		}
	}
	return out
}

// plan summarises chunks for sizing scratch buffers: the widest chunk,
// whether chunks group several images (all do or none does), and whether
// every chunk is one image used directly as its col matrix.
func (g convGeom) plan(chunks []convChunk) (maxCols int, grouped, directSingle bool) {
	for _, ch := range chunks {
		maxCols = max(maxCols, ch.cols(g))
	}
	grouped = len(chunks) > 0 && chunks[0].n1-chunks[0].n0 > 1
	return maxCols, grouped, !grouped && g.direct()
}

// sizeIf is n when the buffer is needed and 0 otherwise.
func sizeIf(need bool, n int) int {
	if need {
		return n
	}
	return 0
}

// axisRange says which outputs along one axis read inside the image for one
// kernel tap: output o reads input base+o·stride, inside for o in [lo, hi)
// (hi ≥ lo).
type axisRange struct{ base, lo, hi int }

// tapRanges returns the axisRange of every kernel tap along an axis of in
// inputs and out outputs, computed once per call: the divisions would
// otherwise cost more than copying a narrow row.
func tapRanges(in, out, taps, stride, dil, pad int) []axisRange {
	rs := make([]axisRange, taps)
	for t := range rs {
		base, lo, hi := t*dil-pad, 0, 0
		if base < 0 {
			lo = (-base + stride - 1) / stride
		}
		if last := in - 1 - base; last >= 0 {
			hi = last/stride + 1
		}
		lo, hi = min(lo, out), min(hi, out)
		rs[t] = axisRange{base, lo, max(lo, hi)}
	}
	return rs
}

// validCols is tapRanges along the width, validRows along the height.
func (g convGeom) validCols() []axisRange {
	return tapRanges(g.w, g.ow, g.s, g.p.StrideW, g.p.DilationW, g.p.PadW)
}

func (g convGeom) validRows() []axisRange {
	return tapRanges(g.h, g.oh, g.r, g.p.StrideH, g.p.DilationH, g.p.PadH)
}

// im2colPacked writes a chunk's col matrix (CRS × cols, the images of the
// chunk side by side) straight into the packed panels that gemmPacked reads
// for kern, saving the col pass and its copy into panels. A task fills one
// block of im2colGroup panels × one gemmKC slice of rows: its output (256 KiB
// at most) stays in L2 while it reads each input channel's rows once, in
// order. A panel's nr columns fall into a few segments of one output row
// each. Columns past cols in the last panel are zeroed.
func (c *CPU) im2colPacked(dst, x []float32, g convGeom, ch convChunk, kern microKernel) {
	crs, cols, nr := g.c*g.r*g.s, ch.cols(g), kern.nr
	np := (cols + nr - 1) / nr
	per, img := (ch.oy1-ch.oy0)*g.ow, g.c*g.h*g.w
	p, ranges := g.p, g.validCols()
	slices, groups := (crs+gemmKC-1)/gemmKC, (np+im2colGroup-1)/im2colGroup
	// segment: panel jp's columns [off, off+len) are output row oy of image n from ox.
	type segment struct{ jp, off, n, oy, ox, len int }
	c.parallelFor(slices*groups, max(1, elemGrain/(gemmKC*im2colGroup*nr)), func(lo, hi int) {
		var segs []segment
		for t := lo; t < hi; t++ {
			pc, gr := t/groups*gemmKC, t%groups
			kcb := min(gemmKC, crs-pc)
			jp0, jp1 := gr*im2colGroup, min(np, (gr+1)*im2colGroup)
			segs = segs[:0]
			for j := jp0 * nr; j < min(cols, jp1*nr); {
				jp := j / nr
				n, rem := ch.n0+j/per, j%per
				oy, ox := ch.oy0+rem/g.ow, rem%g.ow
				l := min(g.ow-ox, (jp+1)*nr-j, cols-j)
				segs = append(segs, segment{jp, j - jp*nr, n, oy, ox, l})
				j += l
			}
			for row := pc; row < pc+kcb; row++ {
				ci, ri, si := row/(g.r*g.s), row/g.s%g.r, row%g.s
				rowAt := pc*np*nr + (row-pc)*nr // + jp·nr·kcb for panel jp
				if r := cols % nr; r != 0 && jp1 == np {
					at := rowAt + (np-1)*nr*kcb
					clear(dst[at+r : at+nr])
				}
				base, x0, x1 := ranges[si].base, ranges[si].lo, ranges[si].hi
				for _, sg := range segs {
					at := rowAt + sg.jp*nr*kcb + sg.off
					d := dst[at : at+sg.len]
					iy := sg.oy*p.StrideH - p.PadH + ri*p.DilationH
					a, b := max(sg.ox, x0), min(sg.ox+sg.len, x1)
					if iy < 0 || iy >= g.h || a >= b {
						clear(d)
						continue
					}
					src := x[sg.n*img+(ci*g.h+iy)*g.w : sg.n*img+(ci*g.h+iy+1)*g.w]
					if p.StrideW == 1 {
						clear(d[:a-sg.ox])
						copy(d[a-sg.ox:b-sg.ox], src[base+a:])
						clear(d[b-sg.ox:])
						continue
					}
					for q := range d {
						if o := sg.ox + q; o >= a && o < b {
							d[q] = src[base+o*p.StrideW]
						} else {
							d[q] = 0
						}
					}
				}
			}
		}
	})
}

// im2colPackedT writes the transpose of a chunk's col matrix (cols × CRS)
// into the packed panels that gemmPacked reads as op(B) for the filter
// gradient dw = dy · colᵀ: panels are nr taps (rows of col) wide and a
// gemmKC slice of output pixels deep. Within a panel, one tap's values over
// consecutive pixels read one input row in order; taps past CRS in the last
// panel are zeroed. Tasks are a pixel slice × a block of panels, as in
// im2colPacked.
func (c *CPU) im2colPackedT(dst, x []float32, g convGeom, ch convChunk, kern microKernel) {
	crs, cols, nr := g.c*g.r*g.s, ch.cols(g), kern.nr
	np := (crs + nr - 1) / nr
	per, img := (ch.oy1-ch.oy0)*g.ow, g.c*g.h*g.w
	p, ranges := g.p, g.validCols()
	slices, groups := (cols+gemmKC-1)/gemmKC, (np+im2colGroup-1)/im2colGroup
	// segment: slice pixels [off, off+len) are output row oy of image n from ox.
	type segment struct{ off, n, oy, ox, len int }
	c.parallelFor(slices*groups, max(1, elemGrain/(gemmKC*im2colGroup*nr)), func(lo, hi int) {
		var segs []segment
		for t := lo; t < hi; t++ {
			pc, gr := t/groups*gemmKC, t%groups
			kcb := min(gemmKC, cols-pc)
			segs = segs[:0]
			for q := pc; q < pc+kcb; {
				n, rem := ch.n0+q/per, q%per
				oy, ox := ch.oy0+rem/g.ow, rem%g.ow
				l := min(g.ow-ox, pc+kcb-q)
				segs = append(segs, segment{q - pc, n, oy, ox, l})
				q += l
			}
			for jp := gr * im2colGroup; jp < min(np, (gr+1)*im2colGroup); jp++ {
				block := dst[pc*np*nr+jp*nr*kcb : pc*np*nr+(jp+1)*nr*kcb]
				for jj := range nr {
					j := jp*nr + jj
					if j >= crs {
						for q := range kcb {
							block[q*nr+jj] = 0
						}
						continue
					}
					ci, ri, si := j/(g.r*g.s), j/g.s%g.r, j%g.s
					base, x0, x1 := ranges[si].base, ranges[si].lo, ranges[si].hi
					for _, sg := range segs {
						out := block[sg.off*nr+jj:]
						iy := sg.oy*p.StrideH - p.PadH + ri*p.DilationH
						a, b := max(sg.ox, x0), min(sg.ox+sg.len, x1)
						if iy < 0 || iy >= g.h || a >= b {
							for q := range sg.len {
								out[q*nr] = 0
							}
							continue
						}
						src := x[sg.n*img+(ci*g.h+iy)*g.w : sg.n*img+(ci*g.h+iy+1)*g.w]
						q := 0
						for ; q < a-sg.ox; q++ {
							out[q*nr] = 0
						}
						for ; q < b-sg.ox; q++ {
							out[q*nr] = src[base+(sg.ox+q)*p.StrideW]
						}
						for ; q < sg.len; q++ {
							out[q*nr] = 0
						}
					}
				}
			}
		}
	})
}

// col2im adds col (row (ci·R+ri)·S+si per kernel tap, columns at ld·row+off
// onwards in output order) into the image dx for output rows
// [oy0, oy1). Goroutines own input channels and visit (ri, si, oy, ox) in a
// fixed order, so the sums are deterministic.
func (c *CPU) col2im(dx, col []float32, ld, off int, g convGeom, oy0, oy1 int) {
	p, cols := g.p, (oy1-oy0)*g.ow
	colRanges, rowRanges := g.validCols(), g.validRows()
	c.parallelFor(g.c, max(1, elemGrain/(cols*g.r*g.s)), func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			plane := dx[ci*g.h*g.w : (ci+1)*g.h*g.w]
			for ri := 0; ri < g.r; ri++ {
				a := min(max(rowRanges[ri].lo, oy0), oy1)
				b := max(min(rowRanges[ri].hi, oy1), a)
				for si := 0; si < g.s; si++ {
					row := (ci*g.r+ri)*g.s + si
					src := col[row*ld+off : row*ld+off+cols]
					base, x0, x1 := colRanges[si].base, colRanges[si].lo, colRanges[si].hi
					for oy := a; oy < b; oy++ {
						iy := rowRanges[ri].base + oy*p.StrideH
						dst := plane[iy*g.w : (iy+1)*g.w]
						dy := src[(oy-oy0)*g.ow : (oy-oy0+1)*g.ow]
						for ox := x0; ox < x1; ox++ {
							dst[base+ox*p.StrideW] += dy[ox]
						}
					}
				}
			}
		}
	})
}

// moveImages copies between per-image planes v[n][K][pix] (for the chunk's
// images) and the chunk matrix m[K][group·pix]: toChunk gathers, otherwise
// scatters.
func (c *CPU) moveImages(m, v []float32, g convGeom, ch convChunk, toChunk bool) {
	pix := g.oh * g.ow
	cols := ch.cols(g)
	c.parallelFor(g.k, max(1, elemGrain/cols), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			for n := ch.n0; n < ch.n1; n++ {
				a := m[k*cols+(n-ch.n0)*pix : k*cols+(n-ch.n0+1)*pix]
				b := v[(n*g.k+k)*pix : (n*g.k+k+1)*pix]
				if toChunk {
					copy(a, b)
				} else {
					copy(b, a)
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
	crs, pix, img := g.c*g.r*g.s, g.oh*g.ow, g.c*g.h*g.w
	chunks := g.chunks()
	maxCols, grouped, directSingle := g.plan(chunks)
	colBuf, outBuf := getScratch(sizeIf(!directSingle, packedBSize(kernel, maxCols, crs))), getScratch(sizeIf(grouped, g.k*maxCols))
	defer scratch.Put(colBuf)
	defer scratch.Put(outBuf)
	wp := c.packAll(kernel, false, g.k, crs, wv, crs)
	defer scratch.Put(wp)
	for _, ch := range chunks {
		cols := ch.cols(g)
		single := ch.n1-ch.n0 == 1
		ym, ldy := *outBuf, cols
		if single {
			ym, ldy = yv[ch.n0*g.k*pix+ch.oy0*g.ow:], pix
		}
		if single && g.direct() {
			c.gemmPackedA(kernel, g.k, cols, crs, *wp, false, xv[ch.n0*img:(ch.n0+1)*img], cols, ym, ldy, false)
		} else {
			c.im2colPacked(*colBuf, xv, g, ch, kernel)
			c.gemmPacked(kernel, g.k, cols, crs, *wp, *colBuf, ym, ldy, false)
		}
		if !single {
			c.moveImages(ym, yv, g, ch, false)
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
// y = Conv2d(x, w, b) and upstream gradient dy. dw sums over chunks in
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
	chunks := g.chunks()
	maxCols, grouped, directSingle := g.plan(chunks)
	colBuf := getScratch(sizeIf(!directSingle, packedBSize(kernel, crs, maxCols)))
	dcolBuf := getScratch(sizeIf(needDx && !directSingle, crs*maxCols))
	dyBuf := getScratch(sizeIf(grouped, g.k*maxCols))
	defer scratch.Put(colBuf)
	defer scratch.Put(dcolBuf)
	defer scratch.Put(dyBuf)
	var wtp *[]float32 // wᵀ packed once for every chunk's dx
	if needDx {
		wtp = c.packAll(kernel, true, crs, g.k, wv, crs)
		defer scratch.Put(wtp)
	}
	for i, ch := range chunks {
		cols := ch.cols(g)
		single := ch.n1-ch.n0 == 1
		// The chunk's dy as a [K, cols] matrix with row stride lda.
		am, lda := gv[ch.n0*g.k*pix+ch.oy0*g.ow:], pix
		if !single {
			am, lda = *dyBuf, cols
			c.moveImages(am, gv, g, ch, true)
		}
		if single && g.direct() {
			c.sgemm(false, true, g.k, crs, cols, am, lda, xv[ch.n0*img:(ch.n0+1)*img], cols, dwv, crs, i > 0)
		} else {
			c.im2colPackedT(*colBuf, xv, g, ch, kernel)
			dyp := c.packAll(kernel, false, g.k, cols, am, lda)
			c.gemmPacked(kernel, g.k, crs, cols, *dyp, *colBuf, dwv, crs, i > 0)
			scratch.Put(dyp)
		}
		if !needDx {
			continue
		}
		if single && g.direct() {
			c.gemmPackedA(kernel, crs, cols, g.k, *wtp, false, am, lda, dxv[ch.n0*img:(ch.n0+1)*img], cols, false)
			continue
		}
		dcol := *dcolBuf
		c.gemmPackedA(kernel, crs, cols, g.k, *wtp, false, am, lda, dcol, cols, false)
		per := (ch.oy1 - ch.oy0) * g.ow
		for n := ch.n0; n < ch.n1; n++ {
			c.col2im(dxv[n*img:(n+1)*img], dcol, cols, (n-ch.n0)*per, g, ch.oy0, ch.oy1)
		}
	}
	if hasBias {
		db = c.Sum(dy, []int{0, 2, 3}, false)
	}
	return dx, dw, db
}
