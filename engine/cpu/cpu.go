// Package cpu is the pure-Go reference backend: no cgo, goroutine-parallel
// over the available cores. Every other backend is checked against it.
package cpu

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// CPU implements backend.Backend on host memory.
type CPU struct {
	workers int
}

// New returns a CPU backend using GOMAXPROCS workers.
func New() *CPU { return &CPU{workers: runtime.GOMAXPROCS(0)} }

func init() {
	backend.Register("cpu", func(int) (backend.Backend, error) { return New(), nil })
}

func (c *CPU) Name() string { return "cpu" }

// F32 returns the float32 storage of t (aliasing, not a copy).
func F32(t *backend.Tensor) []float32 {
	s, ok := t.Storage.([]float32)
	if !ok {
		panic(fmt.Sprintf("cpu: tensor %v is not F32 host storage", t.Shape))
	}
	return s[:t.Numel()]
}

// I64 returns the int64 storage of t (aliasing, not a copy).
func I64(t *backend.Tensor) []int64 {
	s, ok := t.Storage.([]int64)
	if !ok {
		panic(fmt.Sprintf("cpu: tensor %v is not I64 host storage", t.Shape))
	}
	return s[:t.Numel()]
}

func (c *CPU) newF32(shape ...int) *backend.Tensor {
	return &backend.Tensor{Shape: append([]int(nil), shape...), DType: backend.F32, Backend: c,
		Storage: make([]float32, backend.Numel(shape))}
}

func (c *CPU) newI64(shape ...int) *backend.Tensor {
	return &backend.Tensor{Shape: append([]int(nil), shape...), DType: backend.I64, Backend: c,
		Storage: make([]int64, backend.Numel(shape))}
}

func (c *CPU) Zeros(dt backend.DType, shape ...int) *backend.Tensor {
	if dt == backend.I64 {
		return c.newI64(shape...)
	}
	return c.newF32(shape...)
}

func (c *CPU) FromFloat32(data []float32, shape ...int) *backend.Tensor {
	if backend.Numel(shape) != len(data) {
		panic(fmt.Sprintf("cpu: FromFloat32 with %d values for shape %v", len(data), shape))
	}
	t := c.newF32(shape...)
	copy(F32(t), data)
	return t
}

func (c *CPU) FromInt64(data []int64, shape ...int) *backend.Tensor {
	if backend.Numel(shape) != len(data) {
		panic(fmt.Sprintf("cpu: FromInt64 with %d values for shape %v", len(data), shape))
	}
	t := c.newI64(shape...)
	copy(I64(t), data)
	return t
}

func (c *CPU) ToFloat32(t *backend.Tensor) []float32 { return append([]float32(nil), F32(t)...) }
func (c *CPU) ToInt64(t *backend.Tensor) []int64     { return append([]int64(nil), I64(t)...) }

func (c *CPU) Clone(t *backend.Tensor) *backend.Tensor {
	if t.DType == backend.I64 {
		return c.FromInt64(I64(t), t.Shape...)
	}
	return c.FromFloat32(F32(t), t.Shape...)
}

// Free drops the storage reference; the Go GC reclaims it.
func (c *CPU) Free(t *backend.Tensor) { t.Storage = nil }

func (c *CPU) Sync() error { return nil }

// parallelFor runs body(lo, hi) over [0,n) split into contiguous chunks, one
// per worker, when n is large enough to repay the goroutines.
func (c *CPU) parallelFor(n, grain int, body func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	w := c.workers
	if max := (n + grain - 1) / grain; w > max {
		w = max
	}
	if w <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			body(lo, hi)
		}(lo, hi)
	}
	wg.Wait()
}
