package neck

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// RFBA is RFBNet's BasicRFB_a (the block on the shallow conv4_3 map): four
// narrower branches with 1×3 / 3×1 kernels in place of the larger squares.
type RFBA struct {
	branches         [][]*convBN
	linear, shortcut *convBN
	scale            float32
	c2, stride       int
}

func newRFBA(s *nn.Store, prefix string, c1, c2, stride int, scale float32, eps float32) *RFBA {
	i := c1 / 4
	b := func(br, j, in, out int, k [2]int, st int, pad [2]int, dil int, a act) *convBN {
		return newBasicConv(s, join(prefix, fmt.Sprintf("branch%d.%d", br, j)), in, out, k, st, pad, dil, a, eps)
	}
	h31, h13 := [2]int{3, 1}, [2]int{1, 3}
	p10, p01 := [2]int{1, 0}, [2]int{0, 1}
	r := &RFBA{scale: scale, c2: c2, stride: stride}
	r.branches = [][]*convBN{
		{
			b(0, 0, c1, i, sq(1), 1, sq(0), 1, actReLU),
			b(0, 1, i, i, sq(3), 1, sq(1), 1, actNone),
		},
		{
			b(1, 0, c1, i, sq(1), 1, sq(0), 1, actReLU),
			b(1, 1, i, i, h31, 1, p10, 1, actReLU),
			b(1, 2, i, i, sq(3), 1, sq(3), 3, actNone),
		},
		{
			b(2, 0, c1, i, sq(1), 1, sq(0), 1, actReLU),
			b(2, 1, i, i, h13, stride, p01, 1, actReLU),
			b(2, 2, i, i, sq(3), 1, sq(3), 3, actNone),
		},
		{
			b(3, 0, c1, i/2, sq(1), 1, sq(0), 1, actReLU),
			b(3, 1, i/2, (i/4)*3, h13, 1, p01, 1, actReLU),
			b(3, 2, (i/4)*3, i, h31, stride, p10, 1, actReLU),
			b(3, 3, i, i, sq(3), 1, sq(5), 5, actNone),
		},
	}
	r.linear = newBasicConv(s, join(prefix, "ConvLinear"), 4*i, c2, sq(1), 1, sq(0), 1, actNone, eps)
	r.shortcut = newBasicConv(s, join(prefix, "shortcut"), c1, c2, sq(1), stride, sq(0), 1, actNone, eps)
	return r
}

// Forward implements Block.
func (r *RFBA) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return rfbJoin(t, x, r.branches, r.linear, r.shortcut, r.scale)
}

// OutChannels implements Block.
func (r *RFBA) OutChannels() int { return r.c2 }

// Stride implements Block.
func (r *RFBA) Stride() int { return r.stride }
