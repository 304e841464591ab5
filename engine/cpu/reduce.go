package cpu

import (
	"fmt"
	"math"
	"slices"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// sumBlock is how many reduced elements one partial sum covers. Partial sums
// are fixed by the data, not by the worker count, and are added in order, so
// sums are bit-identical on any machine.
const sumBlock = 1 << 14

// Sum reduces x over axes (negative axes count from the end; empty axes
// reduce every axis, as torch.sum(x, dim=[]) does). Accumulation is float64.
func (c *CPU) Sum(x *backend.Tensor, axes []int, keepDims bool) *backend.Tensor {
	nd := len(x.Shape)
	reduced := make([]bool, nd)
	if len(axes) == 0 {
		for i := range reduced {
			reduced[i] = true
		}
	}
	for _, a := range axes {
		if a < 0 {
			a += nd
		}
		if a < 0 || a >= nd {
			panic(fmt.Sprintf("cpu: Sum axis %v out of range for %v", axes, x.Shape))
		}
		reduced[a] = true
	}
	var outShape, keptShape []int
	for i, d := range x.Shape {
		switch {
		case !reduced[i]:
			outShape = append(outShape, d)
			keptShape = append(keptShape, d)
		case keepDims:
			outShape = append(outShape, 1)
		}
	}
	out := c.newF32(outShape...)
	c.sumInto(F32(out), F32(x), x.Shape, reduced)
	return out
}

// sumInto writes to out (laid out as x's kept dimensions in order) the sums
// of x over the dimensions marked reduced.
func (c *CPU) sumInto(out, x []float32, shape []int, reduced []bool) {
	nd := len(shape)
	strides := make([]int, nd)
	st := 1
	for i := nd - 1; i >= 0; i-- {
		strides[i] = st
		st *= shape[i]
	}
	// The trailing reduced dimensions form one contiguous run of innerLen
	// elements; roff holds the offsets of every position of the other
	// reduced dimensions, and kept dimensions give each output's base offset.
	innerLen, last := 1, nd
	for last > 0 && reduced[last-1] {
		last--
		innerLen *= shape[last]
	}
	roff := []int{0}
	var keptDims, keptStrides []int
	for i := 0; i < last; i++ {
		if !reduced[i] {
			keptDims = append(keptDims, shape[i])
			keptStrides = append(keptStrides, strides[i])
			continue
		}
		next := make([]int, 0, len(roff)*shape[i])
		for _, o := range roff {
			for j := 0; j < shape[i]; j++ {
				next = append(next, o+j*strides[i])
			}
		}
		roff = next
	}
	nOut := len(out)
	if nOut == 0 {
		return
	}
	if len(roff) == 0 || innerLen == 0 {
		// An empty reduced axis: every sum is over nothing, so 0 (torch and
		// the CUDA backend agree); the paths below would divide by zero.
		clear(out)
		return
	}
	if len(roff) == 1 && innerLen == 1 {
		copy(out, x) // nothing to reduce: SumTo of an unbroadcast gradient
		return
	}
	if innerLen == 1 && leadingOnly(reduced) {
		// Kept dimensions trailing (a bias gradient summed over rows): add
		// whole rows into float64 accumulators, goroutines owning columns.
		c.parallelFor(nOut, max(1, elemGrain/len(roff)), func(lo, hi int) {
			acc := make([]float64, hi-lo)
			for r := range roff {
				for j, v := range x[r*nOut+lo : r*nOut+hi] {
					acc[j] += float64(v)
				}
			}
			for j, v := range acc {
				out[lo+j] = float32(v)
			}
		})
		return
	}
	// Each output's base offset, by an odometer over the kept dimensions.
	bases := make([]int, nOut)
	idx := make([]int, len(keptDims))
	for o, b := 0, 0; o < nOut; o++ {
		bases[o] = b
		for d := len(keptDims) - 1; d >= 0; d-- {
			idx[d]++
			b += keptStrides[d]
			if idx[d] < keptDims[d] {
				break
			}
			b -= idx[d] * keptStrides[d]
			idx[d] = 0
		}
	}
	nr := len(roff) * innerLen
	blocks := max(1, (nr+sumBlock-1)/sumBlock)
	partial := make([]float64, nOut*blocks)
	c.parallelFor(nOut*blocks, max(1, elemGrain/max(1, min(nr, sumBlock))), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			o, blk := t/blocks, t%blocks
			b := bases[o]
			s := 0.0
			for e, end := blk*sumBlock, min(nr, (blk+1)*sumBlock); e < end; {
				ri, j := e/innerLen, e%innerLen
				seg := min(end-e, innerLen-j)
				for _, v := range x[b+roff[ri]+j : b+roff[ri]+j+seg] {
					s += float64(v)
				}
				e += seg
			}
			partial[t] = s
		}
	})
	for o := range out {
		s := 0.0
		for _, p := range partial[o*blocks : (o+1)*blocks] {
			s += p
		}
		out[o] = float32(s)
	}
}

