//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"os"
	"unsafe"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"gorgonia.org/cu"
)

// syncEachLaunch (FSODGPU_SYNC=1) waits for every kernel to finish so an
// asynchronous fault is reported with the name of the kernel that caused it.
var syncEachLaunch = os.Getenv("FSODGPU_SYNC") == "1"

// Threads per block of the 1-D elementwise kernels, and the cap on their grid:
// the kernels loop with a grid stride, so more blocks than this only add
// scheduling overhead.
const (
	threads1D = 256
	maxGrid1D = 65535 * 8
)

// launch queues kernel on the backend's stream. Every argument becomes 8
// bytes, matching the kernels' C signatures (cu's Launch reads 8 bytes per
// argument): device pointers (cu.DevicePtr, or a *backend.Tensor whose
// pointer is taken with ptr; a nil tensor is a null pointer), integers
// widened to long long, floats widened to double, bools as 0/1. A grid with a
// zero dimension launches nothing (empty tensors). A launch error panics with
// the kernel's name: the interface has no error results, and the error is a
// bad launch shape or a sticky fault from earlier work.
func (be *Backend) launch(kernel string, grid, block [3]int, shmem int, args ...any) {
	if grid[0] <= 0 || grid[1] <= 0 || grid[2] <= 0 {
		return
	}
	vals := make([]uint64, len(args))
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		vals[i] = be.argBits(kernel, i, a)
		params[i] = unsafe.Pointer(&vals[i])
	}
	err := be.g.do(func() error {
		fn, err := be.g.function(kernel)
		if err != nil {
			return err
		}
		if err := fn.Launch(grid[0], grid[1], grid[2], block[0], block[1], block[2], shmem, be.stream, params); err != nil {
			return err
		}
		if syncEachLaunch {
			if err := be.stream.Synchronize(); err != nil {
				return fmt.Errorf("after the kernel ran (FSODGPU_SYNC=1): %w", err)
			}
		}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("cuda: launch %s grid %v block %v shmem %d: %v", kernel, grid, block, shmem, err))
	}
}

func (be *Backend) argBits(kernel string, i int, a any) uint64 {
	switch v := a.(type) {
	case cu.DevicePtr:
		return uint64(v)
	case *backend.Tensor:
		if v == nil {
			return 0
		}
		return uint64(be.ptr(v))
	case int:
		return uint64(int64(v))
	case int64:
		return uint64(v)
	case int32:
		return uint64(int64(v))
	case uint64:
		return v
	case uint32:
		return uint64(v)
	case float32:
		return math.Float64bits(float64(v))
	case float64:
		return math.Float64bits(v)
	case bool:
		if v {
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("cuda: launch %s: argument %d has unsupported type %T", kernel, i, a))
}

// ptr is t's device address. It panics if t is not a live tensor of this backend.
func (be *Backend) ptr(t *backend.Tensor) cu.DevicePtr {
	buf, ok := t.Storage.(*buffer)
	if !ok || buf == nil {
		panic(fmt.Sprintf("cuda: tensor %v with storage %T is not CUDA memory", t.Shape, t.Storage))
	}
	if buf.pool != be.pool {
		panic(fmt.Sprintf("cuda: tensor %v belongs to another backend", t.Shape))
	}
	if buf.freed && buf.bytes != 0 {
		panic(fmt.Sprintf("cuda: tensor %v used after Free", t.Shape))
	}
	return buf.ptr
}

// grid1D is the launch shape for a grid-stride loop over n elements.
func grid1D(n int) (grid, block [3]int) {
	blocks := (n + threads1D - 1) / threads1D
	return [3]int{min(blocks, maxGrid1D), 1, 1}, [3]int{threads1D, 1, 1}
}

// launch1D runs a grid-stride kernel over n elements.
func (be *Backend) launch1D(kernel string, n int, args ...any) {
	grid, block := grid1D(n)
	be.launch(kernel, grid, block, 0, args...)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
