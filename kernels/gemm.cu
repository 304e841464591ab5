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
// The arithmetic is a "core" (FfmaCore, or MmaCore with TF32 or BF16
// operands on the tensor cores, sm_80 and newer): same loaders, same launch
// geometry and split-K, same epilogues through a register-block layout. The
// FP32 core keeps the pipeline above exactly; the tensor-core cores have
// their own gemm_tile (below MmaCore): a 3-stage shared pipeline fed by
// cp.async where a thread's 4 elements are one contiguous, aligned 16-byte
// chunk of global memory, with A staged m-major and read by ldmatrix where
// its loader allows (see "Staging for the tensor cores" above MmaTf32).
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
// The m-major staging of an A slab for the tensor-core cores (s[m][k]: the
// 8 k of a row contiguous, rows 48 bytes apart), which ldmatrix reads; see
// "Staging for the tensor cores" above MmaTf32.
typedef float GemmSmemM[GEMM_BM][GEMM_BK + GEMM_PAD];

__device__ __forceinline__ bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

// Rows of the slab are contiguous in k: element (row, k) at p[row*ld + k]
// (A not transposed, or B transposed). Thread t loads row t/2, k (t%2)*4..+3,
// as one float4 when ld is a multiple of 4 and the four are in range.
//
// For the tensor-core cores it stages A m-major (MmaAStage): its four k are
// one 16-byte chunk of the row, copied by cp.async when whole (or zero-filled
// when wholly outside the matrix); only a chunk cut by K, or rows not 16-byte
// aligned, go through the registers.
struct RowMajorKLoader {
    typedef GemmSmemM MmaAStage;
    const float* p;
    const float* base;  // the matrix: a valid source for zero-fill copies
    int K;
    bool in_rows, vec, async;
    float r[4];

    __device__ __forceinline__ RowMajorKLoader(const float* p_, i64 ld, i64 rows, i64 K_, i64 row0)
        : p(p_), base(p_), K((int)K_), async(false) {
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
    // The tensor-core path: cp.async what it can, registers for the rest
    // (finish writes them after the multiply).
    __device__ __forceinline__ void fetch(int k0, GemmSmemM& s) {
        int k = k0 + (threadIdx.x & 1) * 4;
        bool valid = in_rows && k < K;
        async = aligned16(base) && (!valid || (vec && k + 3 < K));
        if (async)
            fsod_cp_async16(&s[threadIdx.x >> 1][(threadIdx.x & 1) * 4], valid ? p + k0 : base, valid);
        else
            load(k0);
    }
    __device__ __forceinline__ void finish(GemmSmemM& s) const {
        if (!async) *reinterpret_cast<float4*>(&s[threadIdx.x >> 1][(threadIdx.x & 1) * 4]) = make_float4(r[0], r[1], r[2], r[3]);
    }
};

// k is the slow index: element (col, k) at p[k*ld + col] (A transposed, or B
// not transposed). Thread t loads k t/32, columns (t%32)*4..+3.
// Its four columns are one 16-byte chunk of a row of the k-major staging, so
// for the tensor-core cores (either operand) they go by cp.async when whole
// or wholly outside, and through the registers otherwise.
struct ColMajorKLoader {
    const float* p;
    const float* base;  // the matrix: a valid source for zero-fill copies
    int ld, cols, K;
    bool full;  // float4 path: ld a multiple of 4 and all four columns in range
    bool async;
    float r[4];

