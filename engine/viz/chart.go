package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
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

// dpi is the raster resolution: w×h pixels map to w×h points at 72 dpi,
// so the sizes callers pass are the PNG's size in pixels.
const dpi = 72

// Render draws charts stacked vertically, each w×h pixels, with gonum/plot.
func Render(charts []Chart, w, h int) (image.Image, error) {
	if len(charts) == 0 {
		return nil, fmt.Errorf("viz.Render: no charts")
	}
	plots := make([][]*plot.Plot, len(charts))
	for i, c := range charts {
		p, err := c.plot()
		if err != nil {
			return nil, fmt.Errorf("chart %q: %v", c.Title, err)
		}
		plots[i] = []*plot.Plot{p}
	}
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(w), vg.Length(h*len(charts))), vgimg.UseDPI(dpi),
		vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(charts), Cols: 1, PadX: vg.Points(4), PadY: vg.Points(8),
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return img.Image(), nil
}

// finite drops NaN and Inf points: a diverged loss must not blank the panel.
func finite(s Series) plotter.XYs {
	var xy plotter.XYs
	for i := range s.X {
		if i < len(s.Y) && !math.IsNaN(s.Y[i]) && !math.IsInf(s.Y[i], 0) {
			xy = append(xy, plotter.XY{X: s.X[i], Y: s.Y[i]})
		}
	}
	return xy
}

func (c *Chart) plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	any := false
	for i, s := range c.Series {
		xy := finite(s)
		if len(xy) == 0 {
			continue
		}
		any = true
		col := Color(i)
		if s.Points || len(xy) == 1 {
			sc, err := plotter.NewScatter(xy)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle.Color = col
			sc.GlyphStyle.Radius = vg.Points(3)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(sc)
			p.Legend.Add(s.Name, sc)
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color = col
		l.LineStyle.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	// Zero stays in view, as the losses and APs are read against it.
	p.Y.Min = math.Min(p.Y.Min, 0)
	if !any {
		p.Title.Text = c.Title + " (no data)"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	}
	return p, nil
}

// Bar is one stacked bar: its label and the height of each segment, in the
// order of the chart's segment names.
type Bar struct {
	Label    string
	Segments []float64
}

// StackedBars draws one stacked bar per entry (segments named by names,
// bottom first), w×h pixels.
func StackedBars(title, ylabel string, names []string, bars []Bar, w, h int) (image.Image, error) {
	if len(bars) == 0 {
		return nil, fmt.Errorf("viz.StackedBars: no bars")
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.Left = false
	labels := make([]string, len(bars))
	for i, b := range bars {
		labels[i] = b.Label
		if len(b.Segments) != len(names) {
			return nil, fmt.Errorf("viz.StackedBars: bar %q has %d segments, want %d", b.Label, len(b.Segments), len(names))
		}
	}
	// Bars fill about 60% of each slot so the labels stay apart.
	width := vg.Length(0.6 * float64(w-120) / float64(len(bars)))
	if width < 2 {
		width = 2
	}
	var below *plotter.BarChart
	var charts []*plotter.BarChart
	for k, name := range names {
		vals := make(plotter.Values, len(bars))
		for i, b := range bars {
			vals[i] = b.Segments[k]
		}
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		bc.Color = Color(k)
		bc.LineStyle.Width = 0
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		charts = append(charts, bc)
		p.Legend.Add(name, bc)
	}
	for _, bc := range charts {
		p.Add(bc)
	}
	p.NominalX(labels...)
	if len(bars) > 8 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	p.Y.Min = 0
	// Room above the tallest bar for the legend.
	p.Y.Max = 1.35 * maxHeight(charts[len(charts)-1], len(bars))
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(w), vg.Length(h)), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	p.Draw(draw.New(img))
	return img.Image(), nil
}

func maxHeight(top *plotter.BarChart, n int) float64 {
	m := 0.0
	for i := 0; i < n; i++ {
		m = math.Max(m, top.BarHeight(i))
	}
	if m == 0 {
		m = 1
	}
	return m
}
