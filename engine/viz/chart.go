package viz

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
)

// Series is one named curve.
type Series struct {
	Name   string
	X, Y   []float64
	Points bool // draw markers instead of a line (sparse values such as AP)
}

// Chart is one panel with axes, ticks and a legend.
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
}

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{0, 0, 0, 255}
	grey  = color.RGBA{220, 220, 220, 255}
)

// Render draws charts stacked vertically, each w×h pixels.
func Render(charts []Chart, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h*len(charts)))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	for i, c := range charts {
		c.draw(img, image.Rect(0, i*h, w, (i+1)*h))
	}
	return img
}

func (c *Chart) bounds() (x0, x1, y0, y1 float64, ok bool) {
	x0, y0 = math.Inf(1), math.Inf(1)
	x1, y1 = math.Inf(-1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range s.X {
			if math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				continue
			}
			x0, x1 = math.Min(x0, s.X[i]), math.Max(x1, s.X[i])
			y0, y1 = math.Min(y0, s.Y[i]), math.Max(y1, s.Y[i])
		}
	}
	if math.IsInf(x0, 1) {
		return 0, 1, 0, 1, false
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	if y1 == y0 {
		y1 = y0 + 1
	}
	y0 = math.Min(y0, 0)
	return x0, x1, y0, y1 * 1.05, true
}

func (c *Chart) draw(img *image.RGBA, r image.Rectangle) {
	const left, right, top, bottom = 60, 150, 24, 36
	plot := image.Rect(r.Min.X+left, r.Min.Y+top, r.Max.X-right, r.Max.Y-bottom)
	Text(img, r.Min.X+left, r.Min.Y+16, c.Title, black)
	x0, x1, y0, y1, ok := c.bounds()
	px := func(x float64) int { return plot.Min.X + int(float64(plot.Dx())*(x-x0)/(x1-x0)) }
	py := func(y float64) int { return plot.Max.Y - int(float64(plot.Dy())*(y-y0)/(y1-y0)) }
	for _, t := range ticks(y0, y1, 5) {
		y := py(t)
		for x := plot.Min.X; x <= plot.Max.X; x++ {
			set(img, x, y, grey)
		}
		Text(img, r.Min.X+4, y+4, trim(t), black)
	}
	for _, t := range ticks(x0, x1, 6) {
		x := px(t)
		for y := plot.Min.Y; y <= plot.Max.Y; y++ {
			set(img, x, y, grey)
		}
		Text(img, x-10, plot.Max.Y+14, trim(t), black)
	}
	rect(img, plot.Min.X, plot.Min.Y, plot.Max.X, plot.Max.Y, black)
	Text(img, plot.Min.X+plot.Dx()/2-3*len(c.XLabel), r.Max.Y-6, c.XLabel, black)
	Text(img, r.Min.X+4, r.Min.Y+16+13, c.YLabel, black)
	if !ok {
		Text(img, plot.Min.X+10, plot.Min.Y+20, "no data", black)
		return
	}
	for i, s := range c.Series {
		col := Color(i)
		for k := range s.X {
			if math.IsNaN(s.Y[k]) || math.IsInf(s.Y[k], 0) {
				continue
			}
			if s.Points {
				for dx := -2; dx <= 2; dx++ {
					for dy := -2; dy <= 2; dy++ {
						set(img, px(s.X[k])+dx, py(s.Y[k])+dy, col)
					}
				}
			} else if k > 0 {
				line(img, px(s.X[k-1]), py(s.Y[k-1]), px(s.X[k]), py(s.Y[k]), col)
			}
		}
		ly := plot.Min.Y + 12 + 16*i
		draw.Draw(img, image.Rect(plot.Max.X+8, ly-8, plot.Max.X+20, ly+2), &image.Uniform{col}, image.Point{}, draw.Src)
		Text(img, plot.Max.X+24, ly+2, s.Name, black)
	}
}

// line draws a 1-pixel Bresenham line.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		set(img, x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if 2*e >= dy {
			e += dy
			x0 += sx
		}
		if 2*e <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// ticks returns about n round values spanning [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= float64(n) {
			step *= m
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

func trim(v float64) string {
	s := fmt.Sprintf("%.4g", v)
	if math.Abs(v) >= 10000 {
		s = fmt.Sprintf("%.0fk", v/1000)
	}
	return s
}
