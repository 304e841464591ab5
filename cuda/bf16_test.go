//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// BF16 activation storage (bf16.go): the casts round as the CPU-side
// roundBF16 does; RoIAlign under a BF16 conv policy returns BF16 storage
// holding bf16(RoI-Align of bf16(x)); convolutions reading BF16 x compute
// the same bits as from the widened fp32 x, forward and filter gradient;
// and the FP32 and TF32 kernels refuse BF16 x by name.

func TestBF16Casts(t *testing.T) {
	g, _ := denseBackends(t)
	r := rand.New(rand.NewPCG(31, 31))
	v := denseRand(r, 1001, -3, 3) // odd length: the last element ends mid-word
	for _, u := range []uint32{0x3f808000, 0x3f818000, 0x7f7fffff, 0xff800000, 0x7fc00001, 0x00000001, 0x80000000} {
		v = append(v, math.Float32frombits(u)) // ties both ways, overflow to Inf, -Inf, NaN, denormal, -0
	}
	x := g.FromFloat32(v, len(v))
	b := g.ToBF16(x)
	if b.DType != backend.BFloat16 || !backend.SameShape(b.Shape, x.Shape) {
		t.Fatalf("ToBF16 gave %v", b)
	}
	got := g.ToFloat32(b)
	for i, want := range v {
		w := roundBF16(want)
		if math.IsNaN(float64(want)) {
			if !math.IsNaN(float64(got[i])) {
				t.Fatalf("element %d: NaN became %v", i, got[i])
			}
			continue
		}
		if math.Float32bits(got[i]) != math.Float32bits(w) {
			t.Fatalf("element %d (%#x): bf16 %#x, want %#x", i, math.Float32bits(want), math.Float32bits(got[i]), math.Float32bits(w))
		}
	}
	if !math.IsInf(float64(got[len(v)-5]), 1) || !math.IsInf(float64(got[len(v)-4]), -1) {
		t.Fatalf("0x7f7fffff should round to +Inf and -Inf stay: %v %v", got[len(v)-5], got[len(v)-4])
	}
	z := g.Zeros(backend.BFloat16, 7)
	for i, e := range g.ToFloat32(z) {
		if e != 0 {
			t.Fatalf("Zeros(BF16)[%d] = %v", i, e)
		}
	}
}

func TestBF16RoIAlignStorage(t *testing.T) {
	g, c := tcBackend(t, backend.MatrixPolicy{Conv: backend.BF16})
	r := rand.New(rand.NewPCG(32, 32))
	xs := []int{2, 6, 13, 17}
	xv := denseRand(r, backend.Numel(xs), -2, 2)
	rois := []float32{0, 1, 2, 40, 30, 1, 10.5, 3.25, 60, 50, 0, -4, -4, 8, 8, 1, 0, 0, 0, 0, 0, 1, 1, 9, 9}
	p := backend.RoIAlignParams{OutH: 4, OutW: 5, SpatialScale: 0.25, SamplingRatio: 2, Aligned: true}
	grois, crois := g.FromFloat32(rois, 5, 5), c.FromFloat32(rois, 5, 5)
	gy := g.RoIAlign(g.FromFloat32(xv, xs...), grois, p)
	if gy.DType != backend.BFloat16 {
		t.Fatalf("RoIAlign under a BF16 conv policy gave %v, want BF16 storage", gy)
	}
	// The CPU's RoI-Align of the BF16-rounded input, rounded once more.
	want := roundTo(backend.BF16, c.ToFloat32(c.RoIAlign(c.FromFloat32(roundTo(backend.BF16, xv), xs...), crois, p)))
	got := g.ToFloat32(gy)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("RoIAlign BF16 element %d: %v, want %v (bf16 of the CPU's result on bf16 input)", i, got[i], want[i])
		}
	}
	// A BF16 input is taken as it is.
	gy2 := g.RoIAlign(g.ToBF16(g.FromFloat32(xv, xs...)), grois, p)
	expectSameBits(t, "RoIAlign of BF16 x vs of fp32 x", g.ToFloat32(gy2), got)
	// The plain fp32 answer is within BF16 rounding of it, and not equal.
	plain := c.ToFloat32(c.RoIAlign(c.FromFloat32(xv, xs...), crois, p))
	if rel := relL2(got, plain); !(rel < 8e-3 && rel > 1e-4) {
		t.Fatalf("RoIAlign BF16 vs fp32: relative L2 %.3g, want in (1e-4, 8e-3)", rel)
	} else {
		t.Logf("RoIAlign BF16 storage vs fp32: relative L2 %.3g", rel)
	}

	// Outside a BF16 policy the output is FP32, and BF16 x is refused.
	if err := g.SetMatrixPolicy(backend.MatrixPolicy{Conv: backend.TF32}); err != nil {
		t.Fatal(err)
	}
	if y := g.RoIAlign(g.FromFloat32(xv, xs...), grois, p); y.DType != backend.F32 {
		t.Fatalf("RoIAlign under tf32 gave %v", y)
	}
	msg := mustPanic(t, "RoIAlign of BF16 x under tf32", func() { g.RoIAlign(gy, grois, p) })
	if !strings.Contains(msg, "RoIAlign") {
		t.Fatalf("panic %q does not name the op", msg)
	}
}

