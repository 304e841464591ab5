package neck

import (
	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// SPPF is YOLOv5's fast SPP: three chained MaxPool(k) over a = cv1(x), so
// with k = 5 the pooled maps see 5, 9 and 13 windows and y equals SPP with
// k = (5, 9, 13) at a third of the pooling work. With ReLU convs it is
// YOLOv6's SimSPPF.
type SPPF struct {
	cv1, cv2 *convBN
	k, c2    int
}

func newSPPF(s *nn.Store, prefix string, c1, c2, k int, a act, eps float32) *SPPF {
	c := c1 / 2
	return &SPPF{
		cv1: newConv(s, join(prefix, "cv1"), c1, c, 1, 1, a, eps),
		cv2: newConv(s, join(prefix, "cv2"), 4*c, c2, 1, 1, a, eps),
		k:   k, c2: c2,
	}
}

// Forward implements Block.
func (b *SPPF) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	a := b.cv1.forward(t, x)
	p1 := maxPool(t, a, b.k)
	p2 := maxPool(t, p1, b.k)
	p3 := maxPool(t, p2, b.k)
	return b.cv2.forward(t, t.Concat(1, a, p1, p2, p3))
}

// OutChannels implements Block.
func (b *SPPF) OutChannels() int { return b.c2 }

// Stride implements Block.
func (b *SPPF) Stride() int { return 1 }
