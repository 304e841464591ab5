// Our own SGEMM (no cuBLAS): C = op(A)·op(B) with float32 accumulation.
//
// Tiling: a 256-thread block computes a 128×128 tile of C, walking K in steps
// of 8. Each thread holds an 8×8 register block (rows ty*4+{0..3} and
// 64+ty*4+{0..3}, columns likewise with tx) so its shared-memory reads are
// four float4 loads per k step, conflict-free. Shared memory is double
// buffered and the next K step is prefetched into registers while the current
// one is multiplied: one __syncthreads per step.
//
// The tile core is generic over "loaders" that fetch a 128×8 slab of op(A) or
// op(B) into registers and store it k-major into shared memory. Plain
// matrices use the two loaders below; conv.cu supplies implicit-im2col
// loaders so convolution never materialises a column buffer.
//
// Split-K: blockIdx.z selects a K range of k_chunk (a multiple of 8); with
// more than one split each writes its partial product to its own [M,N] slice
// and the Go side adds the slices in order (sum_mid_forward_kernel), so the
// result is deterministic.

#define GEMM_BM 128
#define GEMM_BN 128
#define GEMM_BK 8
#define GEMM_PAD 4  // keeps the transposed stores conflict-free, rows 16-byte aligned
#define GEMM_THREADS 256

typedef float GemmSmem[GEMM_BK][GEMM_BM + GEMM_PAD];

// Rows of the slab are contiguous in k: element (row, k) at p[row*ld + k]
// (A not transposed, or B transposed). Thread t loads row t/2, k (t%2)*4..+3,
// as one float4 when ld is a multiple of 4 and the four are in range.
struct RowMajorKLoader {
    const float* p;
    int K;
    bool in_rows, vec;
    float r[4];

    __device__ __forceinline__ RowMajorKLoader(const float* p_, i64 ld, i64 rows, i64 K_, i64 row0)
        : p(p_), K((int)K_) {
        int row = threadIdx.x >> 1;
        in_rows = row0 + row < rows;
        vec = (ld & 3) == 0;
        p += (row0 + row) * ld + (threadIdx.x & 1) * 4;
    }
    __device__ __forceinline__ void load(int k0) {
        int k = k0 + (threadIdx.x & 1) * 4;
        if (in_rows && vec && k + 3 < K) {
            float4 v = __ldg(reinterpret_cast<const float4*>(p + k0));
            r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
            return;
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) r[i] = (in_rows && k + i < K) ? __ldg(p + k0 + i) : 0.f;
    }
    __device__ __forceinline__ void store(GemmSmem& s) const {
        int row = threadIdx.x >> 1, kq = (threadIdx.x & 1) * 4;
#pragma unroll
        for (int i = 0; i < 4; ++i) s[kq + i][row] = r[i];
    }
};

// k is the slow index: element (col, k) at p[k*ld + col] (A transposed, or B
// not transposed). Thread t loads k t/32, columns (t%32)*4..+3.
struct ColMajorKLoader {
    const float* p;
    int ld, cols, K;
    bool full;  // float4 path: ld a multiple of 4 and all four columns in range
    float r[4];

    __device__ __forceinline__ ColMajorKLoader(const float* p_, i64 ld_, i64 cols_, i64 K_, i64 col0)
        : p(p_), ld((int)ld_), K((int)K_) {
        int col = (threadIdx.x & 31) * 4;
        p += col0 + col + (threadIdx.x >> 5) * ld_;
        cols = (int)(cols_ - col0 - col);  // columns left from this thread's first
        full = (ld & 3) == 0 && cols >= 4;
    }
    __device__ __forceinline__ void load(int k0) {
        int k = k0 + (threadIdx.x >> 5);
        const float* q = p + (i64)k0 * ld;
        if (k < K && full) {
            float4 v = __ldg(reinterpret_cast<const float4*>(q));
            r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
            return;
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) r[i] = (k < K && i < cols) ? __ldg(q + i) : 0.f;
    }
    __device__ __forceinline__ void store(GemmSmem& s) const {
        *reinterpret_cast<float4*>(&s[threadIdx.x >> 5][(threadIdx.x & 31) * 4]) = make_float4(r[0], r[1], r[2], r[3]);
    }
};