    __device__ __forceinline__ ColMajorKLoader(const float* p_, i64 ld_, i64 cols_, i64 K_, i64 col0)
        : p(p_), base(p_), ld((int)ld_), K((int)K_), async(false) {
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
    __device__ __forceinline__ void fetch(int k0, GemmSmem& s) {
        int k = k0 + (threadIdx.x >> 5);
        bool valid = k < K && cols > 0;
        async = aligned16(base) && (!valid || full);
        if (async)
            fsod_cp_async16(&s[threadIdx.x >> 5][(threadIdx.x & 31) * 4], valid ? p + (i64)k0 * ld : base, valid);
        else
            load(k0);
    }
    __device__ __forceinline__ void finish(GemmSmem& s) const {
        if (!async) store(s);
    }
};

// Register-block layouts. Each thread of a 256-thread block ends with 64
// accumulators acc[8][8] holding tile element (row(i), col(j)): the row
// depends only on i and the column only on j, so the epilogues (gemm_store,
// conv.cu's) are written once over a layout. VEC adjacent columns
// (j = VEC·h .. VEC·h+VEC-1) are contiguous and VEC-aligned in the tile, which
// the vector stores rely on.
//
// FfmaLayout: rows ty*4+{0..3} and 64+ty*4+{0..3}, columns likewise with tx.
struct FfmaLayout {
    static constexpr int VEC = 4;
    __device__ static __forceinline__ int row(int i) { return (i < 4 ? 0 : 64) + (threadIdx.x >> 4) * 4 + (i & 3); }
    __device__ static __forceinline__ int col(int j) { return (j < 4 ? 0 : 64) + (threadIdx.x & 15) * 4 + (j & 3); }
};

// MmaLayout: warp w owns the 64×32 sub-tile at rows (w/4)*64, columns
// (w%4)*32, as 4×4 mma tiles of 16×8; acc[2mi+h][2ni+e] is element c[2h+e] of
// mma tile (mi, ni), i.e. row 16mi + 8h + groupID, column 8ni + 2·tig + e
// (groupID = lane/4, tig = lane%4; the C/D layout at MmaTf32 below).
struct MmaLayout {
    static constexpr int VEC = 2;
    __device__ static __forceinline__ int row(int i) {
        return (threadIdx.x >> 7) * 64 + (i >> 1) * 16 + (i & 1) * 8 + ((threadIdx.x & 31) >> 2);
    }
    __device__ static __forceinline__ int col(int j) {
        return ((threadIdx.x >> 5) & 3) * 32 + (j >> 1) * 8 + (threadIdx.x & 3) * 2 + (j & 1);
    }
};

// A core's accumulators, zeroed; acc[i][j] is tile element (Layout::row(i),
// Layout::col(j)) of the core's layout.
struct GemmAcc {
    float acc[8][8];

    __device__ __forceinline__ GemmAcc() {
#pragma unroll
        for (int i = 0; i < 8; ++i)
#pragma unroll
            for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;
    }
};

// The FP32 core: per k step, four float4 shared loads and 64 FFMA.
struct FfmaCore : GemmAcc {
    typedef FfmaLayout Layout;

