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

// TestResizeBilinearMatchesTorch compares with values printed by PyTorch 1.13:
// x = [(i*i % 11)/4 for i in range(15)] as [1,1,3,5], F.interpolate(x, size,
// mode="bilinear", align_corners=False). Up- and down-scaling in one axis at
// a time exercise the clamp at 0 and the upper-tap clamp.
func TestResizeBilinearMatchesTorch(t *testing.T) {
	c := New()
	xf := make([]float32, 15)
	for i := range xf {
		xf[i] = float32(i*i%11) / 4
	}
	x := c.FromFloat32(xf, 1, 1, 3, 5)
	for _, cs := range []struct {
		h, w int
		want []float64
	}{
		{4, 8, []float64{0.0, 0.109375, 0.296875, 0.765625, 1.390625, 2.171875, 1.6875, 1.25, 0.46875, 0.509765625, 0.599609375,
			0.970703125, 1.498046875, 2.181640625, 1.599609375, 1.09375, 0.5625, 0.521484375, 0.494140625, 0.748046875,
			1.158203125, 1.724609375, 1.60546875, 1.46875, 0.25, 0.140625, 0.015625, 0.171875, 0.484375, 0.953125, 1.703125, 2.25}},
		{2, 3, []float64{0.25, 1.0625, 1.5416667461395264, 0.3125, 0.4999999701976776, 1.7291666269302368}},
		{5, 2, []float64{0.1875, 2.0, 0.4125000238418579, 1.975000023841858, 0.7499999403953552, 1.9374998807907104,
			0.3374999463558197, 1.5625, 0.0625, 1.3125}},
	} {
		assertClose(t, "torch", F32(c.ResizeBilinear(x, cs.h, cs.w)), cs.want, 1e-6)
	}
}
