package cpu

import "golang.org/x/sys/cpu"

// kernel6x16AVX2 is the AVX2/FMA micro-kernel in gemm_amd64.s.
//
//go:noescape
func kernel6x16AVX2(kc int, a, b, c *float32, ldc int)

// avx2Kernel fills 12 of the 16 ymm registers with accumulators: 6 rows by
// 16 columns, two FMAs per broadcast A value.
var avx2Kernel = microKernel{name: "avx2fma6x16", mr: 6, nr: 16, fn: func(kc int, a, b, c []float32, ldc int) {
	// The assembly does no bounds checks: these panic before it could
	// read or write outside the slices.
	_, _, _ = a[kc*6-1], b[kc*16-1], c[5*ldc+15]
	kernel6x16AVX2(kc, &a[0], &b[0], &c[0], ldc)
}}

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kernel = avx2Kernel
	}
}
