package cpu

import (
	"fmt"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/backend/edgecase"
)

// Edge shapes: reductions over empty axes give zeros (torch.sum of an empty
// dimension is 0, and the CUDA backend returns zeros), reductions that keep
// an empty axis give empty tensors, and nothing panics with a division by zero.
func TestSumEmptyAxes(t *testing.T) {
	c := New()
	cases := []struct {
		shape []int
		axes  []int
		want  []int
	}{
		{[]int{0, 5}, []int{0}, []int{5}},             // empty leading axis, kept trailing
		{[]int{0, 3, 4}, []int{0}, []int{3, 4}},       // the batch of a bias gradient
		{[]int{3, 0}, []int{1}, []int{3}},             // empty trailing axis
		{[]int{2, 0, 3}, []int{1}, []int{2, 3}},       // empty middle axis
		{[]int{0, 2, 3, 3}, []int{0, 2, 3}, []int{2}}, // Conv2dBackward's db on an empty batch
		{[]int{0, 4}, nil, nil},                       // everything
		{[]int{3, 0}, []int{0}, []int{0}},             // kept axis empty: empty result
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.shape, tc.axes), func(t *testing.T) {
			x := c.FromFloat32(make([]float32, backend.Numel(tc.shape)), tc.shape...)
			got := c.Sum(x, tc.axes, false)
			if !backend.SameShape(got.Shape, tc.want) {
				t.Fatalf("Sum shape %v, want %v", got.Shape, tc.want)
			}
			for i, v := range F32(got) {
				if v != 0 {
					t.Fatalf("Sum[%d] = %v, want 0", i, v)
				}
			}
			keep := c.Sum(x, tc.axes, true)
			if len(keep.Shape) != len(tc.shape) {
				t.Fatalf("Sum keepDims shape %v for %v", keep.Shape, tc.shape)
			}
		})
	}
	// SumTo with an empty leading (broadcast) axis: the gradient of a bias
	// added to an empty batch.
	g := c.SumTo(c.Zeros(backend.F32, 0, 6), []int{6})
	if !backend.SameShape(g.Shape, []int{6}) {
		t.Fatalf("SumTo shape %v, want [6]", g.Shape)
	}
	for i, v := range F32(g) {
		if v != 0 {
			t.Fatalf("SumTo[%d] = %v, want 0", i, v)
		}
	}
}

// Max and Softmax over rows when there are no rows; Max over a one-element axis.
func TestReduceEmptyRowsAndOneElement(t *testing.T) {
	c := New()
	v, i := c.Max(c.Zeros(backend.F32, 0, 7), 1)
	if !backend.SameShape(v.Shape, []int{0}) || !backend.SameShape(i.Shape, []int{0}) {
		t.Fatalf("Max of [0,7] along 1: %v, %v", v.Shape, i.Shape)
	}
	for _, ls := range []bool{false, true} {
		s := c.softmax(c.Zeros(backend.F32, 0, 5), ls)
		if !backend.SameShape(s.Shape, []int{0, 5}) {
			t.Fatalf("softmax(log %v) of [0,5]: %v", ls, s.Shape)
		}
	}
	v, i = c.Max(c.FromFloat32([]float32{-2.5}, 1, 1), 0)
	if F32(v)[0] != -2.5 || I64(i)[0] != 0 {
		t.Fatalf("Max of one element: %v at %v", F32(v), I64(i))
	}
	s := c.Softmax(c.FromFloat32([]float32{3}, 1, 1))
	if F32(s)[0] != 1 {
		t.Fatalf("Softmax of one element: %v", F32(s))
	}
	if got := F32(c.Sum(c.FromFloat32([]float32{1.25}, 1), nil, false)); got[0] != 1.25 {
		t.Fatalf("Sum of one element: %v", got)
	}
}

// Every op of the shared edge-shape table (engine/backend/edgecase) on the
// CPU backend: shapes and values as the table states, and no panic. The
// cuda-tagged tests run the same table against this backend.
func TestEdgeShapeTable(t *testing.T) {
	c := New()
	for _, tc := range edgecase.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			if _, err := tc.Check(c, 1e-6); err != nil {
				t.Fatal(err)
			}
		})
	}
}
