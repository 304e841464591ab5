package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// refMaxPool is F.max_pool2d in float64 with -inf padding.
func refMaxPool(x []float64, n, c, h, w int, p backend.PoolParams) ([]float64, []int64) {
	oh := (h+2*p.PadH-p.KernelH)/p.StrideH + 1
	ow := (w+2*p.PadW-p.KernelW)/p.StrideW + 1
	y, am := make([]float64, n*c*oh*ow), make([]int64, n*c*oh*ow)
	for pl := 0; pl < n*c; pl++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best, bi := math.Inf(-1), int64(-1)
				for r := 0; r < p.KernelH; r++ {
					for s := 0; s < p.KernelW; s++ {
						iy, ix := i*p.StrideH-p.PadH+r, j*p.StrideW-p.PadW+s
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						if v := x[pl*h*w+iy*w+ix]; v > best || bi < 0 {
							best, bi = v, int64(iy*w+ix)
						}
					}
				}
				y[pl*oh*ow+i*ow+j], am[pl*oh*ow+i*ow+j] = best, bi
			}
		}
	}
	return y, am
}

func TestMaxPool2d(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(51, 52))
	cases := []backend.PoolParams{
		{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, // the ResNet stem pool
		{KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2},
		{KernelH: 3, KernelW: 2, StrideH: 1, StrideW: 2, PadH: 1, PadW: 0},
	}
	n, ch, h, w := 2, 3, 9, 8
	for _, p := range cases {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			// A permutation: all values distinct, so the max is unique and
			// finite differences see a smooth function.
			xd := make([]float64, n*ch*h*w)
			xf := make([]float32, len(xd))
			for i, v := range r.Perm(len(xd)) {
				xf[i] = float32(v) / 10
				xd[i] = float64(xf[i])
			}
			x := c.FromFloat32(xf, n, ch, h, w)
			y, am := c.MaxPool2d(x, p)
			wantY, wantA := refMaxPool(xd, n, ch, h, w, p)
			assertClose(t, "y", F32(y), wantY, 0)
			if !slices.Equal(I64(am), wantA) {
				t.Fatalf("argmax %v, want %v", I64(am), wantA)
			}
			gf, gd := randF32(r, len(wantY), -1, 1)
			num := numericGrad(func(in [][]float64) []float64 {
				out, _ := refMaxPool(in[0], n, ch, h, w, p)
				return out
			}, [][]float64{xd}, gd, 1e-3)
			dx := c.MaxPool2dBackward(c.FromFloat32(gf, y.Shape...), am, x.Shape)
			assertClose(t, "dx", F32(dx), num[0], 1e-6)
		})
	}
}

func TestMaxPool2dTiesAndPadding(t *testing.T) {
	c := New()
	// Values from {-3,-2,-1}: windows hold many equal maxima, and every value
	// is below the 0 that a zero-padding bug would produce.
	r := rand.New(rand.NewPCG(55, 56))
	n, ch, h, w := 2, 2, 7, 6
	xf, xd := make([]float32, n*ch*h*w), make([]float64, n*ch*h*w)
	for i := range xf {
		xf[i] = float32(-1 - r.IntN(3))
		xd[i] = float64(xf[i])
	}
	for _, p := range []backend.PoolParams{
		{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{KernelH: 2, KernelW: 2, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	} {
		y, am := c.MaxPool2d(c.FromFloat32(xf, n, ch, h, w), p)
		wantY, wantA := refMaxPool(xd, n, ch, h, w, p)
		assertClose(t, "y", F32(y), wantY, 0)
		if !slices.Equal(I64(am), wantA) {
			t.Fatalf("%+v: argmax %v, want %v (first maximum)", p, I64(am), wantA)
		}
	}
	y, am := c.MaxPool2d(c.FromFloat32([]float32{-5, -5, -5, -9}, 1, 1, 2, 2), backend.PoolParams{KernelH: 2, KernelW: 2, StrideH: 1, StrideW: 1})
	if F32(y)[0] != -5 || I64(am)[0] != 0 {
		t.Fatalf("tie: %v at %v, want -5 at 0", F32(y), I64(am))
	}
	nan := float32(math.NaN())
	y, am = c.MaxPool2d(c.FromFloat32([]float32{1, nan, 3, 2}, 1, 1, 2, 2), backend.PoolParams{KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2})
	if F32(y)[0] == F32(y)[0] || I64(am)[0] != 1 {
		t.Fatalf("NaN window: %v at %v, want NaN at 1", F32(y), I64(am))
	}
}
