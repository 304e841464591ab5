package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

func refSiLU(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = v / (1 + math.Exp(-v))
	}
	return y
}

func refLeaky(x []float64, slope float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = v
		if v <= 0 {
			y[i] = slope * v
		}
	}
	return y
}

func TestSiLU(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(71, 72))
	xf, xd := randF32(r, 300, -12, 12)
	// Far tails: σ must not overflow, and silu(-100) is a tiny negative.
	xf = append(xf, -100, 100, 0)
	xd = append(xd, -100, 100, 0)
	x := c.FromFloat32(xf, len(xf))
	assertClose(t, "y", F32(c.SiLU(x)), refSiLU(xd), 1e-6)
	gf, gd := randF32(r, len(xf), -1, 1)
	num := numericGrad(func(in [][]float64) []float64 { return refSiLU(in[0]) }, [][]float64{xd}, gd, 1e-5)
	assertClose(t, "dx", F32(c.SiLUBackward(x, c.FromFloat32(gf, len(gf)))), num[0], 1e-6)
	if y := F32(c.SiLU(c.FromFloat32([]float32{float32(math.NaN())}, 1)))[0]; y == y {
		t.Fatalf("silu(NaN) = %v, want NaN", y)
	}
}

func TestLeakyReLU(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(73, 74))
	for _, slope := range []float64{0.1, 0.01, 0} {
		xf, xd := randF32(r, 200, -3, 3)
		x := c.FromFloat32(xf, 4, 50)
		assertClose(t, "y", F32(c.LeakyReLU(x, float32(slope))), refLeaky(xd, slope), 1e-7)
		gf, gd := randF32(r, len(xf), -1, 1)
		num := numericGrad(func(in [][]float64) []float64 { return refLeaky(in[0], slope) }, [][]float64{xd}, gd, 1e-4)
		assertClose(t, fmt.Sprint("dx slope ", slope), F32(c.LeakyReLUBackward(x, c.FromFloat32(gf, 4, 50), float32(slope))), num[0], 1e-6)
	}
	// At 0 the gradient is the negative side's, as torch's leaky_relu_backward.
	dx := F32(c.LeakyReLUBackward(c.FromFloat32([]float32{0, 2, -2}, 3), c.FromFloat32([]float32{1, 1, 1}, 3), 0.1))
	if dx[0] != 0.1 || dx[1] != 1 || dx[2] != 0.1 {
		t.Fatalf("leaky relu grad at 0, 2, -2 = %v, want [0.1 1 0.1]", dx)
	}
}

// refAdaptiveMax uses the bins' real-valued bounds, floor(i·H/n) and
// ceil((i+1)·H/n) in float64: another route to the same integer bins.
func refAdaptiveMax(x []float64, planes, h, w, oh, ow int) ([]float64, []int64) {
	y, am := make([]float64, planes*oh*ow), make([]int64, planes*oh*ow)
	for pl := range planes {
		for i := range oh {
			r0, r1 := int(math.Floor(float64(i*h)/float64(oh))), int(math.Ceil(float64((i+1)*h)/float64(oh)))
			for j := range ow {
				s0, s1 := int(math.Floor(float64(j*w)/float64(ow))), int(math.Ceil(float64((j+1)*w)/float64(ow)))
				best, bi := math.Inf(-1), int64(-1)
				for r := r0; r < r1; r++ {
					for s := s0; s < s1; s++ {
						if v := x[pl*h*w+r*w+s]; v > best || bi < 0 {
							best, bi = v, int64(r*w+s)
						}
					}
				}
				o := pl*oh*ow + i*ow + j
				y[o], am[o] = best, bi
			}
		}
	}
	return y, am
}

