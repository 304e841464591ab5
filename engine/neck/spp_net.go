package neck

import (
	"github.com/fsodgpu/fsodgpu/engine/autograd"
)

// SPPNet is SPP-net's spatial pyramid pooling (He et al., "Spatial Pyramid
// Pooling in Deep Convolutional Networks for Visual Recognition", ECCV
// 2014): for each level l a max over an l×l grid of adaptive bins, each
// flattened in (C, l, l) order, concatenated. Every H, W ≥ 1 gives the same
// length C·Σl², so it is the pooling for a fixed-length vector over a map of
// any size (a classifier head, YOLOv1's head). It has no parameters.
type SPPNet struct {
	levels []int
	c      int
}

// NewSPPNet pools c-channel maps at the given levels.
func NewSPPNet(levels []int, c int) *SPPNet {
	return &SPPNet{levels: append([]int(nil), levels...), c: c}
}

// Forward maps x [N,C,H,W] to [N, C·Σl²].
func (p *SPPNet) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	n := x.Shape()[0]
	parts := make([]*autograd.Var, len(p.levels))
	for i, l := range p.levels {
		parts[i] = t.Reshape(t.AdaptiveMaxPool2d(x, l, l), n, -1)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return t.Concat(1, parts...)
}

// OutChannels implements Block: the vector's length.
func (p *SPPNet) OutChannels() int {
	n := 0
	for _, l := range p.levels {
		n += p.c * l * l
	}
	return n
}

// Stride implements Block: 0, the output is not a map.
func (p *SPPNet) Stride() int { return 0 }
