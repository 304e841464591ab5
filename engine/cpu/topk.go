package cpu

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// TopK returns the k largest values of 1-D x in decreasing order and their
// indices, ties by lower index, NaN above every number (as torch.topk). A k
// larger than len(x) is clamped to len(x), so callers that ask for "up to k"
// (pre-NMS proposals on a small image) need no special case.
func (c *CPU) TopK(x *backend.Tensor, k int) (values, indices *backend.Tensor) {
	if x.DType != backend.F32 || len(x.Shape) != 1 || k < 0 {
		panic(fmt.Sprintf("cpu: TopK: x %s%v, k %d; want F32 1-D, k ≥ 0", x.DType, x.Shape, k))
	}
	xs := F32(x)
	k = min(k, len(xs))
	order := make([]int32, len(xs))
	for i := range order {
		order[i] = int32(i)
	}
	less := func(a, b int32) int {
		if r := cmpDesc(xs[a], xs[b]); r != 0 {
			return r
		}
		return cmp.Compare(a, b)
	}
	// Select the k first under the order, then sort just those.
	selectFirst(order, k, less)
	top := order[:k]
	slices.SortFunc(top, less)
	values, indices = c.newF32(k), c.newI64(k)
	vs, is := F32(values), I64(indices)
	for j, i := range top {
		vs[j], is[j] = xs[i], int64(i)
	}
	return values, indices
}

// selectFirst partially orders a so that its first k elements are the k
// smallest under cmp (in no particular order): quickselect with a
// median-of-three pivot and a Lomuto partition. The order is a strict
// total order here (indices break ties), so there are no equal keys.
func selectFirst(a []int32, k int, less func(a, b int32) int) {
	lo, hi := 0, len(a)
	for hi-lo > 16 && k > lo && k < hi {
		mid := lo + (hi-lo)/2
		// Median of three to position hi-1 as the pivot.
		if less(a[mid], a[lo]) < 0 {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if less(a[hi-1], a[lo]) < 0 {
			a[hi-1], a[lo] = a[lo], a[hi-1]
		}
		if less(a[mid], a[hi-1]) < 0 {
			a[mid], a[hi-1] = a[hi-1], a[mid]
		}
		pivot := a[hi-1]
		store := lo
		for i := lo; i < hi-1; i++ {
			if less(a[i], pivot) < 0 {
				a[i], a[store] = a[store], a[i]
				store++
			}
		}
		a[store], a[hi-1] = a[hi-1], a[store]
		switch {
		case k <= store:
			hi = store
		case k > store+1:
			lo = store + 1
		default:
			return
		}
	}
	if k > lo && k < hi {
		slices.SortFunc(a[lo:hi], less)
	}
}