func TestBF16StorageConv(t *testing.T) {
	g, _ := tcBackend(t, backend.MatrixPolicy{Conv: backend.BF16})
	r := rand.New(rand.NewPCG(33, 33))
	for _, cs := range tcConvCases {
		what := fmt.Sprintf("x %v w %v %+v", cs.x, cs.w, cs.p)
		xv := roundTo(backend.BF16, denseRand(r, backend.Numel(cs.x), -1, 1))
		wv := denseRand(r, backend.Numel(cs.w), -1, 1)
		fx, gw, gb := g.FromFloat32(xv, cs.x...), g.FromFloat32(wv, cs.w...), g.FromFloat32(denseRand(r, cs.w[0], -1, 1), cs.w[0])
		bx := g.ToBF16(fx)
		yf, yb := g.Conv2d(fx, gw, gb, cs.p), g.Conv2d(bx, gw, gb, cs.p)
		expectSameBits(t, "Conv2d of BF16 x vs widened "+what, g.ToFloat32(yb), g.ToFloat32(yf))
		dy := g.FromFloat32(denseRand(r, backend.Numel(yf.Shape), -1, 1), yf.Shape...)
		dxf, dwf, _ := g.Conv2dBackward(fx, gw, dy, cs.p, true, false)
		dxb, dwb, _ := g.Conv2dBackward(bx, gw, dy, cs.p, true, false)
		if dxb.DType != backend.F32 || dwb.DType != backend.F32 {
			t.Fatalf("%s: gradients %v %v, want FP32", what, dxb, dwb)
		}
		expectSameBits(t, "Conv2dBackward dx of BF16 x "+what, g.ToFloat32(dxb), g.ToFloat32(dxf))
		expectSameBits(t, "Conv2dBackward dw of BF16 x "+what, g.ToFloat32(dwb), g.ToFloat32(dwf))
	}
	// The FP32 and TF32 kernels read fp32 x only.
	x := g.ToBF16(g.FromFloat32(make([]float32, 2*3*5*5), 2, 3, 5, 5))
	w := g.FromFloat32(make([]float32, 4*3*3*3), 4, 3, 3, 3)
	p := backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}
	for _, prec := range []backend.Precision{backend.FP32, backend.TF32} {
		if err := g.SetMatrixPolicy(backend.MatrixPolicy{Conv: prec}); err != nil {
			t.Fatal(err)
		}
		msg := mustPanic(t, "Conv2d of BF16 x at "+prec.String(), func() { g.Conv2d(x, w, nil, p) })
		if !strings.Contains(msg, "BF16") || !strings.Contains(msg, "Conv2d") {
			t.Fatalf("panic %q should name the op and BF16", msg)
		}
	}
}
