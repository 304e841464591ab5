//go:build cuda

package cuda

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/fsodgpu/fsodgpu/kernels"
	"gorgonia.org/cu"
)

// gpu owns one device: a goroutine locked to an OS thread on which the
// device's primary context is current, the loaded kernel module and its
// function table. The driver binds contexts to threads, so every driver call
// for this device is handed to that goroutine with do; backends on the same
// device share it (each with its own stream and memory pool).
type gpu struct {
	info DeviceInfo
	jobs chan func()

	// Touched only on the owner goroutine.
	ctx    cu.CUContext
	module cu.Module
	fns    map[string]cu.Function
}

var (
	gpusMu sync.Mutex
	gpus   = map[int]*gpu{}
)

// openGPU returns the device's owner, starting it on first use.
func openGPU(index int) (*gpu, error) {
	gpusMu.Lock()
	defer gpusMu.Unlock()
	if g, ok := gpus[index]; ok {
		return g, nil
	}
	info, err := deviceInfo(index)
	if err != nil {
		return nil, err
	}
	g := &gpu{info: info, jobs: make(chan func()), fns: map[string]cu.Function{}}
	started := make(chan error)
	go g.serve(started)
	if err := <-started; err != nil {
		return nil, err
	}
	gpus[index] = g
	return g, nil
}

// serve is the owner goroutine: it makes the primary context current on its
// locked thread, loads the kernels, then runs jobs for the life of the process.
func (g *gpu) serve(started chan<- error) {
	runtime.LockOSThread()
	dev, err := cu.GetDevice(g.info.Index)
	if err == nil {
		g.ctx, err = dev.RetainPrimaryCtx()
	}
	if err == nil {
		err = cu.SetCurrentContext(g.ctx)
	}
	if err != nil {
		started <- fmt.Errorf("cuda: device %d (%s): creating context: %w", g.info.Index, g.info.Name, err)
		return
	}
	if g.module, err = cu.LoadData(kernels.Fatbin); err != nil {
		started <- fmt.Errorf("cuda: device %d (%s, sm_%d%d): loading the kernel fatbin (%d bytes): %w; "+
			"rebuild with `make kernels` and a toolkit that targets this GPU",
			g.info.Index, g.info.Name, g.info.Major, g.info.Minor, len(kernels.Fatbin), err)
		return
	}
	started <- nil
	for job := range g.jobs {
		job()
	}
}

// do runs f on the owner goroutine and returns its error. It must not be
// called from inside another do (the owner would wait on itself).
func (g *gpu) do(f func() error) error {
	done := make(chan error, 1)
	g.jobs <- func() { done <- f() }
	return <-done
}

// function looks a kernel up by name once and caches it. Owner goroutine only.
func (g *gpu) function(name string) (cu.Function, error) {
	if fn, ok := g.fns[name]; ok {
		return fn, nil
	}
	fn, err := g.module.Function(name)
	if err != nil {
		return fn, fmt.Errorf("kernel %s not in the fatbin (stale kernels/fsodgpu.fatbin? run `make kernels`): %w", name, err)
	}
	g.fns[name] = fn
	return fn, nil
}
