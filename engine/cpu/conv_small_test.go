package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// im2colPacked and im2colPackedT are packCol and packColT over a whole
// chunk, padding x themselves: the form in which
// TestIm2colPackedMatchesPackedCol checks them against an explicit col.
func (c *CPU) im2colPacked(dst, x []float32, g convGeom, ch convChunk, kern microKernel) {
	l := g.padLayout(ch)
	c.packCol(dst, c.padBuffer(make([]float32, l.size), x, g, l, ch, padLoad), g, l, 0, ch.cols(g), kern)
}

func (c *CPU) im2colPackedT(dst, x []float32, g convGeom, ch convChunk, kern microKernel) {
	l := g.padLayout(ch)
	in := c.padBuffer(make([]float32, l.size), x, g, l, ch, padLoad)
	crs, cols, nr := g.c*g.r*g.s, ch.cols(g), kern.nr
	np := (crs + nr - 1) / nr
	for pc := 0; pc < cols; pc += gemmKC {
		packColT(dst[pc*np*nr:], in, l, pc, min(cols, pc+gemmKC), 0, np, nr)
	}
}

// The im2col reference in conv_test.go finds each kernel tap's in-image
// outputs with tapRanges, which the padded-buffer im2col no longer needs.

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

// convSmallCases are small and odd feature maps for the padded-buffer
// im2col: every pad, stride, dilation and kernel size the detector uses,
// maps narrower than a panel, and maps of one pixel.
var convSmallCases = []convCase{
	{3, 4, 5, 7, 5, 3, 3, cp(1, 1, 1)},   // odd 5×7 map
	{3, 3, 5, 7, 4, 3, 3, cp(2, 1, 1)},   // stride 2
	{2, 3, 9, 11, 4, 7, 7, cp(2, 3, 1)},  // the 7×7 stem's pattern, pad 3
	{3, 5, 7, 5, 6, 3, 3, cp(1, 2, 2)},   // dilation 2
	{4, 6, 5, 7, 3, 1, 1, cp(1, 0, 1)},   // 1×1: direct per image, x in place when grouped
	{4, 6, 8, 8, 3, 1, 1, cp(2, 0, 1)},   // 1×1 stride 2 as in the head's projection, x in place
	{3, 4, 6, 5, 3, 3, 3, cp(1, 0, 1)},   // unpadded 3×3, x in place
	{5, 4, 1, 1, 3, 3, 3, cp(1, 1, 1)},   // 1×1 maps: only the centre tap is inside
	{3, 2, 1, 1, 2, 1, 1, cp(1, 0, 1)},   // 1×1 maps, 1×1 kernel
	{4, 40, 4, 4, 7, 3, 3, cp(1, 1, 1)},  // the head's 4×4 maps: quads, CRS over two gemmKC slices
	{3, 8, 8, 8, 9, 3, 3, cp(2, 1, 1)},   // the head's strided 3×3
	{2, 3, 8, 12, 4, 3, 3, cp(1, 1, 1)},  // quads on rows of 12
	{3, 4, 13, 17, 5, 3, 3, cp(1, 1, 1)}, // 663 columns: dw over several gemmKC slices
	{2, 2, 7, 6, 3, 3, 2, backend.Conv2dParams{StrideH: 2, StrideW: 1, PadH: 0, PadW: 1, DilationH: 1, DilationW: 2}},
}

// convChunking forces one way of splitting a convolution into chunks and
// column blocks by setting convGroupCols, convColBudget, convBlockFloats
// and convBlockMin; check says whether the chunks came out that way, so
// that a case cannot silently test something else.
type convChunking struct {
	name       string
	groupCols  func(g convGeom) int
	budget     func(g convGeom) int
	blockMin   int  // 0: default blocks; else forward blocks of about this many columns, dw blocks of one panel, dx of one image
	wholeImage bool // every chunk is whole images, so dx sums in one order
	check      func(g convGeom, chunks []convChunk) bool
}

func oneGroup(g convGeom) int  { return 1 << 20 }
func noGroup(g convGeom) int   { return 1 }
func bigBudget(g convGeom) int { return 1 << 22 }

func oneGroupChunks(g convGeom, ch []convChunk) bool { return len(ch) == 1 && ch[0].n1-ch[0].n0 == g.n }
func bandsOf2(g convGeom, ch []convChunk) bool       { return g.direct() || ch[0].oy1 == min(2, g.oh) }

