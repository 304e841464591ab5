package neck

import (
	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// act is the activation after a conv's batch norm.
type act int

const (
	actNone act = iota // RFBNet's BasicConv with relu=false
	actReLU            // YOLOv6's ConvBNReLU, RFBNet's BasicConv
	actSiLU            // YOLOv5/v7's Conv, YOLOv6's ConvBNSiLU
)

// convBN is every conv block of NECKS.md: a bias-free Conv2d named
// name.conv.weight, BatchNorm2d named name.bn.*, then the activation.
// kernel, padding and dilation are (h, w) pairs: RFB uses (3,1) and (1,3).
type convBN struct {
	w  *nn.Param
	bn *nn.FrozenBatchNorm
	p  backend.Conv2dParams
	a  act
}

// newConv is Conv(c1, c2, k, s) and its ReLU/SiLU variants: a square k,
// padding k//2.
func newConv(s *nn.Store, name string, c1, c2, k, stride int, a act, eps float32) *convBN {
	return newBasicConv(s, name, c1, c2, [2]int{k, k}, stride, [2]int{k / 2, k / 2}, 1, a, eps)
}

// newBasicConv is RFBNet's BasicConv(c1, c2, kernel, stride, padding, dilation).
func newBasicConv(s *nn.Store, name string, c1, c2 int, k [2]int, stride int, pad [2]int, dil int, a act, eps float32) *convBN {
	c := &convBN{
		w:  s.New(name+".conv.weight", nn.KaimingFanOut(), c2, c1, k[0], k[1]),
		bn: nn.NewFrozenBatchNorm(s, name+".bn", c2),
		p: backend.Conv2dParams{StrideH: stride, StrideW: stride, PadH: pad[0], PadW: pad[1],
			DilationH: dil, DilationW: dil},
		a: a,
	}
	c.bn.Eps = eps
	return c
}

func (c *convBN) forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	y := c.bn.Forward(t, t.Conv2d(x, c.w.Var, nil, c.p))
	switch c.a {
	case actReLU:
		y = t.ReLU(y)
	case actSiLU:
		y = t.SiLU(y)
	}
	return y
}

// seq runs convs in order (an RFB branch).
func seq(t *autograd.Tape, x *autograd.Var, cs []*convBN) *autograd.Var {
	for _, c := range cs {
		x = c.forward(t, x)
	}
	return x
}

// maxPool is MaxPool(k): kernel k, stride 1, padding k//2, so the map keeps
// its size (k odd; the padding is never the maximum).
func maxPool(t *autograd.Tape, x *autograd.Var, k int) *autograd.Var {
	return t.MaxPool2d(x, backend.PoolParams{KernelH: k, KernelW: k, StrideH: 1, StrideW: 1, PadH: k / 2, PadW: k / 2})
}
