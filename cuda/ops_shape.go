//go:build cuda

package cuda

import (
	"fmt"
	"slices"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"gorgonia.org/cu"
)

// copyInto copies src's bytes into dst (same element count and dtype).
func (be *Backend) copyInto(dst, src *backend.Tensor) {
	n := int64(src.Numel()) * dtypeSize(src.DType)
	if n == 0 {
		return
	}
	d, s := be.ptr(dst), be.ptr(src)
	be.must("device copy", be.g.do(func() error { return cu.MemcpyDtoDAsync(d, s, n, be.stream) }))
}

// typed picks the float or int64 flavour of a kernel.
func typed(kernel string, dt backend.DType) string {
	if dt == backend.I64 {
		return kernel + "_i64_forward_kernel"
	}
	return kernel + "_forward_kernel"
}

// copy2d copies rows×width elements between row-strided layouts (see
// copy2d_forward_kernel).
func (be *Backend) copy2d(dst, src *backend.Tensor, rows, width, dstRow, dstOff, srcRow, srcOff int) {
	be.launch1D(typed("copy2d", src.DType), rows*width, dst, src, rows, width, dstRow, dstOff, srcRow, srcOff)
}

func (be *Backend) Permute(x *backend.Tensor, perm ...int) *backend.Tensor {
	nd := len(x.Shape)
	if len(perm) != nd {
		panic(fmt.Sprintf("cuda: Permute %v of a %d-d tensor %v", perm, nd, x.Shape))
	}
	seen := make([]bool, nd)
	for _, p := range perm {
		if p < 0 || p >= nd || seen[p] {
			panic(fmt.Sprintf("cuda: Permute %v is not a permutation for %v", perm, x.Shape))
		}
		seen[p] = true
	}
	shape := make([]int, nd)
	inSt := contiguousStrides(x.Shape)
	st := make([]int, nd)
	for i, p := range perm {
		shape[i], st[i] = x.Shape[p], inSt[p]
	}
	out := be.empty(x.DType, shape...)
	n := out.Numel()
	cs, cst := coalesce(shape, contiguousStrides(shape), st)
	if len(cs) <= 1 {
		be.copyInto(out, x)
		return out
	}
	args := append([]any{out, x, n}, rankArgs("Permute", cs, cst[1])...)
	be.launch1D(typed("permute", x.DType), n, args...)
	return out
}

func (be *Backend) Concat(axis int, xs ...*backend.Tensor) *backend.Tensor {
	ax, shape := backend.ConcatShape("cuda: Concat", axis, xs)
	out := be.empty(xs[0].DType, shape...)
	outer, total, inner, _ := splitAxis("Concat", shape, ax)
	at := 0
	for _, x := range xs {
		w := x.Shape[ax] * inner
		be.copy2d(out, x, outer, w, total*inner, at*inner, w, 0)
		at += x.Shape[ax]
	}
	return out
}

func (be *Backend) Slice(x *backend.Tensor, axis, start, end int) *backend.Tensor {
	outer, n, inner, ax := splitAxis("Slice", x.Shape, axis)
	if start < 0 || end < start || end > n {
		panic(fmt.Sprintf("cuda: Slice [%d:%d] along %d of %v", start, end, ax, x.Shape))
	}
	shape := slices.Clone(x.Shape)
	shape[ax] = end - start
	out := be.empty(x.DType, shape...)
	w := (end - start) * inner
	be.copy2d(out, x, outer, w, w, 0, n*inner, start*inner)
	return out
}

func (be *Backend) SliceBackward(dy *backend.Tensor, shape []int, axis, start int) *backend.Tensor {
	mustF32("SliceBackward", dy)
	outer, n, inner, ax := splitAxis("SliceBackward", shape, axis)
	want := slices.Clone(shape)
	if len(dy.Shape) == len(shape) {
		want[ax] = dy.Shape[ax]
	}
	if !backend.SameShape(want, dy.Shape) || start < 0 || start+dy.Shape[ax] > n {
		panic(fmt.Sprintf("cuda: SliceBackward of %v into %v at %d along %d", dy.Shape, shape, start, ax))
	}
	out := be.Zeros(backend.F32, shape...)
	w := dy.Shape[ax] * inner
	be.copy2d(out, dy, outer, w, n*inner, start*inner, w, 0)
	return out
}

// Gather selects rows out[i,...] = x[idx[i],...]. Indices are not checked on
// the host (that would cost a device-to-host copy per call); an out-of-range
// index gives a NaN (F32) or -1 (I64) row instead of a fault.
func (be *Backend) Gather(x, idx *backend.Tensor) *backend.Tensor {
	if len(idx.Shape) != 1 || idx.DType != backend.I64 || len(x.Shape) == 0 {
		panic(fmt.Sprintf("cuda: Gather of %v by %v (want 1-D I64 indices)", x, idx))
	}
	shape := append([]int{idx.Shape[0]}, x.Shape[1:]...)
	out := be.empty(x.DType, shape...)
	w := backend.Numel(x.Shape[1:])
	be.launch1D(typed("gather", x.DType), out.Numel(), out, x, idx, idx.Shape[0], w, x.Shape[0])
	return out
}

// ScatterAdd returns zeros [rows, src.Shape[1:]...] with out[idx[i],...] +=
// src[i,...], summing each row's sources in increasing i without float
// atomics (see kernels/shape.cu): bit-identical to the CPU backend's order.
// Out-of-range indices are dropped.
func (be *Backend) ScatterAdd(src, idx *backend.Tensor, rows int) *backend.Tensor {
	mustF32("ScatterAdd", src)
	if len(idx.Shape) != 1 || idx.DType != backend.I64 || len(src.Shape) == 0 || src.Shape[0] != idx.Shape[0] {
		panic(fmt.Sprintf("cuda: ScatterAdd of %v by %v (want 1-D I64 indices, one per row)", src, idx))
	}
	shape := append([]int{rows}, src.Shape[1:]...)
	out := be.empty(backend.F32, shape...)
	n, w := idx.Shape[0], backend.Numel(src.Shape[1:])
	if out.Numel() == 0 {
		return out
	}
	counts := be.Zeros(backend.I64, rows)
	offsets := be.empty(backend.I64, rows+1)
	perm := be.empty(backend.I64, max(n, 1))
	defer be.Free(counts)
	defer be.Free(offsets)
	defer be.Free(perm)
	be.launch1D("scatter_count_forward_kernel", n, counts, idx, n, rows)
	be.launch("scan_exclusive_forward_kernel", [3]int{1, 1, 1}, [3]int{1024, 1, 1}, 0, offsets, counts, rows)
	// One block (the stable counting sort walks the indices in order); counts
	// is its cursor scratch once the scan has read it.
	be.launch("scatter_rank_forward_kernel", [3]int{1, 1, 1}, [3]int{1024, 1, 1}, 0, perm, idx, counts, offsets, n, rows)
	be.launch1D("scatter_add_forward_kernel", rows*w, out, src, perm, offsets, rows, w)
	return out
}
