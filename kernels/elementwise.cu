// Elementwise kernels: binary ops with numpy broadcasting, unary ops and their
// backward, affine, axpy, fill, where, and the frozen-BN channel affine.
// All are memory-bound grid-stride loops; op codes match backend.BinaryOp and
// backend.UnaryOp.

// backend.BinaryOp
#define OP_ADD 0
#define OP_SUB 1
#define OP_MUL 2
#define OP_DIV 3
#define OP_MAXIMUM 4
#define OP_MINIMUM 5

// backend.UnaryOp
#define OP_NEG 0
#define OP_EXP 1
#define OP_LOG 2
#define OP_SQRT 3
#define OP_ABS 4
#define OP_RELU 5
#define OP_SIGMOID 6
#define OP_TANH 7

__device__ __forceinline__ float binary_apply(int op, float a, float b) {
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    // torch.maximum/minimum propagate NaN, fmaxf/fminf would drop it.
    case OP_MAXIMUM: return (a != a || b != b) ? a + b : fmaxf(a, b);
    case OP_MINIMUM: return (a != a || b != b) ? a + b : fminf(a, b);
    }
    return CUDART_NAN_F;
}

// Stable for large |x|: never evaluates exp of a large positive number.
__device__ __forceinline__ float sigmoidf(float x) {
    if (x >= 0.f) return 1.f / (1.f + expf(-x));
    float e = expf(x);
    return e / (1.f + e);
}

__device__ __forceinline__ float unary_apply(int op, float x) {
    switch (op) {
    case OP_NEG: return -x;
    case OP_EXP: return expf(x);
    case OP_LOG: return logf(x);
    case OP_SQRT: return sqrtf(x);
    case OP_ABS: return fabsf(x);
    case OP_RELU: return (x > 0.f || x != x) ? x : 0.f;  // NaN passes, as torch.relu
    case OP_SIGMOID: return sigmoidf(x);
    case OP_TANH: return tanhf(x);
    }
    return CUDART_NAN_F;
}

// dL/dx from x, y = op(x) and dy, written as PyTorch's autograd formulas:
// Exp, Sqrt, ReLU, Sigmoid and Tanh use y, Log and Abs use x (relu and abs
// have zero gradient at 0).
__device__ __forceinline__ float unary_grad(int op, float x, float y, float dy) {
    switch (op) {
    case OP_NEG: return -dy;
    case OP_EXP: return dy * y;
    case OP_LOG: return dy / x;
    case OP_SQRT: return dy / (2.f * y);
    case OP_ABS: return x > 0.f ? dy : (x < 0.f ? -dy : 0.f);
    case OP_RELU: return y > 0.f ? dy : 0.f;
    case OP_SIGMOID: return dy * y * (1.f - y);
    case OP_TANH: return dy * (1.f - y * y);
    }
    return CUDART_NAN_F;
}

// out, a, b all [n], same shape.
extern "C" __global__ void binary_contig_forward_kernel(float* out, const float* a, const float* b, i64 n, i64 op) {
    GRID_LOOP(i, n) out[i] = binary_apply((int)op, a[i], b[i]);
}

// out [d0..d7] (coalesced, padded with leading 1s); a and b read through
// strides that are 0 along their broadcast dimensions.
extern "C" __global__ void binary_forward_kernel(float* out, const float* a, const float* b, i64 n, i64 op,
                                                 DIMS_PARAMS(d), DIMS_PARAMS(as), DIMS_PARAMS(bs)) {
    Dims sz = DIMS(d), sa = DIMS(as), sb = DIMS(bs);
    GRID_LOOP(i, n) out[i] = binary_apply((int)op, a[strided_offset(i, sz, sa)], b[strided_offset(i, sz, sb)]);
}

// out, x [n].
extern "C" __global__ void unary_forward_kernel(float* out, const float* x, i64 n, i64 op) {
    GRID_LOOP(i, n) out[i] = unary_apply((int)op, x[i]);
}

// dx, x, y, dy [n]; x or y may be null when op's gradient does not read it.
extern "C" __global__ void unary_backward_kernel(float* dx, const float* x, const float* y, const float* dy, i64 n, i64 op) {
    GRID_LOOP(i, n) dx[i] = unary_grad((int)op, x ? x[i] : 0.f, y ? y[i] : 0.f, dy[i]);
}

// out = alpha*x + beta; out, x [n].
extern "C" __global__ void affine_forward_kernel(float* out, const float* x, i64 n, double alpha, double beta) {
    float al = (float)alpha, be = (float)beta;
    GRID_LOOP(i, n) out[i] = al * x[i] + be;
}

// y += alpha*x in place; y, x [n].
extern "C" __global__ void axpy_forward_kernel(float* y, const float* x, i64 n, double alpha) {
    float al = (float)alpha;
    GRID_LOOP(i, n) y[i] += al * x[i];
}

// t [n] = v.
extern "C" __global__ void fill_forward_kernel(float* t, i64 n, double v) {
    float fv = (float)v;
    GRID_LOOP(i, n) t[i] = fv;
}

// t [n] = v for int64 tensors.
extern "C" __global__ void fill_i64_forward_kernel(i64* t, i64 n, i64 v) {
    GRID_LOOP(i, n) t[i] = v;
}

// out = cond != 0 ? a : b; all [n].
extern "C" __global__ void where_forward_kernel(float* out, const float* cond, const float* a, const float* b, i64 n) {
    GRID_LOOP(i, n) out[i] = cond[i] != 0.f ? a[i] : b[i];
}

// where_forward_kernel with an int64 condition.
extern "C" __global__ void where_i64_forward_kernel(float* out, const i64* cond, const float* a, const float* b, i64 n) {
    GRID_LOOP(i, n) out[i] = cond[i] != 0 ? a[i] : b[i];
}

// out = x*scale[c] + shift[c] (shift may be null); x, out [N,C,HW] as n
// elements, scale and shift [C].
extern "C" __global__ void channel_affine_forward_kernel(float* out, const float* x, const float* scale, const float* shift,
                                                         i64 n, i64 C, i64 HW) {
    GRID_LOOP(i, n) {
        i64 c = (i / HW) % C;
        float v = x[i] * scale[c];
        out[i] = shift ? v + shift[c] : v;
    }
}
