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
// col itself is never built: the forward pass gathers it straight into the
// GEMM's packed panels (packCol), the filter gradient its transpose
// (packColT), both from a padded copy of the input (convPad). Chunks depend
// only on the shapes, so results are deterministic.
//
// Within a chunk the work runs in blocks, one parallelFor task each, that
// a worker takes from start to end on its own (serialCPU): it packs its part
// of col and multiplies it. The forward pass splits a chunk into blocks of
// columns (whole images when the chunk has several), the filter gradient
// into blocks of tap panels, the data gradient of several images into
// blocks of whole images. A block's packed col (at most about
// convBlockFloats, 512 KiB) is still in L2 when the GEMM reads it: a chunk
// of 64 RoIs of 4×4 with 576 taps has a 2.4 MiB col. On one thread, blocks
// made that chunk's forward pass about 15% faster and the forward pass of a
// 3×3 convolution of 64 channels on a 150×250 map a quarter faster. And a
// chunk costs one or a few rounds of goroutines rather than one per packing
// pass and GEMM slice: on the 2-core development VM, where waking the other
// worker costs tens of microseconds, the head's 4×4 forward pass took 2.3 ms
// with about 44 rounds a call and 1.5 ms with 12 (one quiet measurement).
// Blocks leave every result's bits as they are: output columns do not
// depend on one another, a dx element's terms all come from its own image,
// and a block of dw adds the same gemmKC slices in the same order as one
// GEMM over the whole chunk.
//
// The chunk and block sizes are variables only so that tests can force
// bands, small groups and small blocks on small shapes.
var (
	convColBudget   = 1 << 22
	convGroupCols   = 1024    // group whole images until a chunk has this many columns
	convBlockFloats = 1 << 17 // col (or dcol) floats in one block
	convBlockMin    = 2 * gemmNG
)

// blockCols is the most columns of a forward block. With a large CRS it
// keeps convBlockMin columns all the same, so that each packed block of
// weights serves enough columns.
func (g convGeom) blockCols() int {
	return max(convBlockMin, convBlockFloats/(g.c*g.r*g.s))
}

// blockImages is the most images of a data-gradient block.
func (g convGeom) blockImages() int {
	return max(1, convBlockFloats/(g.c*g.r*g.s*g.oh*g.ow))
}

// splitBlocks cuts n units of work into nb blocks of per units (the last
// one shorter), per at most maxPer. The count is rounded up to a multiple
// of the workers while blocks keep a unit each, so that parallelFor's
// contiguous split gives every worker the same number of blocks.
func (c *CPU) splitBlocks(n, maxPer int) (nb, per int) {
	if n == 0 {
		return 0, 1
	}
	maxPer = max(1, maxPer)
	nb = (n + maxPer - 1) / maxPer
	if w := c.workers; w > 1 {
		nb = min(n, (nb+w-1)/w*w)
	}
	per = (n + nb - 1) / nb
	return (n + per - 1) / per, per
}

// serialCPU does the work of one block inside a parallelFor task.
var serialCPU = &CPU{workers: 1}

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

// singleCols is the widest chunk of one image, 0 when there is none.
func (g convGeom) singleCols(chunks []convChunk) int {
	n := 0
	for _, ch := range chunks {
		if ch.n1-ch.n0 == 1 {
			n = max(n, ch.cols(g))
		}
	}
	return n
}

// sizeIf is n when the buffer is needed and 0 otherwise.
func sizeIf(need bool, n int) int {
	if need {
		return n
	}
	return 0
}