// Row (0..7) of a thread's register block → row within the 128 tile.
__device__ __forceinline__ int gemm_row(int i) { return (i < 4 ? 0 : 64) + (threadIdx.x >> 4) * 4 + (i & 3); }
__device__ __forceinline__ int gemm_col(int j) { return (j < 4 ? 0 : 64) + (threadIdx.x & 15) * 4 + (j & 3); }

// acc[i][j] = Σ_{k in [kbeg,kend)} opA[gemm_row(i), k] · opB[k, gemm_col(j)]
// over the block's tile. Every thread of the block must call it.
template <class LA, class LB>
__device__ __forceinline__ void gemm_tile(LA& la, LB& lb, int kbeg, int kend, float acc[8][8]) {
    __shared__ __align__(16) GemmSmem As[2];
    __shared__ __align__(16) GemmSmem Bs[2];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;
    if (kbeg >= kend) return;
    int ty4 = (threadIdx.x >> 4) * 4, tx4 = (threadIdx.x & 15) * 4;
    la.load(kbeg);
    lb.load(kbeg);
    la.store(As[0]);
    lb.store(Bs[0]);
    __syncthreads();
    int cur = 0;
    for (int k0 = kbeg; k0 < kend; k0 += GEMM_BK) {
        bool more = k0 + GEMM_BK < kend;
        if (more) {
            la.load(k0 + GEMM_BK);
            lb.load(k0 + GEMM_BK);
        }
#pragma unroll
        for (int kk = 0; kk < GEMM_BK; ++kk) {
            float4 a0 = *reinterpret_cast<const float4*>(&As[cur][kk][ty4]);
            float4 a1 = *reinterpret_cast<const float4*>(&As[cur][kk][64 + ty4]);
            float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][kk][tx4]);
            float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][kk][64 + tx4]);
            float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        if (more) {
            la.store(As[cur ^ 1]);
            lb.store(Bs[cur ^ 1]);
        }
        __syncthreads();
        cur ^= 1;
    }
}

// Writes the register block to C [M, N] (row-major, this split's slice),
// four columns at a time where aligned and in range.
__device__ __forceinline__ void gemm_store(float* C, i64 M, i64 N, i64 m0, i64 n0, const float acc[8][8]) {
    bool vec = (N & 3) == 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        i64 m = m0 + gemm_row(i);
        if (m >= M) continue;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            i64 n = n0 + gemm_col(h * 4);
            float* c = C + m * N + n;
            if (vec && n + 3 < N) {
                *reinterpret_cast<float4*>(c) = make_float4(acc[i][h * 4], acc[i][h * 4 + 1], acc[i][h * 4 + 2], acc[i][h * 4 + 3]);
            } else {
#pragma unroll
                for (int j = 0; j < 4; ++j)
                    if (n + j < N) c[j] = acc[i][h * 4 + j];
            }
        }
    }
}

// C [S?, M, N] = op(A) · op(B); A is [M,K] (or [K,M] when transposed), B is
// [K,N] (or [N,K]). Grid (ceil(N/128), ceil(M/128), S), 256 threads.
template <bool TA, bool TB>
__device__ __forceinline__ void matmul_body(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    i64 m0 = (i64)blockIdx.y * GEMM_BM, n0 = (i64)blockIdx.x * GEMM_BN;
    int kbeg = (int)(blockIdx.z * k_chunk), kend = (int)min(K, kbeg + k_chunk);
    float acc[8][8];
    if (!TA && !TB) {
        RowMajorKLoader la(A, K, M, K, m0);
        ColMajorKLoader lb(B, N, N, K, n0);
        gemm_tile(la, lb, kbeg, kend, acc);
    } else if (!TA && TB) {
        RowMajorKLoader la(A, K, M, K, m0);
        RowMajorKLoader lb(B, K, N, K, n0);
        gemm_tile(la, lb, kbeg, kend, acc);
    } else if (TA && !TB) {
        ColMajorKLoader la(A, M, M, K, m0);
        ColMajorKLoader lb(B, N, N, K, n0);
        gemm_tile(la, lb, kbeg, kend, acc);
    } else {
        ColMajorKLoader la(A, M, M, K, m0);
        RowMajorKLoader lb(B, K, N, K, n0);
        gemm_tile(la, lb, kbeg, kend, acc);
    }
    gemm_store(C + (i64)blockIdx.z * M * N, M, N, m0, n0, acc);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_nn_forward_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<false, false>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_nt_forward_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<false, true>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_tn_forward_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<true, false>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_tt_forward_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<true, true>(C, A, B, M, N, K, k_chunk);
}
