// Tensor-core test kernels for emu/emu_test.cc (test build only): one warp
// loads its mma fragments from global memory by the PTX ISA layouts (written
// out again here, independently of gemm.cu's loaders), multiplies, and
// stores D by the C/D layout; emu_test compares with a CPU product whose
// operands are rounded the same way. g = lane>>2, t = lane%4.

// D[16x8] = A[16x8]·B[8x8] + C[16x8], all row-major; bf16 != 0 selects the
// bf16 shape. wrong != 0 swaps A's second and third fragment elements (a
// mapping error the comparison must catch).
extern "C" __global__ void emu_test_mma_kernel(float* D, const float* A, const float* B, const float* C, i64 bf16, i64 wrong) {
    int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    float c[4], d[4];
    for (int r = 0; r < 4; ++r) c[r] = C[(g + 8 * (r >> 1)) * 8 + 2 * t + (r & 1)];
    if (!bf16) {
        unsigned a[4], b[2];
        for (int r = 0; r < 4; ++r) a[r] = fsod_cvt_tf32(A[(g + 8 * (r & 1)) * 8 + t + 4 * (r >> 1)]);
        for (int r = 0; r < 2; ++r) b[r] = fsod_cvt_tf32(B[(t + 4 * r) * 8 + g]);
        if (wrong) {
            unsigned x = a[1];
            a[1] = a[2];
            a[2] = x;
        }
        fsod_mma_m16n8k8_tf32(d, a, b, c);
    } else {
        unsigned a[2], b[1];
        for (int r = 0; r < 2; ++r) a[r] = fsod_pack_bf16x2(A[(g + 8 * r) * 8 + 2 * t], A[(g + 8 * r) * 8 + 2 * t + 1]);
        b[0] = fsod_pack_bf16x2(B[(2 * t) * 8 + g], B[(2 * t + 1) * 8 + g]);
        if (wrong) a[0] = a[0] >> 16 | a[0] << 16;
        fsod_mma_m16n8k8_bf16(d, a, b, c);
    }
    for (int r = 0; r < 4; ++r) D[(g + 8 * (r >> 1)) * 8 + 2 * t + (r & 1)] = d[r];
}

// out[2i] = cvt.rna.tf32(x[i]); out[2i+1] = bf16x2(lo = x[i], hi = x[n-1-i]).
extern "C" __global__ void emu_test_cvt_kernel(unsigned* out, const float* x, i64 n) {
    GRID_LOOP(i, n) {
        out[2 * i] = fsod_cvt_tf32(x[i]);
        out[2 * i + 1] = fsod_pack_bf16x2(x[i], x[n - 1 - i]);
    }
}

// Lanes 16..31 return before the mma the others wait at.
extern "C" __global__ void emu_test_divergent_mma_kernel(float* out) {
    if (threadIdx.x >= 16) return;
    unsigned a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
    float c[4] = {1, 2, 3, 4}, d[4];
    fsod_mma_m16n8k8_tf32(d, a, b, c);
    out[threadIdx.x] = d[0];
}