// convPad lays out the buffer that a chunk's col matrix is read from (and
// its dx added into): per image, per channel, rows of wp floats, starting
// at input row oy0·sh−ph of the chunk's first output row oy0 and at input
// column −pw. With padding in memory, col[row, j] is
// buf[colBase[j] + rowOff[row]] for every row and column: no bounds logic,
// no segments. Feature maps of 4×4 or 8×8 outputs made the per-segment
// bookkeeping of a direct im2col (a few columns per output row, a clear and
// a copy call per segment) cost several times the copying itself.
//
// An unpadded convolution reads x itself (inPlace: wp = W, planes of H·W),
// from its first input row on. A padded one reads a zero-padded copy (see
// padMove) of hp×wp planes, just large enough for every tap of every output
// of the widest chunk. The tables depend only on the band height, and every
// chunk is a prefix of the widest one, so one layout serves all chunks of a
// call.
type convPad struct {
	inPlace    bool
	hp, wp     int   // rows and row stride of a plane
	plane, img int   // strides of channels and images
	size       int   // padded buffer for the widest chunk; 0 in place
	colBase    []int // column j of a chunk: image, output row and column
	rowOff     []int // CRS row: channel and tap
	// quads: every aligned group of 4 columns is 4 consecutive floats in
	// the buffer (stride 1 and OW a multiple of 4), so one 16-byte move
	// does 4.
	quads bool
}

func (g convGeom) padLayout(widest convChunk) convPad {
	p, band := g.p, widest.oy1-widest.oy0
	l := convPad{
		inPlace: p.PadH == 0 && p.PadW == 0,
		hp:      (band-1)*p.StrideH + (g.r-1)*p.DilationH + 1,
		wp:      (g.ow-1)*p.StrideW + (g.s-1)*p.DilationW + 1,
		quads:   p.StrideW == 1 && g.ow%4 == 0,
	}
	if l.inPlace {
		l.hp, l.wp = g.h, g.w
	}
	l.plane = l.hp * l.wp
	l.img = g.c * l.plane
	if !l.inPlace {
		l.size = (widest.n1 - widest.n0) * l.img
	}
	l.colBase = make([]int, widest.cols(g))
	j := 0
	for n := range widest.n1 - widest.n0 {
		for oy := range band {
			for ox := range g.ow {
				l.colBase[j] = n*l.img + oy*p.StrideH*l.wp + ox*p.StrideW
				j++
			}
		}
	}
	l.rowOff = make([]int, g.c*g.r*g.s)
	for row := range l.rowOff {
		ci, ri, si := row/(g.r*g.s), row/g.s%g.r, row%g.s
		l.rowOff[row] = ci*l.plane + ri*p.DilationH*l.wp + si*p.DilationW
	}
	return l
}

// padBuffer returns what chunk ch's offsets index, from x (the input, or dx):
// x itself from the chunk's first input row when inPlace, else buf filled
// by padMove in mode.
func (c *CPU) padBuffer(buf, x []float32, g convGeom, l convPad, ch convChunk, mode padMode) []float32 {
	if l.inPlace {
		return x[ch.n0*l.img+ch.oy0*g.p.StrideH*l.wp : ch.n1*l.img]
	}
	pad := buf[: (ch.n1-ch.n0)*l.img : len(buf)] // within len: a short buffer is a bug
	c.padMove(pad, x, g, l, ch, mode)
	return pad
}

// padMode says what padMove does.
type padMode int

const (
	padLoad  padMode = iota // fill pad from x, zero where it lies outside the image
	padZero                 // zero pad: the dx of images that no chunk has touched yet
	padStore                // copy the inside of pad back to x, for col2im
)

