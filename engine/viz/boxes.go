// Package viz draws what people look at: detections on images and training
// curves, as PNGs: boxes with the standard library and x/image's bitmap
// font, charts with gonum.org/v1/plot.
package viz

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Box is one labelled rectangle in image pixels.
type Box struct {
	X1, Y1, X2, Y2 float32
	Label          string
	Class          int // picks the colour
}

// palette has distinguishable colours for up to 20 classes, then repeats.
var palette = []color.RGBA{
	{230, 25, 75, 255}, {60, 180, 75, 255}, {255, 225, 25, 255}, {0, 130, 200, 255}, {245, 130, 48, 255},
	{145, 30, 180, 255}, {70, 240, 240, 255}, {240, 50, 230, 255}, {210, 245, 60, 255}, {250, 190, 212, 255},
	{0, 128, 128, 255}, {220, 190, 255, 255}, {170, 110, 40, 255}, {255, 250, 200, 255}, {128, 0, 0, 255},
	{170, 255, 195, 255}, {128, 128, 0, 255}, {255, 215, 180, 255}, {0, 0, 128, 255}, {128, 128, 128, 255},
}

// Color returns the colour of class i.
func Color(i int) color.RGBA { return palette[((i%len(palette))+len(palette))%len(palette)] }

// DrawBoxes draws 2-pixel rectangles with a filled label tab above each.
func DrawBoxes(dst *image.RGBA, boxes []Box) {
	for _, b := range boxes {
		c := Color(b.Class)
		x1, y1, x2, y2 := int(b.X1), int(b.Y1), int(b.X2), int(b.Y2)
		for t := 0; t < 2; t++ {
			rect(dst, x1-t, y1-t, x2+t, y2+t, c)
		}
		if b.Label == "" {
			continue
		}
		w := font.MeasureString(basicfont.Face7x13, b.Label).Ceil() + 4
		ty := y1 - 15
		if ty < 0 {
			ty = y1 + 1
		}
		draw.Draw(dst, image.Rect(x1, ty, x1+w, ty+15), &image.Uniform{c}, image.Point{}, draw.Src)
		Text(dst, x1+2, ty+12, b.Label, contrast(c))
	}
}

func contrast(c color.RGBA) color.RGBA {
	if int(c.R)*299+int(c.G)*587+int(c.B)*114 > 128000 {
		return color.RGBA{0, 0, 0, 255}
	}
	return color.RGBA{255, 255, 255, 255}
}

func rect(dst *image.RGBA, x1, y1, x2, y2 int, c color.RGBA) {
	for x := x1; x <= x2; x++ {
		set(dst, x, y1, c)
		set(dst, x, y2, c)
	}
	for y := y1; y <= y2; y++ {
		set(dst, x1, y, c)
		set(dst, x2, y, c)
	}
}

func set(dst *image.RGBA, x, y int, c color.RGBA) {
	if image.Pt(x, y).In(dst.Bounds()) {
		dst.SetRGBA(x, y, c)
	}
}

// Text draws s with its baseline at (x, y).
func Text(dst draw.Image, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// WritePNG writes img to path.
func WritePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
