//go:build cuda

package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// nccl.h is not needed to build: the few types used here are declared with
// NCCL's ABI (ncclResult_t, ncclDataType_t and ncclRedOp_t are C enums, so
// ints; ncclComm_t and cudaStream_t are opaque pointers) and every entry
// point is resolved with dlsym, so the binary starts where no NCCL is
// installed and only the all-reduce falls back to the host.
typedef int fsod_nccl_result;
typedef void *fsod_nccl_comm;

// dlopen and dlsym report their errors through dlerror, whose state is per
// thread: the message is copied out inside the same C call.
static void *fsod_dlopen(const char *name, char *err, size_t n) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(err, n, "%s", e ? e : "dlopen failed");
	}
	return h;
}

static void *fsod_dlsym(void *h, const char *name, char *err, size_t n) {
	dlerror();
	void *f = dlsym(h, name);
	if (f == NULL) {
		const char *e = dlerror();
		snprintf(err, n, "%s", e ? e : "symbol not found");
	}
	return f;
}

static fsod_nccl_result fsod_nccl_get_version(void *f, int *v) {
	return ((fsod_nccl_result (*)(int *))f)(v);
}

static fsod_nccl_result fsod_nccl_comm_init_all(void *f, fsod_nccl_comm *comms, int ndev, const int *devs) {
	return ((fsod_nccl_result (*)(fsod_nccl_comm *, int, const int *))f)(comms, ndev, devs);
}

// ncclGroupStart and ncclGroupEnd.
static fsod_nccl_result fsod_nccl_call0(void *f) {
	return ((fsod_nccl_result (*)(void))f)();
}

// An in-place ncclAllReduce (sendbuff == recvbuff). Device pointers and the
// stream arrive as integers so that Go never holds them as unsafe.Pointer.
static fsod_nccl_result fsod_nccl_all_reduce(void *f, uintptr_t buf, size_t count, int dtype, int op,
		fsod_nccl_comm comm, uintptr_t stream) {
	return ((fsod_nccl_result (*)(const void *, void *, size_t, int, int, fsod_nccl_comm, void *))f)(
		(const void *)buf, (void *)buf, count, dtype, op, comm, (void *)stream);
}

static fsod_nccl_result fsod_nccl_comm_destroy(void *f, fsod_nccl_comm comm) {
	return ((fsod_nccl_result (*)(fsod_nccl_comm))f)(comm);
}

static const char *fsod_nccl_error_string(void *f, fsod_nccl_result r) {
	return ((const char *(*)(fsod_nccl_result))f)(r);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"gorgonia.org/cu"
)

// NCCL all-reduce for single-process data-parallel training on several GPUs.
//
// NOTE: this file has run only against the emulator's stand-in libnccl
// (emu/nccl.cc; make emu-nccl runs nccl_test.go and
// engine/dist/nccl_cuda_test.go on two emulated devices), never against
// NVIDIA's NCCL on GPUs: nccl_test.go and engine/dist/nccl_cuda_test.go are
// the checks to run on a machine with two GPUs and NCCL 2 installed.
//
// libnccl is loaded at run time with dlopen (libnccl.so.2, then libnccl.so),
// so the cuda binary neither links against NCCL nor needs it to start. NCCL
// links the CUDA runtime statically; the runtime works in each device's
// primary context, which is the context context.go retains, so the device
// pointers of our pools and the streams of our backends are valid handles
// for NCCL.

// ErrNoNCCL is wrapped by OpenNCCL's error when the NCCL library cannot be
// loaded (not installed, or missing a symbol this code needs).
var ErrNoNCCL = errors.New("NCCL is not available")

// NCCL ABI constants (nccl.h; unchanged since NCCL 2.0).
const (
	ncclSuccess = 0
	ncclFloat32 = 7 // ncclFloat32 == ncclFloat
	ncclSum     = 0
)

// ncclMaxGroupOps is how many operations AllReduceSum puts between one
// ncclGroupStart/ncclGroupEnd pair: NCCL documents a maximum of 2048
// operations per group (NCCL 2.9 docs; later versions are more lenient).
const ncclMaxGroupOps = 2048

// ncclLibNames are tried in order; the first is the runtime package's name
// (libnccl2 on Debian/Ubuntu, the wheel nvidia-nccl-cu12 once its directory
// is on LD_LIBRARY_PATH), the second the development symlink.
var ncclLibNames = []string{"libnccl.so.2", "libnccl.so"}

// ncclLib holds the resolved entry points; the library is never closed.
type ncclLib struct {
	name                                          string
	version                                       int
	getVersion, commInitAll, groupStart, groupEnd unsafe.Pointer
	allReduce, commDestroy, getErrorString        unsafe.Pointer
}

