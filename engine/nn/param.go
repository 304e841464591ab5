// Package nn holds named parameters and the layers built from them: Conv2d,
// Linear, FrozenBatchNorm and the per-channel Affine of DeFRCN's decoupled
// layers. Parameter names are dotted paths in detectron2's style
// ("backbone.res4.0.conv1.weight") so checkpoints, freezing patterns and
// surgery all speak the same keys.
package nn

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Param is a named tensor of a model: Value and Grad (via the embedded Var),
// and Frozen (no gradient, the optimiser skips it). Buffers (frozen batch
// norm statistics) are Params that are always frozen.
type Param struct {
	Name string
	*autograd.Var
	Frozen bool
	Buffer bool
}

// SetFrozen freezes or unfreezes p; buffers stay frozen.
func (p *Param) SetFrozen(f bool) {
	if p.Buffer {
		f = true
	}
	p.Frozen = f
	p.RequiresGrad = !f
}

// Store owns the parameters of a model in creation order.
type Store struct {
	be     backend.Backend
	seed   uint64
	params []*Param
	byName map[string]*Param
	// TrainableNorm makes the weight and bias of the frozen batch norms
	// created afterwards trainable (see NewFrozenBatchNorm).
	TrainableNorm bool
	// BatchNorm makes them real batch norms: batch statistics in training,
	// running statistics at inference (and when frozen).
	BatchNorm bool
	// version changes whenever values are replaced wholesale (LoadStateDict),
	// so layers that cache derived tensors (frozen BN) recompute them.
	version int
}

// NewStore returns an empty store; seed drives every initialiser.
func NewStore(be backend.Backend, seed uint64) *Store {
	return &Store{be: be, seed: seed, byName: map[string]*Param{}}
}

// Backend is the backend the parameters live on.
func (s *Store) Backend() backend.Backend { return s.be }

// Version increases each time LoadStateDict replaces values.
func (s *Store) Version() int { return s.version }

// New creates a parameter, initialised by init (nil = zeros).
func (s *Store) New(name string, init Init, shape ...int) *Param {
	if _, dup := s.byName[name]; dup {
		panic(fmt.Sprintf("nn: parameter %q created twice", name))
	}
	var v *backend.Tensor
	if init == nil {
		v = s.be.Zeros(backend.F32, shape...)
	} else {
		v = s.be.FromFloat32(init(s.rng(name), shape), shape...)
	}
	p := &Param{Name: name, Var: autograd.NewLeaf(v, true)}
	s.params = append(s.params, p)
	s.byName[name] = p
	return p
}

// NewBuffer creates a frozen, non-trainable tensor filled with fill.
func (s *Store) NewBuffer(name string, fill float32, shape ...int) *Param {
	p := s.New(name, Constant(fill), shape...)
	p.Buffer = true
	p.SetFrozen(true)
	return p
}

// Params returns every parameter and buffer in creation order.
func (s *Store) Params() []*Param { return s.params }

// Get returns the named parameter or nil.
func (s *Store) Get(name string) *Param { return s.byName[name] }

// Freeze freezes every parameter whose name matches one of the glob patterns
// (path.Match syntax, '*' matches any run of characters, dots included) and
// returns how many it froze. A malformed pattern is an error.
func (s *Store) Freeze(patterns ...string) (int, error) {
	n := 0
	for _, pat := range patterns {
		if _, err := path.Match(pat, ""); err != nil {
			return n, fmt.Errorf("freeze pattern %q: %v", pat, err)
		}
		for _, p := range s.params {
			if ok, _ := path.Match(pat, p.Name); ok && !p.Frozen {
				p.SetFrozen(true)
				n++
			}
		}
	}
	return n, nil
}

// ZeroGrad drops every gradient (the next backward allocates fresh ones).
func (s *Store) ZeroGrad() {
	for _, p := range s.params {
		if p.Grad != nil {
			s.be.Free(p.Grad)
			p.Grad = nil
		}
	}
}

// StateDict maps every name to its tensor (aliased, not copied).
func (s *Store) StateDict() map[string]*backend.Tensor {
	m := make(map[string]*backend.Tensor, len(s.params))
	for _, p := range s.params {
		m[p.Name] = p.Value
	}
	return m
}

// LoadStateDict copies values from sd (tensors from any backend). With
// strict, keys missing from sd or unknown to the model are errors; a shape
// mismatch is always an error. Nothing is changed when an error is returned.
func (s *Store) LoadStateDict(sd map[string]*backend.Tensor, strict bool) error {
	var missing, unexpected, shapes []string
	for _, p := range s.params {
		t, ok := sd[p.Name]
		if !ok {
			missing = append(missing, p.Name)
			continue
		}
		if !backend.SameShape(t.Shape, p.Value.Shape) {
			shapes = append(shapes, fmt.Sprintf("%s: checkpoint %s, model %s", p.Name,
				backend.ShapeString(t.Shape), backend.ShapeString(p.Value.Shape)))
		}
		if t.DType != backend.F32 {
			shapes = append(shapes, fmt.Sprintf("%s: dtype %s, want F32", p.Name, t.DType))
		}
	}
	for k := range sd {
		if s.byName[k] == nil {
			unexpected = append(unexpected, k)
		}
	}
	sort.Strings(unexpected)
	var problems []string
	if len(shapes) > 0 {
		problems = append(problems, "mis-shaped: "+strings.Join(shapes, "; "))
	}
	if strict && len(missing) > 0 {
		problems = append(problems, "missing: "+strings.Join(missing, ", "))
	}
	if strict && len(unexpected) > 0 {
		problems = append(problems, "unexpected: "+strings.Join(unexpected, ", "))
	}
	if len(problems) > 0 {
		return fmt.Errorf("load state dict: %s", strings.Join(problems, "; "))
	}
	for _, p := range s.params {
		t, ok := sd[p.Name]
		if !ok {
			continue
		}
		v := s.be.FromFloat32(t.Backend.ToFloat32(t), t.Shape...)
		s.be.Free(p.Value)
		p.Value = v
	}
	s.version++
	return nil
}
