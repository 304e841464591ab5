package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// refRoIAlign is torchvision's roi_align written directly in float64: one
// bilinear lookup per sample point, no precomputed geometry.
func refRoIAlign(x []float64, shape []int, rois []float64, p backend.RoIAlignParams) []float64 {
	ch, h, w := shape[1], shape[2], shape[3]
	nr := len(rois) / 5
	out := make([]float64, nr*ch*p.OutH*p.OutW)
	at := func(plane []float64, y, xx float64) float64 {
		if y < -1 || y > float64(h) || xx < -1 || xx > float64(w) {
			return 0
		}
		y, xx = math.Max(y, 0), math.Max(xx, 0)
		y0, x0 := int(math.Floor(y)), int(math.Floor(xx))
		if y0 >= h-1 {
			y0, y = h-1, float64(h-1)
		}
		if x0 >= w-1 {
			x0, xx = w-1, float64(w-1)
		}
		y1, x1 := min(y0+1, h-1), min(x0+1, w-1)
		ly, lx := y-float64(y0), xx-float64(x0)
		return (1-ly)*(1-lx)*plane[y0*w+x0] + (1-ly)*lx*plane[y0*w+x1] +
			ly*(1-lx)*plane[y1*w+x0] + ly*lx*plane[y1*w+x1]
	}
	off := 0.0
	if p.Aligned {
		off = 0.5
	}
	s := float64(p.SpatialScale)
	for r := 0; r < nr; r++ {
		roi := rois[r*5 : r*5+5]
		b := int(roi[0])
		x1, y1 := roi[1]*s-off, roi[2]*s-off
		rw, rh := roi[3]*s-off-x1, roi[4]*s-off-y1
		if !p.Aligned {
			rw, rh = math.Max(rw, 1), math.Max(rh, 1)
		}
		bh, bw := rh/float64(p.OutH), rw/float64(p.OutW)
		gh, gw := p.SamplingRatio, p.SamplingRatio
		if gh <= 0 {
			gh, gw = int(math.Ceil(bh)), int(math.Ceil(bw))
		}
		gh, gw = max(gh, 0), max(gw, 0)
		cnt := float64(max(gh*gw, 1))
		for k := 0; k < ch; k++ {
			plane := x[(b*ch+k)*h*w : (b*ch+k+1)*h*w]
			for ph := 0; ph < p.OutH; ph++ {
				for pw := 0; pw < p.OutW; pw++ {
					sum := 0.0
					for iy := 0; iy < gh; iy++ {
						for ix := 0; ix < gw; ix++ {
							yy := y1 + float64(ph)*bh + (float64(iy)+0.5)*bh/float64(gh)
							xx := x1 + float64(pw)*bw + (float64(ix)+0.5)*bw/float64(gw)
							sum += at(plane, yy, xx)
						}
					}
					out[((r*ch+k)*p.OutH+ph)*p.OutW+pw] = sum / cnt
				}
			}
		}
	}
	return out
}

// roiCases are RoIs in image pixels for a map of 12×16 at scale 1/4 (image
// 48×64), covering the edge cases: an ordinary box, a single-pixel box, an
// empty box, an inverted box, boxes partly and wholly outside the map, a box
// covering the whole image, and a second batch image.
var roiCases = []float32{
	0, 4.3, 6.1, 30.7, 25.9,
	0, 10, 10, 11, 11,
	1, 20, 20, 20, 20,
	0, 30, 30, 25, 27,
	1, -10, -6, 12, 14,
	0, 50, 30, 90, 70,
	0, 200, 200, 260, 240,
	1, 0, 0, 64, 48,
	1, 3.3, 40.2, 63.9, 47.9,
}

