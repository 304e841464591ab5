// Losses: cross-entropy over rows, smooth L1, BCE with logits, each with its
// backward. As in engine/cpu, per-element terms are computed in double and
// reduced in double, then rounded to float once; a mean over zero elements is
// 0. Reductions are deterministic: a fixed grid (a function of the size only)
// writes per-block partial sums with a fixed tree, and loss_finalize_kernel
// adds the partials in a fixed order. No atomics.
//
// Reduction codes (backend.Reduction): 0 mean, 1 sum, 2 none.

#define LOSS_THREADS 256
#define LOSS_MAX_BLOCKS 1024

__device__ __forceinline__ double loss_warp_sum_d(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ double loss_warp_max_d(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        double u = __shfl_xor_sync(FULL_MASK, v, o);
        // NaN wins, as math.Max in the CPU backend.
        v = (v != v || u != u) ? (v != v ? v : u) : fmax(v, u);
    }
    return v;
}

// Block-wide double sum for blockDim.x == LOSS_THREADS, fixed order; every
// thread must call it; thread 0 holds the result.
__device__ __forceinline__ double loss_block_sum_d(double v) {
    __shared__ double loss_partial[LOSS_THREADS / 32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = loss_warp_sum_d(v);
    __syncthreads();
    if (lane == 0) loss_partial[warp] = v;
    __syncthreads();
    v = 0;
    if (warp == 0) {
        v = lane < LOSS_THREADS / 32 ? loss_partial[lane] : 0.0;
        v = loss_warp_sum_d(v);
    }
    return v;
}

// out[0] = float(scale · Σ partial[0..np)), one block of LOSS_THREADS.
extern "C" __global__ void loss_finalize_kernel(float* out, const double* __restrict__ partial, i64 np, double scale) {
    double s = 0;
    for (i64 i = threadIdx.x; i < np; i += blockDim.x) s += partial[i];
    s = loss_block_sum_d(s);
    if (threadIdx.x == 0) out[0] = (float)(s * scale);
}

// Row log-sum-exp of a [K] row in double, by one warp; every lane gets it.
__device__ __forceinline__ double loss_row_lse(const float* row, i64 k, int lane) {
    double mx = -CUDART_INF;
    for (i64 j = lane; j < k; j += 32) {
        double v = (double)row[j];
        mx = (mx != mx || v != v) ? (mx != mx ? mx : v) : fmax(mx, v);
    }
    mx = loss_warp_max_d(mx);
    double s = 0;
    for (i64 j = lane; j < k; j += 32) s += exp((double)row[j] - mx);
    s = loss_warp_sum_d(s);
    return mx + log(s);
}

// rowloss [N] = lse(logits[i]) − logits[i, target[i]], one warp per row. A
// target outside [0,K) gives NaN (the launcher cannot check device data
// without a copy; NaN makes the bad label visible in the loss).
extern "C" __global__ void cross_entropy_forward_kernel(double* rowloss, const float* __restrict__ logits,
                                                        const i64* __restrict__ target, i64 n, i64 k) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 nwarps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 i = warp; i < n; i += nwarps) {
        const float* row = logits + i * k;
        double lse = loss_row_lse(row, k, lane);
        i64 t = target[i];
        if (lane == 0) rowloss[i] = (t >= 0 && t < k) ? lse - (double)row[t] : CUDART_NAN;
    }
}

// dx [N,K] = dloss[0]·(softmax − onehot(target))/N.
extern "C" __global__ void cross_entropy_backward_kernel(float* dx, const float* __restrict__ logits,
                                                         const i64* __restrict__ target,
                                                         const float* __restrict__ dloss, i64 n, i64 k) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 nwarps = ((i64)gridDim.x * blockDim.x) >> 5;
    const double g = (double)dloss[0] * (n > 0 ? 1.0 / (double)n : 0.0);
    for (i64 i = warp; i < n; i += nwarps) {
        const float* row = logits + i * k;
        double lse = loss_row_lse(row, k, lane);
        i64 t = target[i];
        for (i64 j = lane; j < k; j += 32) {
            double p = exp((double)row[j] - lse);
            if (j == t) p -= 1.0;
            dx[i * k + j] = (float)(g * p);
        }
    }
}

__device__ __forceinline__ double loss_smooth_l1(float x, float t, double beta) {
    double d = fabs((double)x - (double)t);
    return d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
}

__device__ __forceinline__ double loss_bce(float x, float t) {
    double v = (double)x, tt = (double)t;
    return fmax(v, 0.0) - v * tt + log1p(exp(-fabs(v)));
}

// Per-element loss: reduction none writes out[i]; mean/sum write the block's
// partial sum to partial[blockIdx.x] for loss_finalize_kernel. kind 0 is
// smooth L1 (beta), 1 is BCE with logits.
extern "C" __global__ void elementwise_loss_forward_kernel(float* out, double* partial, const float* __restrict__ x,
                                                           const float* __restrict__ target, i64 n, i64 kind,
                                                           double beta, i64 reduction) {
    double s = 0;
    GRID_LOOP(i, n) {
        double v = kind == 0 ? loss_smooth_l1(x[i], target[i], beta) : loss_bce(x[i], target[i]);
        if (reduction == 2)
            out[i] = (float)v;
        else
            s += v;
    }
    if (reduction == 2) return;
    s = loss_block_sum_d(s);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// dx = upstream·∂loss/∂x. Upstream is dloss[i] for reduction none, dloss[0]
// (divided by n for mean) otherwise.
extern "C" __global__ void elementwise_loss_backward_kernel(float* dx, const float* __restrict__ x,
                                                            const float* __restrict__ target,
                                                            const float* __restrict__ dloss, i64 n, i64 kind,
                                                            double beta, i64 reduction) {
    double g0 = 0;
    if (reduction != 2) g0 = (double)dloss[0] * ((reduction == 0 && n > 0) ? 1.0 / (double)n : 1.0);
    GRID_LOOP(i, n) {
        double g = reduction == 2 ? (double)dloss[i] : g0;
        double v;
        if (kind == 0) {
            double d = (double)x[i] - (double)target[i];
            if (fabs(d) < beta)
                v = d / beta;
            else
                v = d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0);
        } else {
            double xv = (double)x[i], sg;
            if (xv >= 0) {
                sg = 1.0 / (1.0 + exp(-xv));
            } else {
                double e = exp(xv);
                sg = e / (1.0 + e);
            }
            v = sg - (double)target[i];
        }
        dx[i] = (float)(g * v);
    }
}
