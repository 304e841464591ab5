//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/golden"
)

// Parity tests of the tensor-core kernels (precision tf32 and bf16) against
// the CPU backend, in two measures, both the relative L2 (Frobenius) error
// ‖got − want‖₂ / ‖want‖₂ over the whole output (expect in ops_test.go):
//
//   - tight: the CPU computes with operands already rounded as the kernels
//     round them (TF32 cvt.rna, BF16 round to nearest even). Products of
//     rounded operands are exact in fp32, so only the summation order
//     differs, as in the FP32 tests: tolerance 2e-6·√K. A fragment mapping
//     that pairs the wrong elements gives errors of order 1.
//   - stated precision: the CPU computes in plain fp32 on the unrounded
//     operands. For uniform operands the error is that of rounding each
//     operand once: at most tcTol[p] (TF32 1e-3, BF16 8e-3; the values
//     measured are printed with -v) and at least tcFloor[p], so a test that
//     silently ran the FP32 kernel fails.

var (
	tcPrecisions = []backend.Precision{backend.TF32, backend.BF16}
	tcTol        = map[backend.Precision]float64{backend.TF32: 1e-3, backend.BF16: 8e-3}
	tcFloor      = map[backend.Precision]float64{backend.TF32: 3e-5, backend.BF16: 3e-4}
)

// roundTF32 is cvt.rna.tf32.f32 (ties away from zero), roundBF16 float →
// bf16 round to nearest even, widened back: golden.RoundTo, tested there.
func roundTF32(x float32) float32 { return golden.RoundTo(x, backend.TF32) }
func roundBF16(x float32) float32 { return golden.RoundTo(x, backend.BF16) }

func roundTo(p backend.Precision, v []float32) []float32 {
	f := roundTF32
	if p == backend.BF16 {
		f = roundBF16
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = f(x)
	}
	return out
}

// tcBackend returns the shared test GPU with policy p, restoring FP32 after.
func tcBackend(t *testing.T, p backend.MatrixPolicy) (*Backend, *cpu.CPU) {
	t.Helper()
	g, c := denseBackends(t)
	if g.Device().Major < 8 {
		t.Skipf("device %s has no tf32/bf16 tensor cores", g.DeviceName())
	}
	if err := g.SetMatrixPolicy(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.SetMatrixPolicy(backend.MatrixPolicy{}); err != nil {
			t.Fatal(err)
		}
	})
	return g, c
}

// relL2 is ‖got − want‖₂ / ‖want‖₂ (NaN if any value is not finite).
func relL2(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		a, b := float64(got[i]), float64(want[i])
		num += (a - b) * (a - b)
		den += b * b
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-30)
}

// expectTC applies both measures to one result: tight against wantRounded,
// within [tcFloor, tcTol] of wantPlain.
func expectTC(t *testing.T, what string, p backend.Precision, g *Backend, got, wantRounded, wantPlain *backend.Tensor, k int) {
	t.Helper()
	expect(t, what+" vs rounded operands", g, got, wantRounded, 2e-6*math.Sqrt(float64(k)))
	rel := relL2(g.ToFloat32(got), cpu.F32(wantPlain))
	if !(rel <= tcTol[p] && rel >= tcFloor[p]) {
		t.Fatalf("%s: relative L2 error vs plain fp32 %.3g, want within [%.3g, %.3g]", what, rel, tcFloor[p], tcTol[p])
	}
	t.Logf("%s: relative L2 error vs fp32 %.3g", what, rel)
}

// Small shapes (the emulator runs ~1 GFLOP/s): ragged edges in every
// dimension, K not a multiple of 8, and a tall-K case that takes split-K.
var tcMatMulShapes = [][3]int{{1, 1, 1}, {3, 5, 7}, {129, 130, 37}, {64, 200, 9}, {20, 300, 64}, {16, 16, 3000}}

