package weights

import (
	"fmt"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// ReadPth reads a PyTorch checkpoint (torch.save of a state dict, zip or
// legacy format) and returns its float tensors by key. A checkpoint that
// wraps the state dict ({"state_dict": ...} or {"model": ...}) is unwrapped.
// Every size the file states is checked against the bytes it holds before
// anything is allocated (see loadPth).
func ReadPth(path string) (map[string]safetensors.Tensor, error) {
	obj, err := loadPth(path)
	if err != nil {
		return nil, err
	}
	entries, err := dictEntries(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for _, wrap := range []string{"state_dict", "model"} {
		if inner, ok := entries[wrap]; ok {
			if e, err := dictEntries(inner); err == nil {
				entries = e
			}
		}
	}
	out := map[string]safetensors.Tensor{}
	for k, v := range entries {
		t, ok := v.(*pytorch.Tensor)
		if !ok {
			continue // metadata such as _metadata or epoch counters
		}
		data, err := tensorData(t)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %v", path, k, err)
		}
		if data == nil {
			continue // integer tensors (num_batches_tracked)
		}
		out[k] = safetensors.FromFloat32(data, append([]int(nil), t.Size...)...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no float tensors in the checkpoint", path)
	}
	return out, nil
}

// dictEntries turns an unpickled dict or OrderedDict with string keys into a map.
func dictEntries(obj any) (map[string]any, error) {
	out := map[string]any{}
	switch d := obj.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			if k, ok := entry.Key.(string); ok {
				out[k] = entry.Value
			}
		}
	case *types.Dict:
		for _, e := range *d {
			if k, ok := e.Key.(string); ok {
				out[k] = e.Value
			}
		}
	default:
		return nil, fmt.Errorf("top-level object is %T, want a dict of tensors", obj)
	}
	return out, nil
}

// tensorData copies a tensor's elements in row-major order, following its
// storage offset and strides; nil for non-float storage.
func tensorData(t *pytorch.Tensor) ([]float32, error) {
	var src []float32
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		src = s.Data
	case *pytorch.HalfStorage:
		src = s.Data
	case *pytorch.BFloat16Storage:
		src = s.Data
	case *pytorch.DoubleStorage:
		src = make([]float32, len(s.Data))
		for i, v := range s.Data {
			src[i] = float32(v)
		}
	default:
		return nil, nil
	}
	if len(t.Stride) != len(t.Size) {
		return nil, fmt.Errorf("%d strides for %d dimensions", len(t.Stride), len(t.Size))
	}
	// A tensor of a state dict reads each storage element at most once (a
	// view is never larger than its storage); checking the element count
	// against the storage first bounds the allocation by the file's size.
	for _, d := range t.Size {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension in shape %v", t.Size)
		}
		if d == 0 {
			return []float32{}, nil
		}
	}
	n := 1
	for _, d := range t.Size {
		if n > len(src)/d {
			return nil, fmt.Errorf("shape %v has more elements than its storage of %d", t.Size, len(src))
		}
		n *= d
	}
	out := make([]float32, n)
	idx := make([]int, len(t.Size))
	for i := 0; i < n; i++ {
		off := t.StorageOffset
		for d, v := range idx {
			off += v * t.Stride[d]
		}
		if off < 0 || off >= len(src) {
			return nil, fmt.Errorf("element %d at storage offset %d outside a storage of %d", i, off, len(src))
		}
		out[i] = src[off]
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < t.Size[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}
