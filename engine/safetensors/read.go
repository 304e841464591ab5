package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
)

// maxHeader bounds the JSON header as the reference implementation does
// (100 MB), so a corrupt length cannot make us allocate the machine away.
const maxHeader = 100 << 20

// File is a parsed safetensors file.
type File struct {
	// Names lists the tensors in data order (by their start offset).
	Names    []string
	Tensors  map[string]Tensor
	Metadata map[string]string // nil when the header has no "__metadata__"
}

// Read loads and validates a safetensors file. Errors name the file.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

type headerEntry struct {
	DType   *string `json:"dtype"`
	Shape   *[]int  `json:"shape"`
	Offsets *[]int  `json:"data_offsets"`
}

// Parse validates and decodes a safetensors file held in data; name is used
// in errors (usually the path). The returned tensors alias data.
func Parse(name string, data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%s: truncated: %d bytes, a safetensors file starts with an 8-byte header length", name, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("%s: header length %d is larger than the file (%d bytes after the length)", name, n, len(data)-8)
	}
	if n > maxHeader {
		return nil, fmt.Errorf("%s: header length %d exceeds the %d-byte limit", name, n, maxHeader)
	}
	header := data[8 : 8+n]
	body := data[8+n:]
	if len(bytes.TrimSpace(header)) == 0 || bytes.TrimSpace(header)[0] != '{' {
		return nil, fmt.Errorf("%s: bad JSON header: does not start with '{'", name)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("%s: bad JSON header: %v", name, err)
	}
	f := &File{Tensors: make(map[string]Tensor, len(raw))}
	type span struct {
		name       string
		begin, end int
	}
	var spans []span
	for key, msg := range raw {
		if key == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("%s: __metadata__ must map strings to strings: %v", name, err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: bad header entry: %v", name, key, err)
		}
		if e.DType == nil || e.Shape == nil || e.Offsets == nil {
			return nil, fmt.Errorf("%s: tensor %q: header entry needs dtype, shape and data_offsets", name, key)
		}
		dt := DType(*e.DType)
		size := dt.Size()
		if size == 0 {
			return nil, fmt.Errorf("%s: tensor %q: unknown dtype %q", name, key, *e.DType)
		}
		numel := 1
		for _, d := range *e.Shape {
			if d < 0 {
				return nil, fmt.Errorf("%s: tensor %q: negative dimension in shape %v", name, key, *e.Shape)
			}
			if d != 0 && numel > math.MaxInt/size/d {
				return nil, fmt.Errorf("%s: tensor %q: shape %v is too large", name, key, *e.Shape)
			}
			numel *= d
		}
		off := *e.Offsets
		if len(off) != 2 {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets must be [begin, end], got %v", name, key, off)
		}
		begin, end := off[0], off[1]
		if begin < 0 || begin > end || end > len(body) {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets [%d,%d] out of range (the data section is %d bytes)", name, key, begin, end, len(body))
		}
		if end-begin != numel*size {
			return nil, fmt.Errorf("%s: tensor %q: %s%v needs %d bytes but data_offsets [%d,%d] hold %d",
				name, key, dt, *e.Shape, numel*size, begin, end, end-begin)
		}
		f.Tensors[key] = Tensor{DType: dt, Shape: *e.Shape, Data: body[begin:end:end]}
		spans = append(spans, span{key, begin, end})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].name < spans[j].name
	})
	prevEnd, prevName := 0, ""
	for _, s := range spans {
		// Empty tensors occupy no bytes and cannot overlap anything.
		if s.begin < prevEnd && s.end > s.begin {
			return nil, fmt.Errorf("%s: tensors %q and %q overlap (data_offsets start %d before %d)", name, prevName, s.name, s.begin, prevEnd)
		}
		if s.end > prevEnd {
			prevEnd, prevName = s.end, s.name
		}
		f.Names = append(f.Names, s.name)
	}
	return f, nil
}
