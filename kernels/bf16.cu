// Casts between fp32 and BF16 storage (kernels/bf16.cuh).

// y[i] = bf16(x[i]): the one pass that turns an fp32 activation into BF16
// storage (half the bytes for every later read).
extern "C" __global__ void cast_to_bfloat16_kernel(bf16_t* y, const float* __restrict__ x, i64 n) {
    GRID_LOOP(i, n) { y[i] = fsod_f32_to_bf16(x[i]); }
}

// y[i] = float(x[i]), exact: what reading a BF16 tensor back to the host uses.
extern "C" __global__ void cast_from_bfloat16_kernel(float* y, const bf16_t* __restrict__ x, i64 n) {
    GRID_LOOP(i, n) { y[i] = fsod_bf16_to_f32(x[i]); }
}
