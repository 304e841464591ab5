// RoI-Align forward and backward, torchvision.ops.roi_align semantics
// (roi_align_kernel.cu), as engine/cpu/roialign.go implements them:
//   - aligned=false: the scaled box's width and height are clamped to ≥ 1;
//     aligned=true (detectron2 ROIAlignV2): half a pixel is subtracted from the
//     scaled corners and no clamp applies, so an empty box pools to 0.
//   - each bin averages gh×gw bilinear samples, g = sampling_ratio or, when it
//     is ≤ 0, ceil(roi_size / out_size); count = max(gh·gw, 1).
//   - a sample with y < −1, y > H, x < −1 or x > W contributes 0; otherwise
//     coordinates below 0 clamp to 0 and those at or past the last row/column
//     collapse onto it (torchvision's bilinear_interpolate).
// rois is [R,5]: batch index, x1, y1, x2, y2 in input pixels. A RoI whose
// batch index is outside [0,N) pools to 0 and gets no gradient (the CPU
// backend panics on it; a kernel cannot).
//
// Arithmetic is written with explicit rounding intrinsics in the CPU
// backend's order (no FMA contraction), so forward outputs match engine/cpu
// bit for bit.
//
// Backward design. torchvision's backward runs one thread per dy element and
// does 4·gh·gw float atomics per element, recomputing the sample geometry in
// every channel. Here the geometry is separable: a sample's weight is
// wy(iy)·wx(ix) and its validity is valid(y)·valid(x), so a RoI's bins are
// fully described by two small dense tables, WY [OH, spanY] (row weights per
// output row) and WX [OW, spanX], computed once per RoI by
// roi_align_backward_tables_kernel. The RoI's gradient patch for a channel is
// then WYᵀ·(dy/count)·WX, a [spanY, spanX] patch formed in shared memory:
// (roi_h+2)(roi_w+2) read-modify-writes per (RoI, channel) instead of
// 4·OH·OW·gh·gw atomics (≥ 196 for a 7×7 output). One block owns an image's
// dx planes for a group of channels and adds its RoIs' patches in RoI order,
// so the backward uses no atomics and is bitwise deterministic (not bitwise
// equal to the CPU backend, which sums sample by sample). When the tables do
// not fit in shared memory (a huge feature map), the launcher falls back to
// roi_align_backward_atomic_kernel, torchvision's scheme, which is not
// deterministic: a pixel touched by K samples is a sum of K float terms in an
// unspecified order, within (K−1)·2⁻²⁴·Σ|terms| of any fixed order.

struct RaGeom {
    float sy, sx, binH, binW, count;
    int gh, gw;
};

__device__ __forceinline__ float ra_go_max(float a, float b) {
    if (a != a || b != b) return a != a ? a : b;
    return a > b ? a : b;
}

__device__ __forceinline__ RaGeom ra_geometry(const float* roi, float scale, int oh, int ow, int sampling,
                                              bool aligned) {
    RaGeom g;
    const float offset = aligned ? 0.5f : 0.f;
    g.sx = __fsub_rn(__fmul_rn(roi[1], scale), offset);
    g.sy = __fsub_rn(__fmul_rn(roi[2], scale), offset);
    float ex = __fsub_rn(__fmul_rn(roi[3], scale), offset);
    float ey = __fsub_rn(__fmul_rn(roi[4], scale), offset);
    float rw = ex - g.sx, rh = ey - g.sy;
    if (!aligned) {
        rw = ra_go_max(rw, 1.f);
        rh = ra_go_max(rh, 1.f);
    }
    g.binH = __fdiv_rn(rh, (float)oh);
    g.binW = __fdiv_rn(rw, (float)ow);
    if (sampling > 0) {
        g.gh = g.gw = sampling;
    } else {
        g.gh = (int)ceilf(__fdiv_rn(rh, (float)oh));
        g.gw = (int)ceilf(__fdiv_rn(rw, (float)ow));
    }
    g.gh = max(g.gh, 0);
    g.gw = max(g.gw, 0);
    g.count = (float)max(g.gh * g.gw, 1);
    return g;
}

// Sample coordinate iy of bin ph: start + ph·bin + (iy+0.5)·bin/g.
__device__ __forceinline__ float ra_coord(float start, int p, float bin, int i, int g) {
    return __fadd_rn(__fadd_rn(start, __fmul_rn((float)p, bin)), __fdiv_rn(__fmul_rn((float)i + 0.5f, bin), (float)g));
}

