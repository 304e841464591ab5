// Channel attention, MFE's task adapter (Eq. 1), forward and backward:
//
//   pooled = pool(x)               [N,C]    global max (first maximum, NaN wins) or mean over H·W
//   hidden = relu(pooled·W1ᵀ + b1) [N,C/r]  W1 is [C/r,C] as nn.Linear stores it
//   gate   = σ(hidden·W2ᵀ + b2)    [N,C]    W2 is [C,C/r]
//   y      = x ⊙ gate              broadcast over H·W
//
// Design: one block owns CA_SAMPLES samples and runs the whole chain for
// them (pool → matvec → matvec → multiply) in one launch, with
// __syncthreads between the phases; the small intermediates go to the cache
// tensors in global memory, which the block's own threads read back after the
// barrier (L1/L2 hits). Each weight row is loaded once per block and used for
// all CA_SAMPLES samples. The backward mirrors it, and the weight gradients
// are reduced over the batch by channel_attention_wgrad_kernel, which sums
// over samples in a fixed order: no atomics anywhere, so results are
// deterministic.

#define CA_SAMPLES 8

__device__ __forceinline__ bool ca_better(float v, i64 j, float b, i64 a) {
    // Ordering of torch.max / the CPU backend: any NaN beats a number, and
    // between equal values (or two NaNs) the lower index wins.
    bool vn = v != v, bn = b != b;
    if (vn || bn) return vn && (!bn || j < a);
    return v > b || (v == b && j < a);
}

__device__ __forceinline__ float ca_sigmoid(float v) {
    if (v >= 0) return __fdiv_rn(1.0f, 1.0f + (float)exp(-(double)v));
    float e = (float)exp((double)v);
    return __fdiv_rn(e, 1.0f + e);
}

// y [N,C,H,W]; cache pooled [N,C], argmax [N,C] (pool max only, else null),
// hidden [N,Cr], gate [N,C]. b1, b2 may be null (no bias).
extern "C" __global__ void channel_attention_forward_kernel(float* y, float* pooled, i64* argmax, float* hidden,
                                                            float* gate, const float* __restrict__ x,
                                                            const float* __restrict__ w1, const float* b1,
                                                            const float* __restrict__ w2, const float* b2, i64 n,
                                                            i64 c, i64 hw, i64 cr, i64 isMax) {
    const i64 n0 = (i64)blockIdx.x * CA_SAMPLES;
    const int ns = (int)min((i64)CA_SAMPLES, n - n0);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;

    // Phase 1: pool each (sample, channel) plane with one warp.
    for (i64 p = warp; p < ns * c; p += nw) {
        const i64 plane = n0 * c + p;
        const float* xp = x + plane * hw;
        if (isMax) {
            float best = 0.f;
            i64 arg = -1;
            for (i64 j = lane; j < hw; j += 32) {
                float v = xp[j];
                if (arg < 0 || ca_better(v, j, best, arg)) best = v, arg = j;
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                float ob = __shfl_xor_sync(FULL_MASK, best, o);
                i64 oa = __shfl_xor_sync(FULL_MASK, arg, o);
                if (oa >= 0 && (arg < 0 || ca_better(ob, oa, best, arg))) best = ob, arg = oa;
            }
            if (lane == 0) pooled[plane] = best, argmax[plane] = arg;
        } else {
            float s = 0.f;
            for (i64 j = lane; j < hw; j += 32) s += xp[j];
            s = warp_sum(s);
            if (lane == 0) pooled[plane] = __fdiv_rn(s, (float)hw);
        }
    }
    __syncthreads();

    // Phase 2: hidden = relu(W1·pooled + b1), one warp per hidden unit.
    for (i64 j = warp; j < cr; j += nw) {
        float acc[CA_SAMPLES];
#pragma unroll
        for (int s = 0; s < CA_SAMPLES; ++s) acc[s] = 0.f;
        for (i64 k = lane; k < c; k += 32) {
            float wv = w1[j * c + k];
#pragma unroll
            for (int s = 0; s < CA_SAMPLES; ++s)
                if (s < ns) acc[s] += wv * pooled[(n0 + s) * c + k];
        }
#pragma unroll
        for (int s = 0; s < CA_SAMPLES; ++s) {
            float v = warp_sum(acc[s]);
            if (lane == 0 && s < ns) {
                if (b1) v += b1[j];
                hidden[(n0 + s) * cr + j] = (v > 0.f || v != v) ? v : 0.f;
            }
        }
    }
    __syncthreads();

    // Phase 3: gate = σ(W2·hidden + b2), one warp per channel.
    for (i64 k = warp; k < c; k += nw) {
        float acc[CA_SAMPLES];
#pragma unroll
        for (int s = 0; s < CA_SAMPLES; ++s) acc[s] = 0.f;
        for (i64 j = lane; j < cr; j += 32) {
            float wv = w2[k * cr + j];
#pragma unroll
            for (int s = 0; s < CA_SAMPLES; ++s)
                if (s < ns) acc[s] += wv * hidden[(n0 + s) * cr + j];
        }
#pragma unroll
        for (int s = 0; s < CA_SAMPLES; ++s) {
            float v = warp_sum(acc[s]);
            if (lane == 0 && s < ns) {
                if (b2) v += b2[k];
                gate[(n0 + s) * c + k] = ca_sigmoid(v);
            }
        }
    }
    __syncthreads();

    // Phase 4: y = x ⊙ gate over the block's samples (x is still in L2).
    const i64 base = n0 * c * hw, cnt = (i64)ns * c * hw;
    for (i64 i = threadIdx.x; i < cnt; i += blockDim.x) y[base + i] = __fmul_rn(x[base + i], gate[(base + i) / hw]);
}

