// Max pooling (F.max_pool2d, ceil_mode false) and its backward.

// y, argmax [NC, OH, OW] from x [NC, H, W]. Padding reads as -inf, the first
// maximum in row-major window order wins a tie and a NaN wins over any number
// (torch's rule); argmax is the flat h*W+w index in the input plane.
extern "C" __global__ void maxpool2d_forward_kernel(float* y, i64* argmax, const float* x, i64 NC, i64 H, i64 W,
                                                    i64 OH, i64 OW, i64 kh, i64 kw, i64 sh, i64 sw, i64 ph, i64 pw) {
    i64 ohw = OH * OW;
    GRID_LOOP(o, NC * ohw) {
        i64 pl = o / ohw;
        int rem = (int)(o - pl * ohw);
        int oh = rem / (int)OW, ow = rem - oh * (int)OW;
        int h0 = oh * (int)sh - (int)ph, w0 = ow * (int)sw - (int)pw;
        int h1 = min(h0 + (int)kh, (int)H), w1 = min(w0 + (int)kw, (int)W);
        const float* src = x + pl * H * W;
        float best = -CUDART_INF_F;
        int bi = -1;
        for (int r = max(h0, 0); r < h1; ++r) {
            for (int s = max(w0, 0); s < w1; ++s) {
                float v = src[r * W + s];
                if (v > best || bi < 0 || v != v) {
                    best = v;
                    bi = r * (int)W + s;
                    if (v != v) goto done;
                }
            }
        }
    done:
        y[o] = best;
        argmax[o] = bi;
    }
}

// dx [planes, HW] (zeroed by the caller) += dy [planes, OHW] routed through
// argmax. The backend's MaxPool2dBackward has no window geometry, so a warp
// walks each plane's outputs in order, 32 at a time; lanes that hit the same
// input are grouped with __match_any_sync and their lowest lane adds the
// group's gradients in output order. Every input thus receives its
// contributions in increasing output index, exactly the CPU backend's sum.
extern "C" __global__ void maxpool2d_backward_kernel(float* dx, const float* dy, const i64* argmax, i64 planes, i64 HW, i64 OHW) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 nwarps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 pl = warp; pl < planes; pl += nwarps) {
        float* d = dx + pl * HW;
        const float* g = dy + pl * OHW;
        const i64* am = argmax + pl * OHW;
        for (i64 base = 0; base < OHW; base += 32) {
            i64 o = base + lane;
            i64 a = o < OHW ? am[o] : -1;
            bool ok = a >= 0 && a < HW;  // out-of-plane indices are dropped
            if (!ok) a = -1 - lane;      // unique, so it matches no other lane
            unsigned peers = __match_any_sync(FULL_MASK, (unsigned long long)a);
            if (ok && lane == __ffs(peers) - 1) {
                float acc = d[a];
                for (unsigned m = peers; m; m &= m - 1) acc += g[base + __ffs(m) - 1];
                d[a] = acc;
            }
            __syncwarp();  // this chunk's writes are seen by the next chunk's leaders
        }
    }
}
