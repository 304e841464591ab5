package viz

import (
	"image"
	"path/filepath"
	"testing"
)

func TestDrawBoxesMarksTheRectangle(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	DrawBoxes(img, []Box{{X1: 10, Y1: 20, X2: 40, Y2: 50, Label: "cat 0.9", Class: 3}})
	c := Color(3)
	if img.RGBAAt(10, 35) != c || img.RGBAAt(40, 35) != c || img.RGBAAt(25, 50) != c {
		t.Fatal("box edges not drawn in the class colour")
	}
	if img.RGBAAt(25, 35) == c {
		t.Fatal("box interior must stay untouched")
	}
}

func TestRenderChartAndTicks(t *testing.T) {
	ch := Chart{Title: "loss", XLabel: "iteration", Series: []Series{
		{Name: "total", X: []float64{0, 10, 20}, Y: []float64{3, 2, 1}},
		{Name: "AP50", X: []float64{20}, Y: []float64{40}, Points: true},
	}}
	img := Render([]Chart{ch, {Title: "empty"}}, 400, 200)
	if img.Bounds().Dy() != 400 {
		t.Fatalf("two panels of 200 px: got %v", img.Bounds())
	}
	coloured := 0
	for y := 0; y < 200; y++ {
		for x := 0; x < 400; x++ {
			if img.RGBAAt(x, y) == Color(0) {
				coloured++
			}
		}
	}
	if coloured < 50 {
		t.Fatalf("the first series' line is missing (%d pixels)", coloured)
	}
	if got := ticks(0, 1, 5); len(got) < 3 || got[0] != 0 || got[len(got)-1] > 1 {
		t.Fatalf("ticks(0,1): %v", got)
	}
	if err := WritePNG(filepath.Join(t.TempDir(), "c.png"), img); err != nil {
		t.Fatal(err)
	}
}
