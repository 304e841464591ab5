package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

type convCase struct {
	n, c, h, w, k, r, s int
	p                   backend.Conv2dParams
}

func (cc convCase) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d_w%dx%dx%d_s%d,%d_p%d,%d_d%d,%d", cc.n, cc.c, cc.h, cc.w, cc.k, cc.r, cc.s,
		cc.p.StrideH, cc.p.StrideW, cc.p.PadH, cc.p.PadW, cc.p.DilationH, cc.p.DilationW)
}

func cp(stride, pad, dil int) backend.Conv2dParams {
	return backend.Conv2dParams{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad, DilationH: dil, DilationW: dil}
}

// convCases cover the direct 1×1 path, im2col with stride, padding and
// dilation, the 7×7 stem pattern and unequal H/W attributes; batches of one
// run the single-image path, batches of two the image-group path.
var convCases = []convCase{
	{1, 4, 5, 6, 3, 1, 1, cp(1, 0, 1)},
	{2, 5, 6, 7, 3, 1, 1, cp(1, 0, 1)},
	{2, 4, 7, 9, 3, 1, 1, cp(2, 0, 1)},
	{1, 3, 6, 5, 4, 3, 3, cp(1, 1, 1)},
	{2, 3, 7, 8, 2, 3, 3, cp(2, 1, 1)},
	{1, 2, 9, 8, 3, 3, 3, cp(1, 2, 2)},
	{1, 3, 13, 11, 2, 7, 7, cp(2, 3, 1)},
	{1, 2, 7, 6, 3, 3, 2, backend.Conv2dParams{StrideH: 2, StrideW: 1, PadH: 0, PadW: 1, DilationH: 1, DilationW: 2}},
	{2, 3, 1, 1, 2, 3, 3, cp(1, 1, 1)}, // a 1×1 map: only the centre tap is inside
	{1, 2, 3, 2, 2, 3, 3, cp(3, 1, 1)}, // stride larger than the map
}

// refConv is a direct float64 convolution; b may be nil.
func refConv(x, w, b []float64, cc convCase) []float64 {
	p := cc.p
	oh, ow := p.OutSize(cc.h, cc.w, cc.r, cc.s)
	y := make([]float64, cc.n*cc.k*oh*ow)
	for n := 0; n < cc.n; n++ {
		for k := 0; k < cc.k; k++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					s := 0.0
					if b != nil {
						s = b[k]
					}
					for c := 0; c < cc.c; c++ {
						for r := 0; r < cc.r; r++ {
							iy := oy*p.StrideH - p.PadH + r*p.DilationH
							if iy < 0 || iy >= cc.h {
								continue
							}
							for q := 0; q < cc.s; q++ {
								ix := ox*p.StrideW - p.PadW + q*p.DilationW
								if ix < 0 || ix >= cc.w {
									continue
								}
								s += x[((n*cc.c+c)*cc.h+iy)*cc.w+ix] * w[((k*cc.c+c)*cc.r+r)*cc.s+q]
							}
						}
					}
					y[((n*cc.k+k)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return y
}

// refConvBackward is the float64 adjoint of refConv: dx and dw.
func refConvBackward(x, w, dy []float64, cc convCase) (dx, dw []float64) {
	p := cc.p
	oh, ow := p.OutSize(cc.h, cc.w, cc.r, cc.s)
	dx, dw = make([]float64, len(x)), make([]float64, len(w))
	for n := 0; n < cc.n; n++ {
		for k := 0; k < cc.k; k++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					g := dy[((n*cc.k+k)*oh+oy)*ow+ox]
					for c := 0; c < cc.c; c++ {
						for r := 0; r < cc.r; r++ {
							iy := oy*p.StrideH - p.PadH + r*p.DilationH
							if iy < 0 || iy >= cc.h {
								continue
							}
							for q := 0; q < cc.s; q++ {
								ix := ox*p.StrideW - p.PadW + q*p.DilationW
								if ix < 0 || ix >= cc.w {
									continue
								}
								xi, wi := ((n*cc.c+c)*cc.h+iy)*cc.w+ix, ((k*cc.c+c)*cc.r+r)*cc.s+q
								dx[xi] += w[wi] * g
								dw[wi] += x[xi] * g
							}
						}
					}
				}
			}
		}
	}
	return dx, dw
}

