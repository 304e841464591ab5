//go:build cuda

package cuda

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// maxRank is the most dimensions a strided kernel takes (MAX_RANK in
// kernels/common.cuh); shapes are coalesced first, so only genuinely
// 9-d strided patterns exceed it.
const maxRank = 8

// contiguousStrides are the row-major element strides of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// broadcastStrides are the strides of a tensor of shape s read as the
// broadcast shape out: 0 along the dimensions it is broadcast over.
func broadcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	stride := 1
	for i := len(s) - 1; i >= 0; i-- {
		j := i + len(out) - len(s)
		if s[i] != 1 {
			st[j] = stride
		}
		stride *= s[i]
	}
	return st
}

// coalesce drops size-1 dimensions and merges neighbours that are contiguous
// under every stride set (st[i] == st[i+1]*shape[i+1]), so a strided kernel
// does as few divisions per element as the layout allows.
func coalesce(shape []int, strides ...[]int) ([]int, [][]int) {
	var outShape []int
	outStrides := make([][]int, len(strides))
	for i, d := range shape {
		if d == 1 {
			continue
		}
		last := len(outShape) - 1
		merge := last >= 0
		for k := range strides {
			if merge && outStrides[k][last] != strides[k][i]*d {
				merge = false
			}
		}
		if merge {
			outShape[last] *= d
			for k := range strides {
				outStrides[k][last] = strides[k][i]
			}
			continue
		}
		outShape = append(outShape, d)
		for k := range strides {
			outStrides[k] = append(outStrides[k], strides[k][i])
		}
	}
	return outShape, outStrides
}

// rankArgs pads a coalesced shape and its stride sets to maxRank with
// leading size-1 dimensions and flattens them into launch arguments: the
// maxRank sizes, then maxRank strides per set.
func rankArgs(op string, shape []int, strides ...[]int) []any {
	if len(shape) > maxRank {
		panic(fmt.Sprintf("cuda: %s: %d dimensions after coalescing %v (at most %d)", op, len(shape), shape, maxRank))
	}
	pad := maxRank - len(shape)
	args := make([]any, 0, maxRank*(1+len(strides)))
	for i := 0; i < maxRank; i++ {
		if i < pad {
			args = append(args, 1)
		} else {
			args = append(args, shape[i-pad])
		}
	}
	for _, st := range strides {
		for i := 0; i < maxRank; i++ {
			if i < pad {
				args = append(args, 0)
			} else {
				args = append(args, st[i-pad])
			}
		}
	}
	return args
}

// normAxis resolves a possibly negative axis of a rank-n shape.
func normAxis(op string, axis int, shape []int) int {
	_, _, _, ax := backend.SplitAxis("cuda: "+op, shape, axis)
	return ax
}

// splitAxis views shape as [outer, n, inner] around axis.
func splitAxis(op string, shape []int, axis int) (outer, n, inner, ax int) {
	return backend.SplitAxis("cuda: "+op, shape, axis)
}

func mustF32(op string, ts ...*backend.Tensor) {
	for _, t := range ts {
		if t != nil && t.DType != backend.F32 {
			panic(fmt.Sprintf("cuda: %s wants F32, got %v", op, t))
		}
	}
}

func mustSameShape(op string, a, b *backend.Tensor) {
	if !backend.SameShape(a.Shape, b.Shape) {
		panic(fmt.Sprintf("cuda: %s shapes differ: %v and %v", op, a.Shape, b.Shape))
	}
}