// leadingOnly reports whether the reduced dimensions are a prefix.
func leadingOnly(reduced []bool) bool {
	q := 0
	for q < len(reduced) && reduced[q] {
		q++
	}
	for _, r := range reduced[q:] {
		if r {
			return false
		}
	}
	return true
}

// SumTo reduces x to shape, which x's shape broadcasts from: the backward of
// Binary's broadcasting.
func (c *CPU) SumTo(x *backend.Tensor, shape []int) *backend.Tensor {
	if bs := backend.BroadcastShape("cpu: SumTo", x.Shape, shape); !backend.SameShape(bs, x.Shape) {
		panic(fmt.Sprintf("cpu: SumTo: %v does not broadcast to %v", shape, x.Shape))
	}
	lead := len(x.Shape) - len(shape)
	reduced := make([]bool, len(x.Shape))
	for i := range x.Shape {
		reduced[i] = i < lead || (shape[i-lead] == 1 && x.Shape[i] != 1)
	}
	out := c.newF32(shape...)
	c.sumInto(F32(out), F32(x), x.Shape, reduced)
	return out
}

// splitAxis views shape as [outer, n, inner] around axis.
func splitAxis(op string, shape []int, axis int) (outer, n, inner, ax int) {
	return backend.SplitAxis("cpu: "+op, shape, axis)
}

// Max returns the maximum along axis (dropped from the shape) and its index
// (I64). Ties give the first index; a NaN wins, as in torch.max(x, dim).
func (c *CPU) Max(x *backend.Tensor, axis int) (values, indices *backend.Tensor) {
	outer, n, inner, ax := splitAxis("Max", x.Shape, axis)
	if n == 0 {
		panic(fmt.Sprintf("cpu: Max over empty axis %d of %v", ax, x.Shape))
	}
	shape := slices.Delete(slices.Clone(x.Shape), ax, ax+1)
	values, indices = c.newF32(shape...), c.newI64(shape...)
	xv, vv, iv := F32(x), F32(values), I64(indices)
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			best, bi := xv[o*n*inner+in], 0
			for j := 1; j < n && best == best; j++ {
				v := xv[(o*n+j)*inner+in]
				if v > best || v != v {
					best, bi = v, j
				}
			}
			vv[o*inner+in], iv[o*inner+in] = best, int64(bi)
		}
	}
	return values, indices
}

// Softmax over the last axis, shifted by the row maximum for stability.
func (c *CPU) Softmax(x *backend.Tensor) *backend.Tensor {
	return c.softmax(x, false)
}

// LogSoftmax over the last axis: x - max - log Σ exp(x - max).
func (c *CPU) LogSoftmax(x *backend.Tensor) *backend.Tensor {
	return c.softmax(x, true)
}

func (c *CPU) softmax(x *backend.Tensor, logOut bool) *backend.Tensor {
	if len(x.Shape) == 0 {
		panic("cpu: Softmax of a scalar")
	}
	k := x.Shape[len(x.Shape)-1]
	out := c.newF32(x.Shape...)
	xv, ov := F32(x), F32(out)
	if k == 0 {
		return out
	}
	rows := len(xv) / k
	c.parallelFor(rows, max(1, elemGrain/k), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, dst := xv[r*k:(r+1)*k], ov[r*k:(r+1)*k]
			m := math.Inf(-1)
			for _, v := range row {
				m = math.Max(m, float64(v))
			}
			s := 0.0
			for _, v := range row {
				s += math.Exp(float64(v) - m)
			}
			if logOut {
				ls := m + math.Log(s)
				for i, v := range row {
					dst[i] = float32(float64(v) - ls)
				}
				continue
			}
			for i, v := range row {
				dst[i] = float32(math.Exp(float64(v)-m) / s)
			}
		}
	})
	return out
}
