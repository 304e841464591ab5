package nn

import (
	"math"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Conv2d is a 2-D convolution (groups 1); B may be nil.
type Conv2d struct {
	W, B *Param
	P    backend.Conv2dParams
}

// NewConv2d creates name.weight [out,in,k,k] (and name.bias when bias) with
// stride and padding on both axes.
func NewConv2d(s *Store, name string, in, out, k, stride, pad int, bias bool, init Init) *Conv2d {
	c := &Conv2d{
		W: s.New(name+".weight", init, out, in, k, k),
		P: backend.Conv2dParams{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad, DilationH: 1, DilationW: 1},
	}
	if bias {
		c.B = s.New(name+".bias", nil, out)
	}
	return c
}

// Forward convolves x.
func (c *Conv2d) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	var b *autograd.Var
	if c.B != nil {
		b = c.B.Var
	}
	return t.Conv2d(x, c.W.Var, b, c.P)
}

// Linear is x·Wᵀ + b with W [out,in].
type Linear struct {
	W, B *Param
}

// NewLinear creates name.weight [out,in] and name.bias [out] (zeros).
func NewLinear(s *Store, name string, in, out int, init Init) *Linear {
	return &Linear{W: s.New(name+".weight", init, out, in), B: s.New(name+".bias", nil, out)}
}

// Forward applies the layer to x [N,in].
func (l *Linear) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.Linear(x, l.W.Var, l.B.Var)
}

// FrozenBatchNorm is eval-mode batch norm with fixed statistics and affine
// (detectron2's FrozenBatchNorm2d): y = (x − mean)/√(var+eps)·weight + bias.
// All four tensors are buffers; the folded scale and shift are cached.
type FrozenBatchNorm struct {
	Weight, Bias, Mean, Var *Param
	Eps                     float32

	store        *Store
	version      int
	scale, shift *backend.Tensor
	// batchStats normalises by the batch's statistics in training (and
	// updates the running ones), as torch.nn.BatchNorm2d in train mode.
	batchStats bool
}

// bnMomentum is the running-statistics momentum (torch's default).
const bnMomentum = 0.1

// NewFrozenBatchNorm creates name.{weight,bias,running_mean,running_var} as
// the identity transform. With Store.TrainableNorm, weight and bias are
// trainable parameters (the statistics stay frozen): a backbone trained
// from scratch needs some per-channel scale and shift to learn, which
// pretrained frozen BN provides and the identity does not.
func NewFrozenBatchNorm(s *Store, name string, c int) *FrozenBatchNorm {
	affine := s.NewBuffer
	if s.TrainableNorm || s.BatchNorm {
		affine = func(name string, fill float32, shape ...int) *Param { return s.New(name, Constant(fill), shape...) }
	}
	return &FrozenBatchNorm{
		Weight: affine(name+".weight", 1, c),
		Bias:   affine(name+".bias", 0, c),
		Mean:   s.NewBuffer(name+".running_mean", 0, c),
		Var:    s.NewBuffer(name+".running_var", 1, c),
		Eps:    1e-5, store: s, version: -1, batchStats: s.BatchNorm,
	}
}

// Forward normalises x [N,C,H,W].
func (bn *FrozenBatchNorm) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	if bn.batchStats && t.GradEnabled() && bn.Weight.RequiresGrad {
		return bn.batchForward(t, x)
	}
	if bn.Weight.RequiresGrad || bn.Bias.RequiresGrad {
		return bn.trainableForward(t, x)
	}
	if bn.scale == nil || bn.version != bn.store.Version() {
		bn.fold()
	}
	return t.ChannelAffine(x, bn.scale, bn.shift)
}

