package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// RCLoss is MFE's regularization consistency loss for two logit sets a, b
// [N,K] of the same RoIs under different dropout masks:
//
//	L = (1/N) Σ_rows KL(p_a‖p_b) + KL(p_b‖p_a) = (1/N) Σ_rows Σ_k (p_a−p_b)(log p_a − log p_b)
//
// equal to F.kl_div(log_softmax(b), log_softmax(a), reduction="batchmean",
// log_target=True) + F.kl_div(log_softmax(a), log_softmax(b), ...): kl_div's
// first argument is the log-probability of the approximating distribution,
// so the first term is KL(p_a‖p_b). With d = log p_a − log p_b the gradient is
//
//	∂L/∂a_j = (p_a,j (d_j − E_pa[d]) + p_a,j − p_b,j) / N
//	∂L/∂b_j = (p_b,j (E_pb[d] − d_j) + p_b,j − p_a,j) / N.
func (c *CPU) RCLoss(a, b *backend.Tensor) *backend.Tensor {
	n, k := checkRC("RCLoss", a, b)
	as, bs := F32(a), F32(b)
	pa, pb := make([]float64, k), make([]float64, k)
	la, lb := make([]float64, k), make([]float64, k)
	var s float64
	for i := 0; i < n; i++ {
		logSoftmax64(as[i*k:(i+1)*k], la, pa)
		logSoftmax64(bs[i*k:(i+1)*k], lb, pb)
		for j := 0; j < k; j++ {
			s += (pa[j] - pb[j]) * (la[j] - lb[j])
		}
	}
	return c.newScalar(s * meanScale(n))
}

// RCLossBackward returns dloss·∂L/∂a and dloss·∂L/∂b.
func (c *CPU) RCLossBackward(a, b, dloss *backend.Tensor) (da, db *backend.Tensor) {
	n, k := checkRC("RCLossBackward", a, b)
	g := float64(scalar("RCLossBackward", dloss)) * meanScale(n)
	as, bs := F32(a), F32(b)
	da, db = c.newF32(n, k), c.newF32(n, k)
	das, dbs := F32(da), F32(db)
	c.parallelFor(n, 64, func(lo, hi int) {
		pa, pb := make([]float64, k), make([]float64, k)
		la, lb := make([]float64, k), make([]float64, k)
		for i := lo; i < hi; i++ {
			logSoftmax64(as[i*k:(i+1)*k], la, pa)
			logSoftmax64(bs[i*k:(i+1)*k], lb, pb)
			var ea, eb float64
			for j := 0; j < k; j++ {
				d := la[j] - lb[j]
				ea += pa[j] * d
				eb += pb[j] * d
			}
			ra, rb := das[i*k:(i+1)*k], dbs[i*k:(i+1)*k]
			for j := 0; j < k; j++ {
				d := la[j] - lb[j]
				ra[j] = float32(g * (pa[j]*(d-ea) + pa[j] - pb[j]))
				rb[j] = float32(g * (pb[j]*(eb-d) + pb[j] - pa[j]))
			}
		}
	})
	return da, db
}

func checkRC(op string, a, b *backend.Tensor) (n, k int) {
	if a.DType != backend.F32 || len(a.Shape) != 2 || !backend.SameShape(a.Shape, b.Shape) || b.DType != backend.F32 {
		panic(fmt.Sprintf("cpu: %s: a %s%v, b %s%v; want equal F32 [N,K]", op, a.DType, a.Shape, b.DType, b.Shape))
	}
	return a.Shape[0], a.Shape[1]
}

// logSoftmax64 writes log-softmax and softmax of row in float64.
func logSoftmax64(row []float32, logp, p []float64) {
	lse, _ := logSumExp(row)
	for j, v := range row {
		logp[j] = float64(v) - lse
		p[j] = math.Exp(logp[j])
	}
}
