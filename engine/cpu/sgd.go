package cpu

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// SGDStep is torch.optim.SGD with dampening 0 and nesterov off:
//
//	d = grad + weightDecay·param; buf = momentum·buf + d; param -= lr·buf.
//
// torch sets buf = d on the first step; here buf starts at zero (the caller
// allocates it with Zeros) and the same update gives momentum·0 + d = d
// exactly, so the two rules agree bit for bit from the first step on. With
// momentum 0 torch keeps no buffer and steps by d: buf may then be nil.
// The float32 conversions forbid fused multiply-adds, so every architecture
// rounds each product as PyTorch's CPU kernels do.
func (c *CPU) SGDStep(param, grad, buf *backend.Tensor, lr, momentum, weightDecay float32) {
	if !backend.SameShape(param.Shape, grad.Shape) || (buf != nil && !backend.SameShape(param.Shape, buf.Shape)) {
		panic(fmt.Sprintf("cpu: SGDStep shapes: param %v, grad %v, buf %v", param.Shape, grad.Shape, buf))
	}
	if buf == nil && momentum != 0 {
		panic(fmt.Sprintf("cpu: SGDStep with momentum %v needs a buffer for %v", momentum, param.Shape))
	}
	pv, gv := F32(param), F32(grad)
	var bv []float32
	if buf != nil {
		bv = F32(buf)
	}
	c.parallelFor(len(pv), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := gv[i] + float32(weightDecay*pv[i])
			if bv != nil {
				d = float32(momentum*bv[i]) + d
				bv[i] = d
			}
			pv[i] -= float32(lr * d)
		}
	})
}