var (
	ncclOnce    sync.Once
	ncclLoaded  *ncclLib
	ncclLoadErr error
)

// loadNCCL dlopens libnccl once per process.
func loadNCCL() (*ncclLib, error) {
	ncclOnce.Do(func() { ncclLoaded, ncclLoadErr = openNCCLLib(ncclLibNames) })
	return ncclLoaded, ncclLoadErr
}

func openNCCLLib(names []string) (*ncclLib, error) {
	var errbuf [512]C.char
	var handle unsafe.Pointer
	var tried []string
	lib := &ncclLib{}
	for _, name := range names {
		cname := C.CString(name)
		handle = C.fsod_dlopen(cname, &errbuf[0], C.size_t(len(errbuf)))
		C.free(unsafe.Pointer(cname))
		if handle != nil {
			lib.name = name
			break
		}
		tried = append(tried, C.GoString(&errbuf[0]))
	}
	if handle == nil {
		return nil, fmt.Errorf("%w (%s); the host all-reduce will be used (install NCCL 2, e.g. the libnccl2 package, for the GPU all-reduce)",
			ErrNoNCCL, strings.Join(tried, "; "))
	}
	for _, s := range []struct {
		name string
		fn   *unsafe.Pointer
	}{
		{"ncclGetVersion", &lib.getVersion},
		{"ncclCommInitAll", &lib.commInitAll},
		{"ncclGroupStart", &lib.groupStart},
		{"ncclGroupEnd", &lib.groupEnd},
		{"ncclAllReduce", &lib.allReduce},
		{"ncclCommDestroy", &lib.commDestroy},
		{"ncclGetErrorString", &lib.getErrorString},
	} {
		cname := C.CString(s.name)
		*s.fn = C.fsod_dlsym(handle, cname, &errbuf[0], C.size_t(len(errbuf)))
		C.free(unsafe.Pointer(cname))
		if *s.fn == nil {
			return nil, fmt.Errorf("%w (%s has no %s: %s; NCCL 2 is needed); the host all-reduce will be used",
				ErrNoNCCL, lib.name, s.name, C.GoString(&errbuf[0]))
		}
	}
	var v C.int
	if r := C.fsod_nccl_get_version(lib.getVersion, &v); r != ncclSuccess {
		return nil, fmt.Errorf("%w (ncclGetVersion: %s); the host all-reduce will be used", ErrNoNCCL, lib.errorString(r))
	}
	lib.version = int(v)
	return lib, nil
}

func (lib *ncclLib) errorString(r C.fsod_nccl_result) string {
	return fmt.Sprintf("%s (ncclResult %d)", C.GoString(C.fsod_nccl_error_string(lib.getErrorString, r)), int(r))
}

// check turns an ncclResult into an error naming the call.
func (lib *ncclLib) check(call string, r C.fsod_nccl_result) error {
	if r == ncclSuccess {
		return nil
	}
	return fmt.Errorf("cuda: %s: %s", call, lib.errorString(r))
}

// formatNCCLVersion renders ncclGetVersion's code: major*10000+minor*100+patch
// since NCCL 2.9, major*1000+minor*100+patch before.
func formatNCCLVersion(v int) string {
	if v >= 10000 {
		return fmt.Sprintf("%d.%d.%d", v/10000, (v%10000)/100, v%100)
	}
	return fmt.Sprintf("%d.%d.%d", v/1000, (v%1000)/100, v%100)
}

// NCCL is a single-process NCCL clique: one communicator per distinct GPU
// among the backends it was opened with, in increasing device order.
//
// Threading. NCCL documents two correct ways to drive communicators made by
// ncclCommInitAll: one thread calling every device's collective inside
// ncclGroupStart/ncclGroupEnd ("when a single thread is managing multiple
// devices, group semantics must be used"; within a group NCCL sets the device
// itself, no cudaSetDevice per call is needed), or one thread per
// communicator. We use the first, on a dedicated goroutine locked to its OS
// thread, not on the per-GPU owner goroutines of context.go, because:
//   - the group state is per thread, so ncclGroupStart, every ncclAllReduce
//     and ncclGroupEnd must run on one OS thread; one thread per device would
//     need a group per thread and a rendezvous of all the owner goroutines
//     (each waiting for the others' calls to arrive), and would block every
//     other job queued on those owners meanwhile;
//   - NCCL switches the calling thread's current device (cudaSetDevice) in
//     ncclCommInitAll and ncclGroupEnd. On an owner goroutine that would
//     leave another device's context current for the owner's later driver
//     calls; on the dedicated thread it does no harm. The thread ends with
//     Close, still locked, so the Go runtime discards it.
//
// Enqueueing from another thread is ordered correctly: a stream is a
// per-device FIFO whatever thread feeds it, so each all-reduce runs after the
// kernels that produced its buffer and before anything the backend queues on
// the stream after AllReduceSum returns.
type NCCL struct {
	lib   *ncclLib
	bes   []*Backend // comm order: bes[k] owns the stream communicator k uses
	comms []C.fsod_nccl_comm

	mu     sync.Mutex // one AllReduceSum or Close at a time
	jobs   chan func()
	closed bool
}

