package neck

import (
	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// SPPCSPC is YOLOv7's SPP inside a cross-stage-partial block (Wang et al.,
// "YOLOv7", 2022): the SPP path x1 → cv5/cv6 beside a 1×1 shortcut cv2,
// joined by cv7.
type SPPCSPC struct {
	cv [7]*convBN // cv1..cv7
	k  []int
	c2 int
}

func newSPPCSPC(s *nn.Store, prefix string, c1, c2 int, e float64, k []int, eps float32) *SPPCSPC {
	c := int(2 * float64(c2) * e)
	conv := func(i, in, out, k int) *convBN {
		return newConv(s, join(prefix, cvName(i)), in, out, k, 1, actSiLU, eps)
	}
	b := &SPPCSPC{k: append([]int(nil), k...), c2: c2}
	b.cv = [7]*convBN{
		conv(1, c1, c, 1), conv(2, c1, c, 1), conv(3, c, c, 3), conv(4, c, c, 1),
		conv(5, (len(k)+1)*c, c, 1), conv(6, c, c, 3), conv(7, 2*c, c2, 1),
	}
	return b
}

// cvName is "cv1".."cv7".
func cvName(i int) string { return "cv" + string(rune('0'+i)) }

// Forward implements Block.
func (b *SPPCSPC) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	x1 := b.cv[3].forward(t, b.cv[2].forward(t, b.cv[0].forward(t, x)))
	parts := []*autograd.Var{x1}
	for _, k := range b.k {
		parts = append(parts, maxPool(t, x1, k))
	}
	y1 := b.cv[5].forward(t, b.cv[4].forward(t, t.Concat(1, parts...)))
	y2 := b.cv[1].forward(t, x)
	return b.cv[6].forward(t, t.Concat(1, y1, y2))
}

// OutChannels implements Block.
func (b *SPPCSPC) OutChannels() int { return b.c2 }

// Stride implements Block.
func (b *SPPCSPC) Stride() int { return 1 }