func TestTensorCoreMatMul(t *testing.T) {
	for _, p := range tcPrecisions {
		g, c := tcBackend(t, backend.MatrixPolicy{MatMul: p})
		r := rand.New(rand.NewPCG(21, uint64(p)))
		for _, s := range tcMatMulShapes {
			m, n, k := s[0], s[1], s[2]
			if splits, _ := g.splitK(ceilDiv(n, gemmTile)*ceilDiv(m, gemmTile), k); k == 3000 && splits < 2 {
				t.Fatalf("MatMul %dx%dx%d was meant to exercise split-K but takes %d split(s)", m, n, k, splits)
			}
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					as, bs := matmulOperandShapes(m, n, k, ta, tb)
					av, bv := denseRand(r, m*k, -1, 1), denseRand(r, k*n, -1, 1)
					got := g.MatMul(g.FromFloat32(av, as...), g.FromFloat32(bv, bs...), ta, tb)
					rounded := c.MatMul(c.FromFloat32(roundTo(p, av), as...), c.FromFloat32(roundTo(p, bv), bs...), ta, tb)
					plain := c.MatMul(c.FromFloat32(av, as...), c.FromFloat32(bv, bs...), ta, tb)
					what := fmt.Sprintf("%s MatMul %dx%dx%d transA %v transB %v", p, m, n, k, ta, tb)
					if m*n*k == 1 {
						// One product: the plain error is one rounding or none.
						expect(t, what, g, got, rounded, 0)
						continue
					}
					expectTC(t, what, p, g, got, rounded, plain, k)
				}
			}
		}
	}
}

// expectSameBits fails unless a and b are identical bit for bit (run-to-run
// determinism).
func expectSameBits(t *testing.T, what string, a, b []float32) {
	t.Helper()
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("%s: not deterministic at %d: %v vs %v", what, i, a[i], b[i])
		}
	}
}

// matmulOperandShapes returns the shapes of a and b for op(a)·op(b) of size
// m×k·k×n.
func matmulOperandShapes(m, n, k int, transA, transB bool) (as, bs []int) {
	as, bs = []int{m, k}, []int{k, n}
	if transA {
		as = []int{k, m}
	}
	if transB {
		bs = []int{n, k}
	}
	return as, bs
}

// tcConvCases: the stem (7×7/2), a 3×3 with channels past one tile, a
// strided 1×1, dilation and asymmetric stride; small batches.
var tcConvCases = []struct {
	x, w []int
	p    backend.Conv2dParams
}{
	{[]int{1, 3, 23, 19}, []int{16, 3, 7, 7}, backend.Conv2dParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3, DilationH: 1, DilationW: 1}},
	{[]int{1, 130, 9, 7}, []int{129, 130, 3, 3}, backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}},
	{[]int{2, 64, 14, 14}, []int{72, 64, 1, 1}, backend.Conv2dParams{StrideH: 2, StrideW: 2, DilationH: 1, DilationW: 1}},
	{[]int{1, 5, 12, 10}, []int{7, 5, 3, 3}, backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilationH: 2, DilationW: 2}},
	{[]int{2, 3, 11, 8}, []int{5, 3, 3, 2}, backend.Conv2dParams{StrideH: 3, StrideW: 1, PadW: 1, DilationH: 1, DilationW: 2}},
}

func TestTensorCoreConv2d(t *testing.T) {
	for _, p := range tcPrecisions {
		g, c := tcBackend(t, backend.MatrixPolicy{Conv: p})
		r := rand.New(rand.NewPCG(22, uint64(p)))
		for _, cs := range tcConvCases {
			what := fmt.Sprintf("%s x %v w %v %+v", p, cs.x, cs.w, cs.p)
			xv, wv, bv := denseRand(r, backend.Numel(cs.x), -1, 1), denseRand(r, backend.Numel(cs.w), -1, 1), denseRand(r, cs.w[0], -1, 1)
			gx, gw, gb := g.FromFloat32(xv, cs.x...), g.FromFloat32(wv, cs.w...), g.FromFloat32(bv, cs.w[0])
			rx, rw := c.FromFloat32(roundTo(p, xv), cs.x...), c.FromFloat32(roundTo(p, wv), cs.w...)
			px, pw, cb := c.FromFloat32(xv, cs.x...), c.FromFloat32(wv, cs.w...), c.FromFloat32(bv, cs.w[0])
			crs := cs.w[1] * cs.w[2] * cs.w[3]
			gy := g.Conv2d(gx, gw, gb, cs.p)
			expectTC(t, "Conv2d "+what, p, g, gy, c.Conv2d(rx, rw, cb, cs.p), c.Conv2d(px, pw, cb, cs.p), crs)

			dyv := denseRand(r, backend.Numel(gy.Shape), -1, 1)
			gdy, rdy, pdy := g.FromFloat32(dyv, gy.Shape...), c.FromFloat32(roundTo(p, dyv), gy.Shape...), c.FromFloat32(dyv, gy.Shape...)
			gdx, gdw, _ := g.Conv2dBackward(gx, gw, gdy, cs.p, true, false)
			rdx, rdw, _ := c.Conv2dBackward(rx, rw, rdy, cs.p, true, false)
			pdx, pdw, _ := c.Conv2dBackward(px, pw, pdy, cs.p, true, false)
			taps := cs.w[0] * cs.w[2] * cs.w[3]
			pix := gy.Shape[0] * gy.Shape[2] * gy.Shape[3]
			expectTC(t, "Conv2dBackward dx "+what, p, g, gdx, rdx, pdx, taps)
			expectTC(t, "Conv2dBackward dw "+what, p, g, gdw, rdw, pdw, pix)
		}
	}
}

