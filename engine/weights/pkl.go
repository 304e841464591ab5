package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// ReadPkl reads a detectron2/MSRA pickle of numpy arrays: a dict of arrays,
// or one wrapped as {"blobs": ...} (Caffe2 exports) or {"model": ...}
// (detectron2's model zoo). Only float arrays are returned.
func ReadPkl(path string) (_ map[string]safetensors.Tensor, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: empty file, not a pickle of numpy arrays", path)
	}
	// Every length the pickle states is checked against the file before the
	// unpickler allocates it; a panic inside the library is the last resort.
	if _, err := scanPickle(b); err != nil {
		return nil, fmt.Errorf("%s: not a readable pickle of numpy arrays: %v", path, err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: corrupt pickle (the pickle reader failed: %v)", path, r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(b))
	u.FindClass = numpyClass
	obj, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable pickle of numpy arrays: %v", path, err)
	}
	entries, err := dictEntries(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for _, wrap := range []string{"blobs", "model"} {
		if inner, ok := entries[wrap]; ok {
			if e, err := dictEntries(inner); err == nil {
				entries = e
				break
			}
		}
	}
	out := map[string]safetensors.Tensor{}
	for k, v := range entries {
		a, ok := v.(*ndarray)
		if !ok || a.data == nil {
			continue
		}
		out[k] = safetensors.FromFloat32(a.data, a.shape...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no float arrays in the pickle", path)
	}
	return out, nil
}

// numpyClass resolves the globals a pickled ndarray refers to. Anything
// else becomes gopickle's generic object, which ReadPkl ignores.
func numpyClass(module, name string) (any, error) {
	switch module + "." + name {
	case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
		return reconstruct{}, nil
	case "numpy.dtype":
		return dtypeClass{}, nil
	case "_codecs.encode":
		return latin1Encode{}, nil
	}
	return types.NewGenericClass(module, name), nil
}

// latin1Encode is _codecs.encode(str, "latin1"): Python 3 pickles bytes
// this way at protocol 2, one code point per byte.
type latin1Encode struct{}

func (latin1Encode) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("_codecs.encode without arguments")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("_codecs.encode of %T", args[0])
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 255 {
			return nil, fmt.Errorf("_codecs.encode: code point %d is not latin1", r)
		}
		b = append(b, byte(r))
	}
	return b, nil
}

// dtype is a numpy dtype: the type string ("f4", "f8", ...) and byte order.
type dtype struct {
	kind      string
	bigEndian bool
}

type dtypeClass struct{}

func (dtypeClass) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("numpy.dtype without arguments")
	}
	k, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("numpy.dtype(%T)", args[0])
	}
	return &dtype{kind: k}, nil
}

// PySetState reads the byte order from (version, order, ...).
func (d *dtype) PySetState(state any) error {
	if t, ok := state.(*types.Tuple); ok && t.Len() > 1 {
		if o, ok := t.Get(1).(string); ok {
			d.bigEndian = o == ">"
		}
	}
	return nil
}

// ndarray is a numpy array converted to float32 (nil data for non-floats).
type ndarray struct {
	shape []int
	data  []float32
}

type reconstruct struct{}

func (reconstruct) Call(...any) (any, error) { return &ndarray{}, nil }

// PySetState is ndarray.__setstate__((version, shape, dtype, fortran, raw)).
func (a *ndarray) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || t.Len() < 5 {
		return fmt.Errorf("ndarray state %T, want a 5-tuple", state)
	}
	shapeT, ok := t.Get(1).(*types.Tuple)
	if !ok {
		return fmt.Errorf("ndarray shape %T", t.Get(1))
	}
	n := 1
	for i := 0; i < shapeT.Len(); i++ {
		d, ok := shapeT.Get(i).(int)
		if !ok {
			return fmt.Errorf("ndarray dimension %T", shapeT.Get(i))
		}
		// The raw bytes bound the element count: refuse a shape whose
		// product overflows or exceeds them before multiplying further.
		if d < 0 || (d > 0 && n > (1<<40)/d) {
			return fmt.Errorf("ndarray shape dimension %d out of range", d)
		}
		a.shape = append(a.shape, d)
		n *= d
	}
	dt, ok := t.Get(2).(*dtype)
	if !ok {
		return fmt.Errorf("ndarray dtype %T", t.Get(2))
	}
	fortran, _ := t.Get(3).(bool)
	var raw []byte
	switch r := t.Get(4).(type) {
	case []byte:
		raw = r
	case string:
		raw = []byte(r) // Python 2 str: the bytes themselves
	default:
		return nil // object arrays and the like: not weights
	}
	var order binary.ByteOrder = binary.LittleEndian
	if dt.bigEndian {
		order = binary.BigEndian
	}
	var size int
	switch dt.kind {
	case "f4":
		size = 4
	case "f8":
		size = 8
	default:
		return nil // integer arrays (e.g. iteration counters)
	}
	if n > len(raw) || len(raw) != n*size {
		return fmt.Errorf("ndarray %v of %s has %d bytes, want %d", a.shape, dt.kind, len(raw), n*size)
	}
	data := make([]float32, n)
	for i := range data {
		if size == 4 {
			data[i] = math.Float32frombits(order.Uint32(raw[4*i:]))
		} else {
			data[i] = float32(math.Float64frombits(order.Uint64(raw[8*i:])))
		}
	}
	if fortran && len(a.shape) > 1 {
		data = fromFortran(data, a.shape)
	}
	a.data = data
	return nil
}

// fromFortran reorders column-major data to row-major.
func fromFortran(src []float32, shape []int) []float32 {
	out := make([]float32, len(src))
	idx := make([]int, len(shape))
	for i := range out {
		// idx is the row-major multi-index of i; its column-major offset:
		off, stride := 0, 1
		for d := 0; d < len(shape); d++ {
			off += idx[d] * stride
			stride *= shape[d]
		}
		out[i] = src[off]
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}
