package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func sample() (map[string]Tensor, map[string]string) {
	return map[string]Tensor{
			"in.x":      FromFloat32([]float32{1, -2.5, 3e-8, float32(math.Inf(1))}, 2, 2),
			"out.keep":  FromInt64([]int64{3, -1, math.MaxInt64}, 3),
			"loss":      FromFloat32([]float32{0.125}),
			"empty":     FromFloat32(nil, 0, 4),
			"z.unicodé": FromInt64([]int64{42}, 1, 1),
		}, map[string]string{
			"op":    "conv2d",
			"attrs": `{"stride":[1,1]}`,
		}
}

func TestRoundTrip(t *testing.T) {
	tensors, meta := sample()
	path := filepath.Join(t.TempDir(), "case.safetensors")
	if err := Write(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata %v, want %v", f.Metadata, meta)
	}
	if len(f.Tensors) != len(tensors) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(tensors))
	}
	for name, want := range tensors {
		got := f.Tensors[name]
		if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("%s: got %s%v %x, want %s%v %x", name, got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Data)
		}
	}
	x, err := f.Tensors["in.x"].Float32()
	if err != nil || x[1] != -2.5 || !math.IsInf(float64(x[3]), 1) {
		t.Errorf("in.x decodes to %v, %v", x, err)
	}
	k, err := f.Tensors["out.keep"].Int64()
	if err != nil || k[2] != math.MaxInt64 || k[1] != -1 {
		t.Errorf("out.keep decodes to %v, %v", k, err)
	}
	if got := f.Tensors["loss"]; len(got.Shape) != 0 || got.Numel() != 1 {
		t.Errorf("scalar came back as shape %v", got.Shape)
	}
	// Names are in data order, which the writer makes name order.
	want := []string{"empty", "in.x", "loss", "out.keep", "z.unicodé"}
	if !slices.Equal(f.Names, want) {
		t.Errorf("names %v, want %v", f.Names, want)
	}
}

