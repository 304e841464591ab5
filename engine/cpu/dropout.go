package cpu

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/rng"
)

// DropoutMask returns n {0,1} values from the engine/rng stream keyed by seed
// at offset: element i is 1 iff its uniform u ≥ p. The stream is counter
// based, so the work splits across goroutines at any boundary with the same
// result as one pass.
func (c *CPU) DropoutMask(n int, p float32, seed, offset uint64) *backend.Tensor {
	if n < 0 || p < 0 || p > 1 || p != p {
		panic(fmt.Sprintf("cpu: DropoutMask: n %d, p %v; want n ≥ 0, p in [0,1]", n, p))
	}
	out := c.newF32(n)
	ms := F32(out)
	// Chunks of a multiple of four elements start on a Philox block boundary.
	c.parallelFor((n+3)/4, 4096, func(lo, hi int) {
		dst := ms[lo*4 : min(hi*4, n)]
		rng.FillUniform(dst, seed, offset, lo*4)
		for i, u := range dst {
			if u >= p {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	})
	return out
}

// Dropout returns x·mask/(1−p); with p = 1 every element is dropped and the
// result is 0 (not 0/0). Applied to dy with the same mask it is the backward.
func (c *CPU) Dropout(x, mask *backend.Tensor, p float32) *backend.Tensor {
	if x.DType != backend.F32 || mask.DType != backend.F32 || x.Numel() != mask.Numel() || p < 0 || p > 1 {
		panic(fmt.Sprintf("cpu: Dropout: x %s%v, mask %s%v, p %v", x.DType, x.Shape, mask.DType, mask.Shape, p))
	}
	out := c.newF32(x.Shape...)
	xs, ms, os := F32(x), F32(mask), F32(out)
	if p == 1 {
		return out
	}
	scale := 1 / (1 - p)
	c.parallelFor(len(xs), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			os[i] = xs[i] * ms[i] * scale
		}
	})
	return out
}
