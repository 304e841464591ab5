// Shared device helpers for every kernel file. kernels/all.cu includes this
// once, then every op family, so the whole library is one translation unit.
//
// Conventions (the Go launcher in cuda/launch.go depends on them):
//   - Every kernel is extern "C" __global__ and named <op>_<forward|backward>_kernel;
//     a tensor-core variant inserts its precision: matmul_nn_forward_tf32_kernel.
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

// ---- Tensor cores and asynchronous copies: the only inline PTX of the library ----
// Eight wrappers, compiled by nvcc to the instruction on sm_80 and newer and
// to __trap() below it (sm_70/75 SASS is still built for the FP32 kernels; the
// Go side never launches a tensor-core kernel on such a device, see
// cuda/precision.go). Under the emulator (FSODGPU_EMU, g++) emu/emu_mma.h and
// emu/emu_async.h define the same eight as their model of the hardware, so
// kernel bodies never test the compiler or the architecture.
//
//   fsod_cvt_tf32(x)          cvt.rna.tf32.f32: x rounded to TF32 (10 mantissa bits,
//                             round to nearest, ties away from zero), as a .b32
//   fsod_pack_bf16x2(lo, hi)  cvt.rn.bf16x2.f32: lo and hi rounded to BF16 (round to
//                             nearest even), lo in bits 0..15, hi in bits 16..31
//   fsod_mma_m16n8k8_tf32     mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
//   fsod_mma_m16n8k8_bf16     mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32
//   fsod_ldmatrix_x4(r, row)  ldmatrix.sync.aligned.m8n8.x4.shared.b16: lanes 8j..8j+7
//                             give the 8 row addresses (16 bytes each, 16-byte aligned,
//                             in shared memory) of matrix j; lane i receives in r[j]
//                             the 32-bit word i%4 of row i/4 of matrix j
//   fsod_cp_async16(dst, src, valid)
//                             cp.async.cg.shared.global [dst], [src], 16, valid ? 16 : 0:
//                             an asynchronous 16-byte copy global -> shared (both
//                             16-byte aligned); !valid reads nothing and writes zeros
//   fsod_cp_async_commit()    cp.async.commit_group: closes this thread's open group
//   fsod_cp_async_wait<N>()   cp.async.wait_group N: waits until at most N of this
//                             thread's committed groups are still in flight; the
//                             copies are visible to other threads only after a
//                             barrier that follows the wait
//
// Both mma shapes compute D[16x8] = A[16x8]·B[8x8] + C[16x8] for the whole
// warp (every lane must call it with the same shape), and ldmatrix is a warp
// instruction too (every lane supplies an address); which lane holds which
// element is documented at MmaTf32/MmaBf16 in gemm.cu and modelled exactly
// in emu/emu_mma.h. The emulator performs a cp.async at the wait that covers
// it (or at thread exit), never earlier, so a kernel that reads the
// destination before its wait reads stale shared memory there.
#ifndef FSODGPU_EMU
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define FSOD_HAVE_MMA 1
#else
#define FSOD_HAVE_MMA 0
#endif

__device__ __forceinline__ unsigned fsod_cvt_tf32(float x) {
    unsigned r = 0;
#if FSOD_HAVE_MMA
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
#else
    __trap();
#endif
    return r;
}

// PTX packs the first source into the upper half, hence (hi, lo).
__device__ __forceinline__ unsigned fsod_pack_bf16x2(float lo, float hi) {
    unsigned r = 0;
#if FSOD_HAVE_MMA
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#else
    __trap();
#endif
    return r;
}

__device__ __forceinline__ void fsod_mma_m16n8k8_tf32(float d[4], const unsigned a[4], const unsigned b[2], const float c[4]) {
#if FSOD_HAVE_MMA
    asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
    __trap();
    d[0] = c[0]; d[1] = c[1]; d[2] = c[2]; d[3] = c[3];
#endif
}

__device__ __forceinline__ void fsod_mma_m16n8k8_bf16(float d[4], const unsigned a[2], const unsigned b[1], const float c[4]) {
#if FSOD_HAVE_MMA
    asm("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(b[0]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
    __trap();
    d[0] = c[0]; d[1] = c[1]; d[2] = c[2]; d[3] = c[3];
#endif
}

// The shared-window address of a generic pointer to shared memory, which
// ldmatrix and cp.async take.
__device__ __forceinline__ unsigned fsod_smem_addr(const void* p) { return (unsigned)__cvta_generic_to_shared(p); }

__device__ __forceinline__ void fsod_ldmatrix_x4(unsigned r[4], const void* row) {
#if FSOD_HAVE_MMA
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(fsod_smem_addr(row)));
#else
    __trap();
    r[0] = r[1] = r[2] = r[3] = 0;
#endif
}

__device__ __forceinline__ void fsod_cp_async16(void* dst, const void* src, bool valid) {
#if FSOD_HAVE_MMA
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(fsod_smem_addr(dst)), "l"(src), "r"(valid ? 16 : 0)
                 : "memory");
#else
    __trap();
#endif
}

__device__ __forceinline__ void fsod_cp_async_commit() {
#if FSOD_HAVE_MMA
    asm volatile("cp.async.commit_group;" ::: "memory");
#else
    __trap();
#endif
}

template <int N>
__device__ __forceinline__ void fsod_cp_async_wait() {
#if FSOD_HAVE_MMA
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#else
    __trap();
#endif
}
#endif  // FSODGPU_EMU