func TestAdaptiveMaxPool2d(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(75, 76))
	// SPP-net's levels on sizes that divide, that do not (overlapping bins),
	// and maps smaller than the grid (bins repeat a pixel).
	for _, sz := range [][4]int{{13, 13, 4, 4}, {7, 10, 4, 2}, {5, 3, 2, 2}, {1, 1, 4, 4}, {3, 2, 4, 4}, {9, 7, 1, 1}, {6, 6, 3, 5}} {
		h, w, oh, ow := sz[0], sz[1], sz[2], sz[3]
		t.Run(fmt.Sprint(sz), func(t *testing.T) {
			n, ch := 2, 3
			xd := make([]float64, n*ch*h*w)
			xf := make([]float32, len(xd))
			for i, v := range r.Perm(len(xd)) { // distinct values: a smooth max
				xf[i] = float32(v) / 8
				xd[i] = float64(xf[i])
			}
			x := c.FromFloat32(xf, n, ch, h, w)
			y, am := c.AdaptiveMaxPool2d(x, oh, ow)
			if !slices.Equal(y.Shape, []int{n, ch, oh, ow}) {
				t.Fatalf("shape %v", y.Shape)
			}
			wantY, wantA := refAdaptiveMax(xd, n*ch, h, w, oh, ow)
			assertClose(t, "y", F32(y), wantY, 0)
			if !slices.Equal(I64(am), wantA) {
				t.Fatalf("argmax %v, want %v", I64(am), wantA)
			}
			gf, gd := randF32(r, len(wantY), -1, 1)
			num := numericGrad(func(in [][]float64) []float64 {
				out, _ := refAdaptiveMax(in[0], n*ch, h, w, oh, ow)
				return out
			}, [][]float64{xd}, gd, 1e-3)
			assertClose(t, "dx", F32(c.MaxPool2dBackward(c.FromFloat32(gf, y.Shape...), am, x.Shape)), num[0], 1e-6)
		})
	}
	// H = 5 into 2 rows: bins are rows 0..2 and 2..4, sharing row 2.
	y, am := c.AdaptiveMaxPool2d(c.FromFloat32([]float32{0, 1, 9, 2, 3}, 1, 1, 5, 1), 2, 1)
	if !slices.Equal(F32(y), []float32{9, 9}) || !slices.Equal(I64(am), []int64{2, 2}) {
		t.Fatalf("overlapping bins: %v at %v, want [9 9] at [2 2]", F32(y), I64(am))
	}
}

// TestMaxPoolSPPSizes: the SPP blocks' pools (kernel k, stride 1, padding
// k//2) keep the map's size, and two 5×5 pools equal one 9×9 and three one
// 13×13, which is what makes SPPF equal SPP: padding never wins.
func TestMaxPoolSPPSizes(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(77, 78))
	n, ch, h, w := 2, 3, 11, 8
	xf, xd := randF32(r, n*ch*h*w, -3, -1) // all negative: zero padding would win
	x := c.FromFloat32(xf, n, ch, h, w)
	pool := func(x *backend.Tensor, k int) *backend.Tensor {
		y, _ := c.MaxPool2d(x, backend.PoolParams{KernelH: k, KernelW: k, StrideH: 1, StrideW: 1, PadH: k / 2, PadW: k / 2})
		return y
	}
	for _, k := range []int{5, 9, 13} {
		p := backend.PoolParams{KernelH: k, KernelW: k, StrideH: 1, StrideW: 1, PadH: k / 2, PadW: k / 2}
		y, am := c.MaxPool2d(x, p)
		if !slices.Equal(y.Shape, x.Shape) {
			t.Fatalf("k %d: shape %v, want %v", k, y.Shape, x.Shape)
		}
		wantY, wantA := refMaxPool(xd, n, ch, h, w, p)
		assertClose(t, fmt.Sprint("k ", k), F32(y), wantY, 0)
		if !slices.Equal(I64(am), wantA) {
			t.Fatalf("k %d: argmax differs", k)
		}
	}
	p5 := pool(x, 5)
	p55 := pool(p5, 5)
	if !slices.Equal(F32(p55), F32(pool(x, 9))) || !slices.Equal(F32(pool(p55, 5)), F32(pool(x, 13))) {
		t.Fatal("chained 5×5 pools differ from the 9×9 and 13×13 pools")
	}
}
