package neck

import (
	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// SPP is YOLOv5's SPP (after SPP-net, He et al. 2014, as YOLOv3-SPP uses
// it): a = cv1(x); y = cv2(cat[a, MaxPool(k1)(a), MaxPool(k2)(a), …]).
type SPP struct {
	cv1, cv2 *convBN
	k        []int
	c2       int
}

func newSPP(s *nn.Store, prefix string, c1, c2 int, k []int, eps float32) *SPP {
	c := c1 / 2
	return &SPP{
		cv1: newConv(s, join(prefix, "cv1"), c1, c, 1, 1, actSiLU, eps),
		cv2: newConv(s, join(prefix, "cv2"), c*(len(k)+1), c2, 1, 1, actSiLU, eps),
		k:   append([]int(nil), k...), c2: c2,
	}
}

// Forward implements Block.
func (b *SPP) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	a := b.cv1.forward(t, x)
	parts := []*autograd.Var{a}
	for _, k := range b.k {
		parts = append(parts, maxPool(t, a, k))
	}
	return b.cv2.forward(t, t.Concat(1, parts...))
}

// OutChannels implements Block.
func (b *SPP) OutChannels() int { return b.c2 }

// Stride implements Block.
func (b *SPP) Stride() int { return 1 }
