package viz

import (
	"image"

	"github.com/fsodgpu/fsodgpu/engine/eval"
)

// ErrorChart draws the error analysis as the YOLO paper's chart: one
// stacked bar per class (fractions of its analysed detections, Correct at
// the bottom), then the base, novel and overall bars; novel classes carry a
// trailing "*" and the title says so. Classes with no analysed detection
// are left out.
func ErrorChart(a *eval.ErrorAnalysis, names []string, novel map[int]bool, title string) (image.Image, error) {
	var bars []Bar
	bar := func(label string, c eval.ErrorCounts) {
		f := c.Fractions()
		bars = append(bars, Bar{Label: label, Segments: f[:]})
	}
	for c, pc := range a.PerClass {
		if pc.N == 0 {
			continue
		}
		label := names[c]
		if novel[c] {
			label += "*"
		}
		bar(label, pc)
	}
	if a.Base != nil && a.Base.N > 0 {
		bar("[base]", *a.Base)
	}
	if a.Novel != nil && a.Novel.N > 0 {
		bar("[novel]", *a.Novel)
	}
	bar("[all]", a.Overall)
	if len(novel) > 0 {
		title += " (* novel class)"
	}
	w := 160 + 60*len(bars)
	if w < 480 {
		w = 480
	}
	return StackedBars(title, "fraction of top-N detections", eval.ErrorKindNames[:], bars, w, 420)
}
