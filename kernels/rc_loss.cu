// RC loss (MFE's regularization consistency) on two logit sets a, b [N,K]:
//
//   L = (1/N) Σ_rows Σ_k (p_a − p_b)(log p_a − log p_b)  = KL(p_a‖p_b) + KL(p_b‖p_a), batch mean
//
// and its gradient, with d = log p_a − log p_b:
//
//   ∂L/∂a_j = (p_a,j (d_j − E_pa[d]) + p_a,j − p_b,j) / N
//   ∂L/∂b_j = (p_b,j (E_pb[d] − d_j) + p_b,j − p_a,j) / N
//
// One warp per row, everything in double as engine/cpu does (K is the class
// count, so a row is a few dozen values). The forward writes one double per
// row; loss_finalize_kernel (losses.cu) adds them in a fixed order, so the
// loss is deterministic.

// Row log-sum-exp in double by one warp; every lane gets the value.
__device__ __forceinline__ double rc_row_lse(const float* row, i64 k, int lane) {
    double mx = -CUDART_INF;
    for (i64 j = lane; j < k; j += 32) {
        double v = (double)row[j];
        mx = (mx != mx || v != v) ? (mx != mx ? mx : v) : fmax(mx, v);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        double u = __shfl_xor_sync(FULL_MASK, mx, o);
        mx = (mx != mx || u != u) ? (mx != mx ? mx : u) : fmax(mx, u);
    }
    double s = 0;
    for (i64 j = lane; j < k; j += 32) s += exp((double)row[j] - mx);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(FULL_MASK, s, o);
    return mx + log(s);
}

__device__ __forceinline__ double rc_warp_sum(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

// rowloss [N] = Σ_k (p_a − p_b)(log p_a − log p_b) for each row.
extern "C" __global__ void rc_loss_forward_kernel(double* rowloss, const float* __restrict__ a,
                                                  const float* __restrict__ b, i64 n, i64 k) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 nwarps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 i = warp; i < n; i += nwarps) {
        const float* ra = a + i * k;
        const float* rb = b + i * k;
        double lsa = rc_row_lse(ra, k, lane), lsb = rc_row_lse(rb, k, lane);
        double s = 0;
        for (i64 j = lane; j < k; j += 32) {
            double la = (double)ra[j] - lsa, lb = (double)rb[j] - lsb;
            s += (exp(la) - exp(lb)) * (la - lb);
        }
        s = rc_warp_sum(s);
        if (lane == 0) rowloss[i] = s;
    }
}

// da, db [N,K] = dloss[0] · ∂L/∂a, ∂L/∂b.
extern "C" __global__ void rc_loss_backward_kernel(float* da, float* db, const float* __restrict__ a,
                                                   const float* __restrict__ b, const float* __restrict__ dloss, i64 n,
                                                   i64 k) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 nwarps = ((i64)gridDim.x * blockDim.x) >> 5;
    const double g = (double)dloss[0] * (n > 0 ? 1.0 / (double)n : 0.0);
    for (i64 i = warp; i < n; i += nwarps) {
        const float* ra = a + i * k;
        const float* rb = b + i * k;
        double lsa = rc_row_lse(ra, k, lane), lsb = rc_row_lse(rb, k, lane);
        double ea = 0, eb = 0;
        for (i64 j = lane; j < k; j += 32) {
            double la = (double)ra[j] - lsa, lb = (double)rb[j] - lsb, d = la - lb;
            ea += exp(la) * d;
            eb += exp(lb) * d;
        }
        ea = rc_warp_sum(ea);
        eb = rc_warp_sum(eb);
        for (i64 j = lane; j < k; j += 32) {
            double la = (double)ra[j] - lsa, lb = (double)rb[j] - lsb, d = la - lb;
            double pa = exp(la), pb = exp(lb);
            da[i * k + j] = (float)(g * (pa * (d - ea) + pa - pb));
            db[i * k + j] = (float)(g * (pb * (eb - d) + pb - pa));
        }
    }
}
