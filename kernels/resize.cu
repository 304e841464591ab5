// Bilinear resize, F.interpolate(mode="bilinear", align_corners=False,
// antialias=False).

// Source taps for output index d: src = (d+0.5)*in/out - 0.5 clamped at 0,
// computed in float32 with separately rounded products (as the CPU reference
// and PyTorch do) so both backends pick the same pixels.
__device__ __forceinline__ void bilinear_tap(int d, int in, float scale, int& i0, int& i1, float& l1) {
    float src = __fmul_rn(scale, (float)d + 0.5f) - 0.5f;
    if (src < 0.f) src = 0.f;
    i0 = (int)src;
    l1 = src - (float)i0;
    i1 = i0 < in - 1 ? i0 + 1 : i0;
}

// out [NC, OH, OW] from x [NC, H, W].
extern "C" __global__ void resize_bilinear_forward_kernel(float* out, const float* x, i64 NC, i64 H, i64 W, i64 OH, i64 OW) {
    float sy = (float)H / (float)OH, sx = (float)W / (float)OW;
    i64 ohw = OH * OW;
    GRID_LOOP(o, NC * ohw) {
        i64 pl = o / ohw;
        int rem = (int)(o - pl * ohw);
        int oy = rem / (int)OW, ox = rem - oy * (int)OW;
        int y0, y1, x0, x1;
        float ly, lx;
        bilinear_tap(oy, (int)H, sy, y0, y1, ly);
        bilinear_tap(ox, (int)W, sx, x0, x1, lx);
        const float* src = x + pl * H * W;
        const float* top = src + (i64)y0 * W;
        const float* bot = src + (i64)y1 * W;
        float wy0 = 1.f - ly, wx0 = 1.f - lx;
        out[o] = wy0 * (wx0 * top[x0] + lx * top[x1]) + ly * (wx0 * bot[x0] + lx * bot[x1]);
    }
}