var convChunkings = []convChunking{
	{"one group", oneGroup, bigBudget, 0, true, oneGroupChunks},
	{"groups of 2", func(g convGeom) int { return 2 * g.oh * g.ow }, bigBudget, 0, true,
		func(g convGeom, ch []convChunk) bool { return ch[0].n1-ch[0].n0 == 2 && ch[len(ch)-1].n1 == g.n }},
	{"single images", noGroup, bigBudget, 0, true,
		func(g convGeom, ch []convChunk) bool { return len(ch) == g.n && ch[0].oy1 == g.oh }},
	{"bands of 2 rows", noGroup, func(g convGeom) int { return 2 * g.c * g.r * g.s * g.ow }, 0, false, bandsOf2},
	{"bands of 1 row", noGroup, func(g convGeom) int { return g.c * g.r * g.s * g.ow }, 0, false,
		func(g convGeom, ch []convChunk) bool { return g.direct() || len(ch) == g.n*g.oh }},
	// Blocks inside a chunk: the smallest (one panel or image each) and of
	// about 40 columns (several panels, or images of up to 40 pixels).
	{"one group in the smallest blocks", oneGroup, bigBudget, 1, true, oneGroupChunks},
	{"one group in blocks of 40", oneGroup, bigBudget, 40, true, oneGroupChunks},
	{"single images in the smallest blocks", noGroup, bigBudget, 1, true,
		func(g convGeom, ch []convChunk) bool { return len(ch) == g.n && ch[0].oy1 == g.oh }},
	{"bands of 2 rows in the smallest blocks", noGroup, func(g convGeom) int { return 2 * g.c * g.r * g.s * g.ow }, 1, false, bandsOf2},
}

// withChunking runs f with the chunking's variables set for g.
func withChunking(ck convChunking, g convGeom, f func()) {
	saved := [4]int{convGroupCols, convColBudget, convBlockFloats, convBlockMin}
	convGroupCols, convColBudget = ck.groupCols(g), ck.budget(g)
	if ck.blockMin > 0 {
		convBlockFloats, convBlockMin = 1, ck.blockMin
	}
	defer func() {
		convGroupCols, convColBudget, convBlockFloats, convBlockMin = saved[0], saved[1], saved[2], saved[3]
	}()
	f()
}

// absF64 is |v| elementwise: the reference run on |x|, |w|, |dy| bounds the
// sum of the magnitudes of each output's terms, which scales its rounding.
func absF64(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Abs(x)
	}
	return out
}

// assertNear checks every element: |got − want| ≤ tol · scale, scale the
// sum of the terms' magnitudes (at least tiny, for outputs with no terms).
func assertNear(t *testing.T, name string, got []float32, want, scale []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i, v := range got {
		if d := math.Abs(float64(v) - want[i]); !(d <= tol*max(scale[i], 1e-30)) {
			t.Fatalf("%s: element %d = %v, want %v (|diff| %.3g, scale %.3g)", name, i, v, want[i], d, scale[i])
		}
	}
}

func sameBits(a, b []float32) (int, bool) {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i, false
		}
	}
	return 0, len(a) == len(b)
}

