package cpu

import (
	"fmt"
	"slices"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// The shape ops move elements without arithmetic, so they work on F32 and I64
// tensors alike through these generic helpers.

func (c *CPU) like(dt backend.DType, shape ...int) *backend.Tensor {
	if dt == backend.I64 {
		return c.newI64(shape...)
	}
	return c.newF32(shape...)
}

// Permute returns x with its dimensions reordered: out.Shape[i] = x.Shape[perm[i]].
func (c *CPU) Permute(x *backend.Tensor, perm ...int) *backend.Tensor {
	nd := len(x.Shape)
	if len(perm) != nd {
		panic(fmt.Sprintf("cpu: Permute %v of a %d-d tensor %v", perm, nd, x.Shape))
	}
	seen := make([]bool, nd)
	shape := make([]int, nd)
	for i, p := range perm {
		if p < 0 || p >= nd || seen[p] {
			panic(fmt.Sprintf("cpu: Permute %v is not a permutation for %v", perm, x.Shape))
		}
		seen[p] = true
		shape[i] = x.Shape[p]
	}
	out := c.like(x.DType, shape...)
	if x.DType == backend.I64 {
		permute(c, I64(out), I64(x), x.Shape, perm)
	} else {
		permute(c, F32(out), F32(x), x.Shape, perm)
	}
	return out
}

// permute copies src (shape) into dst in the permuted order, one innermost
// output row at a time.
func permute[T float32 | int64](c *CPU, dst, src []T, shape, perm []int) {
	nd := len(shape)
	if len(dst) == 0 {
		return
	}
	if nd == 0 {
		dst[0] = src[0]
		return
	}
	inStride := make([]int, nd)
	st := 1
	for i := nd - 1; i >= 0; i-- {
		inStride[i] = st
		st *= shape[i]
	}
	outShape := make([]int, nd)
	stride := make([]int, nd) // input stride of each output dimension
	for i, p := range perm {
		outShape[i] = shape[p]
		stride[i] = inStride[p]
	}
	inner, innerStride := outShape[nd-1], stride[nd-1]
	rows := len(dst) / inner
	c.parallelFor(rows, max(1, elemGrain/inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			off, rem := 0, r
			for d := nd - 2; d >= 0; d-- {
				off += (rem % outShape[d]) * stride[d]
				rem /= outShape[d]
			}
			row := dst[r*inner : (r+1)*inner]
			for j := range row {
				row[j] = src[off+j*innerStride]
			}
		}
	})
}

// Concat joins xs along axis; all other dimensions must agree.
func (c *CPU) Concat(axis int, xs ...*backend.Tensor) *backend.Tensor {
	ax, shape := backend.ConcatShape("cpu: Concat", axis, xs)
	out := c.like(xs[0].DType, shape...)
	outer, total, inner, _ := splitAxis("Concat", shape, ax)
	at := 0
	for _, x := range xs {
		n := x.Shape[ax]
		if x.DType == backend.I64 {
			copyBlock(I64(out), I64(x), outer, total*inner, at*inner, n*inner)
		} else {
			copyBlock(F32(out), F32(x), outer, total*inner, at*inner, n*inner)
		}
		at += n
	}
	return out
}

// copyBlock copies the dense src, outer rows of width elements, into dst
// rows of dstRow elements starting at column dstOff.
func copyBlock[T float32 | int64](dst, src []T, outer, dstRow, dstOff, width int) {
	for o := 0; o < outer; o++ {
		copy(dst[o*dstRow+dstOff:o*dstRow+dstOff+width], src[o*width:(o+1)*width])
	}
}

// Slice returns x[..., start:end, ...] along axis.
func (c *CPU) Slice(x *backend.Tensor, axis, start, end int) *backend.Tensor {
	outer, n, inner, ax := splitAxis("Slice", x.Shape, axis)
	if start < 0 || end < start || end > n {
		panic(fmt.Sprintf("cpu: Slice [%d:%d] along %d of %v", start, end, ax, x.Shape))
	}
	shape := slices.Clone(x.Shape)
	shape[ax] = end - start
	out := c.like(x.DType, shape...)
	w := (end - start) * inner
	if x.DType == backend.I64 {
		sliceRows(I64(out), I64(x), outer, n*inner, start*inner, w)
	} else {
		sliceRows(F32(out), F32(x), outer, n*inner, start*inner, w)
	}
	return out
}