func TestEncodeLayout(t *testing.T) {
	tensors, meta := sample()
	a, err := Encode(tensors, meta)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Encode(tensors, meta)
	if !bytes.Equal(a, b) {
		t.Error("Encode is not deterministic")
	}
	n := binary.LittleEndian.Uint64(a)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	header := a[8 : 8+n]
	if trimmed := strings.TrimRight(string(header), " "); !strings.HasSuffix(trimmed, "}") || len(header)-len(trimmed) >= 8 {
		t.Errorf("header must be JSON padded with fewer than 8 spaces: %q", header)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatalf("header is not JSON: %v", err)
	}
	if !strings.Contains(string(header), `"shape":[]`) {
		t.Errorf("scalar shape not written as []: %s", header)
	}
	// The data section is exactly the concatenated tensors.
	total := 0
	for _, t := range tensors {
		total += len(t.Data)
	}
	if len(a)-8-int(n) != total {
		t.Errorf("data section %d bytes, want %d", len(a)-8-int(n), total)
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := map[string]map[string]Tensor{
		"metadata name": {"__metadata__": FromFloat32([]float32{1}, 1)},
		"byte count":    {"x": {DType: F32, Shape: []int{2}, Data: make([]byte, 4)}},
		"dtype":         {"x": {DType: "F33", Shape: []int{1}, Data: make([]byte, 4)}},
	}
	for name, ts := range cases {
		if _, err := Encode(ts, nil); err == nil {
			t.Errorf("%s: Encode accepted a bad tensor", name)
		}
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	for i := range 3 {
		err := Write(path, map[string]Tensor{"step": FromInt64([]int64{int64(i)}, 1)}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only the checkpoint (temp files left behind)", names)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Tensors["step"].Int64(); v[0] != 2 {
		t.Errorf("step %v, want the last write (2)", v)
	}
	if err := Write(filepath.Join(dir, "no/such/dir/x.safetensors"), nil, nil); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

// build assembles a file from a raw header string and data bytes.
func build(header string, data []byte) []byte {
	out := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestParseErrors(t *testing.T) {
	long := make([]byte, 8)
	binary.LittleEndian.PutUint64(long, 1000)
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, math.MaxUint64)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", []byte{1, 2, 3}, "truncated"},
		{"header longer than file", append(long, "{}"...), "larger than the file"},
		{"huge header length", append(huge, "{}"...), "larger than the file"},
		{"not an object", build(`[1,2]`, nil), "bad JSON"},
		{"bad JSON", build(`{"x":`, nil), "bad JSON"},
		{"metadata not strings", build(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"missing field", build(`{"x":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "data_offsets"},
		{"unknown dtype", build(`{"x":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "unknown dtype"},
		{"negative dim", build(`{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative"},
		{"offsets out of range", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "out of range"},
		{"offsets reversed", build(`{"x":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "out of range"},
		{"three offsets", build(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)), "[begin, end]"},
		{"byte count", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs 8 bytes"},
		{"dtype mismatch", build(`{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs 8 bytes"},
		{"overlap", build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "overlap"},
		{"shape overflow", build(`{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "too large"},
	}
	for _, c := range cases {
		_, err := Parse("bad.safetensors", c.data)
		if err == nil {
			t.Errorf("%s: Parse accepted it", c.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "bad.safetensors: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want the file name and %q", c.name, err, c.want)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.safetensors")); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("Read of a missing file: %v", err)
	}
}

func TestConversions(t *testing.T) {
	half := []uint16{0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00}
	want := []float32{0, float32(math.Copysign(0, -1)), 1, -2, 65504, 5.960464477539063e-08, 6.097555160522461e-05,
		float32(math.Inf(1)), float32(math.Inf(-1))}
	raw := make([]byte, 2*len(half))
	for i, h := range half {
		binary.LittleEndian.PutUint16(raw[2*i:], h)
	}
	got, err := Tensor{DType: F16, Shape: []int{len(half)}, Data: raw}.Float32()
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("F16 %#04x → %g, want %g", half[i], got[i], want[i])
		}
	}
	nan, _ := Tensor{DType: F16, Shape: []int{1}, Data: []byte{0x01, 0x7e}}.Float32()
	if !math.IsNaN(float64(nan[0])) {
		t.Errorf("F16 NaN → %g", nan[0])
	}
	if _, err := FromInt64([]int64{1}, 1).Float32(); err == nil {
		t.Error("I64 converted to float32 without an error")
	}
	if _, err := FromFloat32([]float32{1}, 1).Int64(); err == nil {
		t.Error("F32 converted to int64 without an error")
	}
}

// TestReadsTorchFile checks the reader against a file written from torch
// tensors by a script that follows the spec by hand, and against torch's own
// conversion of F64/F16/BF16/I32 values.
func TestReadsTorchFile(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("skipping: %s cannot import torch (%v); install python3-torch to run this test", python, err)
	}
	dir := t.TempDir()
	file, values := filepath.Join(dir, "torch.safetensors"), filepath.Join(dir, "torch.json")
	if out, err := exec.Command(python, "testdata/torch_reference.py", file, values).CombinedOutput(); err != nil {
		t.Fatalf("torch_reference.py: %v\n%s", err, out)
	}
	f, err := Read(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Metadata["writer"], "torch ") {
		t.Errorf("metadata %v", f.Metadata)
	}
	js, err := os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		Float []string
		Int   []int64
		Shape []int
	}
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(f.Tensors) {
		t.Errorf("read %d tensors, torch wrote %d", len(f.Tensors), len(want))
	}
	for name, w := range want {
		tensor, ok := f.Tensors[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if !slices.Equal(tensor.Shape, w.Shape) {
			t.Errorf("%s: shape %v, want %v", name, tensor.Shape, w.Shape)
		}
		if w.Float != nil {
			got, err := tensor.Float32()
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			for i, s := range w.Float {
				v, _ := strconv.ParseFloat(s, 32)
				if math.Float32bits(got[i]) != math.Float32bits(float32(v)) {
					t.Errorf("%s[%d] (%s): %g, torch says %s", name, i, tensor.DType, got[i], s)
				}
			}
		} else {
			got, err := tensor.Int64()
			if err != nil || !slices.Equal(got, w.Int) {
				t.Errorf("%s (%s): %v %v, torch says %v", name, tensor.DType, got, err, w.Int)
			}
		}
	}
}
