//go:build !cuda

package main

// commIDSource: the CPU build has no NCCL, so rank 0 hands out random bytes.
func commIDSource() (func() ([]byte, error), string) { return randomID, "random (CPU build, no NCCL)" }
