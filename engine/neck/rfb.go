package neck

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// RFB is RFBNet's BasicRFB (Liu et al., "Receptive Field Block Net", ECCV
// 2018): three branches of growing kernel and dilation, concatenated, a
// linear 1×1, scaled and added to a 1×1 shortcut, then ReLU.
type RFB struct {
	branches         [][]*convBN
	linear, shortcut *convBN
	scale            float32
	c2, stride       int
}

// sq is a square kernel, padding or dilation pair.
func sq(v int) [2]int { return [2]int{v, v} }

func newRFB(s *nn.Store, prefix string, c1, c2, stride int, scale float32, visual int, eps float32) *RFB {
	i := c1 / 8
	b := func(br, j, in, out int, k [2]int, st int, pad [2]int, dil int, a act) *convBN {
		return newBasicConv(s, join(prefix, fmt.Sprintf("branch%d.%d", br, j)), in, out, k, st, pad, dil, a, eps)
	}
	v := visual
	r := &RFB{scale: scale, c2: c2, stride: stride}
	r.branches = [][]*convBN{
		{
			b(0, 0, c1, 2*i, sq(1), stride, sq(0), 1, actReLU),
			b(0, 1, 2*i, 2*i, sq(3), 1, sq(v), v, actNone),
		},
		{
			b(1, 0, c1, i, sq(1), 1, sq(0), 1, actReLU),
			b(1, 1, i, 2*i, sq(3), stride, sq(1), 1, actReLU),
			b(1, 2, 2*i, 2*i, sq(3), 1, sq(v+1), v+1, actNone),
		},
		{
			b(2, 0, c1, i, sq(1), 1, sq(0), 1, actReLU),
			b(2, 1, i, (i/2)*3, sq(3), 1, sq(1), 1, actReLU),
			b(2, 2, (i/2)*3, 2*i, sq(3), stride, sq(1), 1, actReLU),
			b(2, 3, 2*i, 2*i, sq(3), 1, sq(2*v+1), 2*v+1, actNone),
		},
	}
	r.linear = newBasicConv(s, join(prefix, "ConvLinear"), 6*i, c2, sq(1), 1, sq(0), 1, actNone, eps)
	r.shortcut = newBasicConv(s, join(prefix, "shortcut"), c1, c2, sq(1), stride, sq(0), 1, actNone, eps)
	return r
}

// rfbJoin is relu(linear(cat[branches])·scale + shortcut(x)), shared by RFB and RFB_a.
func rfbJoin(t *autograd.Tape, x *autograd.Var, branches [][]*convBN, linear, shortcut *convBN, scale float32) *autograd.Var {
	outs := make([]*autograd.Var, len(branches))
	for i, br := range branches {
		outs[i] = seq(t, x, br)
	}
	y := t.Scale(linear.forward(t, t.Concat(1, outs...)), scale, 0)
	return t.ReLU(t.Add(y, shortcut.forward(t, x)))
}

// Forward implements Block.
func (r *RFB) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return rfbJoin(t, x, r.branches, r.linear, r.shortcut, r.scale)
}

// OutChannels implements Block.
func (r *RFB) OutChannels() int { return r.c2 }

// Stride implements Block.
func (r *RFB) Stride() int { return r.stride }
