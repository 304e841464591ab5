package safetensors

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the reader: it must return an error or
// a file whose tensors are consistent, never panic; and whatever it accepts
// must survive a write/read round trip. Run with
// `go test -fuzz FuzzParse ./engine/safetensors`; the seeds run in `go test`.
func FuzzParse(f *testing.F) {
	tensors, meta := sample()
	good, err := Encode(tensors, meta)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:12])
	f.Add([]byte{})
	f.Add(build(`{}`, nil))
	f.Add(build(`{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"y":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)))
	f.Add(build(`{"x":{"dtype":"F16","shape":[0,3],"data_offsets":[0,0]},"y":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		for _, name := range file.Names {
			tensor := file.Tensors[name]
			if len(tensor.Data) != tensor.Numel()*tensor.DType.Size() {
				t.Fatalf("%s: %d bytes for %s%v", name, len(tensor.Data), tensor.DType, tensor.Shape)
			}
			switch tensor.DType {
			case F32, F64, F16, BF16:
				if _, err := tensor.Float32(); err != nil {
					t.Fatal(err)
				}
			case I64, I32:
				if _, err := tensor.Int64(); err != nil {
					t.Fatal(err)
				}
			}
		}
		again, err := Encode(file.Tensors, file.Metadata)
		if err != nil {
			t.Fatalf("accepted file does not re-encode: %v", err)
		}
		back, err := Parse("again", again)
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		for name, tensor := range file.Tensors {
			if !bytes.Equal(back.Tensors[name].Data, tensor.Data) {
				t.Fatalf("%s changed in the round trip", name)
			}
		}
	})
}