// batchForward normalises with the batch's mean and (biased) variance over
// N, H, W, composed from tape ops so autograd supplies the backward, and
// moves the running statistics towards the batch's (unbiased variance).
// A frozen layer, and inference, use the running statistics instead.
func (bn *FrozenBatchNorm) batchForward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	be := bn.store.be
	c := x.Shape()[1]
	n := x.Value.Numel() / c
	all := []int{0, 2, 3}
	mean := t.Scale(t.Sum(x, all), 1/float32(n), 0)
	xc := t.Sub(x, t.Reshape(mean, 1, c, 1, 1))
	variance := t.Scale(t.Sum(t.Mul(xc, xc), all), 1/float32(n), 0)
	std := t.Unary(backend.Sqrt, t.Scale(variance, 1, bn.Eps))
	scale := t.Binary(backend.Div, bn.Weight.Var, std)
	y := t.Add(t.Mul(xc, t.Reshape(scale, 1, c, 1, 1)), t.Reshape(bn.Bias.Var, 1, c, 1, 1))

	m, v := be.ToFloat32(mean.Value), be.ToFloat32(variance.Value)
	rm, rv := be.ToFloat32(bn.Mean.Value), be.ToFloat32(bn.Var.Value)
	unbias := float32(n) / float32(max(n-1, 1))
	for i := range rm {
		rm[i] = (1-bnMomentum)*rm[i] + bnMomentum*m[i]
		rv[i] = (1-bnMomentum)*rv[i] + bnMomentum*v[i]*unbias
	}
	be.Free(bn.Mean.Value)
	be.Free(bn.Var.Value)
	bn.Mean.Value, bn.Var.Value = be.FromFloat32(rm, c), be.FromFloat32(rv, c)
	bn.version = -1 // the folded inference transform is stale now
	return y
}

// trainableForward is y = x·w/σ + (b − μ·w/σ) on the tape, so weight and
// bias receive gradients; μ and σ are the frozen statistics.
func (bn *FrozenBatchNorm) trainableForward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	be := bn.store.be
	m, v := be.ToFloat32(bn.Mean.Value), be.ToFloat32(bn.Var.Value)
	inv := make([]float32, len(v))
	for i := range v {
		inv[i] = float32(1 / math.Sqrt(float64(v[i])+float64(bn.Eps)))
	}
	c := len(inv)
	scale := t.Mul(bn.Weight.Var, t.Const(t.Keep(be.FromFloat32(inv, c))))
	shift := t.Sub(bn.Bias.Var, t.Mul(scale, t.Const(t.Keep(be.FromFloat32(m, c)))))
	return t.Add(t.Mul(x, t.Reshape(scale, 1, c, 1, 1)), t.Reshape(shift, 1, c, 1, 1))
}

func (bn *FrozenBatchNorm) fold() {
	be := bn.store.be
	w, b := be.ToFloat32(bn.Weight.Value), be.ToFloat32(bn.Bias.Value)
	m, v := be.ToFloat32(bn.Mean.Value), be.ToFloat32(bn.Var.Value)
	scale, shift := make([]float32, len(w)), make([]float32, len(w))
	for i := range w {
		scale[i] = float32(float64(w[i]) / math.Sqrt(float64(v[i])+float64(bn.Eps)))
		shift[i] = float32(float64(b[i]) - float64(m[i])*float64(scale[i]))
	}
	if bn.scale != nil {
		be.Free(bn.scale)
		be.Free(bn.shift)
	}
	bn.scale = be.FromFloat32(scale, len(scale))
	bn.shift = be.FromFloat32(shift, len(shift))
	bn.version = bn.store.Version()
}

// ConvBN is a bias-free convolution followed by frozen batch norm, named as
// detectron2 names them: name.weight and name.norm.*.
type ConvBN struct {
	Conv *Conv2d
	Norm *FrozenBatchNorm
}

// NewConvBN creates the pair with detectron2's MSRA init for the weight.
func NewConvBN(s *Store, name string, in, out, k, stride, pad int) *ConvBN {
	return &ConvBN{
		Conv: NewConv2d(s, name, in, out, k, stride, pad, false, KaimingFanOut()),
		Norm: NewFrozenBatchNorm(s, name+".norm", out),
	}
}

// Forward applies the convolution and the norm.
func (c *ConvBN) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return c.Norm.Forward(t, c.Conv.Forward(t, x))
}

// Affine is a learnable per-channel x·weight + bias with weight, bias
// [1,C,1,1] (DeFRCN's AffineLayer after each gradient decoupled layer).
type Affine struct {
	W, B *Param
}

// NewAffine creates name.weight (ones) and name.bias (zeros).
func NewAffine(s *Store, name string, c int) *Affine {
	return &Affine{W: s.New(name+".weight", Constant(1), 1, c, 1, 1), B: s.New(name+".bias", nil, 1, c, 1, 1)}
}

// Forward applies the affine to x [N,C,H,W].
func (a *Affine) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.Add(t.Mul(x, a.W.Var), a.B.Var)
}