    __device__ __forceinline__ void step(const GemmSmem& A, const GemmSmem& B) {
        int ty4 = (threadIdx.x >> 4) * 4, tx4 = (threadIdx.x & 15) * 4;
#pragma unroll
        for (int kk = 0; kk < GEMM_BK; ++kk) {
            float4 a0 = *reinterpret_cast<const float4*>(&A[kk][ty4]);
            float4 a1 = *reinterpret_cast<const float4*>(&A[kk][64 + ty4]);
            float4 b0 = *reinterpret_cast<const float4*>(&B[kk][tx4]);
            float4 b1 = *reinterpret_cast<const float4*>(&B[kk][64 + tx4]);
            float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
    }
};

// Tensor-core operands. The fragment layouts of the PTX ISA ("Matrix
// Fragments for mma.m16n8k8"), with groupID g = lane>>2 and threadID_in_group
// t = lane%4; A is 16×8 (row = m, col = k), B is 8×8 (row = k, col = n):
//
//   .tf32  A  a[r], r = 0..3:  row g + 8·(r&1),  col t + 4·(r>>1)
//          B  b[r], r = 0..1:  row t + 4·r,      col g
//   .bf16  A  a[r] = {lo, hi}, r = 0..1: element e of the pair (lo e=0, hi e=1)
//                               row g + 8·r,  col 2t + e
//          B  b[0] = {lo, hi}: row 2t + e,    col g
//   C, D (both, .f32) c[r], r = 0..3: row g + 8·(r>>1), col 2t + (r&1)
//
// Staging for the tensor cores. Shared memory stays fp32 (the loaders of
// gemm.cu and conv.cu are shared with the FP32 path) and operands are
// rounded as they are read. B is staged k-major (s[k][n]) as for the FP32
// core. A is staged m-major (GemmSmemM, s[m][k]) when its loader fetches
// 4 consecutive k per thread (RowMajorKLoader: GEMM with A not transposed,
// the convolution weights; ConvDyRowLoader: the filter gradient's dy), and
// k-major otherwise (ColMajorKLoader, ConvWtLoader: their 4 consecutive
// elements run along m, and an m-major store of them would be a 16-way bank
// conflict). A loader says which by `typedef GemmSmemM MmaAStage`.
//
// m-major A is read by ldmatrix. An 8×8 b16 matrix is 8 rows of 16 bytes,
// i.e. 8 rows × 4 floats, and lane i receives word i%4 of row i/4: on fp32
// data lane (g, t) gets float t of row g. So one ldmatrix.x4 whose matrices
// are (rows m..m+7, k 0..3), (m+8..m+15, k 0..3), (m..m+7, k 4..7),
// (m+8..m+15, k 4..7) — row addresses &s[m + lane%16][4·(lane/16)] — gives
// exactly the TF32 fragment a[0..3], then cvt.rna each. With the 48-byte
// row stride the 8 rows of one matrix start at banks 0,12,24,4,16,28,8,20
// and cover all 32 banks once: no conflict. It replaces 4 scalar LDS, which
// on the k-major staging are 2-way conflicts (bank (4k + m) mod 32 with
// k = t, m = g spans 20 banks only; the B loads below have the same 2-way
// conflict, noted here because earlier comments claimed otherwise).
//
// BF16 and ldmatrix: ldmatrix gives a lane the k pair {t, t+4} of a row, not
// the {2t, 2t+1} of the bf16 layout. The mma's sum over k is the same under
// any permutation of k applied to A's columns and B's rows alike, and slot
// 2t+e of a lane's A pair and slot 2t+e of its B pair are the same slot of
// the k8 sum (both lanes have threadID_in_group t). So with m-major A the
// bf16 operands use the permutation slot 2t+e <- k = t + 4e, a bijection of
// 0..7: a[0] = {A(g, t), A(g, t+4)}, a[1] = {A(g+8, t), A(g+8, t+4)} (words 0/2
// and 1/3 of the TF32 ldmatrix), b[0] = {B(t, g), B(t+4, g)} (the TF32 B
// loads, packed). The products summed are the same; only the order in which
// the hardware (or the emulator, which adds slot by slot) sums them differs,
// at the level of fp32 rounding. With k-major A the natural pairs
// {2t, 2t+1} stay (their B loads are conflict-free): the permutation is a
// property of the A staging and MmaBf16 picks it from the staging type.
//
// A Hopper wgmma variant (sm_90a, CUDA 12) would be one more core: its
// warpgroup reads B (and A) from shared memory through descriptors, so it
// needs bf16/tf32 staging in wgmma's swizzled layout; the loaders, the
// pipeline and the epilogues stay.
struct MmaTf32 {
    enum { AREGS = 4, BREGS = 2 };
    __device__ static __forceinline__ void load_a(const GemmSmem& s, int m, int lane, unsigned a[AREGS]) {
        int g = lane >> 2, t = lane & 3;
        a[0] = fsod_cvt_tf32(s[t][m + g]);
        a[1] = fsod_cvt_tf32(s[t][m + g + 8]);
        a[2] = fsod_cvt_tf32(s[t + 4][m + g]);
        a[3] = fsod_cvt_tf32(s[t + 4][m + g + 8]);
    }
    __device__ static __forceinline__ void load_a(const GemmSmemM& s, int m, int lane, unsigned a[AREGS]) {
        unsigned w[4];
        fsod_ldmatrix_x4(w, &s[m + (lane & 15)][(lane >> 4) * 4]);
#pragma unroll
        for (int r = 0; r < 4; ++r) a[r] = fsod_cvt_tf32(__uint_as_float(w[r]));
    }
    template <class SA>
    __device__ static __forceinline__ void load_b(const GemmSmem& s, int n, int lane, unsigned b[BREGS], const SA*) {
        int g = lane >> 2, t = lane & 3;
        b[0] = fsod_cvt_tf32(s[t][n + g]);
        b[1] = fsod_cvt_tf32(s[t + 4][n + g]);
    }
    __device__ static __forceinline__ void mma(float d[4], const unsigned a[AREGS], const unsigned b[BREGS], const float c[4]) {
        fsod_mma_m16n8k8_tf32(d, a, b, c);
    }
};

struct MmaBf16 {
    enum { AREGS = 2, BREGS = 1 };
    // k-major A: the natural pairs {2t, 2t+1}.
    __device__ static __forceinline__ void load_a(const GemmSmem& s, int m, int lane, unsigned a[AREGS]) {
        int g = lane >> 2, t = lane & 3;
        a[0] = fsod_pack_bf16x2(s[2 * t][m + g], s[2 * t + 1][m + g]);
        a[1] = fsod_pack_bf16x2(s[2 * t][m + g + 8], s[2 * t + 1][m + g + 8]);
    }
    __device__ static __forceinline__ void load_b(const GemmSmem& s, int n, int lane, unsigned b[BREGS], const GemmSmem*) {
        int g = lane >> 2, t = lane & 3;
        b[0] = fsod_pack_bf16x2(s[2 * t][n + g], s[2 * t + 1][n + g]);
    }
    // m-major A through ldmatrix: the pairs {t, t+4} in A and B alike.
    __device__ static __forceinline__ void load_a(const GemmSmemM& s, int m, int lane, unsigned a[AREGS]) {
        unsigned w[4];
        fsod_ldmatrix_x4(w, &s[m + (lane & 15)][(lane >> 4) * 4]);
        a[0] = fsod_pack_bf16x2(__uint_as_float(w[0]), __uint_as_float(w[2]));
        a[1] = fsod_pack_bf16x2(__uint_as_float(w[1]), __uint_as_float(w[3]));
    }
    __device__ static __forceinline__ void load_b(const GemmSmem& s, int n, int lane, unsigned b[BREGS], const GemmSmemM*) {
        int g = lane >> 2, t = lane & 3;
        b[0] = fsod_pack_bf16x2(s[t][n + g], s[t + 4][n + g]);
    }
    __device__ static __forceinline__ void mma(float d[4], const unsigned a[AREGS], const unsigned b[BREGS], const float c[4]) {
        fsod_mma_m16n8k8_bf16(d, a, b, c);
    }
};

// The tensor-core core: per k step (one k8 slab) each warp loads its A
// fragments for 4 row tiles and B fragments for 4 column tiles and issues
// 16 mma (4×4 tiles of 16×8), accumulating in fp32 registers. SA is the A
// staging (GemmSmem k-major, or GemmSmemM m-major read by ldmatrix).
template <class Op>
struct MmaCore : GemmAcc {
    typedef MmaLayout Layout;