// TestConvSmallMapsAgainstFloat64 runs forward, dx and dw of every small
// case under every chunking and both micro-kernels and compares each element
// with a float64 convolution. Within a kernel, y must be the same bits under
// every chunking (a column's dot products do not depend on its neighbours),
// dx too while chunks are whole images, and everything the same bits with
// 1 and 3 workers as with the default.
func TestConvSmallMapsAgainstFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, cc := range convSmallCases {
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.r, cc.s)
		g := convGeom{n: cc.n, c: cc.c, h: cc.h, w: cc.w, k: cc.k, r: cc.r, s: cc.s, oh: oh, ow: ow, p: cc.p}
		xf, xd := randF32(r, cc.n*cc.c*cc.h*cc.w, -1, 1)
		wf, wd := randF32(r, cc.k*cc.c*cc.r*cc.s, -1, 1)
		gf, gd := randF32(r, cc.n*cc.k*oh*ow, -1, 1)
		wantY := refConv(xd, wd, nil, cc)
		wantDx, wantDw := refConvBackward(xd, wd, gd, cc)
		scaleY := refConv(absF64(xd), absF64(wd), nil, cc)
		scaleDx, scaleDw := refConvBackward(absF64(xd), absF64(wd), absF64(gd), cc)
		for _, kern := range kernelsUnderTest() {
			var firstY, firstDx []float32
			for _, ck := range convChunkings {
				t.Run(fmt.Sprintf("%v/%s/%s", cc, kern.name, ck.name), func(t *testing.T) {
					withKernel(kern, func() {
						withChunking(ck, g, func() {
							if chunks := g.chunks(); !ck.check(g, chunks) {
								t.Fatalf("chunks %v are not %s", chunks, ck.name)
							}
							run := func(workers int) (y, dx, dw []float32) {
								c := &CPU{workers: workers}
								x, w := c.FromFloat32(xf, cc.n, cc.c, cc.h, cc.w), c.FromFloat32(wf, cc.k, cc.c, cc.r, cc.s)
								dxT, dwT, _ := c.Conv2dBackward(x, w, c.FromFloat32(gf, cc.n, cc.k, oh, ow), cc.p, true, false)
								return F32(c.Conv2d(x, w, nil, cc.p)), F32(dxT), F32(dwT)
							}
							y, dx, dw := run(New().workers)
							assertNear(t, "y", y, wantY, scaleY, 1e-5)
							assertNear(t, "dx", dx, wantDx, scaleDx, 1e-5)
							assertNear(t, "dw", dw, wantDw, scaleDw, 1e-5)
							for _, workers := range []int{1, 3} {
								y2, dx2, dw2 := run(workers)
								for name, pair := range map[string][2][]float32{"y": {y, y2}, "dx": {dx, dx2}, "dw": {dw, dw2}} {
									if i, ok := sameBits(pair[0], pair[1]); !ok {
										t.Fatalf("%s with %d workers differs at %d: %v vs %v", name, workers, i, pair[1][i], pair[0][i])
									}
								}
							}
							// dx with no dx asked for: dw alone, same bits.
							c := New()
							x, w := c.FromFloat32(xf, cc.n, cc.c, cc.h, cc.w), c.FromFloat32(wf, cc.k, cc.c, cc.r, cc.s)
							noDx, dwOnly, _ := c.Conv2dBackward(x, w, c.FromFloat32(gf, cc.n, cc.k, oh, ow), cc.p, false, false)
							if i, ok := sameBits(dw, F32(dwOnly)); noDx != nil || !ok {
								t.Fatalf("dw without dx differs at %d (dx %v)", i, noDx)
							}
							if firstY == nil {
								firstY, firstDx = y, dx
							}
							if i, ok := sameBits(firstY, y); !ok {
								t.Fatalf("y differs from the first chunking's at %d: %v vs %v", i, y[i], firstY[i])
							}
							if i, ok := sameBits(firstDx, dx); ck.wholeImage && !ok {
								t.Fatalf("dx differs from the first chunking's at %d: %v vs %v", i, dx[i], firstDx[i])
							}
						})
					})
				})
			}
		}
	}
}

// TestConvEmptyBatch: a batch of no images (an image with no RoIs left
// gives the head one) has no chunks at all; y and dx are empty and dw zero.
func TestConvEmptyBatch(t *testing.T) {
	c := New()
	for _, cc := range []convCase{
		{0, 3, 4, 4, 2, 3, 3, cp(1, 1, 1)},
		{0, 3, 4, 4, 2, 1, 1, cp(1, 0, 1)},
		{0, 3, 8, 8, 2, 1, 1, cp(2, 0, 1)},
	} {
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.r, cc.s)
		x := c.FromFloat32(nil, cc.n, cc.c, cc.h, cc.w)
		w := c.FromFloat32(make([]float32, cc.k*cc.c*cc.r*cc.s), cc.k, cc.c, cc.r, cc.s)
		for i := range F32(w) {
			F32(w)[i] = 1
		}
		y := c.Conv2d(x, w, nil, cc.p)
		dx, dw, _ := c.Conv2dBackward(x, w, c.FromFloat32(nil, cc.n, cc.k, oh, ow), cc.p, true, false)
		if len(F32(y)) != 0 || len(F32(dx)) != 0 || !backend.SameShape(dw.Shape, w.Shape) {
			t.Fatalf("%v: y %v, dx %v, dw %v", cc, y.Shape, dx.Shape, dw.Shape)
		}
		for _, v := range F32(dw) {
			if v != 0 {
				t.Fatalf("%v: dw %v, want zeros", cc, F32(dw))
			}
		}
	}
}
