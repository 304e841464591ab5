// ldmatrix and cp.async test kernels for emu/emu_test.cc (test build only).

// One warp. Shared memory holds 32 rows of 4 words, word w = 0xa0000000 | w;
// lane l gives the address of row perm(l) = (7l + 3) % 32, and out[4i + j]
// is the r[j] lane i received. emu_test checks every lane and word against
// the PTX rule (lane i gets word i%4 of the row lane 8j + i/4 addressed).
// mode 1: lane 5's address is 4 bytes off alignment; 2: lane 7 gives a
// global address (out); 3: lane 9 gives a local (stack) address.
extern "C" __global__ void emu_test_ldmatrix_kernel(unsigned* out, i64 mode) {
    __shared__ __align__(16) unsigned s[128];
    unsigned local[8] __attribute__((aligned(16))) = {0};
    int lane = threadIdx.x & 31;
    for (int i = lane; i < 128; i += 32) s[i] = 0xa0000000u | (unsigned)i;
    __syncthreads();  // (not __syncwarp: the 16-thread launch must reach the ldmatrix)
    const void* row = &s[((7 * lane + 3) % 32) * 4];
    if (mode == 1 && lane == 5) row = (const char*)row + 4;
    if (mode == 2 && lane == 7) row = out;
    if (mode == 3 && lane == 9) row = local;
    unsigned r[4];
    fsod_ldmatrix_x4(r, row);
    for (int j = 0; j < 4; ++j) out[4 * lane + j] = r[j] + local[j];
}

// D[16x8] = A[16x8]·B[8x8] + C[16x8] (row-major) through gemm.cu's own
// operand loaders: A staged m-major (GemmSmemM, read by ldmatrix) when
// mmajor != 0, else k-major (GemmSmem, scalar loads); B k-major. For bf16
// with m-major A the k pairs are {t, t+4} (gemm.cu's permutation), so the
// emulator sums k in the order 0,4,1,5,2,6,3,7; emu_test checks each case
// bit for bit against a CPU sum in the order the staging implies.
template <class Op, class SA>
__device__ void emu_test_mma_staged(float* D, const float* A, const float* B, const float* C, SA& As, GemmSmem& Bs) {
    int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    for (int i = lane; i < 128; i += 32) {
        int m = i / 8, k = i % 8;
        if (std::is_same<SA, GemmSmemM>::value)
            ((float(*)[GEMM_BK + GEMM_PAD])&As)[m][k] = A[i];
        else
            ((float(*)[GEMM_BM + GEMM_PAD])&As)[k][m] = A[i];
    }
    for (int i = lane; i < 64; i += 32) Bs[i / 8][i % 8] = B[i];
    __syncwarp();
    unsigned a[Op::AREGS], b[Op::BREGS];
    Op::load_a(As, 0, lane, a);
    Op::load_b(Bs, 0, lane, b, (const SA*)nullptr);
    float c[4], d[4];
    for (int r = 0; r < 4; ++r) c[r] = C[(g + 8 * (r >> 1)) * 8 + 2 * t + (r & 1)];
    Op::mma(d, a, b, c);
    for (int r = 0; r < 4; ++r) D[(g + 8 * (r >> 1)) * 8 + 2 * t + (r & 1)] = d[r];
}

extern "C" __global__ void emu_test_mma_staged_kernel(float* D, const float* A, const float* B, const float* C, i64 bf16, i64 mmajor) {
    __shared__ __align__(16) GemmSmemM Am;
    __shared__ __align__(16) GemmSmem Ak, Bs;
    if (bf16 && mmajor) emu_test_mma_staged<MmaBf16>(D, A, B, C, Am, Bs);
    if (bf16 && !mmajor) emu_test_mma_staged<MmaBf16>(D, A, B, C, Ak, Bs);
    if (!bf16 && mmajor) emu_test_mma_staged<MmaTf32>(D, A, B, C, Am, Bs);
    if (!bf16 && !mmajor) emu_test_mma_staged<MmaTf32>(D, A, B, C, Ak, Bs);
}

// cp.async, 64 threads. s starts as -1 everywhere; thread t copies x[4t..4t+3]
// to a slot of s and later reads its own slot into out[4t..]; out[256 + 4t..]
// is its slot of s2, which a second group fills (x[256 + 4t..], mode 2 only).
// Modes 0 and 3 copy into the next thread's slot (the barrier after the wait
// makes another thread's copies visible); modes 1 and 2 into the thread's
// own slot (another thread's copies may land when it exits, before this
// one reads: the read would race, as on a GPU).
//   0  commit, wait_group 0, barrier, read: out = x shifted by one thread
//   1  commit, barrier, read, no wait: the stale -1 (the bug the model exposes)
//   2  two groups, wait_group 1, barrier: the first landed, the second still -1
//   3  zero-fill (valid = false): zeros
//   4  the destination 4 bytes off alignment; 5 a global destination;
//   6  a source outside every allocation; 7 the source 4 bytes off alignment
extern "C" __global__ void emu_test_cp_async_kernel(float* out, const float* x, i64 mode) {
    __shared__ __align__(16) float s[256], s2[256];
    int t = threadIdx.x, o = mode == 1 || mode == 2 ? 4 * t : 4 * ((t + 1) % 64);
    for (int i = 0; i < 4; ++i) s[4 * t + i] = s2[4 * t + i] = -1.f;
    __syncthreads();
    void* dst = &s[o];
    const float* src = x + 4 * t;
    if (mode == 4) dst = (char*)dst + 4;
    if (mode == 5) dst = out + 4 * t;
    if (mode == 6) src = x + (1 << 24);
    if (mode == 7) src = x + 4 * t + 1;
    fsod_cp_async16(dst, src, mode != 3);
    fsod_cp_async_commit();
    if (mode == 2) {
        fsod_cp_async16(&s2[o], x + 256 + 4 * t, true);
        fsod_cp_async_commit();
        fsod_cp_async_wait<1>();
    } else if (mode != 1) {
        fsod_cp_async_wait<0>();
    }
    __syncthreads();
    for (int i = 0; i < 4; ++i) {
        out[4 * t + i] = s[4 * t + i];
        out[256 + 4 * t + i] = s2[4 * t + i];
    }
}

// A write-after-read race: thread t cp.asyncs x[4t..] into its own slot and,
// with no barrier between, reads the next thread's slot (which that thread
// may already be refilling). The natural schedule performs copies at the
// wait; a shuffled one performs some at issue, so the bits differ.
extern "C" __global__ void emu_test_cp_async_war_kernel(float* out, const float* x) {
    __shared__ __align__(16) float s[256];
    int t = threadIdx.x;
    for (int i = 0; i < 4; ++i) s[4 * t + i] = -1.f;
    __syncthreads();
    fsod_cp_async16(&s[4 * t], x + 4 * t, true);
    fsod_cp_async_commit();
    float v = s[4 * ((t + 1) % 64)];
    fsod_cp_async_wait<0>();
    out[t] = v;
}
