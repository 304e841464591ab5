package cpu

import (
	"fmt"
	"sync"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// SGEMM in the Goto/BLIS style: op(A) is packed once into mr-row panels per
// gemmKC-deep slice of k, op(B) into nr-column panels per gemmKC×gemmNC block,
// and a register-blocked micro-kernel multiplies one A panel by one B panel.
// Packing absorbs the transposes, so the kernel only ever sees unit strides.
//
// Determinism: every C element is the sum over k-blocks in increasing order of
// the micro-kernel's in-order sum over its block, whichever goroutine computes
// its tile, so results do not depend on scheduling or on the worker count.
const (
	gemmKC = 256  // depth of one packed slice: an nr-panel of B (16 KiB) stays in L1
	gemmMC = 96   // rows of A per task: an mc×kc block of A (96 KiB) stays in L2
	gemmNC = 3072 // columns of B packed at once (3 MiB at kc=256)
	gemmNG = 128  // columns per task within a packed B block

	gemmMinWork = 1 << 18 // multiply-adds below which a goroutine costs more than it saves
)

// microKernel computes C[0:mr,0:nr] += A·B for packed panels a (kc×mr,
// column of mr per k) and b (kc×nr), C with row stride ldc. The sum over k
// starts from zero and is added to C at the end, so a tile computed into a
// scratch buffer and then added gives the same bits as one computed in place.
type microKernel struct {
	name   string
	mr, nr int
	fn     func(kc int, a, b, c []float32, ldc int)
}

// kernel is the micro-kernel chosen for this CPU (see gemm_amd64.go).
var kernel = goKernel

var goKernel = microKernel{name: "go4x4", mr: 4, nr: 4, fn: kernelGo4x4}

// kernelGo4x4 keeps the 16 accumulators in scalars so the compiler can hold
// them in registers; the portable fallback when no assembly kernel applies.
func kernelGo4x4(kc int, a, b, c []float32, ldc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	a, b = a[:kc*4], b[:kc*4]
	for ; len(a) >= 4 && len(b) >= 4; a, b = a[4:], b[4:] {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	r := c[0:4:4]
	r[0], r[1], r[2], r[3] = r[0]+c00, r[1]+c01, r[2]+c02, r[3]+c03
	r = c[ldc : ldc+4 : ldc+4]
	r[0], r[1], r[2], r[3] = r[0]+c10, r[1]+c11, r[2]+c12, r[3]+c13
	r = c[2*ldc : 2*ldc+4 : 2*ldc+4]
	r[0], r[1], r[2], r[3] = r[0]+c20, r[1]+c21, r[2]+c22, r[3]+c23
	r = c[3*ldc : 3*ldc+4 : 3*ldc+4]
	r[0], r[1], r[2], r[3] = r[0]+c30, r[1]+c31, r[2]+c32, r[3]+c33
}

// scratch pools packing buffers: a training step calls sgemm hundreds of
// times with the same sizes, and fresh multi-MiB slices would churn the GC.
var scratch sync.Pool

func getScratch(n int) *[]float32 {
	if p, ok := scratch.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// sgemm computes C = op(A)·op(B), or C += op(A)·op(B) when acc, for row-major
// matrices: op(A) is m×k (A is m×k with row stride lda, or k×m when transA),
// op(B) is k×n (B is k×n with row stride ldb, or n×k when transB), C is m×n
// with row stride ldc.
func (c *CPU) sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, cm []float32, ldc int, acc bool) {
	c.sgemmWith(kernel, transA, transB, m, n, k, a, lda, b, ldb, cm, ldc, acc)
}

func (c *CPU) sgemmWith(kern microKernel, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, cm []float32, ldc int, acc bool) {
	ap := c.packAll(kern, transA, m, k, a, lda)
	defer scratch.Put(ap)
	c.gemmPackedA(kern, m, n, k, *ap, transB, b, ldb, cm, ldc, acc)
}

// packAll packs the whole op(A) (m×k) for kern: slice pc (depth kcb) at
// pc·mp·mr, panel ip at +ip·mr·kcb. Callers that multiply the same A by
// several B (a convolution's weights by each chunk) pack it once; the
// buffer goes back with scratch.Put.
func (c *CPU) packAll(kern microKernel, transA bool, m, k int, a []float32, lda int) *[]float32 {
	mr := kern.mr
	mp := (m + mr - 1) / mr
	ap := getScratch(mp * mr * k)
	aPack := *ap
	c.parallelFor(mp, max(1, elemGrain/max(1, mr*k)), func(lo, hi int) {
		for ip := lo; ip < hi; ip++ {
			for pc := 0; pc < k; pc += gemmKC {
				kcb := min(gemmKC, k-pc)
				packA(aPack[pc*mp*mr+ip*mr*kcb:], a, lda, transA, ip*mr, min(mr, m-ip*mr), pc, kcb, mr)
			}
		}
	})
	return ap
}

// gemmPackedA is sgemm with op(A) from packAll and op(B) packed here.
func (c *CPU) gemmPackedA(kern microKernel, m, n, k int, aPack []float32, transB bool, b []float32, ldb int, cm []float32, ldc int, acc bool) {
	nr := kern.nr
	bp := getScratch(gemmKC * ((min(n, gemmNC) + nr - 1) / nr) * nr)
	defer scratch.Put(bp)
	c.gemm(kern, m, n, k, aPack, func(pc, kcb, jc, ncb int) []float32 {
		np := (ncb + nr - 1) / nr
		c.parallelFor(np, max(1, elemGrain/(nr*kcb)), func(lo, hi int) {
			for jp := lo; jp < hi; jp++ {
				packB((*bp)[jp*nr*kcb:], b, ldb, transB, pc, kcb, jc+jp*nr, min(nr, n-jc-jp*nr), nr)
			}
		})
		return *bp
	}, cm, ldc, acc)
}

// packedBSize is the length of a whole op(B) (k×n) packed for kern, as
// packedBBlock lays it out.
func packedBSize(kern microKernel, n, k int) int {
	return ((n + kern.nr - 1) / kern.nr) * kern.nr * k
}

// packedBBlock returns, from a whole op(B) packed for kern, the block at
// depth [pc, pc+kcb) and columns from jc. The layout: slice pc (all panels,
// depth kcb) at pc·np·nr, panel jp at +jp·nr·kcb, row p of the panel at
// +(p−pc)·nr, where np counts the panels of all n columns. gemmNC is a
// multiple of every nr, so the panels of one gemmNC block are contiguous.
func packedBBlock(kern microKernel, packed []float32, n, pc, kcb, jc int) []float32 {
	np := (n + kern.nr - 1) / kern.nr
	return packed[pc*np*kern.nr+jc*kcb:]
}

// gemmPacked is sgemm with op(A) from packAll and op(B) already packed (see
// packedBBlock), which lets a producer such as im2col write panels directly.
func (c *CPU) gemmPacked(kern microKernel, m, n, k int, aPack, bPacked []float32, cm []float32, ldc int, acc bool) {
	c.gemm(kern, m, n, k, aPack, func(pc, kcb, jc, ncb int) []float32 {
		return packedBBlock(kern, bPacked, n, pc, kcb, jc)
	}, cm, ldc, acc)
}

// gemm is the blocked product of a packed A (packAll's layout) and op(B);
// bBlock returns the packed block of op(B) at depth [pc, pc+kcb) and columns
// [jc, jc+ncb), nr-column panels of depth kcb one after another.
func (c *CPU) gemm(kern microKernel, m, n, k int, aPack []float32, bBlock func(pc, kcb, jc, ncb int) []float32, cm []float32, ldc int, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	if !acc {
		c.parallelFor(m, max(1, 1<<14/n), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				clear(cm[i*ldc : i*ldc+n])
			}
		})
	}
	if k == 0 {
		return
	}
	mr, nr := kern.mr, kern.nr
	mp := (m + mr - 1) / mr
	mcPanels := gemmMC / mr
	ngPanels := max(1, gemmNG/nr)
	for jc := 0; jc < n; jc += gemmNC {
		ncb := min(gemmNC, n-jc)
		np := (ncb + nr - 1) / nr
		for pc := 0; pc < k; pc += gemmKC {
			kcb := min(gemmKC, k-pc)
			bPack := bBlock(pc, kcb, jc, ncb)
			// Blocks of near-equal size (not full blocks and a remainder), so
			// that parallelFor's equal task counts are equal work.
			rowBlocks := (mp + mcPanels - 1) / mcPanels
			colGroups := (np + ngPanels - 1) / ngPanels
			aBlock := aPack[pc*mp*mr:]
			// A task multiplies up to gemmMC×kcb by kcb×gemmNG; small
			// products are not worth a goroutine each.
			taskWork := min(m, gemmMC) * min(ncb, gemmNG) * kcb
			c.parallelFor(rowBlocks*colGroups, max(1, gemmMinWork/taskWork), func(lo, hi int) {
				var tile [16 * 16]float32
				for t := lo; t < hi; t++ {
					rb, cg := t/colGroups, t%colGroups
					for jp := cg * np / colGroups; jp < (cg+1)*np/colGroups; jp++ {
						j0 := jc + jp*nr
						nw := min(nr, n-j0)
						bPanel := bPack[jp*nr*kcb:]
						for ip := rb * mp / rowBlocks; ip < (rb+1)*mp/rowBlocks; ip++ {
							i0 := ip * mr
							mh := min(mr, m-i0)
							aPanel := aBlock[ip*mr*kcb:]
							if mh == mr && nw == nr {
								kern.fn(kcb, aPanel, bPanel, cm[i0*ldc+j0:], ldc)
								continue
							}
							clear(tile[:mr*nr])
							kern.fn(kcb, aPanel, bPanel, tile[:], nr)
							for i := 0; i < mh; i++ {
								row := cm[(i0+i)*ldc+j0 : (i0+i)*ldc+j0+nw]
								for j := range row {
									row[j] += tile[i*nr+j]
								}
							}
						}
					}
				}
			})
		}
	}
}