// Backward through the gate and the pool for the block's samples. Scratch
// dz2 [N,C] (gradient at the gate's pre-activation), dz1 [N,Cr] (at the
// hidden pre-activation) and dp [N,C] (at the pooled vector) are written for
// channel_attention_wgrad_kernel and read back within the block.
extern "C" __global__ void channel_attention_backward_kernel(
    float* dx, float* dz2, float* dz1, float* dp, const float* __restrict__ x, const float* __restrict__ w1,
    const float* __restrict__ w2, const float* __restrict__ dy, const float* __restrict__ hidden,
    const float* __restrict__ gate, const i64* argmax, i64 n, i64 c, i64 hw, i64 cr, i64 isMax) {
    const i64 n0 = (i64)blockIdx.x * CA_SAMPLES;
    const int ns = (int)min((i64)CA_SAMPLES, n - n0);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;

    // Phase 1: dz2 = (Σ_hw dy·x)·g·(1−g), one warp per plane.
    for (i64 p = warp; p < ns * c; p += nw) {
        const i64 plane = n0 * c + p;
        float s = 0.f;
        for (i64 j = lane; j < hw; j += 32) s += dy[plane * hw + j] * x[plane * hw + j];
        s = warp_sum(s);
        if (lane == 0) {
            float g = gate[plane];
            dz2[plane] = __fmul_rn(__fmul_rn(s, g), 1.0f - g);
        }
    }
    __syncthreads();

    // Phase 2: dz1 = (dz2·W2) ⊙ [hidden > 0], one thread per hidden unit
    // (consecutive threads read consecutive W2 columns: coalesced).
    for (i64 j = threadIdx.x; j < cr; j += blockDim.x) {
        float acc[CA_SAMPLES];
#pragma unroll
        for (int s = 0; s < CA_SAMPLES; ++s) acc[s] = 0.f;
        for (i64 k = 0; k < c; ++k) {
            float wv = w2[k * cr + j];
#pragma unroll
            for (int s = 0; s < CA_SAMPLES; ++s)
                if (s < ns) acc[s] += dz2[(n0 + s) * c + k] * wv;
        }
#pragma unroll
        for (int s = 0; s < CA_SAMPLES; ++s)
            if (s < ns) dz1[(n0 + s) * cr + j] = hidden[(n0 + s) * cr + j] <= 0.f ? 0.f : acc[s];
    }
    __syncthreads();

    // Phase 3: dp = dz1·W1, one thread per channel.
    for (i64 k = threadIdx.x; k < c; k += blockDim.x) {
        float acc[CA_SAMPLES];
#pragma unroll
        for (int s = 0; s < CA_SAMPLES; ++s) acc[s] = 0.f;
        for (i64 j = 0; j < cr; ++j) {
            float wv = w1[j * c + k];
#pragma unroll
            for (int s = 0; s < CA_SAMPLES; ++s)
                if (s < ns) acc[s] += dz1[(n0 + s) * cr + j] * wv;
        }
#pragma unroll
        for (int s = 0; s < CA_SAMPLES; ++s)
            if (s < ns) dp[(n0 + s) * c + k] = acc[s];
    }
    __syncthreads();

    // Phase 4: dx = dy·gate + dp routed through the pool.
    const i64 base = n0 * c * hw, cnt = (i64)ns * c * hw;
    const float hwf = (float)hw;
    for (i64 i = threadIdx.x; i < cnt; i += blockDim.x) {
        const i64 e = base + i, plane = e / hw, j = e - plane * hw;
        float v = __fmul_rn(dy[e], gate[plane]);
        if (isMax) {
            if (j == argmax[plane]) v = __fadd_rn(v, dp[plane]);
        } else {
            v = __fadd_rn(v, __fdiv_rn(dp[plane], hwf));
        }
        dx[e] = v;
    }
}

// dw [M,P] = Σ_n A[n,m]·B[n,p] and db [M] = Σ_n A[n,m], with A [N,M] and
// B [N,P]: dW2 = dz2ᵀ·hidden, db2 = Σ dz2; dW1 = dz1ᵀ·pooled, db1 = Σ dz1.
// 16×16 output tiles; every output is summed over n in increasing order (the
// CPU backend's order), so the result is deterministic.
extern "C" __global__ void channel_attention_wgrad_kernel(float* dw, float* db, const float* __restrict__ a,
                                                          const float* __restrict__ b, i64 n, i64 m, i64 p) {
    __shared__ float as[16][17], bs[16][17];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const i64 m0 = (i64)blockIdx.y * 16, p0 = (i64)blockIdx.x * 16;
    float acc = 0.f, bacc = 0.f;
    for (i64 k0 = 0; k0 < n; k0 += 16) {
        as[ty][tx] = (k0 + ty < n && m0 + tx < m) ? a[(k0 + ty) * m + m0 + tx] : 0.f;
        bs[ty][tx] = (k0 + ty < n && p0 + tx < p) ? b[(k0 + ty) * p + p0 + tx] : 0.f;
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < 16; ++kk) {
            acc = __fadd_rn(acc, __fmul_rn(as[kk][ty], bs[kk][tx]));
            bacc = __fadd_rn(bacc, as[kk][ty]);
        }
        __syncthreads();
    }
    if (m0 + ty < m && p0 + tx < p) dw[(m0 + ty) * p + p0 + tx] = acc;
    if (blockIdx.x == 0 && tx == 0 && m0 + ty < m) db[m0 + ty] = bacc;
}
