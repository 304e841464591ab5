//go:build cuda

// Package kernels embeds the compiled CUDA kernel library. The .cu sources
// beside this file are built by `make kernels` into fsodgpu.fatbin (SASS for
// sm_70..sm_90 and PTX for the newest architecture); the cuda build of the
// binary carries it, so the GPU machine needs only the driver.
package kernels

import _ "embed"

// Fatbin is the nvcc fatbinary holding every kernel; cuda loads it with
// cuModuleLoadData.
//
//go:embed fsodgpu.fatbin
var Fatbin string