    template <class SA>
    __device__ __forceinline__ void step(const SA& A, const GemmSmem& B) {
        int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
        unsigned a[4][Op::AREGS], b[4][Op::BREGS];
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) Op::load_a(A, wm + mi * 16, lane, a[mi]);
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) Op::load_b(B, wn + ni * 8, lane, b[ni], (const SA*)nullptr);
#pragma unroll
        for (int mi = 0; mi < 4; ++mi)
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
                float c[4] = {acc[2 * mi][2 * ni], acc[2 * mi][2 * ni + 1], acc[2 * mi + 1][2 * ni], acc[2 * mi + 1][2 * ni + 1]};
                float d[4];
                Op::mma(d, a[mi], b[ni], c);
                acc[2 * mi][2 * ni] = d[0];
                acc[2 * mi][2 * ni + 1] = d[1];
                acc[2 * mi + 1][2 * ni] = d[2];
                acc[2 * mi + 1][2 * ni + 1] = d[3];
            }
    }
};

typedef MmaCore<MmaTf32> Tf32Core;
typedef MmaCore<MmaBf16> Bf16Core;

// core.acc += opA[rows, kbeg:kend] · opB[kbeg:kend, cols] over the block's
// tile, in the core's layout: the loaders stage each 128×8 slab k-major into
// double-buffered shared memory while the core multiplies the previous one.
// Every thread of the block must call it.
template <class Core, class LA, class LB>
__device__ __forceinline__ void gemm_tile(LA& la, LB& lb, int kbeg, int kend, Core& core) {
    __shared__ __align__(16) GemmSmem As[2];
    __shared__ __align__(16) GemmSmem Bs[2];
    if (kbeg >= kend) return;
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
        core.step(As[cur], Bs[cur]);
        if (more) {
            la.store(As[cur ^ 1]);
            lb.store(Bs[cur ^ 1]);
        }
        __syncthreads();
        cur ^= 1;
    }
}

