// Reductions and softmax. Every reduction combines values in an order fixed
// by the shapes and the launch configuration (no float atomics), so results
// are bit-identical from run to run on the same GPU model.
//
// The Go side views the input as [A, R, B] with R the reduced extent (a
// permutation first when the reduced axes are not adjacent), and splits a long
// R into S chunks whose partial sums a second launch adds in order.

// Partial sums over chunks of contiguous rows, one warp per (row, chunk) for
// short rows. x [A, R], out [A, S]; chunk s covers r in [s*chunk, (s+1)*chunk).
extern "C" __global__ void sum_rows_warp_forward_kernel(float* out, const float* x, i64 A, i64 R, i64 chunk, i64 S) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 nwarps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 w = warp; w < A * S; w += nwarps) {
        i64 a = w / S, s = w - a * S;
        i64 r0 = s * chunk, r1 = min(R, r0 + chunk);
        const float* row = x + a * R;
        float v = 0.f;
        for (i64 r = r0 + lane; r < r1; r += 32) v += row[r];
        v = warp_sum(v);
        if (lane == 0) out[w] = v;
    }
}

// The same with one block per (row, chunk) for long rows; grid (S, rows).
extern "C" __global__ void sum_rows_block_forward_kernel(float* out, const float* x, i64 A, i64 R, i64 chunk, i64 S) {
    i64 s = blockIdx.x;
    i64 r0 = s * chunk, r1 = min(R, r0 + chunk);
    for (i64 a = blockIdx.y; a < A; a += gridDim.y) {
        const float* row = x + a * R;
        float v = 0.f;
        for (i64 r = r0 + threadIdx.x; r < r1; r += blockDim.x) v += row[r];
        v = block_sum(v);
        if (threadIdx.x == 0) out[a * S + s] = v;
    }
}

// Sum over the middle axis of x [A, R, B] for B > 1, chunked over R:
// out [S, A, B]. Block (32, 8): threadIdx.x walks b (coalesced), threadIdx.y
// takes every 8th r of the chunk; the 8 partials are added in a fixed tree.
// Grid (ceil(B/32), min(A, 65535), S).
extern "C" __global__ void sum_mid_forward_kernel(float* out, const float* x, i64 A, i64 R, i64 B, i64 chunk) {
    __shared__ float part[8][33];
    i64 b = (i64)blockIdx.x * 32 + threadIdx.x;
    i64 s = blockIdx.z;
    i64 r0 = s * chunk, r1 = min(R, r0 + chunk);
    for (i64 a = blockIdx.y; a < A; a += gridDim.y) {
        float v = 0.f;
        if (b < B)
            for (i64 r = r0 + threadIdx.y; r < r1; r += 8) v += x[(a * R + r) * B + b];
        part[threadIdx.y][threadIdx.x] = v;
        __syncthreads();
        if (threadIdx.y < 4) part[threadIdx.y][threadIdx.x] += part[threadIdx.y + 4][threadIdx.x];
        __syncthreads();
        if (threadIdx.y < 2) part[threadIdx.y][threadIdx.x] += part[threadIdx.y + 2][threadIdx.x];
        __syncthreads();
        if (threadIdx.y == 0 && b < B) out[(s * A + a) * B + b] = part[0][threadIdx.x] + part[1][threadIdx.x];
        __syncthreads();
    }
}

// (value, index) max with torch.max(dim) semantics: a NaN beats every number,
// ties and NaN pairs go to the lower index. The rule is associative and
// commutative, so any reduction tree gives the sequential scan's answer.
__device__ __forceinline__ void argmax_combine(float& v, i64& i, float v2, i64 i2) {
    bool n1 = v != v, n2 = v2 != v2;
    bool take;
    if (n1 || n2) take = n2 && (!n1 || i2 < i);
    else take = v2 > v || (v2 == v && i2 < i);
    if (take) { v = v2; i = i2; }
}

// Max over the middle axis of x [A, R, B]: one thread per (a, b), coalesced
// over b. vals [A, B], idx [A, B] (int64 position along R).
extern "C" __global__ void max_mid_forward_kernel(float* vals, i64* idx, const float* x, i64 A, i64 R, i64 B) {
    GRID_LOOP(o, A * B) {
        i64 a = o / B, b = o - a * B;
        const float* p = x + a * R * B + b;
        float best = p[0];
        i64 bi = 0;
        for (i64 r = 1; r < R && best == best; ++r) {
            float v = p[r * B];
            if (v > best || v != v) { best = v; bi = r; }
        }
        vals[o] = best;
        idx[o] = bi;
    }
}

// Max over contiguous rows of x [A, R], one warp per row.
extern "C" __global__ void max_rows_forward_kernel(float* vals, i64* idx, const float* x, i64 A, i64 R) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 nwarps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 a = warp; a < A; a += nwarps) {
        const float* row = x + a * R;
        float best = -CUDART_INF_F;
        i64 bi = R;  // sentinel above every real index: loses all ties
        for (i64 r = lane; r < R; r += 32) argmax_combine(best, bi, row[r], r);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float v2 = __shfl_xor_sync(FULL_MASK, best, o);
            i64 i2 = __shfl_xor_sync(FULL_MASK, bi, o);
            argmax_combine(best, bi, v2, i2);
        }
        if (lane == 0) {
            vals[a] = best;
            idx[a] = bi;
        }
    }
}

// Softmax (log_out 0) or log-softmax (log_out 1) over the last axis:
// x, out [M, K], one warp per row: max, then the sum of exp(x - max).
extern "C" __global__ void softmax_forward_kernel(float* out, const float* x, i64 M, i64 K, i64 log_out) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 nwarps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 m = warp; m < M; m += nwarps) {
        const float* row = x + m * K;
        float* dst = out + m * K;
        float mx = -CUDART_INF_F;
        for (i64 k = lane; k < K; k += 32) mx = fmaxf(mx, row[k]);
        mx = warp_max(mx);
        float s = 0.f;
        for (i64 k = lane; k < K; k += 32) s += expf(row[k] - mx);
        s = warp_sum(s);
        if (log_out) {
            float ls = mx + logf(s);
            for (i64 k = lane; k < K; k += 32) dst[k] = row[k] - ls;
        } else {
            float inv = 1.f / s;
            for (i64 k = lane; k < K; k += 32) dst[k] = expf(row[k] - mx) * inv;
        }
    }
}