// padMove moves data between the chunk's images of x and the padded buffer
// pad. Padded rows that lie inside the image but past the chunk's band are
// moved too: a load leaves them as they are in x, and a store writes back
// what was loaded.
func (c *CPU) padMove(pad, x []float32, g convGeom, l convPad, ch convChunk, mode padMode) {
	iy0 := ch.oy0*g.p.StrideH - g.p.PadH
	// Padded rows [y0, y1) and columns [a, a+n) are inside the image, at
	// input rows from iy0+y0 and columns from 0.
	y0 := min(max(0, -iy0), l.hp)
	y1 := max(y0, min(l.hp, g.h-iy0))
	a := min(g.p.PadW, l.wp)
	n := max(0, min(g.p.PadW+g.w, l.wp)-a)
	plane, wp, hw, w, first := l.plane, l.wp, g.h*g.w, g.w, ch.n0*g.c
	c.parallelFor((ch.n1-ch.n0)*g.c, max(1, elemGrain/plane), func(lo, hi int) {
		if mode != padStore {
			// One clear of all this task's planes, then the inside over it:
			// on maps of a few pixels a clear call per padding strip would
			// cost more than the copying.
			clear(pad[lo*plane : hi*plane])
		}
		if mode == padZero {
			return
		}
		for q := lo; q < hi; q++ {
			for py := y0; py < y1; py++ {
				o, i := q*plane+py*wp+a, (first+q)*hw+(iy0+py)*w
				if mode == padStore {
					copyShort(x[i:i+n], pad[o:o+n])
				} else {
					copyShort(pad[o:o+n], x[i:i+n])
				}
			}
		}
	})
}

// copyShort is copy for rows that are often only a few elements long, where
// a call to memmove costs more than the copy: 16-byte moves (the compiler
// turns wider array copies into memmove calls), then a loop.
func copyShort(d, s []float32) {
	if len(s) > 64 {
		copy(d, s)
		return
	}
	d = d[:len(s)]
	for len(s) >= 4 {
		*(*[4]float32)(d) = [4]float32(s)
		d, s = d[4:], s[4:]
	}
	for i, v := range s {
		d[i] = v
	}
}

// packCol writes columns [j0, j1) of a chunk's col matrix (CRS × cols, the
// images of the chunk side by side) from its padded input (padBuffer)
// straight into the packed panels that gemmPacked reads for kern, saving
// the col pass and its copy into panels. A task fills one panel × one
// gemmKC slice of rows; tasks run panel by panel, so parallelFor's equal
// split of the task list is an equal split of the work whatever the last
// slice's depth. Columns past j1 in the last panel are zeroed.
func (c *CPU) packCol(dst, pad []float32, g convGeom, l convPad, j0, j1 int, kern microKernel) {
	crs, cols, nr := g.c*g.r*g.s, j1-j0, kern.nr
	np, slices := (cols+nr-1)/nr, (crs+gemmKC-1)/gemmKC
	cb := l.colBase[j0:j1]
	quads := l.quads && nr%4 == 0 && j0%4 == 0 // then every panel's columns are whole quads
	c.parallelFor(np*slices, max(1, elemGrain/(gemmKC*nr)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			jp, pc := t/slices, t%slices*gemmKC
			kcb := min(gemmKC, crs-pc)
			gatherPanel(dst[pc*np*nr+jp*nr*kcb:pc*np*nr+(jp+1)*nr*kcb], nr, pad,
				l.rowOff[pc:pc+kcb], cb[jp*nr:min(cols, (jp+1)*nr)], quads)
		}
	})
}

// packColT writes the transpose of pixel columns [q0, q1) (at most
// gemmKC) of a chunk's col matrix, taps [p0·nr, p1·nr), as the packed panels
// that gemmPacked reads as op(B) for the filter gradient dw = dy · colᵀ:
// panel jp at (jp−p0)·nr·(q1−q0), nr taps wide, one row per pixel. Taps
// past CRS in the last panel are zeroed.
func packColT(dst, pad []float32, l convPad, q0, q1, p0, p1, nr int) {
	kcb, crs := q1-q0, len(l.rowOff)
	for jp := p0; jp < p1; jp++ {
		gatherPanel(dst[(jp-p0)*nr*kcb:(jp-p0+1)*nr*kcb], nr, pad,
			l.colBase[q0:q1], l.rowOff[jp*nr:min(crs, (jp+1)*nr)], false)
	}
}