// packA writes rows [i0,i0+mh) × depth [p0,p0+kcb) of op(A) as kcb groups of
// mr values, zero-padding rows past mh.
func packA(dst, a []float32, lda int, trans bool, i0, mh, p0, kcb, mr int) {
	dst = dst[:kcb*mr]
	if mh < mr {
		clear(dst)
	}
	if trans {
		// op(A)[i,p] = A[p,i]: each k step is a contiguous run of A.
		for p := 0; p < kcb; p++ {
			copy(dst[p*mr:p*mr+mh], a[(p0+p)*lda+i0:])
		}
		return
	}
	for i := 0; i < mh; i++ {
		row := a[(i0+i)*lda+p0 : (i0+i)*lda+p0+kcb]
		for p, v := range row {
			dst[p*mr+i] = v
		}
	}
}

// packB writes depth [p0,p0+kcb) × columns [j0,j0+nw) of op(B) as kcb groups
// of nr values, zero-padding columns past nw.
func packB(dst, b []float32, ldb int, trans bool, p0, kcb, j0, nw, nr int) {
	dst = dst[:kcb*nr]
	if nw < nr {
		clear(dst)
	}
	if !trans {
		for p := 0; p < kcb; p++ {
			copy(dst[p*nr:p*nr+nw], b[(p0+p)*ldb+j0:(p0+p)*ldb+j0+nw])
		}
		return
	}
	// op(B)[p,j] = B[j,p]: each column j is a contiguous run of B.
	for j := 0; j < nw; j++ {
		col := b[(j0+j)*ldb+p0 : (j0+j)*ldb+p0+kcb]
		for p, v := range col {
			dst[p*nr+j] = v
		}
	}
}

// MatMul returns op(a)·op(b) for 2-D F32 a and b.
func (c *CPU) MatMul(a, b *backend.Tensor, transA, transB bool) *backend.Tensor {
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		panic(fmt.Sprintf("cpu: MatMul needs 2-D operands, got %v and %v", a.Shape, b.Shape))
	}
	m, ka := a.Shape[0], a.Shape[1]
	if transA {
		m, ka = ka, m
	}
	kb, n := b.Shape[0], b.Shape[1]
	if transB {
		kb, n = n, kb
	}
	if ka != kb {
		panic(fmt.Sprintf("cpu: MatMul inner dimensions differ: %v (transA %v) · %v (transB %v)", a.Shape, transA, b.Shape, transB))
	}
	out := c.newF32(m, n)
	c.sgemm(transA, transB, m, n, ka, F32(a), a.Shape[1], F32(b), b.Shape[1], F32(out), n, false)
	return out
}
