// Box arithmetic: pairwise IoU, detectron2's Box2BoxTransform encode/decode,
// clipping and anchor generation. Boxes are x1,y1,x2,y2 float32, no +1 in
// widths.
//
// Design decision: every product that feeds a sum is written with __fmul_rn /
// __fadd_rn so nvcc cannot contract it into an FMA. The CPU backend (Go on
// amd64) rounds each operation, and with the same rounding the two backends
// give the same bits, which the parity tests check exactly. exp/log go
// through double and are rounded to float, as engine/cpu does with math.Exp.

// Go's min/max on float32: NaN in either argument gives NaN.
__device__ __forceinline__ float box_go_min(float a, float b) {
    if (a != a || b != b) return a != a ? a : b;
    return a < b ? a : b;
}
__device__ __forceinline__ float box_go_max(float a, float b) {
    if (a != a || b != b) return a != a ? a : b;
    return a > b ? a : b;
}

// out [N,M] = IoU(a [N,4], b [M,4]); a union of 0 gives 0 (detectron2's
// pairwise_iou) rather than 0/0.
extern "C" __global__ void box_iou_forward_kernel(float* out, const float* __restrict__ a,
                                                  const float* __restrict__ b, i64 n, i64 m) {
    GRID_LOOP(t, n * m) {
        i64 i = t / m, j = t - i * m;
        float ax1 = a[i * 4], ay1 = a[i * 4 + 1], ax2 = a[i * 4 + 2], ay2 = a[i * 4 + 3];
        float bx1 = b[j * 4], by1 = b[j * 4 + 1], bx2 = b[j * 4 + 2], by2 = b[j * 4 + 3];
        float areaA = __fmul_rn(ax2 - ax1, ay2 - ay1);
        float areaB = __fmul_rn(bx2 - bx1, by2 - by1);
        float w = box_go_max(0.f, box_go_min(ax2, bx2) - box_go_max(ax1, bx1));
        float h = box_go_max(0.f, box_go_min(ay2, by2) - box_go_max(ay1, by1));
        float inter = __fmul_rn(w, h);
        float uni = __fsub_rn(__fadd_rn(areaA, areaB), inter);
        out[t] = uni == 0.f ? 0.f : __fdiv_rn(inter, uni);
    }
}

// deltas [N,4] of gt relative to ref (detectron2 get_deltas), weights w0..w3.
extern "C" __global__ void box_encode_forward_kernel(float* out, const float* __restrict__ ref,
                                                     const float* __restrict__ gt, i64 n, double w0, double w1,
                                                     double w2, double w3) {
    const float wx = (float)w0, wy = (float)w1, ww = (float)w2, wh = (float)w3;
    GRID_LOOP(i, n) {
        const float* r = ref + i * 4;
        const float* g = gt + i * 4;
        float rw = r[2] - r[0], rh = r[3] - r[1];
        float rx = __fadd_rn(r[0], __fmul_rn(0.5f, rw)), ry = __fadd_rn(r[1], __fmul_rn(0.5f, rh));
        float gw = g[2] - g[0], gh = g[3] - g[1];
        float gx = __fadd_rn(g[0], __fmul_rn(0.5f, gw)), gy = __fadd_rn(g[1], __fmul_rn(0.5f, gh));
        float* o = out + i * 4;
        o[0] = __fdiv_rn(__fmul_rn(wx, gx - rx), rw);
        o[1] = __fdiv_rn(__fmul_rn(wy, gy - ry), rh);
        o[2] = __fmul_rn(ww, (float)log((double)__fdiv_rn(gw, rw)));
        o[3] = __fmul_rn(wh, (float)log((double)__fdiv_rn(gh, rh)));
    }
}

// out [N,4k] = deltas [N,4k] applied to ref [N,4] (detectron2 apply_deltas):
// deltas divided by the weights, dw/dh clamped at clampv, centre ± size/2.
extern "C" __global__ void box_decode_forward_kernel(float* out, const float* __restrict__ ref,
                                                     const float* __restrict__ deltas, i64 n, i64 k, double w0,
                                                     double w1, double w2, double w3, double clampv) {
    const float wx = (float)w0, wy = (float)w1, ww = (float)w2, wh = (float)w3, cl = (float)clampv;
    GRID_LOOP(t, n * k) {
        i64 i = t / k;
        const float* r = ref + i * 4;
        const float* d = deltas + t * 4;
        float w = r[2] - r[0], h = r[3] - r[1];
        float cx = __fadd_rn(r[0], __fmul_rn(0.5f, w)), cy = __fadd_rn(r[1], __fmul_rn(0.5f, h));
        float dx = __fdiv_rn(d[0], wx), dy = __fdiv_rn(d[1], wy);
        float dw = box_go_min(__fdiv_rn(d[2], ww), cl), dh = box_go_min(__fdiv_rn(d[3], wh), cl);
        float px = __fadd_rn(__fmul_rn(dx, w), cx), py = __fadd_rn(__fmul_rn(dy, h), cy);
        float pw = __fmul_rn((float)exp((double)dw), w);
        float ph = __fmul_rn((float)exp((double)dh), h);
        float* o = out + t * 4;
        o[0] = __fsub_rn(px, __fmul_rn(0.5f, pw));
        o[1] = __fsub_rn(py, __fmul_rn(0.5f, ph));
        o[2] = __fadd_rn(px, __fmul_rn(0.5f, pw));
        o[3] = __fadd_rn(py, __fmul_rn(0.5f, ph));
    }
}

// out = boxes [N,4k] with x clamped to [0,w] and y to [0,h]; n4 = N·4k values.
extern "C" __global__ void clip_boxes_forward_kernel(float* out, const float* __restrict__ boxes, i64 n4, double h,
                                                     double w) {
    const float hf = (float)h, wf = (float)w;
    GRID_LOOP(i, n4) {
        float lim = (i & 1) ? hf : wf;
        out[i] = box_go_min(box_go_max(boxes[i], 0.f), lim);
    }
}

// out [H·W·A,4]: cell anchors [A,4] (computed in float64 by the launcher as
// detectron2 does) shifted by (x·stride, y·stride), laid out (y, x, anchor).
extern "C" __global__ void anchors_forward_kernel(float* out, const float* __restrict__ cell, i64 h, i64 w, i64 a,
                                                  double stride) {
    const float s = (float)stride;
    GRID_LOOP(t, h * w * a) {
        i64 ai = t % a, cellIdx = t / a;
        i64 x = cellIdx % w, y = cellIdx / w;
        float sx = __fmul_rn((float)x, s), sy = __fmul_rn((float)y, s);
        const float* c = cell + ai * 4;
        float* o = out + t * 4;
        o[0] = sx + c[0];
        o[1] = sy + c[1];
        o[2] = sx + c[2];
        o[3] = sy + c[3];
    }
}
