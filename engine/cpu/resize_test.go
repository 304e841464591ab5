package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refResize is F.interpolate(bilinear, align_corners=False) in float64.
func refResize(x []float64, planes, h, w, oh, ow int) []float64 {
	tap := func(d, in, out int) (int, int, float64) {
		src := (float64(d)+0.5)*float64(in)/float64(out) - 0.5
		src = math.Max(src, 0)
		i0 := int(math.Floor(src))
		return i0, min(i0+1, in-1), src - float64(i0)
	}
	y := make([]float64, planes*oh*ow)
	for pl := 0; pl < planes; pl++ {
		for i := 0; i < oh; i++ {
			y0, y1, ly := tap(i, h, oh)
			for j := 0; j < ow; j++ {
				x0, x1, lx := tap(j, w, ow)
				v := func(r, c int) float64 { return x[pl*h*w+r*w+c] }
				y[(pl*oh+i)*ow+j] = (1-ly)*((1-lx)*v(y0, x0)+lx*v(y0, x1)) + ly*((1-lx)*v(y1, x0)+lx*v(y1, x1))
			}
		}
	}
	return y
}

func TestResizeBilinearKnownValues(t *testing.T) {
	// torch.nn.functional.interpolate(torch.tensor([[[[1.,2.],[3.,4.]]]]),
	// size=(4,4), mode="bilinear", align_corners=False)
	c := New()
	y := F32(c.ResizeBilinear(c.FromFloat32([]float32{1, 2, 3, 4}, 1, 1, 2, 2), 4, 4))
	want := []float64{
		1, 1.25, 1.75, 2,
		1.5, 1.75, 2.25, 2.5,
		2.5, 2.75, 3.25, 3.5,
		3, 3.25, 3.75, 4,
	}
	assertClose(t, "2x2→4x4", y, want, 1e-7)
}

func TestResizeBilinear(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(53, 54))
	xf, xd := randF32(r, 2*3*7*9, -1, 1)
	x := c.FromFloat32(xf, 2, 3, 7, 9)
	for _, sz := range [][2]int{{7, 9}, {14, 18}, {3, 4}, {10, 5}, {1, 1}, {13, 31}} {
		y := c.ResizeBilinear(x, sz[0], sz[1])
		if y.Shape[2] != sz[0] || y.Shape[3] != sz[1] {
			t.Fatalf("shape %v for %v", y.Shape, sz)
		}
		assertClose(t, "resize", F32(y), refResize(xd, 6, 7, 9, sz[0], sz[1]), 1e-6)
	}
}