// One axis of bilinear_interpolate: valid is false for a coordinate more
// than a pixel outside; lo/hi are the neighbouring indices and wl/wh their
// weights (wl = 1 − frac for lo).
__device__ __forceinline__ bool ra_axis(float v, int size, int& lo, int& hi, float& wl, float& wh) {
    if (v < -1.f || v > (float)size || v != v) return false;
    v = ra_go_max(v, 0.f);
    lo = (int)v;
    if (lo >= size - 1) {
        lo = hi = size - 1;
        v = (float)lo;
    } else {
        hi = lo + 1;
    }
    wh = v - (float)lo;
    wl = 1.f - wh;
    return true;
}

__device__ __forceinline__ float ra_load(const float* p) { return *p; }
__device__ __forceinline__ float ra_load(const bf16_t* p) { return fsod_bf16_to_f32(*p); }
template <class T>
__device__ __forceinline__ T ra_store(float v);
template <>
__device__ __forceinline__ float ra_store<float>(float v) { return v; }
template <>
__device__ __forceinline__ bf16_t ra_store<bf16_t>(float v) { return fsod_f32_to_bf16(v); }

// y [R,C,OH,OW], one thread per output element. T is the storage of x and
// y: float, or bf16_t under precision bf16 (kernels/bf16.cuh), where the
// samples are read as BF16, weighted and summed in fp32 in the same order,
// and the bin's mean is rounded to BF16 once. Res5's convolutions read y in
// BF16 anyway (their operands are rounded so), so storing it so loses nothing
// they see, and halves y's bytes written, kept for the backward, and read by
// both res5 convolutions that take it, and x's bytes gathered per sample.
template <class T>
__device__ __forceinline__ void roi_align_forward_body(T* y, const T* __restrict__ x, const float* __restrict__ rois,
                                                       i64 r_, i64 n, i64 c, i64 h, i64 w, i64 oh, i64 ow,
                                                       double scale, i64 sampling, i64 aligned) {
    const float sc = (float)scale;
    GRID_LOOP(t, r_ * c * oh * ow) {
        const int pw = (int)(t % ow), ph = (int)((t / ow) % oh);
        const i64 ch = (t / (ow * oh)) % c, r = t / (ow * oh * c);
        const float* roi = rois + r * 5;
        const i64 b = (i64)roi[0];
        if (b < 0 || b >= n) {
            y[t] = ra_store<T>(0.f);
            continue;
        }
        RaGeom g = ra_geometry(roi, sc, (int)oh, (int)ow, (int)sampling, aligned != 0);
        const T* plane = x + (b * c + ch) * h * w;
        float s = 0.f;
        for (int iy = 0; iy < g.gh; ++iy) {
            float yy = ra_coord(g.sy, ph, g.binH, iy, g.gh);
            int yl = 0, yh = 0;
            float hy = 0.f, ly = 0.f;
            bool vy = ra_axis(yy, (int)h, yl, yh, hy, ly);
            for (int ix = 0; ix < g.gw; ++ix) {
                float xx = ra_coord(g.sx, pw, g.binW, ix, g.gw);
                int xl = 0, xh = 0;
                float hx = 0.f, lx = 0.f;
                bool vx = ra_axis(xx, (int)w, xl, xh, hx, lx);
                // An invalid sample keeps zero weights at offset 0, exactly
                // as the CPU backend sums it.
                float w1 = 0.f, w2 = 0.f, w3 = 0.f, w4 = 0.f;
                i64 p1 = 0, p2 = 0, p3 = 0, p4 = 0;
                if (vy && vx) {
                    w1 = __fmul_rn(hy, hx), w2 = __fmul_rn(hy, lx), w3 = __fmul_rn(ly, hx), w4 = __fmul_rn(ly, lx);
                    p1 = yl * w + xl, p2 = yl * w + xh, p3 = yh * w + xl, p4 = yh * w + xh;
                }
                float v = __fadd_rn(__fadd_rn(__fadd_rn(__fmul_rn(w1, ra_load(plane + p1)), __fmul_rn(w2, ra_load(plane + p2))),
                                              __fmul_rn(w3, ra_load(plane + p3))),
                                    __fmul_rn(w4, ra_load(plane + p4)));
                s = __fadd_rn(s, v);
            }
        }
        y[t] = ra_store<T>(__fdiv_rn(s, g.count));
    }
}