// The A staging a loader asks of the tensor-core tile (its MmaAStage), or
// k-major.
template <class T>
struct GemmVoid {
    typedef void type;
};
template <class L, class = void>
struct MmaAStageOf {
    typedef GemmSmem type;
};
template <class L>
struct MmaAStageOf<L, typename GemmVoid<typename L::MmaAStage>::type> {
    typedef typename L::MmaAStage type;
};

// A loader with fetch(k0, stage) / finish(stage) for this staging issues
// cp.async where it can (finish writes what went through registers); any
// other loader load()s into registers and store()s after the multiply.
template <class L, class S>
__device__ __forceinline__ auto gemm_fetch(L& l, int k0, S& s, int) -> decltype(l.fetch(k0, s)) {
    l.fetch(k0, s);
}
template <class L, class S>
__device__ __forceinline__ void gemm_fetch(L& l, int k0, S&, long) {
    l.load(k0);
}
template <class L, class S>
__device__ __forceinline__ auto gemm_finish(L& l, S& s, int) -> decltype(l.finish(s)) {
    l.finish(s);
}
template <class L, class S>
__device__ __forceinline__ void gemm_finish(L& l, S& s, long) {
    l.store(s);
}

// The tensor-core tile: the same contract as gemm_tile above, with a
// GEMM_MMA_STAGES-deep shared pipeline. Slab i+2 is fetched (cp.async, or
// into registers) before slab i is multiplied; each step ends with
// cp.async.wait_group 1 (slab i+1 has landed; slab i+2 may still be in
// flight) and a barrier, after which slab i+1's register-path elements are
// in shared memory too. One commit per step, empty or not, keeps the group
// count uniform. A stage is refilled only after the barrier that ends the
// step which read it.
#define GEMM_MMA_STAGES 3
template <class Op, class LA, class LB>
__device__ __forceinline__ void gemm_tile(LA& la, LB& lb, int kbeg, int kend, MmaCore<Op>& core) {
    typedef typename MmaAStageOf<LA>::type SA;
    __shared__ __align__(16) SA As[GEMM_MMA_STAGES];
    __shared__ __align__(16) GemmSmem Bs[GEMM_MMA_STAGES];
    if (kbeg >= kend) return;
#pragma unroll
    for (int st = 0; st < GEMM_MMA_STAGES - 1; ++st) {
        int k = kbeg + st * GEMM_BK;
        if (k < kend) {
            gemm_fetch(la, k, As[st], 0);
            gemm_fetch(lb, k, Bs[st], 0);
            gemm_finish(la, As[st], 0);
            gemm_finish(lb, Bs[st], 0);
        }
        fsod_cp_async_commit();
    }
    fsod_cp_async_wait<GEMM_MMA_STAGES - 2>();
    __syncthreads();
    int cur = 0, nxt = GEMM_MMA_STAGES - 1;
    for (int k0 = kbeg; k0 < kend; k0 += GEMM_BK) {
        int kn = k0 + (GEMM_MMA_STAGES - 1) * GEMM_BK;
        bool more = kn < kend;
        if (more) {
            gemm_fetch(la, kn, As[nxt], 0);
            gemm_fetch(lb, kn, Bs[nxt], 0);
        }
        fsod_cp_async_commit();
        core.step(As[cur], Bs[cur]);
        if (more) {
            gemm_finish(la, As[nxt], 0);
            gemm_finish(lb, Bs[nxt], 0);
        }
        fsod_cp_async_wait<GEMM_MMA_STAGES - 2>();
        __syncthreads();
        cur = cur == GEMM_MMA_STAGES - 1 ? 0 : cur + 1;
        nxt = nxt == GEMM_MMA_STAGES - 1 ? 0 : nxt + 1;
    }
}

