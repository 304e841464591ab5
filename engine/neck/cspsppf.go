package neck

import (
	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// CSPSPPF is YOLOv6's CSP-SPPF (Li et al., "YOLOv6 v3.0", 2023): SPPCSPC's
// layout with SPPF's chained pools, ConvBNSiLU blocks (cspsppf) or
// ConvBNReLU blocks (simcspsppf).
type CSPSPPF struct {
	cv    [7]*convBN
	k, c2 int
}

func newCSPSPPF(s *nn.Store, prefix string, c1, c2, k int, e float64, a act, eps float32) *CSPSPPF {
	c := int(float64(c2) * e)
	conv := func(i, in, out, k int) *convBN {
		return newConv(s, join(prefix, cvName(i)), in, out, k, 1, a, eps)
	}
	b := &CSPSPPF{k: k, c2: c2}
	b.cv = [7]*convBN{
		conv(1, c1, c, 1), conv(2, c1, c, 1), conv(3, c, c, 3), conv(4, c, c, 1),
		conv(5, 4*c, c, 1), conv(6, c, c, 3), conv(7, 2*c, c2, 1),
	}
	return b
}

// Forward implements Block.
func (b *CSPSPPF) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	x1 := b.cv[3].forward(t, b.cv[2].forward(t, b.cv[0].forward(t, x)))
	y0 := b.cv[1].forward(t, x)
	p1 := maxPool(t, x1, b.k)
	p2 := maxPool(t, p1, b.k)
	y3 := b.cv[5].forward(t, b.cv[4].forward(t, t.Concat(1, x1, p1, p2, maxPool(t, p2, b.k))))
	return b.cv[6].forward(t, t.Concat(1, y0, y3))
}

// OutChannels implements Block.
func (b *CSPSPPF) OutChannels() int { return b.c2 }

// Stride implements Block.
func (b *CSPSPPF) Stride() int { return 1 }