extern "C" __global__ void roi_align_forward_kernel(float* y, const float* __restrict__ x,
                                                    const float* __restrict__ rois, i64 r_, i64 n, i64 c, i64 h,
                                                    i64 w, i64 oh, i64 ow, double scale, i64 sampling, i64 aligned) {
    roi_align_forward_body(y, x, rois, r_, n, c, h, w, oh, ow, scale, sampling, aligned);
}

// x and y in BF16 storage (cuda/ops_detect.go casts x once per call).
extern "C" __global__ void roi_align_forward_bfloat16_kernel(bf16_t* y, const bf16_t* __restrict__ x,
                                                             const float* __restrict__ rois, i64 r_, i64 n, i64 c,
                                                             i64 h, i64 w, i64 oh, i64 ow, double scale,
                                                             i64 sampling, i64 aligned) {
    roi_align_forward_body(y, x, rois, r_, n, c, h, w, oh, ow, scale, sampling, aligned);
}

// Per-RoI separable sample tables for the backward. Thread 2r fills WY for
// RoI r, thread 2r+1 fills WX. wy is [R,OH,H] (row ph holds spanY weights for
// input rows y0..y0+spanY−1), wx is [R,OW,W]; meta [R,5] is y0, spanY, x0,
// spanX, count. Weights sum sample by sample in (bin, sample) order.
extern "C" __global__ void roi_align_backward_tables_kernel(float* wy, float* wx, i64* meta,
                                                            const float* __restrict__ rois, i64 r_, i64 h, i64 w,
                                                            i64 oh, i64 ow, double scale, i64 sampling, i64 aligned) {
    GRID_LOOP(t, 2 * r_) {
        const i64 r = t >> 1;
        const bool isY = (t & 1) == 0;
        RaGeom g = ra_geometry(rois + r * 5, (float)scale, (int)oh, (int)ow, (int)sampling, aligned != 0);
        const int nb = isY ? (int)oh : (int)ow, gs = isY ? g.gh : g.gw, size = isY ? (int)h : (int)w;
        const float start = isY ? g.sy : g.sx, bin = isY ? g.binH : g.binW;
        float* table = (isY ? wy : wx) + r * nb * size;
        int lo = size, hi = -1;
        for (int p = 0; p < nb; ++p)
            for (int i = 0; i < gs; ++i) {
                int a, b;
                float wa, wb;
                if (ra_axis(ra_coord(start, p, bin, i, gs), size, a, b, wa, wb)) lo = min(lo, a), hi = max(hi, b);
            }
        const int span = hi >= lo ? hi - lo + 1 : 0;
        for (int p = 0; p < nb; ++p) {
            float* row = table + p * size;
            for (int k = 0; k < span; ++k) row[k] = 0.f;
            for (int i = 0; i < gs; ++i) {
                int a, b;
                float wa, wb;
                if (ra_axis(ra_coord(start, p, bin, i, gs), size, a, b, wa, wb)) {
                    row[a - lo] += wa;
                    row[b - lo] += wb;
                }
            }
        }
        if (isY) {
            meta[r * 5] = lo;
            meta[r * 5 + 1] = span;
            meta[r * 5 + 4] = (i64)g.count;
        } else {
            meta[r * 5 + 2] = lo;
            meta[r * 5 + 3] = span;
        }
    }
}

