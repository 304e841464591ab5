//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sync"

	"gorgonia.org/cu"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// buffer is the Storage of a CUDA tensor. Reshaped headers share the same
// *buffer, so freeing one header frees the block once and later frees of the
// others are no-ops. A buffer the engine forgets to Free returns to the pool
// when the garbage collector finalises it.
type buffer struct {
	ptr   cu.DevicePtr
	bytes int64 // the block's size class, not the tensor's byte size
	pool  *pool
	freed bool // guarded by pool.mu
}

func (buf *buffer) release() { buf.pool.put(buf) }

// pool is a caching allocator with size-class free lists, one per backend.
// Blocks are reused only by work on the backend's own stream, so stream order
// makes reuse safe without events: a kernel that reads a block is queued
// before any kernel that writes its next owner.
type pool struct {
	g      *gpu
	stream cu.Stream

	mu     sync.Mutex
	free   map[int64][]cu.DevicePtr
	inUse  int64 // bytes in live buffers
	cached int64 // bytes in free lists
}

// OOMError reports a failed allocation; the backend panics with it (the
// Backend interface has no error results), so callers may recover it.
type OOMError struct {
	Device          string
	Requested       int64
	InUse, Cached   int64
	DeviceFree, Cap int64
	Err             error
}

func (e *OOMError) Error() string {
	return fmt.Sprintf("cuda: out of memory on %s allocating %s (pool: %s in use, %s cached and trimmed; device: %s free of %s): %v",
		e.Device, human(e.Requested), human(e.InUse), human(e.Cached), human(e.DeviceFree), human(e.Cap), e.Err)
}

func (e *OOMError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, backend.ErrOutOfMemory) true, so the trainer can
// report an out-of-memory without importing this package.
func (e *OOMError) Is(target error) bool { return target == backend.ErrOutOfMemory }

// classSize rounds a request up to its size class: 512-byte minimum, then
// four classes per power of two, so at most 25% of a block is wasted.
func classSize(n int64) int64 {
	if n <= 512 {
		return 512
	}
	step := int64(1) << (63 - bits.LeadingZeros64(uint64(n)) - 2)
	return (n + step - 1) / step * step
}

// get returns a block of at least n bytes, from the free lists when possible.
func (p *pool) get(n int64) *buffer {
	if n == 0 {
		return &buffer{pool: p, freed: true}
	}
	size := classSize(n)
	p.mu.Lock()
	var ptr cu.DevicePtr
	if list := p.free[size]; len(list) > 0 {
		ptr = list[len(list)-1]
		p.free[size] = list[:len(list)-1]
		p.cached -= size
	}
	p.inUse += size
	p.mu.Unlock()
	if ptr == 0 {
		var err error
		if ptr, err = p.alloc(size); err != nil {
			p.mu.Lock()
			p.inUse -= size
			p.mu.Unlock()
			panic(err)
		}
	}
	buf := &buffer{ptr: ptr, bytes: size, pool: p}
	runtime.SetFinalizer(buf, (*buffer).release)
	return buf
}

// alloc asks the driver for a new block; on failure it trims the cache and
// tries once more before reporting an *OOMError.
func (p *pool) alloc(size int64) (cu.DevicePtr, error) {
	var ptr cu.DevicePtr
	try := func() error {
		var err error
		ptr, err = cu.MemAlloc(size)
		return err
	}
	err := p.g.do(try)
	if err == nil {
		return ptr, nil
	}
	p.mu.Lock()
	cached := p.cached
	p.mu.Unlock()
	if terr := p.trim(); terr != nil {
		return 0, terr
	}
	if err = p.g.do(try); err == nil {
		return ptr, nil
	}
	oom := &OOMError{Device: p.g.info.Name, Requested: size, Cached: cached, Err: err}
	p.mu.Lock()
	oom.InUse = p.inUse - size
	p.mu.Unlock()
	if merr := p.g.do(func() error {
		var e error
		oom.DeviceFree, oom.Cap, e = cu.MemInfo()
		return e
	}); merr != nil {
		oom.Err = errors.Join(err, merr)
	}
	return 0, oom
}

// put returns a buffer's block to its free list.
func (p *pool) put(buf *buffer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if buf.freed {
		return
	}
	buf.freed = true
	p.free[buf.bytes] = append(p.free[buf.bytes], buf.ptr)
	p.inUse -= buf.bytes
	p.cached += buf.bytes
}

// trim gives every cached block back to the driver. It waits for the stream
// first: a cached block may still be read by queued kernels.
func (p *pool) trim() error {
	p.mu.Lock()
	free := p.free
	p.free = map[int64][]cu.DevicePtr{}
	p.cached = 0
	p.mu.Unlock()
	return p.g.do(func() error {
		if err := p.stream.Synchronize(); err != nil {
			return fmt.Errorf("cuda: trim: synchronising: %w", err)
		}
		var errs []error
		for _, list := range free {
			for _, ptr := range list {
				if err := cu.MemFree(ptr); err != nil {
					errs = append(errs, err)
				}
			}
		}
		return errors.Join(errs...)
	})
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
