// Package safetensors reads and writes the safetensors format: an 8-byte
// little-endian header length, a JSON header mapping each tensor name to its
// dtype, shape and data_offsets (plus an optional "__metadata__" map of
// strings), then the raw little-endian tensor bytes. It is the format of the
// golden cases and of checkpoints, and the format other people's weights come in.
package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// DType is a safetensors dtype name as it appears in the header ("F32", "I64", ...).
type DType string

// The dtypes the format defines. F32 and I64 are what the engine writes; the
// others are read so that foreign weights load (see Tensor.Float32, Tensor.Int64).
const (
	BOOL   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E5M2 DType = "F8_E5M2"
	F8E4M3 DType = "F8_E4M3"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	I64    DType = "I64"
	U64    DType = "U64"
	F64    DType = "F64"
)

// Size is the byte size of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8, F8E5M2, F8E4M3:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case I64, U64, F64:
		return 8
	}
	return 0
}

// Tensor is one named array: its dtype, shape and raw little-endian bytes.
// Tensors returned by Parse alias the parsed buffer.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// Numel is the number of elements (1 for a scalar, shape []).
func (t Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// FromFloat32 returns an F32 tensor holding a copy of data.
func FromFloat32(data []float32, shape ...int) Tensor {
	checkCount("FromFloat32", len(data), shape)
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{DType: F32, Shape: slices.Clone(shape), Data: b}
}

// FromInt64 returns an I64 tensor holding a copy of data.
func FromInt64(data []int64, shape ...int) Tensor {
	checkCount("FromInt64", len(data), shape)
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{DType: I64, Shape: slices.Clone(shape), Data: b}
}

func checkCount(op string, n int, shape []int) {
	want := 1
	for _, d := range shape {
		want *= d
	}
	if want != n {
		panic(fmt.Sprintf("safetensors: %s with %d values for shape %v", op, n, shape))
	}
}

// Float32 converts a floating-point tensor (F32, F64, F16, BF16) to float32.
func (t Tensor) Float32() ([]float32, error) {
	n := t.Numel()
	out := make([]float32, n)
	b := t.Data
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BF16:
		// bfloat16 is the top half of a float32.
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	default:
		return nil, fmt.Errorf("dtype %s is not a float type (want F32, F64, F16 or BF16)", t.DType)
	}
	return out, nil
}

// Int64 converts an integer tensor (I64, I32) to int64.
func (t Tensor) Int64() ([]int64, error) {
	n := t.Numel()
	out := make([]int64, n)
	b := t.Data
	switch t.DType {
	case I64:
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	default:
		return nil, fmt.Errorf("dtype %s is not an integer type (want I64 or I32)", t.DType)
	}
	return out, nil
}

// halfToFloat32 converts IEEE 754 binary16 bits to float32, exactly
// (every half value, subnormals included, is representable in float32).
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN: keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: mant·2^-24, exact in float32.
	v := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}