// dx [N,C,H,W] (zeroed by the launcher) += WYᵀ·(dy/count)·WX for every RoI
// and channel. Grid (N, ceil(C/cchunk)): a block owns image b's dx planes of
// its channels and visits the RoIs of image b in index order, so every pixel
// sums its RoI contributions in a fixed order with plain loads and stores.
// Dynamic shared memory holds WY, WX, the channel's dy plane and the
// intermediate M = (dy/count)·WX, sized by the launcher for the largest
// possible spans (H and W).
extern "C" __global__ void roi_align_backward_kernel(float* dx, const float* __restrict__ dy,
                                                     const float* __restrict__ rois, const float* __restrict__ wy,
                                                     const float* __restrict__ wx, const i64* __restrict__ meta,
                                                     i64 r_, i64 c, i64 h, i64 w, i64 oh, i64 ow, i64 cchunk) {
    extern __shared__ float ra_shared[];
    const i64 b = blockIdx.x, c0 = (i64)blockIdx.y * cchunk, cend = min(c0 + cchunk, c);
    for (i64 r = 0; r < r_; ++r) {
        // Uniform across the block: every thread reads the same RoI.
        const i64 y0 = meta[r * 5], sy = meta[r * 5 + 1], x0 = meta[r * 5 + 2], sx = meta[r * 5 + 3];
        if ((i64)rois[r * 5] != b || sy == 0 || sx == 0) continue;
        const float count = (float)meta[r * 5 + 4];
        float* tY = ra_shared;       // [OH][sy]
        float* tX = tY + oh * sy;    // [OW][sx]
        float* dyp = tX + ow * sx;   // [OH][OW]
        float* mt = dyp + oh * ow;   // [OH][sx]
        __syncthreads();  // the previous RoI is done with the tables and its dx stores are visible
        for (i64 i = threadIdx.x; i < oh * sy; i += blockDim.x) tY[i] = wy[(r * oh + i / sy) * h + i % sy];
        for (i64 i = threadIdx.x; i < ow * sx; i += blockDim.x) tX[i] = wx[(r * ow + i / sx) * w + i % sx];
        for (i64 ch = c0; ch < cend; ++ch) {
            __syncthreads();  // tables loaded; previous channel done with dyp and mt
            for (i64 i = threadIdx.x; i < oh * ow; i += blockDim.x)
                dyp[i] = __fdiv_rn(dy[(r * c + ch) * oh * ow + i], count);
            __syncthreads();
            for (i64 i = threadIdx.x; i < oh * sx; i += blockDim.x) {
                const i64 ph = i / sx, xx = i - ph * sx;
                float s = 0.f;
                for (i64 pw = 0; pw < ow; ++pw) s += dyp[ph * ow + pw] * tX[pw * sx + xx];
                mt[i] = s;
            }
            __syncthreads();
            float* plane = dx + (b * c + ch) * h * w;
            for (i64 i = threadIdx.x; i < sy * sx; i += blockDim.x) {
                const i64 yy = i / sx, xx = i - yy * sx;
                float s = 0.f;
                for (i64 ph = 0; ph < oh; ++ph) s += tY[ph * sy + yy] * mt[ph * sx + xx];
                if (s != 0.f) plane[(y0 + yy) * w + x0 + xx] += s;
            }
        }
    }
}

// Fallback backward (torchvision's scheme): one thread per dy element, four
// atomics per sample into dx (zeroed by the launcher).
extern "C" __global__ void roi_align_backward_atomic_kernel(float* dx, const float* __restrict__ dy,
                                                            const float* __restrict__ rois, i64 r_, i64 n, i64 c,
                                                            i64 h, i64 w, i64 oh, i64 ow, double scale, i64 sampling,
                                                            i64 aligned) {
    const float sc = (float)scale;
    GRID_LOOP(t, r_ * c * oh * ow) {
        const int pw = (int)(t % ow), ph = (int)((t / ow) % oh);
        const i64 ch = (t / (ow * oh)) % c, r = t / (ow * oh * c);
        const float* roi = rois + r * 5;
        const i64 b = (i64)roi[0];
        if (b < 0 || b >= n) continue;
        RaGeom g = ra_geometry(roi, sc, (int)oh, (int)ow, (int)sampling, aligned != 0);
        const float gv = __fdiv_rn(dy[t], g.count);
        if (gv == 0.f) continue;
        float* plane = dx + (b * c + ch) * h * w;
        for (int iy = 0; iy < g.gh; ++iy) {
            int yl, yh;
            float hy, ly;
            if (!ra_axis(ra_coord(g.sy, ph, g.binH, iy, g.gh), (int)h, yl, yh, hy, ly)) continue;
            for (int ix = 0; ix < g.gw; ++ix) {
                int xl, xh;
                float hx, lx;
                if (!ra_axis(ra_coord(g.sx, pw, g.binW, ix, g.gw), (int)w, xl, xh, hx, lx)) continue;
                atomicAdd(plane + yl * w + xl, gv * __fmul_rn(hy, hx));
                atomicAdd(plane + yl * w + xh, gv * __fmul_rn(hy, lx));
                atomicAdd(plane + yh * w + xl, gv * __fmul_rn(ly, hx));
                atomicAdd(plane + yh * w + xh, gv * __fmul_rn(ly, lx));
            }
        }
    }
}
