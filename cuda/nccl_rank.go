//go:build cuda

package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef int fsod_nccl_result;
typedef void *fsod_nccl_comm;

// ncclUniqueId is a struct of NCCL_UNIQUE_ID_BYTES (128) chars, passed by
// value to ncclCommInitRank; Go sees only the bytes.
#define FSOD_NCCL_UNIQUE_ID_BYTES 128
typedef struct { char internal[FSOD_NCCL_UNIQUE_ID_BYTES]; } fsod_nccl_unique_id;

// The library is already loaded by loadNCCL (nccl.go); dlopen of the same
// name returns that handle, so the multi-process entry points come from the
// same libnccl as the rest.
static void *fsod_nccl_rank_sym(const char *lib, const char *name) {
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		return NULL;
	}
	return dlsym(h, name);
}

static fsod_nccl_result fsod_nccl_get_unique_id(void *f, char *out) {
	fsod_nccl_unique_id id;
	fsod_nccl_result r = ((fsod_nccl_result (*)(fsod_nccl_unique_id *))f)(&id);
	memcpy(out, id.internal, sizeof id.internal);
	return r;
}

static fsod_nccl_result fsod_nccl_comm_init_rank(void *f, fsod_nccl_comm *comm, int nranks, const char *idbytes, int rank) {
	fsod_nccl_unique_id id;
	memcpy(id.internal, idbytes, sizeof id.internal);
	return ((fsod_nccl_result (*)(fsod_nccl_comm *, int, fsod_nccl_unique_id, int))f)(comm, nranks, id, rank);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Multi-process NCCL (one process per GPU, as torchrun and srun start them):
// rank 0 makes an id with NCCLUniqueID, engine/dist's Rendezvous hands it to
// every rank over TCP, and each rank opens its communicator with
// OpenNCCLRank. The result is an *NCCL with one communicator, so
// AllReduceSum sums over all ranks of all nodes.
//
// NOTE: run only against the emulator's stand-in libnccl (emu/nccl.cc, two
// `fsodgpu train` processes in make emu-nccl); never against NVIDIA's NCCL
// on GPUs: the machine it was written on has neither.

// NCCLUniqueIDBytes is NCCL_UNIQUE_ID_BYTES.
const NCCLUniqueIDBytes = C.FSOD_NCCL_UNIQUE_ID_BYTES

func ncclRankSym(lib *ncclLib, name string) (unsafe.Pointer, error) {
	cl, cn := C.CString(lib.name), C.CString(name)
	defer C.free(unsafe.Pointer(cl))
	defer C.free(unsafe.Pointer(cn))
	f := C.fsod_nccl_rank_sym(cl, cn)
	if f == nil {
		return nil, fmt.Errorf("cuda: %w (%s has no %s)", ErrNoNCCL, lib.name, name)
	}
	return f, nil
}

// NCCLUniqueID is ncclGetUniqueId: the bootstrap handle rank 0 makes and
// every rank passes to OpenNCCLRank. It embeds rank 0's address, so it must
// be made on rank 0.
func NCCLUniqueID() ([]byte, error) {
	lib, err := loadNCCL()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	f, err := ncclRankSym(lib, "ncclGetUniqueId")
	if err != nil {
		return nil, err
	}
	id := make([]byte, NCCLUniqueIDBytes)
	if err := lib.check("ncclGetUniqueId", C.fsod_nccl_get_unique_id(f, (*C.char)(unsafe.Pointer(&id[0])))); err != nil {
		return nil, err
	}
	return id, nil
}

// OpenNCCLRank joins rank of a world of nranks processes with
// ncclCommInitRank (which blocks until every rank has called it) on be's
// device; the id is rank 0's NCCLUniqueID. Close ends it.
func OpenNCCLRank(be *Backend, id []byte, nranks, rank int) (*NCCL, error) {
	if be == nil {
		return nil, errors.New("cuda: OpenNCCLRank of a nil backend")
	}
	if len(id) != NCCLUniqueIDBytes {
		return nil, fmt.Errorf("cuda: OpenNCCLRank: the id has %d bytes, want %d (ncclUniqueId)", len(id), NCCLUniqueIDBytes)
	}
	if nranks < 1 || rank < 0 || rank >= nranks {
		return nil, fmt.Errorf("cuda: OpenNCCLRank: rank %d of %d", rank, nranks)
	}
	lib, err := loadNCCL()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	f, err := ncclRankSym(lib, "ncclCommInitRank")
	if err != nil {
		return nil, err
	}
	n := &NCCL{lib: lib, bes: []*Backend{be}, comms: make([]C.fsod_nccl_comm, 1), jobs: make(chan func())}
	started := make(chan error)
	go n.serve(be.g.ctx, started)
	if err := <-started; err != nil {
		return nil, err
	}
	cid := C.CBytes(id)
	defer C.free(cid)
	err = n.do(func() error {
		return lib.check(fmt.Sprintf("ncclCommInitRank(rank %d of %d, device %d)", rank, nranks, be.g.info.Index),
			C.fsod_nccl_comm_init_rank(f, &n.comms[0], C.int(nranks), (*C.char)(cid), C.int(rank)))
	})
	if err != nil {
		close(n.jobs)
		return nil, err
	}
	return n, nil
}

// NCCLVersion loads libnccl (once per process) and returns its version and
// the name it was loaded by, or an error wrapping ErrNoNCCL saying why not.
func NCCLVersion() (version, library string, err error) {
	lib, err := loadNCCL()
	if err != nil {
		return "", "", fmt.Errorf("cuda: %w", err)
	}
	for _, name := range []string{"ncclGetUniqueId", "ncclCommInitRank"} {
		if _, err := ncclRankSym(lib, name); err != nil {
			return "", "", err
		}
	}
	return formatNCCLVersion(lib.version), lib.name, nil
}
