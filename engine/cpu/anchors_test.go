package cpu

import (
	"math"
	"testing"
)

func TestAnchorsCellAndOrder(t *testing.T) {
	c := New()
	sizes := []float32{32, 64, 128, 256, 512}
	ratios := []float32{0.5, 1, 2}
	h, w, stride := 3, 4, float32(16)
	got := F32(c.Anchors(h, w, stride, sizes, ratios))
	if len(got) != h*w*15*4 {
		t.Fatalf("%d values, want %d", len(got)/4, h*w*15)
	}
	// detectron2's cell anchors for size 32: ratio 0.5 is 45.25 wide and
	// 22.63 tall, ratio 1 is 32×32, ratio 2 is 22.63×45.25, centred on 0.
	cell := [][4]float64{
		{-22.627417, -11.3137085, 22.627417, 11.3137085},
		{-16, -16, 16, 16},
		{-11.3137085, -22.627417, 11.3137085, 22.627417},
	}
	for a, want := range cell {
		for k := 0; k < 4; k++ {
			if math.Abs(float64(got[a*4+k])-want[k]) > 1e-4 {
				t.Fatalf("cell anchor %d = %v, want %v", a, got[a*4:a*4+4], want)
			}
		}
	}
	// Index (y*w + x)*A + a is cell anchor a shifted by (x, y)·stride;
	// anchors are size-major: a = size*len(ratios) + ratio.
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for si, s := range sizes {
				for ri, r := range ratios {
					a := si*len(ratios) + ri
					i := ((y*w+x)*15 + a) * 4
					aw := math.Sqrt(float64(s) * float64(s) / float64(r))
					ah := float64(r) * aw
					cx, cy := float64(x)*16, float64(y)*16
					want := []float64{cx - aw/2, cy - ah/2, cx + aw/2, cy + ah/2}
					for k := range want {
						if math.Abs(float64(got[i+k])-want[k]) > 1e-3 {
							t.Fatalf("anchor y=%d x=%d size=%v ratio=%v = %v, want %v", y, x, s, r, got[i:i+4], want)
						}
					}
				}
			}
		}
	}
}