// The filter gradient of a deep layer takes split-K; at tf32 it stays
// run-to-run identical (the partials are summed in a fixed order).
func TestTensorCoreConvFilterGradSplitK(t *testing.T) {
	g, c := tcBackend(t, backend.MatrixPolicy{Conv: backend.TF32})
	r := rand.New(rand.NewPCG(23, 23))
	xs, ws := []int{2, 16, 24, 24}, []int{16, 16, 3, 3}
	p := backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}
	pix := 2 * 24 * 24
	if splits, _ := g.splitK(1, pix); splits < 2 {
		t.Fatalf("filter gradient over %d pixels takes %d split(s); the test needs split-K", pix, splits)
	}
	xv, wv, dyv := denseRand(r, backend.Numel(xs), -1, 1), denseRand(r, backend.Numel(ws), -1, 1), denseRand(r, pix*16, -1, 1)
	gx, gw, gdy := g.FromFloat32(xv, xs...), g.FromFloat32(wv, ws...), g.FromFloat32(dyv, 2, 16, 24, 24)
	_, dw1, _ := g.Conv2dBackward(gx, gw, gdy, p, false, false)
	_, dw2, _ := g.Conv2dBackward(gx, gw, gdy, p, false, false)
	expectSameBits(t, "tf32 filter gradient run twice", g.ToFloat32(dw1), g.ToFloat32(dw2))
	_, rdw, _ := c.Conv2dBackward(c.FromFloat32(roundTo(backend.TF32, xv), xs...), c.FromFloat32(wv, ws...),
		c.FromFloat32(roundTo(backend.TF32, dyv), 2, 16, 24, 24), p, false, false)
	_, pdw, _ := c.Conv2dBackward(c.FromFloat32(xv, xs...), c.FromFloat32(wv, ws...), c.FromFloat32(dyv, 2, 16, 24, 24), p, false, false)
	expectTC(t, "tf32 split-K filter gradient", backend.TF32, g, dw1, rdw, pdw, pix)
}

func TestMatrixPolicy(t *testing.T) {
	g, _ := denseBackends(t)
	if p := g.MatrixPolicy(); p != (backend.MatrixPolicy{}) {
		t.Fatalf("a fresh backend's policy is %v, want all fp32", p)
	}
	for _, c := range []struct {
		p    backend.Precision
		name string
	}{{backend.FP32, "matmul_nn_forward_kernel"}, {backend.TF32, "matmul_nn_forward_tf32_kernel"}, {backend.BF16, "matmul_nn_forward_bf16_kernel"}} {
		if got := kernelFor("matmul_nn_forward_kernel", c.p); got != c.name {
			t.Errorf("kernelFor(%s) = %s, want %s", c.p, got, c.name)
		}
	}
	if err := g.SetMatrixPolicy(backend.MatrixPolicy{Conv: backend.Precision(7)}); err == nil || !strings.Contains(err.Error(), "Precision(7)") {
		t.Errorf("an unknown precision must be refused naming it, got %v", err)
	}
	// A Volta/Turing device refuses tf32 and bf16 and keeps its policy.
	old := &Backend{g: &gpu{info: DeviceInfo{Index: 1, Name: "Tesla V100", Major: 7, Minor: 0}}}
	for _, p := range []backend.MatrixPolicy{{Conv: backend.TF32}, {MatMul: backend.BF16}} {
		err := old.SetMatrixPolicy(p)
		if err == nil || !strings.Contains(err.Error(), "compute capability 8.0") || !strings.Contains(err.Error(), "has 7.0") {
			t.Errorf("sm_70 with %v: got %v, want an error naming the compute capability", p, err)
		}
		if old.MatrixPolicy() != (backend.MatrixPolicy{}) {
			t.Errorf("a refused policy was kept: %v", old.MatrixPolicy())
		}
	}
	if err := old.SetMatrixPolicy(backend.MatrixPolicy{}); err != nil {
		t.Errorf("fp32 on sm_70: %v", err)
	}
}
