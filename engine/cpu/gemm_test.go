package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// refGemm is op(A)·op(B) in float64 for row-major a (lda) and b (ldb).
func refGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int) []float64 {
	out, _ := refGemmAbs(transA, transB, m, n, k, a, lda, b, ldb)
	return out
}

// refGemmAbs also returns |op(A)|·|op(B)|, the scale of float32 rounding
// error in each output: a k-term float32 dot product is within
// (k+1)·2⁻²⁴·Σ|a·b| of the exact value.
func refGemmAbs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int) (out, abs []float64) {
	out, abs = make([]float64, m*n), make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s, sa := 0.0, 0.0
			for p := 0; p < k; p++ {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
				sa += math.Abs(float64(av) * float64(bv))
			}
			out[i*n+j], abs[i*n+j] = s, sa
		}
	}
	return out, abs
}

// assertGemmClose checks every element against the float32 error bound.
func assertGemmClose(t *testing.T, name string, got []float32, want, abs []float64, k int) {
	t.Helper()
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= float64(k+1)*0x1p-24*abs[i]) {
			t.Fatalf("%s: element %d = %v, want %v (|error| %.3g, bound %.3g)", name, i, got[i], w, d, float64(k+1)*0x1p-24*abs[i])
		}
	}
}

// nanPadded returns a rows×cols matrix with row stride cols+3; the padding
// holds NaN so that any read past a row poisons the result.
func nanPadded(r *rand.Rand, rows, cols int) ([]float32, int) {
	ld := cols + 3
	m := make([]float32, rows*ld)
	for i := range m {
		if i%ld >= cols {
			m[i] = float32(math.NaN())
		} else {
			m[i] = float32(r.Float64()*2 - 1)
		}
	}
	return m, ld
}

func kernelsUnderTest() []microKernel {
	if kernel.name == goKernel.name {
		return []microKernel{goKernel}
	}
	return []microKernel{goKernel, kernel}
}

func TestSgemmOddSizesAllTransposes(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 7, 33, 129}
	if testing.Short() {
		sizes = []int{1, 7, 33}
	}
	for _, kern := range kernelsUnderTest() {
		for _, m := range sizes {
			for _, n := range sizes {
				for _, k := range append(sizes, 300) { // 300 > gemmKC: two k-slices
					for _, ta := range []bool{false, true} {
						for _, tb := range []bool{false, true} {
							ar, ac := m, k
							if ta {
								ar, ac = k, m
							}
							br, bc := k, n
							if tb {
								br, bc = n, k
							}
							a, lda := nanPadded(r, ar, ac)
							b, ldb := nanPadded(r, br, bc)
							cm, ldc := nanPadded(r, m, n)
							c.sgemmWith(kern, ta, tb, m, n, k, a, lda, b, ldb, cm, ldc, false)
							want, abs := refGemmAbs(ta, tb, m, n, k, a, lda, b, ldb)
							got := make([]float32, m*n)
							for i := 0; i < m; i++ {
								copy(got[i*n:(i+1)*n], cm[i*ldc:])
								for j := n; j < ldc; j++ {
									if v := cm[i*ldc+j]; v == v {
										t.Fatalf("%s: C padding overwritten at row %d col %d", kern.name, i, j)
									}
								}
							}
							assertGemmClose(t, fmt.Sprintf("%s m%d n%d k%d tA%v tB%v", kern.name, m, n, k, ta, tb), got, want, abs, k)
						}
					}
				}
			}
		}
	}
}

// TestSgemmSeveralBlocks crosses every blocking boundary at once: m over
// gemmMC rows, n over gemmNC columns, k over gemmKC.
func TestSgemmSeveralBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("large reference product")
	}
	c := New()
	r := rand.New(rand.NewPCG(9, 10))
	m, n, k := gemmMC+5, gemmNC+37, gemmKC+11
	a, lda := nanPadded(r, k, m)
	b, ldb := nanPadded(r, k, n)
	cm := make([]float32, m*n)
	c.sgemm(true, false, m, n, k, a, lda, b, ldb, cm, n, false)
	want, abs := refGemmAbs(true, false, m, n, k, a, lda, b, ldb)
	assertGemmClose(t, "blocks", cm, want, abs, k)
}