// withKernel runs f with the package's micro-kernel set to kern, so the
// portable kernel's panel widths are covered end to end on AVX2 machines.
func withKernel(kern microKernel, f func()) {
	saved := kernel
	kernel = kern
	defer func() { kernel = saved }()
	f()
}

func TestConv2dForwardBackward(t *testing.T) {
	for _, kern := range kernelsUnderTest() {
		withKernel(kern, func() { testConv2dForwardBackward(t, kern.name) })
	}
}

func testConv2dForwardBackward(t *testing.T, kname string) {
	c := New()
	r := rand.New(rand.NewPCG(11, 12))
	for _, cc := range convCases {
		t.Run(kname+"/"+cc.String(), func(t *testing.T) {
			oh, ow := cc.p.OutSize(cc.h, cc.w, cc.r, cc.s)
			xf, xd := randF32(r, cc.n*cc.c*cc.h*cc.w, -1, 1)
			wf, wd := randF32(r, cc.k*cc.c*cc.r*cc.s, -1, 1)
			bf, bd := randF32(r, cc.k, -1, 1)
			gf, gd := randF32(r, cc.n*cc.k*oh*ow, -1, 1)
			x, w, b := c.FromFloat32(xf, cc.n, cc.c, cc.h, cc.w), c.FromFloat32(wf, cc.k, cc.c, cc.r, cc.s), c.FromFloat32(bf, cc.k)
			y := c.Conv2d(x, w, b, cc.p)
			if !backend.SameShape(y.Shape, []int{cc.n, cc.k, oh, ow}) {
				t.Fatalf("shape %v, want [%d %d %d %d]", y.Shape, cc.n, cc.k, oh, ow)
			}
			assertClose(t, "y", F32(y), refConv(xd, wd, bd, cc), 1e-6)
			assertClose(t, "y without bias", F32(c.Conv2d(x, w, nil, cc.p)), refConv(xd, wd, nil, cc), 1e-6)

			dx, dw, db := c.Conv2dBackward(x, w, c.FromFloat32(gf, cc.n, cc.k, oh, ow), cc.p, true, true)
			num := numericGrad(func(in [][]float64) []float64 { return refConv(in[0], in[1], in[2], cc) },
				[][]float64{xd, wd, bd}, gd, 1e-3)
			assertClose(t, "dx", F32(dx), num[0], 1e-5)
			assertClose(t, "dw", F32(dw), num[1], 1e-5)
			assertClose(t, "db", F32(db), num[2], 1e-5)
			dx2, dw2, db2 := c.Conv2dBackward(x, w, c.FromFloat32(gf, cc.n, cc.k, oh, ow), cc.p, false, false)
			if dx2 != nil || db2 != nil {
				t.Fatal("dx or db returned when not asked for")
			}
			assertClose(t, "dw without dx", F32(dw2), num[1], 1e-5)
		})
	}
}

