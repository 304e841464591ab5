package geom

import "testing"

func TestIoU(t *testing.T) {
	cases := []struct {
		a, b [4]float64
		want float64
	}{
		{[4]float64{0, 0, 10, 10}, [4]float64{0, 0, 10, 10}, 1},
		{[4]float64{0, 0, 10, 10}, [4]float64{5, 0, 15, 10}, 50.0 / 150},
		{[4]float64{0, 0, 10, 10}, [4]float64{10, 0, 20, 10}, 0}, // touching edges: no +1
		{[4]float64{0, 0, 10, 10}, [4]float64{20, 20, 30, 30}, 0},
		{[4]float64{0, 0, 0, 0}, [4]float64{0, 0, 0, 0}, 0}, // empty union
		{[4]float64{0, 0, 4, 4}, [4]float64{1, 1, 3, 3}, 4.0 / 16},
	}
	for _, c := range cases {
		if got := IoU(c.a, c.b); got != c.want {
			t.Errorf("IoU(%v, %v) = %g, want %g", c.a, c.b, got, c.want)
		}
		if got := IoU(c.b, c.a); got != c.want {
			t.Errorf("IoU(%v, %v) = %g, want %g (symmetry)", c.b, c.a, got, c.want)
		}
	}
	if got := IoU([4]float32{0, 0, 2, 2}, [4]float32{1, 0, 3, 2}); got != float32(2.0/6) {
		t.Errorf("float32 IoU = %g", got)
	}
}
