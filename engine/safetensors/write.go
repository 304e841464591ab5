package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Encode serialises tensors and metadata. Tensors are laid out in name order
// so the same input always gives the same bytes; the header is padded with
// spaces to a multiple of 8 bytes, as the reference writer does, so the data
// section starts 8-byte aligned.
func Encode(tensors map[string]Tensor, metadata map[string]string) ([]byte, error) {
	names := make([]string, 0, len(tensors))
	for k := range tensors {
		if k == "__metadata__" {
			return nil, fmt.Errorf("safetensors: %q cannot be a tensor name", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)

	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata) // encoding/json sorts map keys
		if err != nil {
			return nil, err
		}
		h.WriteString(`"__metadata__":`)
		h.Write(m)
	}
	offset := 0
	for i, k := range names {
		t := tensors[k]
		size := t.DType.Size()
		if size == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", k, t.DType)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", k, t.Shape)
			}
		}
		if len(t.Data) != t.Numel()*size {
			return nil, fmt.Errorf("safetensors: tensor %q: %s%v needs %d bytes, has %d", k, t.DType, t.Shape, t.Numel()*size, len(t.Data))
		}
		if i > 0 || len(metadata) > 0 {
			h.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar: "shape":[] not null
		}
		entry, _ := json.Marshal(struct {
			DType   DType  `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}{t.DType, shape, [2]int{offset, offset + len(t.Data)}})
		h.Write(key)
		h.WriteByte(':')
		h.Write(entry)
		offset += len(t.Data)
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}

	out := make([]byte, 8, 8+h.Len()+offset)
	binary.LittleEndian.PutUint64(out, uint64(h.Len()))
	out = append(out, h.Bytes()...)
	for _, k := range names {
		out = append(out, tensors[k].Data...)
	}
	return out, nil
}

// Write stores tensors and metadata at path atomically: it writes a temporary
// file in the same directory, fsyncs it, renames it over path and fsyncs the
// directory, so a crash leaves either the old file or the new one, never a
// torn checkpoint.
func Write(path string, tensors map[string]Tensor, metadata map[string]string) error {
	data, err := Encode(tensors, metadata)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeAtomic(path, data)
}

func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is only durable once the directory entry is on disk.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
