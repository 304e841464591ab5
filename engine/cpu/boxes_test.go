package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randBoxes returns n boxes inside 200×300 with sizes from 1 to 120.
func randBoxes(r *rand.Rand, n int) []float32 {
	b := make([]float32, n*4)
	for i := 0; i < n; i++ {
		w, h := 1+119*r.Float32(), 1+119*r.Float32()
		x, y := r.Float32()*(300-w), r.Float32()*(200-h)
		copy(b[i*4:], []float32{x, y, x + w, y + h})
	}
	return b
}

func TestBoxIoU(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(31, 32))
	a, b := randBoxes(r, 17), randBoxes(r, 23)
	// Edge rows: a degenerate box, a box identical to b[0], a disjoint box.
	a = append(a, 5, 5, 5, 5)
	a = append(a, b[0:4]...)
	a = append(a, 1000, 1000, 1010, 1010)
	n, m := len(a)/4, len(b)/4
	got := F32(c.BoxIoU(c.FromFloat32(a, n, 4), c.FromFloat32(b, m, 4)))
	want := make([]float64, n*m)
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			p, q := toF64(a[i*4:i*4+4]), toF64(b[j*4:j*4+4])
			iw := math.Max(0, math.Min(p[2], q[2])-math.Max(p[0], q[0]))
			ih := math.Max(0, math.Min(p[3], q[3])-math.Max(p[1], q[1]))
			want[i*m+j] = iw * ih / ((p[2]-p[0])*(p[3]-p[1]) + (q[2]-q[0])*(q[3]-q[1]) - iw*ih)
		}
	}
	assertClose(t, "BoxIoU", got, want, 1e-6)
	if got[(n-2)*m] != 1 {
		t.Fatalf("IoU of identical boxes = %v", got[(n-2)*m])
	}
	// Hand value: [0,0,10,10] vs [5,0,15,10] overlap 50 of union 150.
	iou := F32(c.BoxIoU(c.FromFloat32([]float32{0, 0, 10, 10, 3, 3, 3, 3}, 2, 4), c.FromFloat32([]float32{5, 0, 15, 10, 3, 3, 3, 3}, 2, 4)))
	if math.Abs(float64(iou[0])-1.0/3) > 1e-7 || iou[3] != 0 {
		t.Fatalf("IoU %v, want [1/3 . . 0] (degenerate pair 0, not NaN)", iou)
	}
	if e := c.BoxIoU(c.Zeros(0, 0, 4), c.FromFloat32(b, m, 4)); len(e.Shape) != 2 || e.Shape[0] != 0 || e.Shape[1] != m {
		t.Fatalf("BoxIoU of no boxes has shape %v", e.Shape)
	}
}

func TestBoxEncodeDecode(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(33, 34))
	n := 40
	ref, gt := randBoxes(r, n), randBoxes(r, n)
	wts := [4]float32{10, 10, 5, 5}
	got := F32(c.BoxEncode(c.FromFloat32(ref, n, 4), c.FromFloat32(gt, n, 4), wts))
	want := make([]float64, n*4)
	for i := 0; i < n; i++ {
		p, q := toF64(ref[i*4:i*4+4]), toF64(gt[i*4:i*4+4])
		pw, ph, qw, qh := p[2]-p[0], p[3]-p[1], q[2]-q[0], q[3]-q[1]
		want[i*4] = 10 * ((q[0] + qw/2) - (p[0] + pw/2)) / pw
		want[i*4+1] = 10 * ((q[1] + qh/2) - (p[1] + ph/2)) / ph
		want[i*4+2] = 5 * math.Log(qw/pw)
		want[i*4+3] = 5 * math.Log(qh/ph)
	}
	assertClose(t, "BoxEncode", got, want, 1e-5)

	// Decoding the encoding gives the targets back, for every one of k = 3
	// delta groups (the same deltas three times).
	deltas := make([]float32, n*12)
	for i := 0; i < n; i++ {
		for j := 0; j < 3; j++ {
			copy(deltas[i*12+j*4:], got[i*4:i*4+4])
		}
	}
	dec := F32(c.BoxDecode(c.FromFloat32(ref, n, 4), c.FromFloat32(deltas, n, 12), wts))
	back := make([]float64, n*12)
	for i := 0; i < n; i++ {
		for j := 0; j < 3; j++ {
			copy(back[i*12+j*4:], toF64(gt[i*4:i*4+4]))
		}
	}
	assertClose(t, "BoxDecode(BoxEncode)", dec, back, 1e-5)

	// dw, dh beyond log(1000/16) are clamped: width grows by exactly 62.5.
	big := F32(c.BoxDecode(c.FromFloat32([]float32{0, 0, 10, 20}, 1, 4), c.FromFloat32([]float32{0, 0, 50, 50}, 1, 4), wts))
	if w, h := big[2]-big[0], big[3]-big[1]; math.Abs(float64(w)-625) > 1e-3 || math.Abs(float64(h)-1250) > 1e-2 {
		t.Fatalf("clamped decode gives %vx%v, want 625x1250", w, h)
	}
	if cx := (big[0] + big[2]) / 2; math.Abs(float64(cx)-5) > 1e-4 {
		t.Fatalf("clamped decode moved the centre to %v", cx)
	}
}

func TestClipBoxes(t *testing.T) {
	c := New()
	in := []float32{-5, -3, 50, 40, 10, 10, 20, 20, 120, 90, 130, 95}
	got := F32(c.ClipBoxes(c.FromFloat32(in, 1, 12), 60, 100))
	want := []float32{0, 0, 50, 40, 10, 10, 20, 20, 100, 60, 100, 60}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ClipBoxes = %v, want %v", got, want)
		}
	}
	if in[0] != -5 {
		t.Fatal("ClipBoxes modified its input")
	}
}
