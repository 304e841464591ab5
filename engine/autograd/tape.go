// Package autograd records differentiable ops over a backend.Backend on a
// tape and runs their backward functions in reverse to accumulate gradients.
//
// Design decisions:
//   - Leaves (parameters, constant inputs) are owned by the caller and never
//     freed by the tape; every other Var is an intermediate the tape owns.
//   - Backward walks the tape once, in reverse. After a node's backward has
//     run, nothing earlier on the tape can need its output, so the output's
//     value and gradient are freed there (views that share storage with their
//     input are not freed, their input's node frees the storage).
//   - Gradients accumulate with AxpyInPlace, so a Var used twice gets the sum.
//   - A tape built with grad disabled records nothing but the outputs, so
//     Release can free an inference pass's intermediates.
package autograd

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Var is a tensor on a tape: its value, its gradient (nil until one arrives)
// and whether gradients should flow into it.
type Var struct {
	Value        *backend.Tensor
	Grad         *backend.Tensor
	RequiresGrad bool

	leaf bool // owned by the caller: never freed by the tape
	view bool // shares storage with an input: freeing it would free the input
}

// NewLeaf wraps a caller-owned tensor (a parameter or an input) as a Var.
func NewLeaf(value *backend.Tensor, requiresGrad bool) *Var {
	return &Var{Value: value, RequiresGrad: requiresGrad, leaf: true}
}

// Shape is the shape of the value.
func (v *Var) Shape() []int { return v.Value.Shape }

// node is one recorded op: its output and the closure that turns the output's
// gradient into gradients of its inputs.
type node struct {
	out      *Var
	backward func(dy *backend.Tensor)
}

// Tape records ops in execution order.
type Tape struct {
	be    backend.Backend
	grad  bool
	nodes []node
	aux   []*backend.Tensor // tensors the ops saved for backward, freed with the tape
}

// NewTape returns an empty tape; with grad false no backward is recorded
// (inference) and every Var it creates has RequiresGrad false.
func NewTape(be backend.Backend, grad bool) *Tape { return &Tape{be: be, grad: grad} }

// Backend is the backend every op on this tape runs on.
func (t *Tape) Backend() backend.Backend { return t.be }

// GradEnabled reports whether the tape records backward functions.
func (t *Tape) GradEnabled() bool { return t.grad }

// Const wraps a caller-owned tensor that needs no gradient.
func (t *Tape) Const(x *backend.Tensor) *Var { return NewLeaf(x, false) }

// Keep hands a tensor the caller created (targets, masks, saved caches) to
// the tape, which frees it in Backward or Release.
func (t *Tape) Keep(x *backend.Tensor) *backend.Tensor {
	if x != nil {
		t.aux = append(t.aux, x)
	}
	return x
}

// record makes value the output of an op with the given inputs. back is
// called with the output's gradient during Backward; it is dropped when the
// tape has grad disabled or no input requires a gradient.
func (t *Tape) record(value *backend.Tensor, back func(dy *backend.Tensor), inputs ...*Var) *Var {
	req := false
	if t.grad {
		for _, in := range inputs {
			if in != nil && in.RequiresGrad {
				req = true
				break
			}
		}
	}
	out := &Var{Value: value, RequiresGrad: req}
	if !req {
		back = nil
	}
	t.nodes = append(t.nodes, node{out: out, backward: back})
	return out
}

// accum adds g into v.Grad. owned says the caller gives g away; otherwise g
// may alias another tensor and is copied when it becomes v's gradient.
func (t *Tape) accum(v *Var, g *backend.Tensor, owned bool) {
	if v == nil || !v.RequiresGrad {
		if owned {
			t.be.Free(g)
		}
		return
	}
	if !backend.SameShape(v.Value.Shape, g.Shape) {
		panic(fmt.Sprintf("autograd: gradient of shape %s for a value of shape %s",
			backend.ShapeString(g.Shape), backend.ShapeString(v.Value.Shape)))
	}
	if v.Grad == nil {
		if !owned {
			g = t.be.Clone(g)
		}
		v.Grad = g
		return
	}
	t.be.AxpyInPlace(v.Grad, 1, g)
	if owned {
		t.be.Free(g)
	}
}

// Backward seeds loss (a scalar) with gradient 1 and runs the tape in
// reverse. Leaves that require grad receive their gradients in Grad
// (accumulating into an existing Grad). The tape is empty afterwards.
func (t *Tape) Backward(loss *Var) {
	if !t.grad {
		panic("autograd: Backward on a tape with grad disabled")
	}
	if loss.Value.Numel() != 1 {
		panic(fmt.Sprintf("autograd: Backward of a non-scalar loss %s", backend.ShapeString(loss.Value.Shape)))
	}
	if loss.RequiresGrad {
		one := t.be.Zeros(backend.F32, loss.Value.Shape...)
		t.be.Fill(one, 1)
		t.accum(loss, one, true)
	}
	for i := len(t.nodes) - 1; i >= 0; i-- {
		n := t.nodes[i]
		if n.backward != nil && n.out.Grad != nil {
			n.backward(n.out.Grad)
		}
		t.free(n.out)
		t.nodes[i] = node{}
	}
	t.nodes = t.nodes[:0]
	t.releaseAux()
}

// Release frees every intermediate the tape owns without running backward
// (the end of an inference pass, or a training pass abandoned mid-way).
// Values the caller still needs must be cloned before.
func (t *Tape) Release() {
	for i := len(t.nodes) - 1; i >= 0; i-- {
		t.free(t.nodes[i].out)
		t.nodes[i] = node{}
	}
	t.nodes = t.nodes[:0]
	t.releaseAux()
}

func (t *Tape) free(v *Var) {
	if v.leaf {
		return
	}
	if v.Grad != nil {
		t.be.Free(v.Grad)
		v.Grad = nil
	}
	if !v.view && v.Value != nil && v.Value.Storage != nil {
		t.be.Free(v.Value)
	}
}

func (t *Tape) releaseAux() {
	for _, x := range t.aux {
		t.be.Free(x)
	}
	t.aux = t.aux[:0]
}
