package model

import (
	"testing"
)

func TestMatchThresholdsAndLowQuality(t *testing.T) {
	// Two gts × five predictions.
	iou := []float32{
		0.8, 0.5, 0.1, 0.0, 0.25,
		0.2, 0.6, 0.2, 0.0, 0.25,
	}
	idx, label := match(iou, 2, 5, 0.7, 0.3, false)
	wantIdx := []int{0, 1, 1, 0, 0} // ties (column 4) go to the lower gt
	wantLabel := []int8{labelFg, labelIgnore, labelBg, labelBg, labelBg}
	for j := range wantIdx {
		if idx[j] != wantIdx[j] || label[j] != wantLabel[j] {
			t.Fatalf("match without low-quality: idx %v label %v, want %v %v", idx, label, wantIdx, wantLabel)
		}
	}
	// Gt 1's best IoU is 0.6 (column 1): low-quality matching makes it fg.
	_, label = match(iou, 2, 5, 0.7, 0.3, true)
	if label[1] != labelFg || label[2] != labelBg || label[4] != labelBg {
		t.Fatalf("low-quality labels %v", label)
	}
	// No gt: everything is background.
	_, label = match(nil, 0, 3, 0.7, 0.3, true)
	for _, l := range label {
		if l != labelBg {
			t.Fatalf("labels without gt %v", label)
		}
	}
}

func TestSampleFractionAndSeed(t *testing.T) {
	label := make([]int8, 1000)
	for j := range label {
		switch {
		case j%10 == 0:
			label[j] = labelFg // 100 fg
		case j%10 == 1:
			label[j] = labelIgnore
		}
	}
	fg, bg := sample(label, 256, 0.25, stepRand(1, 7, 1))
	if len(fg) != 64 || len(bg) != 192 {
		t.Fatalf("sampled %d fg + %d bg, want 64 + 192", len(fg), len(bg))
	}
	seen := map[int]bool{}
	for _, j := range fg {
		if label[j] != labelFg || seen[j] {
			t.Fatalf("fg sample %d has label %d (or repeats)", j, label[j])
		}
		seen[j] = true
	}
	for _, j := range bg {
		if label[j] != labelBg || seen[j] {
			t.Fatalf("bg sample %d has label %d (or repeats)", j, label[j])
		}
		seen[j] = true
	}
	// Too few fg: the rest is filled with bg.
	few := make([]int8, 50)
	few[3] = labelFg
	fg, bg = sample(few, 20, 0.5, stepRand(1, 7, 1))
	if len(fg) != 1 || len(bg) != 19 {
		t.Fatalf("with one fg: %d fg + %d bg, want 1 + 19", len(fg), len(bg))
	}
	// Same (seed, iter) → same draw; another iteration → another draw.
	a, _ := sample(label, 256, 0.25, stepRand(1, 7, 1))
	b, _ := sample(label, 256, 0.25, stepRand(1, 7, 1))
	c, _ := sample(label, 256, 0.25, stepRand(1, 8, 1))
	same, diff := true, false
	for i := range a {
		same = same && a[i] == b[i]
		diff = diff || a[i] != c[i]
	}
	if !same || !diff {
		t.Fatalf("sampling not a function of (seed, iter): same %v, differs across iterations %v", same, diff)
	}
}

func TestSEMRelabel(t *testing.T) {
	h := &roiHeads{cfg: DemoConfig()}
	h.cfg.ROI.IoU = 0.5
	bg := int64(h.cfg.NumClasses)
	in := &Input{
		Boxes:   [][][4]float32{{{0, 0, 10, 10}, {20, 0, 30, 10}}, {}},
		Classes: [][]int64{{3, 7}, {}},
	}
	rs := &roiSet{
		img: []int{0, 0, 0, 0, 1},
		boxes: [][4]float32{
			{0, 0, 10, 10},  // on gt 0
			{21, 0, 31, 10}, // IoU 9/11 with gt 1
			{0, 0, 10, 25},  // IoU 0.4 with gt 0: background
			{5, 0, 25, 10},  // IoU 1/3 with both: background
			{0, 0, 10, 10},  // an image without gt: background
		},
	}
	got := h.relabel(in, rs)
	want := []int64{3, 7, bg, bg, bg}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("relabel = %v, want %v", got, want)
		}
	}
}
