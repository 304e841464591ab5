// The YOLOv1 loss (GOLDEN.md's yolov1_loss) and its gradient w.r.t. pred.
// Cell q = (n, i, j) of pred [N, S, S, 5B+C]: predictor b is
// pred[5b:5b+5] = (x, y, √w, √h, conf), then C class scores. Computed in
// double, like the CPU backend, so the responsible predictor (largest IoU,
// lowest index on ties) is chosen the same way on both.

// IoU of predictor pr of cell (i, j) with target t, as centre-size boxes in
// image fractions; 0 when the union is 0.
__device__ double yolov1_iou(const float* pr, const float* t, int i, int j, int S) {
    double s = (double)S;
    double pcx = (j + (double)pr[0]) / s, pcy = (i + (double)pr[1]) / s;
    double pw = (double)pr[2] * (double)pr[2], ph = (double)pr[3] * (double)pr[3];
    double tcx = (j + (double)t[0]) / s, tcy = (i + (double)t[1]) / s;
    double tw = (double)t[2], th = (double)t[3];
    double iw = fmin(pcx + pw / 2, tcx + tw / 2) - fmax(pcx - pw / 2, tcx - tw / 2);
    double ih = fmin(pcy + ph / 2, tcy + th / 2) - fmax(pcy - ph / 2, tcy - th / 2);
    double inter = fmax(iw, 0.0) * fmax(ih, 0.0);
    double uni = pw * ph + tw * th - inter;
    return uni > 0 ? inter / uni : 0.0;
}

// The loss of cell q (before 1/N); with grad non-null also writes
// g·d(cell loss)/d(pred) for the cell (every entry, zeros included). A class
// outside [0, C) in an obj cell makes the loss NaN (the CPU backend panics).
__device__ double yolov1_cell(i64 q, const float* pred, const float* obj, const float* box, const i64* cls, int S, int B,
                              int C, double lc, double ln, double g, float* grad) {
    int D = 5 * B + C;
    const float* cell = pred + q * D;
    int i = (int)((q / S) % S), j = (int)(q % S);
    double loss = 0;
    if (grad) {
        for (int k = 0; k < D; ++k) grad[k] = 0.f;
    }
#define YOLO_SQ(k, target, w)                                \
    do {                                                     \
        double e_ = (double)cell[(k)] - (target);            \
        loss += (w) * e_ * e_;                               \
        if (grad) grad[(k)] = (float)(g * 2 * (w) * e_);     \
    } while (0)
    if (obj[q] == 0.f) {
        for (int b = 0; b < B; ++b) YOLO_SQ(5 * b + 4, 0.0, ln);
        return loss;
    }
    const float* t = box + q * 4;
    i64 c = cls[q];
    if (c < 0 || c >= C) {
        if (grad) {
            for (int k = 0; k < D; ++k) grad[k] = CUDART_NAN_F;
        }
        return CUDART_NAN;
    }
    int r = 0;
    double best = -CUDART_INF;
    for (int b = 0; b < B; ++b) {
        double iou = yolov1_iou(cell + 5 * b, t, i, j, S);
        if (iou > best) {
            best = iou;
            r = b;
        }
    }
    for (int b = 0; b < B; ++b) {
        if (b != r) {
            YOLO_SQ(5 * b + 4, 0.0, ln);
            continue;
        }
        YOLO_SQ(5 * b, (double)t[0], lc);
        YOLO_SQ(5 * b + 1, (double)t[1], lc);
        YOLO_SQ(5 * b + 2, sqrt((double)t[2]), lc);
        YOLO_SQ(5 * b + 3, sqrt((double)t[3]), lc);
        YOLO_SQ(5 * b + 4, best, 1.0);
    }
    for (int k = 0; k < C; ++k) YOLO_SQ(5 * B + k, k == c ? 1.0 : 0.0, 1.0);
#undef YOLO_SQ
    return loss;
}

// loss [] = Σ cells / N. One block of 256 threads: thread t sums cells
// t, t+256, … and a fixed tree adds the partial sums, so the result does not
// depend on scheduling (a YOLO batch has a few thousand cells).
extern "C" __global__ void yolov1_loss_forward_kernel(float* loss, const float* pred, const float* obj, const float* box,
                                                      const i64* cls, i64 N, i64 S, i64 B, i64 C, double lc, double ln) {
    __shared__ double part[256];
    i64 cells = N * S * S;
    double s = 0;
    for (i64 q = threadIdx.x; q < cells; q += blockDim.x)
        s += yolov1_cell(q, pred, obj, box, cls, (int)S, (int)B, (int)C, lc, ln, 0, nullptr);
    part[threadIdx.x] = s;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) loss[0] = (float)(part[0] / (double)(N > 0 ? N : 1));
}

// dpred [N, S, S, 5B+C] = dloss/N · d(cell loss)/d(pred), one thread per cell.
extern "C" __global__ void yolov1_loss_backward_kernel(float* dpred, const float* pred, const float* obj, const float* box,
                                                       const i64* cls, const float* dloss, i64 N, i64 S, i64 B, i64 C,
                                                       double lc, double ln) {
    double g = (double)dloss[0] / (double)(N > 0 ? N : 1);
    i64 D = 5 * B + C;
    GRID_LOOP(q, N * S * S) {
        yolov1_cell(q, pred, obj, box, cls, (int)S, (int)B, (int)C, lc, ln, g, dpred + q * D);
    }
}