func sliceRows[T float32 | int64](dst, src []T, outer, srcRow, srcOff, width int) {
	for o := 0; o < outer; o++ {
		copy(dst[o*width:(o+1)*width], src[o*srcRow+srcOff:])
	}
}

// SliceBackward embeds dy into zeros of shape along axis at start.
func (c *CPU) SliceBackward(dy *backend.Tensor, shape []int, axis, start int) *backend.Tensor {
	outer, n, inner, ax := splitAxis("SliceBackward", shape, axis)
	want := slices.Clone(shape)
	if len(dy.Shape) == len(shape) {
		want[ax] = dy.Shape[ax]
	}
	if !backend.SameShape(want, dy.Shape) || start < 0 || start+dy.Shape[ax] > n {
		panic(fmt.Sprintf("cpu: SliceBackward of %v into %v at %d along %d", dy.Shape, shape, start, ax))
	}
	out := c.newF32(shape...)
	copyBlock(F32(out), F32(dy), outer, n*inner, start*inner, dy.Shape[ax]*inner)
	return out
}

// Gather selects rows: out[i,...] = x[idx[i],...] for 1-D I64 idx.
func (c *CPU) Gather(x, idx *backend.Tensor) *backend.Tensor {
	if len(idx.Shape) != 1 || idx.DType != backend.I64 || len(x.Shape) == 0 {
		panic(fmt.Sprintf("cpu: Gather of %v by %v (want 1-D I64 indices)", x, idx))
	}
	rows, ix := x.Shape[0], I64(idx)
	for i, r := range ix {
		if r < 0 || int(r) >= rows {
			panic(fmt.Sprintf("cpu: Gather index %d at %d out of range for %v", r, i, x.Shape))
		}
	}
	shape := append([]int{len(ix)}, x.Shape[1:]...)
	out := c.like(x.DType, shape...)
	w := backend.Numel(x.Shape[1:])
	if x.DType == backend.I64 {
		gatherRows(I64(out), I64(x), ix, w)
	} else {
		gatherRows(F32(out), F32(x), ix, w)
	}
	return out
}

func gatherRows[T float32 | int64](dst, src []T, idx []int64, w int) {
	for i, r := range idx {
		copy(dst[i*w:(i+1)*w], src[int(r)*w:int(r+1)*w])
	}
}

// ScatterAdd returns zeros [rows, src.Shape[1:]...] with out[idx[i],...] +=
// src[i,...]. Rows are added in increasing i; goroutines own column ranges, so
// repeated indices sum in the same order every run.
func (c *CPU) ScatterAdd(src, idx *backend.Tensor, rows int) *backend.Tensor {
	if len(idx.Shape) != 1 || idx.DType != backend.I64 || len(src.Shape) == 0 || src.Shape[0] != idx.Shape[0] {
		panic(fmt.Sprintf("cpu: ScatterAdd of %v by %v (want 1-D I64 indices, one per row)", src, idx))
	}
	ix := I64(idx)
	for i, r := range ix {
		if r < 0 || int(r) >= rows {
			panic(fmt.Sprintf("cpu: ScatterAdd index %d at %d out of range for %d rows", r, i, rows))
		}
	}
	shape := append([]int{rows}, src.Shape[1:]...)
	out := c.newF32(shape...)
	w := backend.Numel(src.Shape[1:])
	sv, ov := F32(src), F32(out)
	c.parallelFor(w, max(1, elemGrain/max(1, len(ix))), func(lo, hi int) {
		for i, r := range ix {
			d, s := ov[int(r)*w+lo:int(r)*w+hi], sv[i*w+lo:i*w+hi]
			for j, v := range s {
				d[j] += v
			}
		}
	})
	return out
}
