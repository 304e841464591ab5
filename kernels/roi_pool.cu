// RoI max pooling (torchvision.ops.roi_pool; Fast R-CNN) and its backward.
// Geometry in float32 exactly as torchvision's kernel and the CPU backend:
// corners scaled and rounded half away from zero (roundf), the RoI at least
// 1×1 cell, bin (ph, pw) over rows floor(ph·bh) … ceil((ph+1)·bh)−1 of it
// clipped to the map; an empty bin pools to 0 with argmax −1, otherwise the
// first strictly larger value wins from −FLT_MAX (a NaN never wins).

// y, argmax [R, C, OH, OW] from x [N, C, H, W] and rois [R, 5]. One thread
// per output. A batch index outside [0, N) gives 0 and −1 (no read).
extern "C" __global__ void roi_pool_forward_kernel(float* y, i64* argmax, const float* x, const float* rois, i64 R, i64 N,
                                                   i64 C, i64 H, i64 W, i64 OH, i64 OW, double spatial_scale) {
    float scale = (float)spatial_scale;
    i64 nb = OH * OW;
    GRID_LOOP(o, R * C * nb) {
        i64 r = o / (C * nb);
        i64 k = o / nb - r * C;
        i64 bin = o - (r * C + k) * nb;
        int ph = (int)(bin / OW), pw = (int)(bin - ph * OW);
        const float* roi = rois + r * 5;
        i64 b = (i64)roi[0];
        int sw = (int)roundf(roi[1] * scale), sh = (int)roundf(roi[2] * scale);
        int ew = (int)roundf(roi[3] * scale), eh = (int)roundf(roi[4] * scale);
        int rw = max(ew - sw + 1, 1), rh = max(eh - sh + 1, 1);
        float bh = (float)rh / (float)OH, bw = (float)rw / (float)OW;
        int h0 = min(max((int)floorf((float)ph * bh) + sh, 0), (int)H);
        int h1 = min(max((int)ceilf((float)(ph + 1) * bh) + sh, 0), (int)H);
        int w0 = min(max((int)floorf((float)pw * bw) + sw, 0), (int)W);
        int w1 = min(max((int)ceilf((float)(pw + 1) * bw) + sw, 0), (int)W);
        float best = 0.f;
        int bi = -1;
        if (b >= 0 && b < N && h1 > h0 && w1 > w0) {
            const float* plane = x + (b * C + k) * H * W;
            best = -3.402823466e+38f;
            for (int hh = h0; hh < h1; ++hh) {
                for (int ww = w0; ww < w1; ++ww) {
                    float v = plane[hh * W + ww];
                    if (v > best) {
                        best = v;
                        bi = hh * (int)W + ww;
                    }
                }
            }
        }
        y[o] = best;
        argmax[o] = bi;
    }
}

// dx [N, C, H, W] (zeroed by the caller) += dy [R, C, OH, OW] at argmax in
// each RoI's image. Deterministic without atomics: a warp owns channel k and
// walks its outputs in (roi, bin) order 32 at a time; lanes that hit the same
// input element are grouped with __match_any_sync and their lowest lane adds
// the group's gradients in lane order, so every element receives its terms in
// increasing (roi, bin) order, the CPU backend's sum. Argmax −1, indices
// outside the plane and batch indices outside [0, N) add nothing.
extern "C" __global__ void roi_pool_backward_kernel(float* dx, const float* dy, const i64* argmax, const float* rois, i64 R,
                                                    i64 N, i64 C, i64 HW, i64 nb) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 nwarps = ((i64)gridDim.x * blockDim.x) >> 5;
    i64 total = R * nb;
    for (i64 k = warp; k < C; k += nwarps) {
        for (i64 base = 0; base < total; base += 32) {
            i64 t = base + lane;
            i64 key = -1 - lane;  // unique: matches no other lane
            i64 o = 0;
            bool ok = false;
            if (t < total) {
                i64 r = t / nb;
                o = (r * C + k) * nb + (t - r * nb);
                i64 a = argmax[o];
                i64 b = (i64)rois[r * 5];
                ok = a >= 0 && a < HW && b >= 0 && b < N;
                if (ok) key = (b * C + k) * HW + a;
            }
            unsigned peers = __match_any_sync(FULL_MASK, (unsigned long long)key);
            if (ok && lane == __ffs(peers) - 1) {
                float acc = dx[key];
                for (unsigned m = peers; m; m &= m - 1) {
                    int l = __ffs(m) - 1;
                    i64 tl = base + l;
                    i64 rl = tl / nb;
                    acc += dy[(rl * C + k) * nb + (tl - rl * nb)];
                }
                dx[key] = acc;
            }
            __syncwarp();  // this chunk's writes are seen by the next chunk's leaders
        }
    }
}
