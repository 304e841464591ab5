// Shared device helpers for every kernel file. kernels/all.cu includes this
// once, then every op family, so the whole library is one translation unit.
//
// Conventions (the Go launcher in cuda/launch.go depends on them):
//   - Every kernel is extern "C" __global__ and named <op>_<forward|backward>_kernel.
//   - The launcher passes each argument as 8 bytes: pointers, `long long` for
//     integers and `double` for float scalars; kernels convert to float inside.
//   - Kernels never check errors themselves: out-of-range inputs are guarded
//     (no out-of-bounds access) and documented per kernel; the launcher checks
//     launch errors and, with FSODGPU_SYNC=1, synchronises after every launch.
//   - Tensors are dense row-major (NCHW for images), float32 or int64.
#pragma once

#include <stdint.h>
#include <math_constants.h>

typedef long long i64;

// ceil_div for sizes; the launcher computes grids with the same formula.
__host__ __device__ __forceinline__ i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }

// Global thread index and grid-stride for 1-D kernels. Sizes are i64 because
// feature maps of a 16-image batch exceed 2^31 elements in some layers.
#define GLOBAL_TID ((i64)blockIdx.x * blockDim.x + threadIdx.x)
#define GRID_STRIDE ((i64)gridDim.x * blockDim.x)
#define GRID_LOOP(i, n) for (i64 i = GLOBAL_TID; i < (n); i += GRID_STRIDE)

#define WARP_SIZE 32
#define FULL_MASK 0xffffffffu

// Warp reductions by butterfly shuffles: every lane ends with the result and
// the combination order is fixed, so results are deterministic.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

// Block-wide sum for blockDim.x a multiple of 32 (at most 1024). Every thread
// gets the result. Uses 32 floats of shared memory owned by the caller's
// scope; it synchronises, so every thread of the block must call it.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // a previous call may still be reading partial
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < nwarps ? partial[lane] : 0.f;
    return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < nwarps ? partial[lane] : -CUDART_INF_F;
    return warp_max(v);
}

// Broadcast/stride descriptors: the Go side coalesces shapes to at most
// MAX_RANK dimensions, pads with leading size-1 dims and passes sizes and
// strides as separate long long arguments (cu's Launch reads 8-byte args only).
#define MAX_RANK 8

struct Dims {
    i64 d[MAX_RANK];
};

// Kernel parameter list of one MAX_RANK descriptor named p: p0 .. p7.
#define DIMS_PARAMS(p) i64 p##0, i64 p##1, i64 p##2, i64 p##3, i64 p##4, i64 p##5, i64 p##6, i64 p##7
#define DIMS(p) make_dims(p##0, p##1, p##2, p##3, p##4, p##5, p##6, p##7)

__device__ __forceinline__ Dims make_dims(i64 a, i64 b, i64 c, i64 d, i64 e, i64 f, i64 g, i64 h) {
    Dims r;
    r.d[0] = a; r.d[1] = b; r.d[2] = c; r.d[3] = d;
    r.d[4] = e; r.d[5] = f; r.d[6] = g; r.d[7] = h;
    return r;
}

// Offset of linear index i (row-major over sizes) under strides st. Padding
// dimensions (size 1) are skipped and 32-bit division is used while the
// index fits, since 64-bit division is a long instruction sequence.
__device__ __forceinline__ i64 strided_offset(i64 i, const Dims& sizes, const Dims& st) {
    i64 off = 0;
#pragma unroll
    for (int k = MAX_RANK - 1; k >= 0; --k) {
        i64 sz = sizes.d[k];
        if (sz == 1) continue;
        i64 q = (i <= 0xffffffffll && sz <= 0xffffffffll) ? (i64)((unsigned)i / (unsigned)sz) : i / sz;
        off += (i - q * sz) * st.d[k];
        i = q;
    }
    return off;
}