// TestConv2dBands takes a shape whose im2col matrix exceeds convColBudget,
// so forward and both backward passes run over several bands of rows.
func TestConv2dBands(t *testing.T) {
	if testing.Short() {
		t.Skip("large im2col case")
	}
	cc := convCase{1, 64, 121, 64, 3, 3, 3, cp(1, 1, 1)}
	if ch := (convGeom{n: 1, c: cc.c, r: 3, s: 3, oh: cc.h, ow: cc.w, p: cc.p}).chunks(); len(ch) < 2 {
		t.Fatalf("case does not split into bands: %v", ch)
	}
	c := New()
	r := rand.New(rand.NewPCG(13, 14))
	xf, xd := randF32(r, cc.n*cc.c*cc.h*cc.w, -1, 1)
	wf, wd := randF32(r, cc.k*cc.c*9, -1, 1)
	gf, gd := randF32(r, cc.n*cc.k*cc.h*cc.w, -1, 1)
	x, w := c.FromFloat32(xf, cc.n, cc.c, cc.h, cc.w), c.FromFloat32(wf, cc.k, cc.c, 3, 3)
	assertClose(t, "y", F32(c.Conv2d(x, w, nil, cc.p)), refConv(xd, wd, nil, cc), 1e-6)
	dx, dw, _ := c.Conv2dBackward(x, w, c.FromFloat32(gf, cc.n, cc.k, cc.h, cc.w), cc.p, true, false)
	rdx, rdw := refConvBackward(xd, wd, gd, cc)
	assertClose(t, "dx", F32(dx), rdx, 1e-6)
	assertClose(t, "dw", F32(dw), rdw, 1e-6)
}

// TestConv2dImageGroups runs enough small images that they are split into
// several groups of whole images.
func TestConv2dImageGroups(t *testing.T) {
	for _, cc := range []convCase{
		{23, 3, 7, 7, 4, 3, 3, cp(1, 1, 1)},
		{45, 6, 5, 5, 5, 1, 1, cp(1, 0, 1)},
		{70, 4, 8, 8, 3, 1, 1, cp(2, 0, 1)},
	} {
		t.Run(cc.String(), func(t *testing.T) {
			oh, ow := cc.p.OutSize(cc.h, cc.w, cc.r, cc.s)
			g := convGeom{n: cc.n, c: cc.c, r: cc.r, s: cc.s, oh: oh, ow: ow, p: cc.p}
			if ch := g.chunks(); len(ch) < 2 || ch[0].n1-ch[0].n0 < 2 {
				t.Fatalf("case does not split into image groups: %v", ch)
			}
			c := New()
			r := rand.New(rand.NewPCG(17, 18))
			xf, xd := randF32(r, cc.n*cc.c*cc.h*cc.w, -1, 1)
			wf, wd := randF32(r, cc.k*cc.c*cc.r*cc.s, -1, 1)
			gf, gd := randF32(r, cc.n*cc.k*oh*ow, -1, 1)
			x, w := c.FromFloat32(xf, cc.n, cc.c, cc.h, cc.w), c.FromFloat32(wf, cc.k, cc.c, cc.r, cc.s)
			assertClose(t, "y", F32(c.Conv2d(x, w, nil, cc.p)), refConv(xd, wd, nil, cc), 1e-6)
			dx, dw, _ := c.Conv2dBackward(x, w, c.FromFloat32(gf, cc.n, cc.k, oh, ow), cc.p, true, false)
			rdx, rdw := refConvBackward(xd, wd, gd, cc)
			assertClose(t, "dx", F32(dx), rdx, 1e-6)
			assertClose(t, "dw", F32(dw), rdw, 1e-6)
		})
	}
}

// TestTapRanges compares the in-image output range of each kernel tap with
// a brute force scan over sizes, strides, paddings, dilations and taps.
func TestTapRanges(t *testing.T) {
	for in := 1; in <= 7; in++ {
		for stride := 1; stride <= 3; stride++ {
			for pad := 0; pad <= 3; pad++ {
				for dil := 1; dil <= 2; dil++ {
					for taps := 1; taps <= 4; taps++ {
						out := (in+2*pad-dil*(taps-1)-1)/stride + 1
						if out < 1 {
							continue
						}
						for tap, rg := range tapRanges(in, out, taps, stride, dil, pad) {
							for o := 0; o < out; o++ {
								i := o*stride - pad + tap*dil
								if inside, inRange := i >= 0 && i < in, o >= rg.lo && o < rg.hi; inside != inRange || (inside && i != rg.base+o*stride) {
									t.Fatalf("in %d stride %d pad %d dil %d tap %d: output %d (input %d) vs range [%d,%d) base %d",
										in, stride, pad, dil, tap, o, i, rg.lo, rg.hi, rg.base)
								}
							}
						}
					}
				}
			}
		}
	}
}

