// Execution model of the emulator, as the kernels see it.
//
// A grid's blocks run on a pool of OS worker threads, one block per worker at
// a time; a block's threads run as fibers on that worker (a fiber runs until
// it reaches a barrier or a warp operation, then the next one runs). So:
//   - threadIdx is per fiber: the scheduler stores it in emu_threadIdx each
//     time it switches a fiber in; blockIdx/blockDim/gridDim are per worker.
//   - __shared__ is thread_local (at block scope that also means static): one
//     copy per worker, that is one per running block, shared by its fibers.
//     `extern __shared__ T name[]` becomes a block-scope extern thread_local
//     declaration; emu/gen_kernels.sh defines each such array once, sized for
//     the largest dynamic shared memory a launch may ask for.
//   - barriers are out-of-line calls into the runtime, so the compiler reloads
//     shared and global memory after them, as it must on a GPU.
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <math.h>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __noinline__ __attribute__((noinline))
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ thread_local
#define __constant__ const
// __restrict__ is a GNU C++ keyword already.

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
};

extern thread_local uint3 emu_threadIdx;
extern thread_local uint3 emu_blockIdx;
extern thread_local dim3 emu_blockDim;
extern thread_local dim3 emu_gridDim;
#define threadIdx emu_threadIdx
#define blockIdx emu_blockIdx
#define blockDim emu_blockDim
#define gridDim emu_gridDim
#define warpSize 32

extern "C" void emu_syncthreads(void);
#define __syncthreads() emu_syncthreads()
__forceinline__ void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
__forceinline__ void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// Vector types with CUDA's sizes and alignments.
#define EMU_VEC2(T, N, A) \
    struct __attribute__((aligned(A))) N##2 { T x, y; }; \
    __forceinline__ N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define EMU_VEC3(T, N) \
    struct N##3 { T x, y, z; }; \
    __forceinline__ N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; }
#define EMU_VEC4(T, N, A) \
    struct __attribute__((aligned(A))) N##4 { T x, y, z, w; }; \
    __forceinline__ N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }
EMU_VEC2(float, float, 8)
EMU_VEC3(float, float)
EMU_VEC4(float, float, 16)
EMU_VEC2(int, int, 8)
EMU_VEC3(int, int)
EMU_VEC4(int, int, 16)
EMU_VEC2(unsigned, uint, 8)
EMU_VEC4(unsigned, uint, 16)
EMU_VEC2(double, double, 16)
EMU_VEC2(long long, longlong, 16)
EMU_VEC2(unsigned long long, ulonglong, 16)
__forceinline__ uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }
#undef EMU_VEC2
#undef EMU_VEC3
#undef EMU_VEC4

// Read-only cache loads are plain loads on the CPU.
template <typename T>
__forceinline__ T __ldg(const T* p) {
    return *p;
}
