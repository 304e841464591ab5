// SiLU and leaky ReLU (YOLO backbones and the SPP-family necks), forward and
// backward. Memory-bound grid-stride loops. SiLU uses the same overflow-free
// sigmoid as elementwise.cu, spelled out again so that this file stands alone.

__device__ __forceinline__ float silu_sigmoidf(float x) {
    if (x >= 0.f) return 1.f / (1.f + expf(-x));
    float e = expf(x);
    return e / (1.f + e);
}

// y = x·σ(x) (F.silu).
extern "C" __global__ void silu_forward_kernel(float* y, const float* x, i64 n) {
    GRID_LOOP(i, n) {
        float v = x[i];
        y[i] = v * silu_sigmoidf(v);
    }
}

// dx = dy·σ(x)·(1 + x·(1 − σ(x))), PyTorch's silu_backward.
extern "C" __global__ void silu_backward_kernel(float* dx, const float* x, const float* dy, i64 n) {
    GRID_LOOP(i, n) {
        float v = x[i];
        float s = silu_sigmoidf(v);
        dx[i] = dy[i] * s * (1.f + v * (1.f - s));
    }
}

// y = x > 0 ? x : slope·x (a NaN stays NaN through the product).
extern "C" __global__ void leaky_relu_forward_kernel(float* y, const float* x, i64 n, double slope) {
    float a = (float)slope;
    GRID_LOOP(i, n) {
        float v = x[i];
        y[i] = v > 0.f ? v : v * a;
    }
}

// dx = x > 0 ? dy : slope·dy (x = 0 takes the negative side, as PyTorch).
extern "C" __global__ void leaky_relu_backward_kernel(float* dx, const float* x, const float* dy, i64 n, double slope) {
    float a = (float)slope;
    GRID_LOOP(i, n) dx[i] = x[i] > 0.f ? dy[i] : dy[i] * a;
}
