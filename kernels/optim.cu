// Optimiser kernels.

// PyTorch's SGD (dampening 0, no Nesterov), in place; param, grad, buf [n]:
//   buf = momentum*buf + (grad + wd*param);  param -= lr*buf
// With a zero-initialised buf the first step equals PyTorch's buf = d_p.
extern "C" __global__ void sgd_step_forward_kernel(float* param, const float* grad, float* buf, i64 n,
                                                   double lr, double momentum, double weight_decay) {
    float flr = (float)lr, mom = (float)momentum, wd = (float)weight_decay;
    GRID_LOOP(i, n) {
        float p = param[i];
        float b = mom * buf[i] + (grad[i] + wd * p);
        buf[i] = b;
        param[i] = p - flr * b;
    }
}
