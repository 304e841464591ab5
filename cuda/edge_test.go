//go:build cuda

package cuda

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/backend/edgecase"
)

// The shared edge-shape table (empty batches, zero RoIs, one element) on
// the GPU: the table's own values, and bit-for-bit (or within 1e-6) the CPU
// backend's outputs.
func TestEdgeShapesMatchCPU(t *testing.T) {
	g, c := denseBackends(t)
	for _, tc := range edgecase.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			gout, err := tc.Check(g, 1e-6)
			if err != nil {
				t.Fatalf("cuda: %v", err)
			}
			cout := tc.Run(c)
			for i := range cout {
				if gout[i].DType != cout[i].DType {
					t.Fatalf("output %d: cuda %s, cpu %s", i, gout[i].DType, cout[i].DType)
				}
				gv, cv := edgecase.Values(g, gout[i]), edgecase.Values(c, cout[i])
				for j := range cv {
					if d := math.Abs(gv[j] - cv[j]); !(d <= 1e-6*max(1, math.Abs(cv[j]))) {
						t.Fatalf("output %d [%d]: cuda %v, cpu %v", i, j, gv[j], cv[j])
					}
				}
			}
		})
	}
}

// Conv2dBackward on an empty batch must zero dw even when the pool hands it
// a recycled block full of other values (the launch is skipped there).
func TestConv2dBackwardEmptyBatchZeroesRecycledBlock(t *testing.T) {
	g, _ := denseBackends(t)
	wShape := []int{4, 3, 3, 3}
	for range 3 {
		stale := g.FromFloat32(denseRand(rand.New(rand.NewPCG(9, 9)), backend.Numel(wShape), 1, 2), wShape...)
		g.Free(stale)
		_, dw, db := g.Conv2dBackward(g.Zeros(backend.F32, 0, 3, 5, 5), g.Zeros(backend.F32, wShape...),
			g.Zeros(backend.F32, 0, 4, 5, 5), conv3x3(), false, true)
		for i, v := range g.ToFloat32(dw) {
			if v != 0 {
				t.Fatalf("dw[%d] = %v on an empty batch, want 0", i, v)
			}
		}
		for i, v := range g.ToFloat32(db) {
			if v != 0 {
				t.Fatalf("db[%d] = %v on an empty batch, want 0", i, v)
			}
		}
	}
}

func conv3x3() backend.Conv2dParams {
	return backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}
}

// ScatterAdd (Gather's backward) over a million indices, nearly all into one
// row: the ranking pass was O(n²) there (minutes on a GPU, hours emulated).
// It must stay linear and sum in the CPU's order, bit for bit.
func TestScatterAddMillionRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("a million-index scatter")
	}
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(11, 11))
	n, rows, w := 1<<20, 5, 2
	idx := make([]int64, n)
	for i := range idx {
		idx[i] = 2
		if r.IntN(100) == 0 {
			idx[i] = int64(r.IntN(rows))
		}
	}
	src := denseRand(r, n*w, -1, 1)
	gs, cs := pair(g, c, src, n, w)
	gi, ci := pairI64(g, c, idx, n)
	start := time.Now()
	got := g.ScatterAdd(gs, gi, rows)
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 60*time.Second {
		t.Errorf("ScatterAdd of %d repeated indices took %v", n, el)
	}
	expect(t, "ScatterAdd million repeats", g, got, c.ScatterAdd(cs, ci, rows), 0)
}