// OpenNCCL loads libnccl and creates one communicator per distinct device of
// bes with ncclCommInitAll. The first backend of bes on each device is that
// device's: its stream carries the all-reduce, and AllReduceSum's buffers for
// the device must be its tensors. When the library is missing the error
// wraps ErrNoNCCL and says that the host all-reduce will be used.
func OpenNCCL(bes []*Backend) (*NCCL, error) {
	if len(bes) == 0 {
		return nil, errors.New("cuda: OpenNCCL of no backends")
	}
	lib, err := loadNCCL()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	byDev := map[int]*Backend{}
	var devs []int
	for i, be := range bes {
		if be == nil {
			return nil, fmt.Errorf("cuda: OpenNCCL: backend %d is nil", i)
		}
		d := be.g.info.Index
		if _, ok := byDev[d]; !ok {
			byDev[d] = be
			devs = append(devs, d)
		}
	}
	slices.Sort(devs)
	n := &NCCL{lib: lib, comms: make([]C.fsod_nccl_comm, len(devs)), jobs: make(chan func())}
	for _, d := range devs {
		n.bes = append(n.bes, byDev[d])
	}
	// The dedicated thread starts with the first device's primary context
	// current, so that NCCL's runtime finds a context and does not create one
	// on device 0 when device 0 is not in the clique. g.ctx is written before
	// openGPU returns and never changes, so reading it here is safe.
	started := make(chan error)
	go n.serve(n.bes[0].g.ctx, started)
	if err := <-started; err != nil {
		return nil, err
	}
	cdevs := make([]C.int, len(devs))
	for i, d := range devs {
		cdevs[i] = C.int(d)
	}
	err = n.do(func() error {
		return lib.check(fmt.Sprintf("ncclCommInitAll(devices %v)", devs),
			C.fsod_nccl_comm_init_all(lib.commInitAll, &n.comms[0], C.int(len(devs)), &cdevs[0]))
	})
	if err != nil {
		close(n.jobs)
		return nil, err
	}
	return n, nil
}

// serve is the NCCL thread: every NCCL call of this clique runs here.
func (n *NCCL) serve(ctx cu.CUContext, started chan<- error) {
	runtime.LockOSThread()
	// No UnlockOSThread: when jobs closes the goroutine exits locked and the
	// runtime terminates the thread with whatever device NCCL left current.
	if err := cu.SetCurrentContext(ctx); err != nil {
		started <- fmt.Errorf("cuda: NCCL thread: making the context of device %d current: %w", n.bes[0].g.info.Index, err)
		return
	}
	started <- nil
	for job := range n.jobs {
		job()
	}
}

func (n *NCCL) do(f func() error) error {
	done := make(chan error, 1)
	n.jobs <- func() { done <- f() }
	return <-done
}

// Version is the loaded NCCL's version, e.g. "2.21.5".
func (n *NCCL) Version() string { return formatNCCLVersion(n.lib.version) }

// Library is the name libnccl was loaded by.
func (n *NCCL) Library() string { return n.lib.name }

// Backends returns, in communicator order (increasing device index), the
// backend whose stream and tensors each communicator uses.
func (n *NCCL) Backends() []*Backend { return slices.Clone(n.bes) }

// Devices returns the device index of each communicator.
func (n *NCCL) Devices() []int {
	devs := make([]int, len(n.bes))
	for k, be := range n.bes {
		devs[k] = be.g.info.Index
	}
	return devs
}

