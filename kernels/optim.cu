// Optimiser kernels.

// PyTorch's SGD (dampening 0, no Nesterov), in place; param, grad, buf [n]:
//   d = grad + wd*param;  buf = momentum*buf + d;  param -= lr*buf
// With a zero-initialised buf the first step equals PyTorch's buf = d. buf is
// null when momentum is 0 (PyTorch keeps no buffer then and steps by d).
// __fmul_rn keeps every product rounded on its own (no fused multiply-add),
// as the CPU reference and PyTorch's CPU kernels round them, so the update is
// bit-identical across backends.
extern "C" __global__ void sgd_step_forward_kernel(float* param, const float* grad, float* buf, i64 n,
                                                   double lr, double momentum, double weight_decay) {
    float flr = (float)lr, mom = (float)momentum, wd = (float)weight_decay;
    GRID_LOOP(i, n) {
        float p = param[i];
        float d = grad[i] + __fmul_rn(wd, p);
        if (buf) {
            d = __fmul_rn(mom, buf[i]) + d;
            buf[i] = d;
        }
        param[i] = p - __fmul_rn(flr, d);
    }
}