// gatherPanel fills the rows of a packed panel, nr floats each:
// panel[i·nr+jj] = buf[outer[i]+inner[jj]] for jj < len(inner), zero up to
// nr. packCol passes CRS row offsets as outer and column bases as inner,
// packColT the reverse. quads says that inner is groups of 4 consecutive
// offsets. A function of its own so that the compiler keeps the loops'
// values in registers (inside the parallelFor closure it spilled them on
// every element); the full 16-wide panels of the AVX2 kernel get unrolled
// loops.
func gatherPanel(panel []float32, nr int, buf []float32, outer, inner []int, quads bool) {
	if nr == 16 && len(inner) == 16 {
		in := (*[16]int)(inner)
		if quads {
			for i, o := range outer {
				d, src := (*[16]float32)(panel[i*16:i*16+16]), buf[o:]
				*(*[4]float32)(d[0:4]) = [4]float32(src[in[0] : in[0]+4])
				*(*[4]float32)(d[4:8]) = [4]float32(src[in[4] : in[4]+4])
				*(*[4]float32)(d[8:12]) = [4]float32(src[in[8] : in[8]+4])
				*(*[4]float32)(d[12:16]) = [4]float32(src[in[12] : in[12]+4])
			}
			return
		}
		for i, o := range outer {
			d, src := (*[16]float32)(panel[i*16:i*16+16]), buf[o:]
			d[0], d[1], d[2], d[3] = src[in[0]], src[in[1]], src[in[2]], src[in[3]]
			d[4], d[5], d[6], d[7] = src[in[4]], src[in[5]], src[in[6]], src[in[7]]
			d[8], d[9], d[10], d[11] = src[in[8]], src[in[9]], src[in[10]], src[in[11]]
			d[12], d[13], d[14], d[15] = src[in[12]], src[in[13]], src[in[14]], src[in[15]]
		}
		return
	}
	for i, o := range outer {
		d, src := panel[i*nr:i*nr+nr], buf[o:]
		for jj, off := range inner {
			d[jj] = src[off]
		}
		clear(d[len(inner):])
	}
}

// col2im adds dcol (CRS × cols: whole images, or a whole band) into their
// padded dx pad (padBuffer) at pad[colBase[j] + rowOff[row]]; padding
// positions collect terms that are never stored. Goroutines own input channels; each visits its rows
// (ri, si) and within a row the columns (image, oy, ox) in order, so every
// dx element receives its terms in the same order as a direct loop over
// (ri, si, oy, ox), whatever the worker count.
func (c *CPU) col2im(pad, dcol []float32, cols int, g convGeom, l convPad) {
	rs, cb := g.r*g.s, l.colBase[:cols]
	c.parallelFor(g.c, max(1, elemGrain/(cols*rs)), func(lo, hi int) {
		for row := lo * rs; row < hi*rs; row++ {
			addRow(pad[l.rowOff[row]:], dcol[row*cols:(row+1)*cols], cb, l.quads)
		}
	})
}