// AllReduceSum replaces bufs[k][i] in place, for every k, by the elementwise
// sum over k: bufs[k] are communicator k's tensors (on Backends()[k]), one
// per parameter i, F32 and with the same element count on every k. The
// all-reduces are queued, grouped ncclMaxGroupOps at a time, on each
// backend's stream; AllReduceSum returns once they are queued (NCCL's
// ncclGroupEnd), not once they ran: work the backends queue afterwards (a
// scale by 1/R, an SGD step) is ordered after them, and ToFloat32 or Sync
// wait for them. Every rank should receive the same bits: NCCL's ring and
// tree algorithms compute each element's sum once and then distribute it
// (engine/dist's test checks this on two GPUs).
//
// Validation happens before any NCCL call, so an error from a bad argument
// leaves the buffers untouched; an error from NCCL itself leaves them
// unspecified.
func (n *NCCL) AllReduceSum(bufs [][]*backend.Tensor) error {
	if len(bufs) != len(n.comms) {
		return fmt.Errorf("cuda: NCCL all-reduce of %d buffer lists with %d communicators (devices %v)", len(bufs), len(n.comms), n.Devices())
	}
	params := len(bufs[0])
	ptrs := make([][]uintptr, len(bufs))
	counts := make([]int, params)
	for k, list := range bufs {
		if len(list) != params {
			return fmt.Errorf("cuda: NCCL all-reduce: communicator %d has %d buffers, communicator 0 has %d", k, len(list), params)
		}
		be := n.bes[k]
		ptrs[k] = make([]uintptr, params)
		for i, t := range list {
			p, err := be.ncclPtr(t)
			if err != nil {
				return fmt.Errorf("cuda: NCCL all-reduce: buffer %d of communicator %d (device %d): %w", i, k, be.g.info.Index, err)
			}
			if k == 0 {
				counts[i] = t.Numel()
			} else if t.Numel() != counts[i] {
				return fmt.Errorf("cuda: NCCL all-reduce: buffer %d has %d elements on communicator %d, %d on communicator 0", i, t.Numel(), k, counts[i])
			}
			ptrs[k][i] = uintptr(p)
		}
	}
	streams := make([]C.uintptr_t, len(n.bes))
	for k, be := range n.bes {
		streams[k] = C.uintptr_t(uintptr(unsafe.Pointer(be.stream.C())))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("cuda: NCCL all-reduce after Close")
	}
	perGroup := max(1, ncclMaxGroupOps/len(n.comms))
	lib := n.lib
	err := n.do(func() error {
		for lo := 0; lo < params; lo += perGroup {
			hi := min(params, lo+perGroup)
			if err := lib.check("ncclGroupStart", C.fsod_nccl_call0(lib.groupStart)); err != nil {
				return err
			}
			var errs []error
			for i := lo; i < hi && len(errs) == 0; i++ {
				if counts[i] == 0 {
					continue
				}
				for k := range n.comms {
					r := C.fsod_nccl_all_reduce(lib.allReduce, C.uintptr_t(ptrs[k][i]), C.size_t(counts[i]),
						ncclFloat32, ncclSum, n.comms[k], streams[k])
					if err := lib.check(fmt.Sprintf("ncclAllReduce(buffer %d, %d floats, device %d)", i, counts[i], n.bes[k].g.info.Index), r); err != nil {
						errs = append(errs, err)
						break
					}
				}
			}
			// The group is closed even after a failed call: NCCL's group
			// depth is per thread and would otherwise stay open.
			if err := lib.check("ncclGroupEnd", C.fsod_nccl_call0(lib.groupEnd)); err != nil {
				errs = append(errs, err)
			}
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if syncEachLaunch {
		for _, be := range n.bes {
			if err := be.Sync(); err != nil {
				return fmt.Errorf("cuda: after the NCCL all-reduce (FSODGPU_SYNC=1): %w", err)
			}
		}
	}
	return nil
}

// ncclPtr is t's device address for NCCL, or an error (where ptr panics)
// when t is not a live F32 tensor of this backend.
func (be *Backend) ncclPtr(t *backend.Tensor) (cu.DevicePtr, error) {
	if t == nil {
		return 0, errors.New("nil tensor")
	}
	if t.DType != backend.F32 {
		return 0, fmt.Errorf("%s tensor %v: NCCL all-reduce is float32 only", t.DType, t.Shape)
	}
	buf, ok := t.Storage.(*buffer)
	if !ok || buf == nil {
		return 0, fmt.Errorf("tensor %v with storage %T is not CUDA memory", t.Shape, t.Storage)
	}
	if buf.pool != be.pool {
		return 0, fmt.Errorf("tensor %v belongs to another backend (device %d) than the communicator's", t.Shape, buf.pool.g.info.Index)
	}
	be.pool.mu.Lock()
	freed := buf.freed
	be.pool.mu.Unlock()
	if freed && buf.bytes != 0 {
		return 0, fmt.Errorf("tensor %v used after Free", t.Shape)
	}
	return buf.ptr, nil
}

// Close waits for the queued work on the clique's streams, destroys the
// communicators and ends the NCCL thread. Closing twice is harmless.
func (n *NCCL) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	for _, be := range n.bes {
		if err := be.Sync(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, n.do(func() error {
		var errs []error
		for k, c := range n.comms {
			if err := n.lib.check(fmt.Sprintf("ncclCommDestroy(device %d)", n.bes[k].g.info.Index),
				C.fsod_nccl_comm_destroy(n.lib.commDestroy, c)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}))
	close(n.jobs)
	return errors.Join(errs...)
}
