// Adaptive max pooling (F.adaptive_max_pool2d; SPP-net's pyramid bins). Its
// argmax is MaxPool2d's (flat h*W+w index in the input plane), so
// maxpool2d_backward_kernel in pool.cu is its backward.

// y, argmax [NC, OH, OW] from x [NC, H, W]: output (i, j) is the max over
// rows floor(i·H/OH) … ceil((i+1)·H/OH)−1 and the same for columns. The
// first maximum in row-major order wins a tie and a NaN wins over any number,
// as in maxpool2d_forward_kernel. One thread per output.
extern "C" __global__ void adaptive_maxpool2d_forward_kernel(float* y, i64* argmax, const float* x, i64 NC, i64 H, i64 W,
                                                             i64 OH, i64 OW) {
    i64 ohw = OH * OW;
    GRID_LOOP(o, NC * ohw) {
        i64 pl = o / ohw;
        i64 rem = o - pl * ohw;
        i64 i = rem / OW, j = rem - i * OW;
        int r0 = (int)(i * H / OH), r1 = (int)(((i + 1) * H + OH - 1) / OH);
        int s0 = (int)(j * W / OW), s1 = (int)(((j + 1) * W + OW - 1) / OW);
        const float* src = x + pl * H * W;
        float best = -CUDART_INF_F;
        int bi = -1;
        for (int r = r0; r < r1; ++r) {
            for (int s = s0; s < s1; ++s) {
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