func TestSgemmAccumulates(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(3, 4))
	m, n, k := 37, 45, 19
	a, _ := randF32(r, m*k, -1, 1)
	b, _ := randF32(r, k*n, -1, 1)
	cm, cd := randF32(r, m*n, -1, 1)
	c.sgemm(false, false, m, n, k, a, k, b, n, cm, n, true)
	want := refGemm(false, false, m, n, k, a, k, b, n)
	for i := range want {
		want[i] += cd[i]
	}
	assertClose(t, "acc", cm, want, 1e-6)
}

func TestMatMulAllTransposes(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(5, 6))
	m, k, n := 7, 33, 5
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			as, bs := []int{m, k}, []int{k, n}
			if ta {
				as = []int{k, m}
			}
			if tb {
				bs = []int{n, k}
			}
			av, _ := randF32(r, m*k, -1, 1)
			bv, _ := randF32(r, k*n, -1, 1)
			y := c.MatMul(c.FromFloat32(av, as...), c.FromFloat32(bv, bs...), ta, tb)
			if !backend.SameShape(y.Shape, []int{m, n}) {
				t.Fatalf("MatMul tA %v tB %v: shape %v, want [%d %d]", ta, tb, y.Shape, m, n)
			}
			want, abs := refGemmAbs(ta, tb, m, n, k, av, as[1], bv, bs[1])
			assertGemmClose(t, fmt.Sprintf("MatMul tA %v tB %v", ta, tb), F32(y), want, abs, k)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("MatMul of [3,5]·[4,5] without transpose did not panic")
		}
	}()
	c.MatMul(c.Zeros(backend.F32, 3, 5), c.Zeros(backend.F32, 4, 5), false, false)
}

func TestSgemmDeterministicAcrossWorkers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	m, n, k := 200, 300, 700
	a, _ := randF32(r, m*k, -1, 1)
	b, _ := randF32(r, k*n, -1, 1)
	one, many := &CPU{workers: 1}, &CPU{workers: 7}
	c1, c7 := make([]float32, m*n), make([]float32, m*n)
	one.sgemm(false, false, m, n, k, a, k, b, n, c1, n, false)
	many.sgemm(false, false, m, n, k, a, k, b, n, c7, n, false)
	for i := range c1 {
		if math.Float32bits(c1[i]) != math.Float32bits(c7[i]) {
			t.Fatalf("1 worker and 7 workers differ at %d: %v vs %v", i, c1[i], c7[i])
		}
	}
}

func BenchmarkSgemm1024(b *testing.B) {
	for _, kern := range kernelsUnderTest() {
		b.Run(kern.name, func(b *testing.B) {
			c := New()
			r := rand.New(rand.NewPCG(1, 1))
			const n = 1024
			x, _ := randF32(r, n*n, -1, 1)
			y, _ := randF32(r, n*n, -1, 1)
			z := make([]float32, n*n)
			b.ResetTimer()
			for b.Loop() {
				c.sgemmWith(kern, false, false, n, n, n, x, n, y, n, z, n, false)
			}
			b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkMicroKernel runs the micro-kernel alone on L1-resident panels
// (kc = gemmKC): the ceiling the blocked SGEMM can approach.
func BenchmarkMicroKernel(b *testing.B) {
	for _, kern := range kernelsUnderTest() {
		b.Run(kern.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			ap, _ := randF32(r, gemmKC*kern.mr, -1, 1)
			bp, _ := randF32(r, gemmKC*kern.nr, -1, 1)
			cm := make([]float32, kern.mr*kern.nr)
			for b.Loop() {
				kern.fn(gemmKC, ap, bp, cm, kern.nr)
			}
			b.ReportMetric(2*float64(gemmKC*kern.mr*kern.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
