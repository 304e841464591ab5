package viz

import (
	"image"
	"image/color"
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

func TestRenderChart(t *testing.T) {
	ch := Chart{Title: "loss", XLabel: "iteration", Series: []Series{
		{Name: "total", X: []float64{0, 10, 20}, Y: []float64{3, 2, 1}},
		{Name: "AP50", X: []float64{20}, Y: []float64{40}, Points: true},
	}}
	img, err := Render([]Chart{ch, {Title: "empty"}}, 400, 200)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dy() != 400 || img.Bounds().Dx() != 400 {
		t.Fatalf("two panels of 400x200 px: got %v", img.Bounds())
	}
	if n := countColour(img, image.Rect(0, 0, 400, 200), Color(0)); n < 50 {
		t.Fatalf("the first series' line is missing (%d pixels)", n)
	}
	if err := WritePNG(filepath.Join(t.TempDir(), "c.png"), img); err != nil {
		t.Fatal(err)
	}
}

func TestStackedBarsDrawsEverySegment(t *testing.T) {
	img, err := StackedBars("errors", "fraction", []string{"a", "b"},
		[]Bar{{Label: "x", Segments: []float64{0.5, 0.5}}, {Label: "y", Segments: []float64{1, 0}}}, 300, 200)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 2; k++ {
		if n := countColour(img, img.Bounds(), Color(k)); n < 100 {
			t.Fatalf("segment %d: %d pixels in its colour", k, n)
		}
	}
	if _, err := StackedBars("e", "", []string{"a"}, []Bar{{Label: "x", Segments: []float64{1, 2}}}, 300, 200); err == nil {
		t.Fatal("a bar with the wrong number of segments must be an error")
	}
}

func countColour(img image.Image, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) == c {
				n++
			}
		}
	}
	return n
}