// addRow adds src[j] to buf[idx[j]] for every j, in order; quads says that
// idx is groups of 4 consecutive offsets. A function of its own so that the
// compiler keeps the loop's values in registers.
func addRow(buf, src []float32, idx []int, quads bool) {
	idx = idx[:len(src)]
	j := 0
	if quads {
		for ; j+4 <= len(src); j += 4 {
			o := idx[j]
			d, v := (*[4]float32)(buf[o:o+4]), (*[4]float32)(src[j:j+4])
			d[0] += v[0]
			d[1] += v[1]
			d[2] += v[2]
			d[3] += v[3]
		}
	}
	for ; j < len(src); j++ {
		buf[idx[j]] += src[j]
	}
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
					copyShort(a, b)
				} else {
					copyShort(b, a)
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
	_, _, directSingle := g.plan(chunks)
	var l convPad // zero when no chunk needs col
	if !directSingle && len(chunks) > 0 {
		l = g.padLayout(chunks[0])
	}
	// Chunks of one image share one padded buffer; tasks pad their own
	// images of a chunk of several.
	padBuf := getScratch(sizeIf(g.singleCols(chunks) > 0, l.size))
	defer scratch.Put(padBuf)
	wp := c.packAll(kernel, false, g.k, crs, wv, crs)
	defer scratch.Put(wp)
	nr, blk := kernel.nr, g.blockCols()
	for _, ch := range chunks {
		cols := ch.cols(g)
		if ch.n1-ch.n0 == 1 {
			ym := yv[ch.n0*g.k*pix+ch.oy0*g.ow:]
			if g.direct() {
				c.gemmPackedA(kernel, g.k, cols, crs, *wp, false, xv[ch.n0*img:(ch.n0+1)*img], cols, ym, pix, false)
				continue
			}
			// Blocks of whole panels of one image (or band), written
			// straight into y: columns do not depend on one another.
			in := c.padBuffer(*padBuf, xv, g, l, ch, padLoad)
			nb, per := c.splitBlocks((cols+nr-1)/nr, blk/nr)
			c.parallelFor(nb, 1, func(lo, hi int) {
				colBuf := getScratch(packedBSize(kernel, per*nr, crs))
				defer scratch.Put(colBuf)
				for bl := lo; bl < hi; bl++ {
					j0, j1 := bl*per*nr, min(cols, (bl+1)*per*nr)
					serialCPU.packCol(*colBuf, in, g, l, j0, j1, kernel)
					serialCPU.gemmPacked(kernel, g.k, j1-j0, crs, *wp, *colBuf, ym[j0:], pix, false)
				}
			})
			continue
		}
		// Blocks of whole images: a task pads its images, multiplies them
		// into its own [K, cols] matrix and scatters that into y.
		nb, per := c.splitBlocks(ch.n1-ch.n0, blk/pix)
		c.parallelFor(nb, 1, func(lo, hi int) {
			padB, colBuf, outBuf := getScratch(sizeIf(!l.inPlace, per*l.img)), getScratch(packedBSize(kernel, per*pix, crs)), getScratch(g.k*per*pix)
			defer scratch.Put(padB)
			defer scratch.Put(colBuf)
			defer scratch.Put(outBuf)
			for bl := lo; bl < hi; bl++ {
				sub := convChunk{ch.n0 + bl*per, min(ch.n1, ch.n0+(bl+1)*per), 0, g.oh}
				bc := sub.cols(g)
				serialCPU.packCol(*colBuf, serialCPU.padBuffer(*padB, xv, g, l, sub, padLoad), g, l, 0, bc, kernel)
				serialCPU.gemmPacked(kernel, g.k, bc, crs, *wp, *colBuf, *outBuf, bc, false)
				serialCPU.moveImages(*outBuf, yv, g, sub, false)
			}
		})
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
	var l convPad // zero (and the padded buffers empty) when no chunk needs col
	if !directSingle && len(chunks) > 0 {
		l = g.padLayout(chunks[0])
	}
	padBuf, dyBuf := getScratch(l.size), getScratch(sizeIf(grouped, g.k*maxCols))
	defer scratch.Put(padBuf)
	defer scratch.Put(dyBuf)
	// Chunks of one image (or band) take dx in one piece: a dx element's
	// terms come from all of the chunk's columns.
	singleCols := g.singleCols(chunks)
	dxPadBuf := getScratch(sizeIf(needDx && singleCols > 0, l.size))
	dcolBuf := getScratch(sizeIf(needDx && !directSingle, crs*singleCols))
	defer scratch.Put(dxPadBuf)
	defer scratch.Put(dcolBuf)
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
			if needDx {
				c.gemmPackedA(kernel, crs, cols, g.k, *wtp, false, am, lda, dxv[ch.n0*img:(ch.n0+1)*img], cols, false)
			}
			continue
		}
		c.convFilterGrad(dwv, c.padBuffer(*padBuf, xv, g, l, ch, padLoad), am, lda, g, l, cols, i > 0)
		if !needDx {
			continue
		}
		if single {
			// Bands of one image overlap in dx: load what earlier bands
			// added, so that each element's sum runs in the same order as
			// without bands.
			mode := padLoad
			if ch.oy0 == 0 && ch.oy1 == g.oh {
				mode = padZero // the whole image: its dx is still all zero
			}
			dxPad := c.padBuffer(*dxPadBuf, dxv, g, l, ch, mode)
			c.gemmPackedA(kernel, crs, cols, g.k, *wtp, false, am, lda, *dcolBuf, cols, false)
			c.col2im(dxPad, *dcolBuf, cols, g, l)
			if !l.inPlace {
				c.padMove(dxPad, dxv, g, l, ch, padStore)
			}
			continue
		}
		// Blocks of whole images: a task takes its images' dcol and adds it
		// into their dx, which no other task touches.
		nb, per := c.splitBlocks(ch.n1-ch.n0, g.blockImages())
		c.parallelFor(nb, 1, func(lo, hi int) {
			padB, dcol := getScratch(sizeIf(!l.inPlace, per*l.img)), getScratch(crs*per*pix)
			defer scratch.Put(padB)
			defer scratch.Put(dcol)
			for bl := lo; bl < hi; bl++ {
				sub := convChunk{ch.n0 + bl*per, min(ch.n1, ch.n0+(bl+1)*per), 0, g.oh}
				j0, bc := (sub.n0-ch.n0)*pix, sub.cols(g)
				dxPad := serialCPU.padBuffer(*padB, dxv, g, l, sub, padZero)
				serialCPU.gemmPackedA(kernel, crs, bc, g.k, *wtp, false, am[j0:], lda, *dcol, bc, false)
				serialCPU.col2im(dxPad, *dcol, bc, g, l)
				if !l.inPlace {
					serialCPU.padMove(dxPad, dxv, g, l, sub, padStore)
				}
			}
		})
	}
	if hasBias {
		db = c.Sum(dy, []int{0, 2, 3}, false)
	}
	return dx, dw, db
}

