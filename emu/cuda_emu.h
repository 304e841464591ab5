// The CUDA emulation header. `make emu` compiles kernels/all.cu with g++ and
// this header force-included (emu/kernels_host.cc), so the kernels the
// emulator runs are the very sources nvcc compiles: no #ifdef in kernel
// bodies. Each part of the CUDA C++ surface the kernels use lives in its own
// header, so a later model is one more include here:
//   emu_core.h    qualifiers, built-in index variables, __syncthreads, vector types
//   emu_math.h    rounding intrinsics, bit casts, integer intrinsics, min/max
//   emu_warp.h    __syncwarp, __shfl_*_sync, __match_any_sync, votes
//   emu_mma.h     the tensor cores: mma.sync m16n8k8 (tf32, bf16) and ldmatrix.x4
//                 as warp collectives with the PTX lane mappings, cvt.rna.tf32, bf16 RNE
//   emu_async.h   cp.async, commit_group, wait_group: per-thread queues of copies
//                 performed at the wait, so a missing wait reads stale data
//   emu_atomic.h  atomicAdd/Or/... as real host atomics (blocks run in parallel)
#pragma once
#ifndef FSODGPU_EMU
#define FSODGPU_EMU 1
#endif
#include "emu_core.h"
#include "emu_math.h"
#include "emu_warp.h"
#include "emu_mma.h"
#include "emu_async.h"
#include "emu_atomic.h"