// The explicit im2col below is the reference the packed producers are
// checked against: the textbook layout, one col row per kernel tap.

// im2col writes, for output rows [oy0, oy1) of the image x, col[row*ld+off+
// (oy-oy0)*OW+ox] = x[ci, oy*sh-ph+ri*dh, ox*sw-pw+si*dw] (0 outside) with
// row = (ci*R+ri)*S+si.
func (c *CPU) im2col(col []float32, ld, off int, x []float32, g convGeom, oy0, oy1 int) {
	p, cols := g.p, (oy1-oy0)*g.ow
	colRanges, rowRanges := g.validCols(), g.validRows()
	c.parallelFor(g.c*g.r*g.s, max(1, elemGrain/cols), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			ci, ri, si := row/(g.r*g.s), row/g.s%g.r, row%g.s
			dst := col[row*ld+off : row*ld+off+cols]
			plane := x[ci*g.h*g.w : (ci+1)*g.h*g.w]
			base, x0, x1 := colRanges[si].base, colRanges[si].lo, colRanges[si].hi
			// Output rows [a, b) read inside the image; the rest are padding.
			a := min(max(rowRanges[ri].lo, oy0), oy1)
			b := max(min(rowRanges[ri].hi, oy1), a)
			clear(dst[:(a-oy0)*g.ow])
			clear(dst[(b-oy0)*g.ow:])
			for oy := a; oy < b; oy++ {
				d := dst[(oy-oy0)*g.ow : (oy-oy0+1)*g.ow]
				iy := rowRanges[ri].base + oy*p.StrideH
				src := plane[iy*g.w : (iy+1)*g.w]
				for q := range x0 {
					d[q] = 0
				}
				for q := x1; q < len(d); q++ {
					d[q] = 0
				}
				if p.StrideW == 1 {
					copy(d[x0:x1], src[base+x0:])
					continue
				}
				for ox := x0; ox < x1; ox++ {
					d[ox] = src[base+ox*p.StrideW]
				}
			}
		}
	})
}

// buildCol fills col [CRS, cols] for a chunk, one image after another.
func (c *CPU) buildCol(col, x []float32, g convGeom, ch convChunk) {
	img, cols := g.c*g.h*g.w, ch.cols(g)
	per := (ch.oy1 - ch.oy0) * g.ow
	for n := ch.n0; n < ch.n1; n++ {
		c.im2col(col, cols, (n-ch.n0)*per, x[n*img:(n+1)*img], g, ch.oy0, ch.oy1)
	}
}