// convFilterGrad adds the chunk's dy · colᵀ into dw (or sets dw when not
// acc), col read from the chunk's padded input in. Tasks own blocks of tap
// panels, so each writes its own columns of dw; a task packs its panels one
// gemmKC slice of pixels at a time (at most convBlockFloats, still in L2
// for the GEMM) and adds each slice's product in turn, which is what one
// GEMM over all the chunk's pixels does: dw comes out the same bits.
func (c *CPU) convFilterGrad(dwv, in, am []float32, lda int, g convGeom, l convPad, cols int, acc bool) {
	crs, nr, mr := g.c*g.r*g.s, kernel.nr, kernel.mr
	dyp := c.packAll(kernel, false, g.k, cols, am, lda)
	defer scratch.Put(dyp)
	np, mp := (crs+nr-1)/nr, (g.k+mr-1)/mr
	nb, per := c.splitBlocks(np, convBlockFloats/(nr*gemmKC))
	c.parallelFor(nb, 1, func(lo, hi int) {
		buf := getScratch(per * nr * gemmKC)
		defer scratch.Put(buf)
		for bl := lo; bl < hi; bl++ {
			p0, p1 := bl*per, min(np, (bl+1)*per)
			n0, n1 := p0*nr, min(crs, p1*nr)
			for pc := 0; pc < cols; pc += gemmKC {
				kcb := min(gemmKC, cols-pc)
				packColT(*buf, in, l, pc, pc+kcb, p0, p1, nr)
				serialCPU.gemmPacked(kernel, g.k, n1-n0, kcb, (*dyp)[pc*mp*mr:], *buf, dwv[n0:], crs, acc || pc > 0)
			}
		}
	})
}
