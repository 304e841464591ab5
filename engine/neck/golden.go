package neck

import (
	"bytes"
	"encoding/json"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/golden"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

func init() { golden.Register("neck", goldenNeck) }

// goldenNeck runs GOLDEN.md's "neck" op: the block the attributes name
// (type, its NECKS.md arguments, c1, bn_eps), built in a default store
// (eval-mode BN, trainable conv weights and ASPP biases) with the case's
// param.* loaded strictly by NECKS.md's names, then y, dL/dx and dL/dW for
// L = Σ y·grad_out.y.
func goldenNeck(c *golden.Call) {
	raw, err := json.Marshal(c.Case.Attrs)
	if err != nil {
		c.Fail("neck: attrs: %v", err)
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		c.Fail("neck: attrs: %v", err)
	}
	x := c.In("x")
	if len(x.Shape) != 4 || x.Shape[1] != cfg.C1 {
		c.Fail("neck: x %v does not have c1 = %d channels", x.Shape, cfg.C1)
	}
	s := nn.NewStore(c.B, 0)
	b, err := New(s, "", cfg, cfg.C1)
	if err != nil {
		c.Fail("neck: %v", err)
	}
	defer func() {
		for _, p := range s.Params() {
			c.B.Free(p.Value)
			if p.Grad != nil {
				c.B.Free(p.Grad)
			}
		}
	}()
	sd := map[string]*backend.Tensor{}
	for _, k := range c.Case.Params() {
		sd[k] = c.Param(k)
	}
	if err := s.LoadStateDict(sd, true); err != nil {
		c.Fail("neck %s: %v", cfg.Type, err)
	}
	t := autograd.NewTape(c.B, c.Backward())
	xv := autograd.NewLeaf(x, c.Backward())
	y := b.Forward(t, xv)
	c.Out("y", c.B.Clone(y.Value))
	if !c.Backward() {
		t.Release()
		return
	}
	loss := t.Sum(t.Mul(y, t.Const(c.GradOut("y"))), nil)
	if !loss.RequiresGrad { // spp_net has no weights, but x still wants its gradient
		t.Release()
		c.Fail("neck: nothing requires a gradient")
	}
	t.Backward(loss)
	if xv.Grad != nil {
		c.GradIn("x", xv.Grad)
	}
	for _, p := range s.Params() {
		if p.Grad != nil {
			c.GradParam(p.Name, c.B.Clone(p.Grad))
		}
	}
}
