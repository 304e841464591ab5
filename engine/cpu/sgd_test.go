package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// TestSGDStepMatchesTorchRule runs several steps against torch.optim.SGD's
// rule written out in float64, buf = d on the first step.
func TestSGDStepMatchesTorchRule(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(61, 62))
	const n = 50
	pf, pd := randF32(r, n, -1, 1)
	param, buf := c.FromFloat32(pf, 5, 10), c.Zeros(backend.F32, 5, 10)
	bd := make([]float64, n)
	lr, mom, wd := 0.02, 0.9, 1e-4
	for step := 0; step < 4; step++ {
		gf, gd := randF32(r, n, -1, 1)
		c.SGDStep(param, c.FromFloat32(gf, 5, 10), buf, float32(lr), float32(mom), float32(wd))
		for i := range pd {
			d := gd[i] + wd*pd[i]
			if step == 0 {
				bd[i] = d
			} else {
				bd[i] = mom*bd[i] + d
			}
			pd[i] -= lr * bd[i]
		}
		assertClose(t, "param", F32(param), pd, 1e-6)
		assertClose(t, "buf", F32(buf), bd, 1e-6)
	}
}

func TestSGDStepNoMomentum(t *testing.T) {
	c := New()
	param := c.FromFloat32([]float32{1, -2}, 2)
	c.SGDStep(param, c.FromFloat32([]float32{0.5, 0.25}, 2), nil, 0.1, 0, 0.5)
	// d = g + 0.5·p = {1, -0.75}; p -= 0.1·d.
	assertClose(t, "param", F32(param), []float64{0.9, -1.925}, 1e-7)
}
