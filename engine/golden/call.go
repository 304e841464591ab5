package golden

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// OpFunc runs one op of a case on c.B: it reads inputs and attributes through
// c, runs the forward (and, when c.Case.HasBackward(), the backward), and
// hands results back with c.Out and c.GradIn.
//
// A problem with the case itself (a missing input, a malformed attribute)
// is reported by the Call methods, which stop the OpFunc by panicking with a
// *CaseError; Run and Parity recover it and report the case as failed, so an
// OpFunc can read its inputs without checking errors line by line.
type OpFunc func(c *Call)

var (
	opsMu sync.RWMutex
	ops   = map[string]OpFunc{}
)

// Register adds the op name to the set golden cases can use; other packages
// call it from init (the model package registers "resnet"). Registering a
// name twice panics.
func Register(op string, fn OpFunc) {
	opsMu.Lock()
	defer opsMu.Unlock()
	if _, dup := ops[op]; dup {
		panic(fmt.Sprintf("golden: op %q registered twice", op))
	}
	ops[op] = fn
}

// Ops lists the registered op names, sorted.
func Ops() []string {
	opsMu.RLock()
	defer opsMu.RUnlock()
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookup(op string) (OpFunc, bool) {
	opsMu.RLock()
	defer opsMu.RUnlock()
	fn, ok := ops[op]
	return fn, ok
}

// CaseError is a problem with a case file (not with the backend).
type CaseError struct{ Msg string }

func (e *CaseError) Error() string { return e.Msg }

// Call is one execution of a case on a backend.
type Call struct {
	B    backend.Backend
	Case *Case

	outs, grads, pgrads map[string]*backend.Tensor
	owned               []*backend.Tensor
}

func newCall(b backend.Backend, c *Case) *Call {
	return &Call{B: b, Case: c, outs: map[string]*backend.Tensor{}, grads: map[string]*backend.Tensor{},
		pgrads: map[string]*backend.Tensor{}}
}

// Fail stops the op with a case error naming the case file.
func (c *Call) Fail(format string, args ...any) {
	panic(&CaseError{Msg: c.Case.Path + ": " + fmt.Sprintf(format, args...)})
}

func (c *Call) upload(full string, t safetensors.Tensor) *backend.Tensor {
	var out *backend.Tensor
	if f, err := t.Float32(); err == nil {
		out = c.B.FromFloat32(f, t.Shape...)
	} else if i, err := t.Int64(); err == nil {
		out = c.B.FromInt64(i, t.Shape...)
	} else {
		c.Fail("tensor %q has dtype %s (want F32 or I64)", full, t.DType)
	}
	c.owned = append(c.owned, out)
	return out
}

func (c *Call) tensor(full string, dt safetensors.DType) *backend.Tensor {
	t, ok := c.Case.Tensors[full]
	if !ok {
		c.Fail("op %s needs tensor %q", c.Case.Op, full)
	}
	if dt == safetensors.I64 && t.DType != safetensors.I64 && t.DType != safetensors.I32 {
		c.Fail("tensor %q has dtype %s, op %s needs integers", full, t.DType, c.Case.Op)
	}
	if dt == safetensors.F32 && (t.DType == safetensors.I64 || t.DType == safetensors.I32) {
		c.Fail("tensor %q has dtype %s, op %s needs floats", full, t.DType, c.Case.Op)
	}
	return c.upload(full, t)
}

// In returns the float input in.NAME on the backend.
func (c *Call) In(name string) *backend.Tensor { return c.tensor("in."+name, safetensors.F32) }

// InInt returns the integer input in.NAME on the backend.
func (c *Call) InInt(name string) *backend.Tensor { return c.tensor("in."+name, safetensors.I64) }

// OptIn returns the float input in.NAME, or nil when the case has none
// (a convolution without bias).
func (c *Call) OptIn(name string) *backend.Tensor {
	if _, ok := c.Case.Tensors["in."+name]; !ok {
		return nil
	}
	return c.In(name)
}

// Param returns the weight param.KEY on the backend.
func (c *Call) Param(key string) *backend.Tensor { return c.tensor("param."+key, safetensors.F32) }

// HostIn returns in.NAME as host float32s with its shape, for parameters an
// op prepares on the host (frozen BN's scale and shift).
func (c *Call) HostIn(name string) ([]float32, []int) {
	t, ok := c.Case.Tensors["in."+name]
	if !ok {
		c.Fail("op %s needs tensor %q", c.Case.Op, "in."+name)
	}
	f, err := t.Float32()
	if err != nil {
		c.Fail("tensor %q: %v", "in."+name, err)
	}
	return f, t.Shape
}

// GradOut returns the upstream gradient grad_out.NAME on the backend.
func (c *Call) GradOut(name string) *backend.Tensor {
	return c.tensor("grad_out."+name, safetensors.F32)
}

// Backward reports whether the case wants the backward pass.
func (c *Call) Backward() bool { return c.Case.HasBackward() }

// Out records the op's output NAME (compared with out.NAME).
func (c *Call) Out(name string, t *backend.Tensor) { c.outs[name] = t }

// GradIn records the gradient for input NAME (compared with grad_in.NAME).
func (c *Call) GradIn(name string, t *backend.Tensor) { c.grads[name] = t }

// GradParam records the gradient for weight KEY (compared with grad_param.KEY).
func (c *Call) GradParam(key string, t *backend.Tensor) { c.pgrads[key] = t }

// Attr decodes attribute key into dst.
func (c *Call) Attr(key string, dst any) {
	raw, ok := c.Case.Attrs[key]
	if !ok {
		c.Fail("op %s needs attribute %q", c.Case.Op, key)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		c.Fail("attribute %q: %v", key, err)
	}
}

// Pair returns a two-integer attribute such as stride or padding.
func (c *Call) Pair(key string) (int, int) {
	var v []int
	c.Attr(key, &v)
	if len(v) != 2 {
		c.Fail("attribute %q is %v, want two integers", key, v)
	}
	return v[0], v[1]
}

// Float returns a numeric attribute.
func (c *Call) Float(key string) float64 {
	var v float64
	c.Attr(key, &v)
	return v
}

// String returns a string attribute.
func (c *Call) String(key string) string {
	var v string
	c.Attr(key, &v)
	return v
}

// Reduction returns a loss's "reduction" attribute.
func (c *Call) Reduction() backend.Reduction {
	switch r := c.String("reduction"); r {
	case "mean":
		return backend.ReduceMean
	case "sum":
		return backend.ReduceSum
	case "none":
		return backend.ReduceNone
	default:
		c.Fail("attribute reduction %q is not mean, sum or none", r)
	}
	return 0
}

// release frees every tensor the call created or received.
func (c *Call) release() {
	seen := map[*backend.Tensor]bool{}
	free := func(t *backend.Tensor) {
		if t != nil && !seen[t] {
			seen[t] = true
			c.B.Free(t)
		}
	}
	for _, t := range c.owned {
		free(t)
	}
	for _, t := range c.outs {
		free(t)
	}
	for _, t := range c.grads {
		free(t)
	}
	for _, t := range c.pgrads {
		free(t)
	}
}
