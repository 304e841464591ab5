// Package golden runs golden cases (GOLDEN.md): single ops computed by
// PyTorch, stored as safetensors with their inputs, outputs and gradients,
// replayed on a backend.Backend and compared. It also runs the same ops on
// two backends with random inputs (Parity), which is how the CUDA backend is
// checked against the CPU one at training shapes.
package golden

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// Case is one golden case: an op, its attributes and tolerance, and its
// tensors under their full names (in.x, out.y, grad_out.y, grad_in.x, param.k,
// grad_param.k).
type Case struct {
	Name    string // the file name without .safetensors
	Path    string // where it came from, for errors
	Op      string
	Attrs   map[string]json.RawMessage
	Tol     float64
	Tensors map[string]safetensors.Tensor
}

// LoadFile reads a case from a safetensors file.
func LoadFile(path string) (*Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// Load parses a case held in data; path names it in errors.
func Load(path string, data []byte) (*Case, error) {
	f, err := safetensors.Parse(path, data)
	if err != nil {
		return nil, err
	}
	c := &Case{Name: strings.TrimSuffix(filepath.Base(path), ".safetensors"), Path: path, Tensors: f.Tensors}
	c.Op = f.Metadata["op"]
	if c.Op == "" {
		return nil, fmt.Errorf("%s: metadata has no \"op\"", path)
	}
	tol, ok := f.Metadata["tol"]
	if !ok {
		return nil, fmt.Errorf("%s: metadata has no \"tol\"", path)
	}
	if c.Tol, err = strconv.ParseFloat(tol, 64); err != nil || c.Tol < 0 {
		return nil, fmt.Errorf("%s: metadata tol %q is not a non-negative number", path, tol)
	}
	c.Attrs = map[string]json.RawMessage{}
	if a := f.Metadata["attrs"]; a != "" {
		if err := json.Unmarshal([]byte(a), &c.Attrs); err != nil {
			return nil, fmt.Errorf("%s: metadata attrs is not a JSON object: %v", path, err)
		}
	}
	for name, t := range f.Tensors {
		prefix, _, ok := strings.Cut(name, ".")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: tensor %q has no in./out./grad_out./grad_in./param./grad_param. prefix", path, name)
		case prefix == "in" || prefix == "param":
			// Inputs and weights may come in any dtype the backend's F32 or
			// I64 can hold exactly enough (weights exported as F16, say).
			switch t.DType {
			case safetensors.F32, safetensors.F64, safetensors.F16, safetensors.BF16, safetensors.I64, safetensors.I32:
			default:
				return nil, fmt.Errorf("%s: tensor %q has dtype %s (want F32 or I64)", path, name, t.DType)
			}
		case prefix == "out" || prefix == "grad_out" || prefix == "grad_in" || prefix == "grad_param":
			if t.DType != safetensors.F32 && t.DType != safetensors.I64 {
				return nil, fmt.Errorf("%s: tensor %q has dtype %s (want F32 or I64)", path, name, t.DType)
			}
		default:
			return nil, fmt.Errorf("%s: tensor %q has unknown prefix %q", path, name, prefix)
		}
	}
	if len(c.names("out.")) == 0 && len(c.names("grad_in.")) == 0 {
		return nil, fmt.Errorf("%s: no out.* or grad_in.* tensors: nothing to compare", path)
	}
	return c, nil
}

// names lists the tensors with the given prefix, without it, sorted.
func (c *Case) names(prefix string) []string {
	var out []string
	for name := range c.Tensors {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

// Params lists the param.* keys (torchvision state_dict keys), sorted.
func (c *Case) Params() []string { return c.names("param.") }

// HasBackward reports whether the case feeds gradients (grad_out.*), so the
// op's backward must run.
func (c *Case) HasBackward() bool { return len(c.names("grad_out.")) > 0 }
