//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"gorgonia.org/cu"
)

// Backend implements backend.Backend on one GPU with its own stream and
// memory pool. It is meant for one goroutine at a time (the engine's training
// loop); several backends may share a GPU.
type Backend struct {
	g      *gpu
	stream cu.Stream
	pool   *pool
	policy backend.MatrixPolicy // kernels of MatMul and Conv2d (precision.go)
}

func init() {
	backend.Register("cuda", func(device int) (backend.Backend, error) { return Open(device) })
}

// Open starts a backend on GPU device (0-based).
func Open(device int) (*Backend, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting devices: %w", err)
	}
	if device < 0 || device >= n {
		return nil, fmt.Errorf("cuda: device %d does not exist (%d GPUs visible; see `fsodgpu devices`)", device, n)
	}
	g, err := openGPU(device)
	if err != nil {
		return nil, err
	}
	be := &Backend{g: g}
	if err := g.do(func() error {
		var err error
		be.stream, err = cu.MakeStream(cu.NonBlocking)
		return err
	}); err != nil {
		return nil, fmt.Errorf("cuda: device %d: creating a stream: %w", device, err)
	}
	be.pool = &pool{g: g, stream: be.stream, free: map[int64][]cu.DevicePtr{}}
	return be, nil
}

func (be *Backend) Name() string { return "cuda" }

// Device describes the GPU this backend runs on.
func (be *Backend) Device() DeviceInfo { return be.g.info }

// DeviceName describes the GPU for benchmark reports, e.g.
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, driver 12.4)".
func (be *Backend) DeviceName() string {
	d := be.g.info
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, driver %s)", d.Name, d.Major, d.Minor, d.Multiprocessors, FormatDriverVersion(DriverVersion()))
}

// Trim returns every cached memory block to the driver.
func (be *Backend) Trim() error { return be.pool.trim() }

// MemoryStats reports the pool's bytes in live tensors and in its free lists.
func (be *Backend) MemoryStats() (inUse, cached int64) {
	be.pool.mu.Lock()
	defer be.pool.mu.Unlock()
	return be.pool.inUse, be.pool.cached
}

func dtypeSize(dt backend.DType) int64 {
	switch dt {
	case backend.I64:
		return 8
	case backend.BFloat16:
		return 2
	}
	return 4
}

// empty allocates a tensor without initialising its contents.
func (be *Backend) empty(dt backend.DType, shape ...int) *backend.Tensor {
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("cuda: negative dimension in shape %v", shape))
		}
	}
	n := int64(backend.Numel(shape))
	return &backend.Tensor{Shape: append([]int(nil), shape...), DType: dt, Backend: be,
		Storage: be.pool.get(n * dtypeSize(dt))}
}

// memsetZero clears t's bytes on the stream.
func (be *Backend) memsetZero(t *backend.Tensor) {
	// Rounded up: a BF16 tensor of odd length ends mid-word, and its block
	// (a size class of at least 512 bytes) always holds the whole word.
	words := (int64(t.Numel())*dtypeSize(t.DType) + 3) / 4
	if words == 0 {
		return
	}
	p := be.ptr(t)
	be.must("memset", be.g.do(func() error { return cu.MemsetD32Async(p, 0, words, be.stream) }))
}

// must panics with the op's name when a driver call fails: the Backend
// interface has no error results, and a failing copy or memset means the
// context is already broken (a sticky fault) or the process is out of memory.
func (be *Backend) must(op string, err error) {
	if err != nil {
		panic(fmt.Sprintf("cuda: %s: %v", op, err))
	}
}

func (be *Backend) Zeros(dt backend.DType, shape ...int) *backend.Tensor {
	t := be.empty(dt, shape...)
	be.memsetZero(t)
	return t
}

func (be *Backend) FromFloat32(data []float32, shape ...int) *backend.Tensor {
	if backend.Numel(shape) != len(data) {
		panic(fmt.Sprintf("cuda: FromFloat32 with %d values for shape %v", len(data), shape))
	}
	t := be.empty(backend.F32, shape...)
	if len(data) > 0 {
		be.upload(t, unsafe.Pointer(&data[0]), int64(len(data))*4)
	}
	return t
}

func (be *Backend) FromInt64(data []int64, shape ...int) *backend.Tensor {
	if backend.Numel(shape) != len(data) {
		panic(fmt.Sprintf("cuda: FromInt64 with %d values for shape %v", len(data), shape))
	}
	t := be.empty(backend.I64, shape...)
	if len(data) > 0 {
		be.upload(t, unsafe.Pointer(&data[0]), int64(len(data))*8)
	}
	return t
}

// upload copies host bytes into t. From pageable memory the driver returns
// only after the bytes are staged, so src may be reused as soon as it returns.
func (be *Backend) upload(t *backend.Tensor, src unsafe.Pointer, n int64) {
	p := be.ptr(t)
	be.must("host-to-device copy", be.g.do(func() error { return cu.MemcpyHtoDAsync(p, src, n, be.stream) }))
}

// download copies t's bytes to host memory after the queued work finishes.
func (be *Backend) download(t *backend.Tensor, dst unsafe.Pointer, n int64) {
	p := be.ptr(t)
	be.must("device-to-host copy", be.g.do(func() error {
		if err := cu.MemcpyDtoHAsync(dst, p, n, be.stream); err != nil {
			return err
		}
		return be.stream.Synchronize()
	}))
}

func (be *Backend) ToFloat32(t *backend.Tensor) []float32 {
	if t.DType == backend.BFloat16 {
		f := be.FromBF16(t)
		defer be.Free(f)
		return be.ToFloat32(f)
	}
	if t.DType != backend.F32 {
		panic(fmt.Sprintf("cuda: ToFloat32 of %v", t))
	}
	out := make([]float32, t.Numel())
	if len(out) > 0 {
		be.download(t, unsafe.Pointer(&out[0]), int64(len(out))*4)
	}
	return out
}

func (be *Backend) ToInt64(t *backend.Tensor) []int64 {
	if t.DType != backend.I64 {
		panic(fmt.Sprintf("cuda: ToInt64 of %v", t))
	}
	out := make([]int64, t.Numel())
	if len(out) > 0 {
		be.download(t, unsafe.Pointer(&out[0]), int64(len(out))*8)
	}
	return out
}

func (be *Backend) Clone(t *backend.Tensor) *backend.Tensor {
	out := be.empty(t.DType, t.Shape...)
	n := int64(t.Numel()) * dtypeSize(t.DType)
	if n > 0 {
		src, dst := be.ptr(t), be.ptr(out)
		be.must("Clone", be.g.do(func() error { return cu.MemcpyDtoDAsync(dst, src, n, be.stream) }))
	}
	return out
}

// Free returns t's block to the pool; other headers sharing it (Reshape)
// must not be used afterwards. Freeing twice is harmless.
func (be *Backend) Free(t *backend.Tensor) {
	if buf, ok := t.Storage.(*buffer); ok && buf != nil {
		buf.release()
	}
	t.Storage = nil
}

// Sync waits for every queued kernel and copy; an asynchronous fault (an
// illegal address in some kernel) surfaces here. Run with FSODGPU_SYNC=1 to
// learn which kernel faulted.
func (be *Backend) Sync() error {
	err := be.g.do(func() error { return be.stream.Synchronize() })
	if err != nil {
		return errors.Join(fmt.Errorf("cuda: device %d (%s): asynchronous error (rerun with FSODGPU_SYNC=1 to name the kernel)",
			be.g.info.Index, be.g.info.Name), err)
	}
	return nil
}
