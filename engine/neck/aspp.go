package neck

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// ASPP is DeepLab-v2's atrous spatial pyramid pooling (Chen et al. 2017):
// parallel 3×3 convolutions with bias at dilations r_i (padding r_i keeps
// the size), summed. No batch norm, no activation, as in DeepLab-v2's
// classifier module.
type ASPP struct {
	w, b []*nn.Param
	p    []backend.Conv2dParams
	c2   int
}

func newASPP(s *nn.Store, prefix string, c1, c2 int, rates []int) *ASPP {
	a := &ASPP{c2: c2}
	for i, r := range rates {
		name := join(prefix, fmt.Sprintf("c%d", i))
		a.w = append(a.w, s.New(name+".weight", nn.Normal(0.01), c2, c1, 3, 3))
		a.b = append(a.b, s.New(name+".bias", nil, c2))
		a.p = append(a.p, backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: r, PadW: r, DilationH: r, DilationW: r})
	}
	return a
}

// Forward implements Block.
func (a *ASPP) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	var y *autograd.Var
	for i := range a.w {
		b := t.Conv2d(x, a.w[i].Var, a.b[i].Var, a.p[i])
		if y == nil {
			y = b
		} else {
			y = t.Add(y, b)
		}
	}
	return y
}

// OutChannels implements Block.
func (a *ASPP) OutChannels() int { return a.c2 }

// Stride implements Block.
func (a *ASPP) Stride() int { return 1 }
