package main

// The CPU backend is in every binary; the CUDA backend registers itself from
// devices_cuda.go in binaries built with the cuda tag.
import _ "github.com/fsodgpu/fsodgpu/engine/cpu"
