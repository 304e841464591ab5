//go:build cuda

package main

import "github.com/fsodgpu/fsodgpu/cuda"

// commIDSource: ncclGetUniqueId where libnccl loads, else random bytes (the
// rendezvous is checked either way; training across nodes needs NCCL).
func commIDSource() (func() ([]byte, error), string) {
	if _, err := cuda.NCCLUniqueID(); err != nil {
		return randomID, "random (" + err.Error() + ")"
	}
	return cuda.NCCLUniqueID, "NCCL"
}
