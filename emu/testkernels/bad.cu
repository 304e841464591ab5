// Deliberately broken kernels, compiled only into the emulator's test build
// (bin/emu-test/libcuda.so.1, never the fatbin): emu/emu_test.cc launches
// each and checks that the emulator reports it for the right reason.

// Reads one element past the end of x (n elements): the out-of-bounds check.
extern "C" __global__ void emu_test_oob_read_kernel(float* out, const float* x, i64 n) {
    i64 i = GLOBAL_TID;
    if (i <= n) out[i < n ? i : 0] = x[i];
}

// Writes at x[n + 64 + tid], beyond the end: the write side of the check.
extern "C" __global__ void emu_test_oob_write_kernel(float* x, i64 n) {
    if (threadIdx.x == 5) x[n + 64 + threadIdx.x] = 1.f;
}

// Threads with odd index return before the barrier the others wait at.
extern "C" __global__ void emu_test_divergent_barrier_kernel(float* out, i64 n) {
    __shared__ float s[1024];
    if (threadIdx.x & 1) return;
    s[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[(threadIdx.x + 2) % blockDim.x];
}

// Each thread writes its slot, then reads its neighbour's with no barrier
// between: correct only in an order where the neighbour ran first.
extern "C" __global__ void emu_test_missing_barrier_kernel(float* out, const float* x) {
    __shared__ float s[1024];
    unsigned t = threadIdx.x;
    s[t] = x[blockIdx.x * blockDim.x + t];
    out[blockIdx.x * blockDim.x + t] = s[(t + 1) % blockDim.x];
}

// The same with the barrier: every schedule gives the same result.
extern "C" __global__ void emu_test_with_barrier_kernel(float* out, const float* x) {
    __shared__ float s[1024];
    unsigned t = threadIdx.x;
    s[t] = x[blockIdx.x * blockDim.x + t];
    __syncthreads();
    out[blockIdx.x * blockDim.x + t] = s[(t + 1) % blockDim.x];
}

// Reads out before writing it: with NaN-filled fresh memory the sum is NaN.
extern "C" __global__ void emu_test_read_before_write_kernel(float* out, i64 n) {
    GRID_LOOP(i, n) out[i] = out[i] + 1.f;
}

// A shuffle whose mask leaves out lanes that exited.
extern "C" __global__ void emu_test_divergent_shfl_kernel(float* out) {
    if (threadIdx.x >= 16) return;
    out[threadIdx.x] = __shfl_xor_sync(FULL_MASK, (float)threadIdx.x, 1);
}