template <int VEC>
struct VecStore;
template <>
struct VecStore<4> {
    __device__ static __forceinline__ void store(float* c, const float* v) { *reinterpret_cast<float4*>(c) = make_float4(v[0], v[1], v[2], v[3]); }
};
template <>
struct VecStore<2> {
    __device__ static __forceinline__ void store(float* c, const float* v) { *reinterpret_cast<float2*>(c) = make_float2(v[0], v[1]); }
};

// Writes the register block to C [M, N] (row-major, this split's slice),
// L::VEC columns at a time where aligned and in range.
template <class L>
__device__ __forceinline__ void gemm_store(float* C, i64 M, i64 N, i64 m0, i64 n0, const float acc[8][8]) {
    bool vec = N % L::VEC == 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        i64 m = m0 + L::row(i);
        if (m >= M) continue;
#pragma unroll
        for (int h = 0; h < 8 / L::VEC; ++h) {
            i64 n = n0 + L::col(h * L::VEC);
            float* c = C + m * N + n;
            if (vec && n + L::VEC - 1 < N) {
                VecStore<L::VEC>::store(c, &acc[i][h * L::VEC]);
            } else {
#pragma unroll
                for (int j = 0; j < L::VEC; ++j)
                    if (n + j < N) c[j] = acc[i][h * L::VEC + j];
            }
        }
    }
}

// C [S?, M, N] = op(A) · op(B); A is [M,K] (or [K,M] when transposed), B is
// [K,N] (or [N,K]). Grid (ceil(N/128), ceil(M/128), S), 256 threads. Core
// picks the arithmetic (FfmaCore, Tf32Core, Bf16Core).
template <class Core, bool TA, bool TB>
__device__ __forceinline__ void matmul_body(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    i64 m0 = (i64)blockIdx.y * GEMM_BM, n0 = (i64)blockIdx.x * GEMM_BN;
    int kbeg = (int)(blockIdx.z * k_chunk), kend = (int)min(K, kbeg + k_chunk);
    Core core;
    if (!TA && !TB) {
        RowMajorKLoader la(A, K, M, K, m0);
        ColMajorKLoader lb(B, N, N, K, n0);
        gemm_tile(la, lb, kbeg, kend, core);
    } else if (!TA && TB) {
        RowMajorKLoader la(A, K, M, K, m0);
        RowMajorKLoader lb(B, K, N, K, n0);
        gemm_tile(la, lb, kbeg, kend, core);
    } else if (TA && !TB) {
        ColMajorKLoader la(A, M, M, K, m0);
        ColMajorKLoader lb(B, N, N, K, n0);
        gemm_tile(la, lb, kbeg, kend, core);
    } else {
        ColMajorKLoader la(A, M, M, K, m0);
        RowMajorKLoader lb(B, K, N, K, n0);
        gemm_tile(la, lb, kbeg, kend, core);
    }
    gemm_store<typename Core::Layout>(C + (i64)blockIdx.z * M * N, M, N, m0, n0, core.acc);
}

// The kernels are spelled out (no macro): emu/gen_kernels.sh finds them by
// their extern "C" __global__ text. Same parameters in every precision.
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_nn_forward_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<FfmaCore, false, false>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_nt_forward_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<FfmaCore, false, true>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_tn_forward_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<FfmaCore, true, false>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_tt_forward_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<FfmaCore, true, true>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_nn_forward_tf32_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<Tf32Core, false, false>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_nt_forward_tf32_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<Tf32Core, false, true>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_tn_forward_tf32_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<Tf32Core, true, false>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_tt_forward_tf32_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<Tf32Core, true, true>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_nn_forward_bf16_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<Bf16Core, false, false>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_nt_forward_bf16_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<Bf16Core, false, true>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_tn_forward_bf16_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<Bf16Core, true, false>(C, A, B, M, N, K, k_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
matmul_tt_forward_bf16_kernel(float* C, const float* A, const float* B, i64 M, i64 N, i64 K, i64 k_chunk) {
    matmul_body<Bf16Core, true, true>(C, A, B, M, N, K, k_chunk);
}
