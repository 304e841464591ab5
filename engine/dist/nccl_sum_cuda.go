//go:build cuda

package dist

import (
	"github.com/fsodgpu/fsodgpu/cuda"
	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// sumOnLead is the sum over replicas of parameter i's gradient on lead, the
// buffer one NCCL communicator reduces: the first replica's own gradient
// when it lives on lead (no copy; later ones are added into it), a copy on
// lead otherwise, zeros of shape when no replica has one. bes[k] and cbs[k]
// are replica k's backend, grads[k] its gradients.
func sumOnLead(lead *cuda.Backend, replicas []int, bes []backend.Backend, cbs []*cuda.Backend, grads [][]*backend.Tensor, i int, shape []int) *backend.Tensor {
	var buf *backend.Tensor
	for _, k := range replicas {
		g := grads[k][i]
		if g == nil {
			continue
		}
		local := g
		if cbs[k] != lead {
			local = lead.FromFloat32(bes[k].ToFloat32(g), g.Shape...)
		}
		if buf == nil {
			buf = local
			continue
		}
		lead.AxpyInPlace(buf, 1, local)
		if local != g {
			lead.Free(local)
		}
	}
	if buf == nil {
		buf = lead.Zeros(backend.F32, shape...)
	}
	return buf
}