func TestRoIAlignMatchesReference(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(1, 2))
	shape := []int{2, 3, 12, 16}
	xf, xd := randF32(r, backend.Numel(shape), -1, 1)
	x := c.FromFloat32(xf, shape...)
	rois := c.FromFloat32(roiCases, len(roiCases)/5, 5)
	for _, aligned := range []bool{false, true} {
		for _, sr := range []int{0, 1, 2, 3} {
			p := backend.RoIAlignParams{OutH: 3, OutW: 4, SpatialScale: 0.25, SamplingRatio: sr, Aligned: aligned}
			got := F32(c.RoIAlign(x, rois, p))
			want := refRoIAlign(xd, shape, toF64(roiCases), p)
			assertClose(t, "RoIAlign", got, want, 1e-5)
			// Wholly outside the map (row 6) pools to exactly 0.
			for i := 6 * 3 * 12; i < 7*3*12; i++ {
				if got[i] != 0 {
					t.Fatalf("aligned=%v sr=%d: RoI outside the map gives %v at %d", aligned, sr, got[i], i)
				}
			}
			if aligned && sr == 0 {
				// An empty box under ROIAlignV2 has no samples: 0 everywhere.
				for i := 2 * 3 * 12; i < 3*3*12; i++ {
					if got[i] != 0 {
						t.Fatalf("empty box pools to %v, want 0", got[i])
					}
				}
			}
		}
	}
}

func TestRoIAlignLinearPlaneIsExact(t *testing.T) {
	// On v(y,x) = 10y + x bilinear interpolation is exact, so each bin's
	// average equals v at the bin centre when all samples are interior.
	c := New()
	h, w := 8, 10
	xf := make([]float32, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			xf[y*w+x] = float32(10*y + x)
		}
	}
	x := c.FromFloat32(xf, 1, 1, h, w)
	// Aligned: pixel box (1.5,2.5)-(5.5,6.5) becomes (1,2)-(5,6) in map
	// coordinates; 2×2 bins of size 2.
	rois := c.FromFloat32([]float32{0, 1.5, 2.5, 5.5, 6.5}, 1, 5)
	got := F32(c.RoIAlign(x, rois, backend.RoIAlignParams{OutH: 2, OutW: 2, SpatialScale: 1, SamplingRatio: 2, Aligned: true}))
	want := []float32{10*3 + 2, 10*3 + 4, 10*5 + 2, 10*5 + 4}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("bin %d = %v, want %v (all %v)", i, got[i], want[i], got)
		}
	}
}

func TestRoIAlignBackwardMatchesNumericGrad(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(3, 4))
	shape := []int{2, 2, 12, 16}
	_, xd := randF32(r, backend.Numel(shape), -1, 1)
	rois := c.FromFloat32(roiCases, len(roiCases)/5, 5)
	for _, aligned := range []bool{false, true} {
		for _, sr := range []int{0, 2} {
			p := backend.RoIAlignParams{OutH: 2, OutW: 3, SpatialScale: 0.25, SamplingRatio: sr, Aligned: aligned}
			ny := len(roiCases) / 5 * shape[1] * p.OutH * p.OutW
			dyf, dyd := randF32(r, ny, -1, 1)
			dy := c.FromFloat32(dyf, len(roiCases)/5, shape[1], p.OutH, p.OutW)
			got := F32(c.RoIAlignBackward(dy, rois, shape, p))
			want := numericGrad(func(in [][]float64) []float64 {
				return refRoIAlign(in[0], shape, toF64(roiCases), p)
			}, [][]float64{append([]float64(nil), xd...)}, dyd, 1e-3)[0]
			assertClose(t, "RoIAlignBackward", got, want, 1e-4)
		}
	}
}

func TestRoIAlignSingleRoI(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(5, 6))
	shape := []int{1, 4, 7, 9}
	xf, xd := randF32(r, backend.Numel(shape), -2, 2)
	roi := []float32{0, 3.7, 2.2, 21.5, 17.9}
	p := backend.RoIAlignParams{OutH: 7, OutW: 7, SpatialScale: 0.5, SamplingRatio: 0, Aligned: true}
	got := F32(c.RoIAlign(c.FromFloat32(xf, shape...), c.FromFloat32(roi, 1, 5), p))
	assertClose(t, "RoIAlign single", got, refRoIAlign(xd, shape, toF64(roi), p), 1e-5)
}