// TestIm2colPackedMatchesPackedCol checks the packed im2col and its
// transpose against the explicit col matrix packed by packB, for both kernels' panel widths, for
// row bands, image groups, several im2colGroup blocks and CRS > gemmKC. dst starts
// as NaN so that a value never written shows up.
func TestIm2colPackedMatchesPackedCol(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, cc := range []convCase{
		{3, 5, 9, 7, 1, 3, 3, cp(2, 1, 1)},
		{2, 3, 13, 11, 1, 7, 7, cp(2, 3, 1)},
		{1, 40, 6, 9, 1, 3, 3, cp(1, 2, 2)},
		{1, 30, 21, 20, 1, 3, 3, cp(1, 1, 1)}, // several panel groups and two KC slices
		{4, 2, 7, 6, 1, 3, 2, backend.Conv2dParams{StrideH: 2, StrideW: 1, PadH: 0, PadW: 1, DilationH: 1, DilationW: 2}},
	} {
		xf, _ := randF32(r, cc.n*cc.c*cc.h*cc.w, -1, 1)
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.r, cc.s)
		g := convGeom{n: cc.n, c: cc.c, h: cc.h, w: cc.w, k: 1, r: cc.r, s: cc.s, oh: oh, ow: ow, p: cc.p}
		crs := cc.c * cc.r * cc.s
		chunks := []convChunk{{0, cc.n, 0, oh}, {cc.n - 1, cc.n, 1, oh - 1}}
		for _, kern := range kernelsUnderTest() {
			for _, ch := range chunks {
				c := New()
				cols := ch.cols(g)
				col := make([]float32, crs*cols)
				c.buildCol(col, xf, g, ch)
				want := make([]float32, packedBSize(kern, cols, crs))
				np := (cols + kern.nr - 1) / kern.nr
				for pc := 0; pc < crs; pc += gemmKC {
					kcb := min(gemmKC, crs-pc)
					for jp := 0; jp < np; jp++ {
						packB(want[pc*np*kern.nr+jp*kern.nr*kcb:], col, cols, false, pc, kcb, jp*kern.nr, min(kern.nr, cols-jp*kern.nr), kern.nr)
					}
				}
				got := make([]float32, len(want))
				for i := range got {
					got[i] = float32(math.NaN())
				}
				c.im2colPacked(got, xf, g, ch, kern)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v %s chunk %v: packed element %d = %v, want %v", cc, kern.name, ch, i, got[i], want[i])
					}
				}

				// The transpose, as the filter gradient reads it: k = cols, n = CRS.
				npT := (crs + kern.nr - 1) / kern.nr
				wantT := make([]float32, packedBSize(kern, crs, cols))
				for pc := 0; pc < cols; pc += gemmKC {
					kcb := min(gemmKC, cols-pc)
					for jp := 0; jp < npT; jp++ {
						packB(wantT[pc*npT*kern.nr+jp*kern.nr*kcb:], col, cols, true, pc, kcb, jp*kern.nr, min(kern.nr, crs-jp*kern.nr), kern.nr)
					}
				}
				gotT := make([]float32, len(wantT))
				for i := range gotT {
					gotT[i] = float32(math.NaN())
				}
				c.im2colPackedT(gotT, xf, g, ch, kern)
				for i := range wantT {
					if math.Float32bits(gotT[i]) != math.Float32bits(wantT[i]) {
						t.Fatalf("%v %s chunk %v: transposed packed element %d = %v, want %v", cc, kern.name, ch, i, gotT[i], wantT[i])
					}
				}
			}
		}
	}
}

func TestConv2dBackwardDeterministic(t *testing.T) {
	cc := convCase{3, 8, 15, 13, 16, 3, 3, cp(2, 1, 1)}
	r := rand.New(rand.NewPCG(15, 16))
	oh, ow := cc.p.OutSize(cc.h, cc.w, 3, 3)
	xf, _ := randF32(r, cc.n*cc.c*cc.h*cc.w, -1, 1)
	wf, _ := randF32(r, cc.k*cc.c*9, -1, 1)
	gf, _ := randF32(r, cc.n*cc.k*oh*ow, -1, 1)
	run := func(workers int) [][]float32 {
		c := &CPU{workers: workers}
		x, w := c.FromFloat32(xf, cc.n, cc.c, cc.h, cc.w), c.FromFloat32(wf, cc.k, cc.c, 3, 3)
		dx, dw, db := c.Conv2dBackward(x, w, c.FromFloat32(gf, cc.n, cc.k, oh, ow), cc.p, true, true)
		return [][]float32{F32(c.Conv2d(x, w, nil, cc.p)), F32(dx), F32(dw), F32(db)}
	}
	a, b := run(1), run(5)
	for i := range a {
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				t.Fatalf("output %d differs at %d between 1 and 5 workers: %v vs %v", i, j, a[i][j], b[i][j])
			}
		}
	}
}

