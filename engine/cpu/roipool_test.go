package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// TestRoIPoolKnown: outputs that torchvision.ops.roi_pool gives on a 4×4
// ramp (0..15), printed from torchvision 0.14.
func TestRoIPoolKnown(t *testing.T) {
	c := New()
	ramp := make([]float32, 16)
	for i := range ramp {
		ramp[i] = float32(i)
	}
	x := c.FromFloat32(ramp, 1, 1, 4, 4)
	for _, tc := range []struct {
		name  string
		roi   []float32
		oh    int
		scale float32
		want  []float32
		arg   []int64
	}{
		{"2x2 bins", []float32{0, 0, 0, 3, 3}, 2, 1, []float32{5, 7, 13, 15}, []int64{5, 7, 13, 15}},
		{"round half away from zero", []float32{0, 1, 1, 5, 5}, 1, 0.5, []float32{15}, []int64{15}},
		{"round down", []float32{0, 1, 1, 4.9, 4.9}, 1, 0.5, []float32{10}, []int64{10}},
		{"outside: empty bins are 0", []float32{0, 5, 5, 9, 9}, 2, 1, []float32{0, 0, 0, 0}, []int64{-1, -1, -1, -1}},
		{"more bins than cells", []float32{0, 2, 0, 3, 1}, 3, 1, []float32{2, 3, 3, 6, 7, 7, 6, 7, 7}, []int64{2, 3, 3, 6, 7, 7, 6, 7, 7}},
	} {
		y, am := c.RoIPool(x, c.FromFloat32(tc.roi, 1, 5), backend.RoIPoolParams{OutH: tc.oh, OutW: tc.oh, SpatialScale: tc.scale})
		if !slices.Equal(F32(y), tc.want) || !slices.Equal(I64(am), tc.arg) {
			t.Errorf("%s: %v at %v, want %v at %v", tc.name, F32(y), I64(am), tc.want, tc.arg)
		}
	}
	// All −inf: torchvision starts from −FLT_MAX and keeps it, argmax −1.
	inf := float32(math.Inf(-1))
	y, am := c.RoIPool(c.FromFloat32([]float32{inf, inf, inf, inf}, 1, 1, 2, 2), c.FromFloat32([]float32{0, 0, 0, 1, 1}, 1, 5),
		backend.RoIPoolParams{OutH: 1, OutW: 1, SpatialScale: 1})
	if F32(y)[0] != -math.MaxFloat32 || I64(am)[0] != -1 {
		t.Errorf("all -inf: %v at %v, want -FLT_MAX at -1", F32(y), I64(am))
	}
}

// refRoIPool is torchvision's loop written out directly (float32 geometry,
// float64 values), one output at a time.
func refRoIPool(x []float64, n, ch, h, w int, rois []float32, oh, ow int, scale float32) []float64 {
	nr := len(rois) / 5
	y := make([]float64, nr*ch*oh*ow)
	for r := range nr {
		roi := rois[r*5 : r*5+5]
		b := int(roi[0])
		sw := int(math.Round(float64(roi[1] * scale)))
		sh := int(math.Round(float64(roi[2] * scale)))
		ew := int(math.Round(float64(roi[3] * scale)))
		eh := int(math.Round(float64(roi[4] * scale)))
		rw, rh := max(ew-sw+1, 1), max(eh-sh+1, 1)
		bh, bw := float32(rh)/float32(oh), float32(rw)/float32(ow)
		for k := range ch {
			for ph := range oh {
				for pw := range ow {
					hs := min(max(int(math.Floor(float64(float32(ph)*bh)))+sh, 0), h)
					he := min(max(int(math.Ceil(float64(float32(ph+1)*bh)))+sh, 0), h)
					ws := min(max(int(math.Floor(float64(float32(pw)*bw)))+sw, 0), w)
					we := min(max(int(math.Ceil(float64(float32(pw+1)*bw)))+sw, 0), w)
					v := 0.0
					if he > hs && we > ws {
						v = math.Inf(-1)
						for yy := hs; yy < he; yy++ {
							for xx := ws; xx < we; xx++ {
								v = math.Max(v, x[((b*ch+k)*h+yy)*w+xx])
							}
						}
					}
					y[((r*ch+k)*oh+ph)*ow+pw] = v
				}
			}
		}
	}
	return y
}

func TestRoIPoolGradient(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(81, 82))
	n, ch, h, w := 2, 3, 9, 12
	xd := make([]float64, n*ch*h*w)
	xf := make([]float32, len(xd))
	for i, v := range r.Perm(len(xd)) { // distinct: a smooth max
		xf[i] = float32(v) / 16
		xd[i] = float64(xf[i])
	}
	// Stride-16 style boxes: inside, partly outside, outside, tiny,
	// inverted, overlapping RoIs on both images.
	rois := []float32{
		0, 8, 8, 120, 90,
		1, 30.5, 17.2, 70.4, 60.9,
		0, -40, -20, 50, 40,
		1, 150, 100, 250, 200,
		0, 60, 60, 61, 61,
		1, 100, 80, 40, 30,
		1, 0, 0, 191, 143,
	}
	for _, sz := range [][2]int{{7, 7}, {2, 3}, {4, 4}} {
		p := backend.RoIPoolParams{OutH: sz[0], OutW: sz[1], SpatialScale: 1.0 / 16}
		x, rt := c.FromFloat32(xf, n, ch, h, w), c.FromFloat32(rois, len(rois)/5, 5)
		y, am := c.RoIPool(x, rt, p)
		want := refRoIPool(xd, n, ch, h, w, rois, sz[0], sz[1], p.SpatialScale)
		assertClose(t, "y", F32(y), want, 0)
		gf, gd := randF32(r, len(want), -1, 1)
		num := numericGrad(func(in [][]float64) []float64 {
			return refRoIPool(in[0], n, ch, h, w, rois, sz[0], sz[1], p.SpatialScale)
		}, [][]float64{xd}, gd, 1e-3)
		assertClose(t, "dx", F32(c.RoIPoolBackward(c.FromFloat32(gf, y.Shape...), am, rt, x.Shape)), num[0], 1e-6)
	}
}