func TestRoIAlignNoRoIs(t *testing.T) {
	c := New()
	p := backend.RoIAlignParams{OutH: 7, OutW: 7, SpatialScale: 0.5, Aligned: true}
	y := c.RoIAlign(c.Zeros(backend.F32, 1, 3, 5, 5), c.Zeros(backend.F32, 0, 5), p)
	if !backend.SameShape(y.Shape, []int{0, 3, 7, 7}) {
		t.Fatalf("no RoIs give shape %v, want [0 3 7 7]", y.Shape)
	}
	dx := c.RoIAlignBackward(y, c.Zeros(backend.F32, 0, 5), []int{1, 3, 5, 5}, p)
	if !backend.SameShape(dx.Shape, []int{1, 3, 5, 5}) {
		t.Fatalf("backward of no RoIs has shape %v", dx.Shape)
	}
	for _, v := range F32(dx) {
		if v != 0 {
			t.Fatalf("backward of no RoIs is not zero: %v", F32(dx))
		}
	}
}

func TestRoIAlignBackwardDeterministic(t *testing.T) {
	// Bit-identical gradients whatever the number of workers.
	r := rand.New(rand.NewPCG(7, 8))
	shape := []int{2, 5, 12, 16}
	p := backend.RoIAlignParams{OutH: 3, OutW: 3, SpatialScale: 0.25, SamplingRatio: 0, Aligned: true}
	nr := len(roiCases) / 5
	dyf, _ := randF32(r, nr*shape[1]*9, -1, 1)
	var first []float32
	for _, workers := range []int{1, 2, 3} {
		c := &CPU{workers: workers}
		got := F32(c.RoIAlignBackward(c.FromFloat32(dyf, nr, shape[1], 3, 3), c.FromFloat32(roiCases, nr, 5), shape, p))
		if first == nil {
			first = got
			continue
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
				t.Fatalf("workers=%d: dx[%d] = %v, workers=1 gave %v", workers, i, got[i], first[i])
			}
		}
	}
}

func TestRoIAlignPanicsOnBadBatchIndex(t *testing.T) {
	c := New()
	defer func() {
		if recover() == nil {
			t.Fatal("batch index 3 of a batch of 1 did not panic")
		}
	}()
	c.RoIAlign(c.Zeros(backend.F32, 1, 1, 4, 4), c.FromFloat32([]float32{3, 0, 0, 2, 2}, 1, 5),
		backend.RoIAlignParams{OutH: 2, OutW: 2, SpatialScale: 1})
}

// trainingRoIs returns 512 RoIs like the R-CNN head's proposals on an
// 600×1000 image: sizes 16..400 pixels, clipped to the image.
func trainingRoIs(r *rand.Rand) []float32 {
	rois := make([]float32, 512*5)
	for i := 0; i < 512; i++ {
		w, h := 16+384*r.Float32()*r.Float32(), 16+384*r.Float32()*r.Float32()
		x1, y1 := r.Float32()*(1000-w), r.Float32()*(600-h)
		copy(rois[i*5:], []float32{0, x1, y1, x1 + w, y1 + h})
	}
	return rois
}

var trainingRoIParams = backend.RoIAlignParams{OutH: 7, OutW: 7, SpatialScale: 1.0 / 16, SamplingRatio: 0, Aligned: true}

func BenchmarkRoIAlignForward(b *testing.B) {
	c := New()
	r := rand.New(rand.NewPCG(1, 1))
	xf, _ := randF32(r, 1024*38*63, -1, 1)
	x := c.FromFloat32(xf, 1, 1024, 38, 63)
	rois := c.FromFloat32(trainingRoIs(r), 512, 5)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.RoIAlign(x, rois, trainingRoIParams)
	}
}

func BenchmarkRoIAlignBackward(b *testing.B) {
	c := New()
	r := rand.New(rand.NewPCG(1, 1))
	dyf, _ := randF32(r, 512*1024*49, -1, 1)
	dy := c.FromFloat32(dyf, 512, 1024, 7, 7)
	rois := c.FromFloat32(trainingRoIs(r), 512, 5)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.RoIAlignBackward(dy, rois, []int{1, 1024, 38, 63}, trainingRoIParams)
	}
}