// benchConv reports GFLOP/s for one forward pass (backward false) or one
// backward pass (backward true): 2·N·K·C·R·S·OH·OW for the forward and for
// each of dw and dx (dx only when needDx), and the CPU time per op of all
// threads together, which moves far less than wall time with other load.
func benchConv(b *testing.B, cc convCase, backward, needDx bool) {
	c := New()
	r := rand.New(rand.NewPCG(1, 2))
	oh, ow := cc.p.OutSize(cc.h, cc.w, cc.r, cc.s)
	xf, _ := randF32(r, cc.n*cc.c*cc.h*cc.w, -1, 1)
	wf, _ := randF32(r, cc.k*cc.c*cc.r*cc.s, -0.1, 0.1)
	x, w := c.FromFloat32(xf, cc.n, cc.c, cc.h, cc.w), c.FromFloat32(wf, cc.k, cc.c, cc.r, cc.s)
	flops := 2.0 * float64(cc.n*cc.k*cc.c*cc.r*cc.s*oh*ow)
	var dy *backend.Tensor
	if backward {
		gf, _ := randF32(r, cc.n*cc.k*oh*ow, -1, 1)
		dy = c.FromFloat32(gf, cc.n, cc.k, oh, ow)
		if needDx {
			flops *= 2
		}
	}
	cpu0 := cpuTime()
	for b.Loop() {
		if backward {
			c.Conv2dBackward(x, w, dy, cc.p, needDx, false)
		} else {
			c.Conv2d(x, w, nil, cc.p)
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// R-101 C4 shapes at batch 1 on a 600×1000 image (res4 at stride 16).
var (
	convRes4x3  = convCase{1, 256, 38, 63, 256, 3, 3, cp(1, 1, 1)}
	convRes5x1  = convCase{1, 1024, 38, 63, 2048, 1, 1, cp(2, 0, 1)}
	convRes4x1  = convCase{1, 1024, 38, 63, 256, 1, 1, cp(1, 0, 1)}
	convStem    = convCase{1, 3, 600, 1000, 64, 7, 7, cp(2, 3, 1)}
	convDilated = convCase{1, 512, 19, 32, 512, 3, 3, cp(1, 2, 2)}
	// res5's first block in the box head: 64 RoIs of 14×14 at a time.
	convHeadRes5 = convCase{64, 1024, 14, 14, 512, 1, 1, cp(2, 0, 1)}
	convHead3x3  = convCase{64, 512, 7, 7, 512, 3, 3, cp(1, 1, 1)}
)

func BenchmarkConvRes4_3x3_256(b *testing.B)       { benchConv(b, convRes4x3, false, true) }
func BenchmarkConvRes4_1x1_1024to256(b *testing.B) { benchConv(b, convRes4x1, false, true) }
func BenchmarkConvRes5_1x1_1024to2048s2(b *testing.B) {
	benchConv(b, convRes5x1, false, true)
}
func BenchmarkConvStem_7x7s2(b *testing.B)            { benchConv(b, convStem, false, true) }
func BenchmarkConvDilated_3x3d2_512(b *testing.B)     { benchConv(b, convDilated, false, true) }
func BenchmarkConvBackwardRes4_3x3_256(b *testing.B)  { benchConv(b, convRes4x3, true, true) }
func BenchmarkConvBackwardStem_7x7s2(b *testing.B)    { benchConv(b, convStem, true, true) }
func BenchmarkConvBackwardRes5_1x1s2(b *testing.B)    { benchConv(b, convRes5x1, true, true) }
func BenchmarkConvBackwardRes4_1x1_1024(b *testing.B) { benchConv(b, convRes4x1, true, true) }
func BenchmarkConvHeadRes5_1x1s2_64RoIs(b *testing.B) { benchConv(b, convHeadRes5, false, true) }
func BenchmarkConvHead_3x3_64RoIs(b *testing.B)       { benchConv(b, convHead3x3, false, true) }
func BenchmarkConvBackwardHead_3x3_64RoIs(b *testing.B) {
	benchConv(b, convHead3x3, true, true)
}
