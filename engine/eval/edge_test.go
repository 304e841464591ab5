package eval

import (
	"math"
	"testing"
)

func obj(class int, x1, y1, x2, y2 float64) Object {
	return Object{Box: Box{x1, y1, x2, y2}, Class: class}
}

func det(class int, score, x1, y1, x2, y2 float64) Detection {
	return Detection{Box: Box{x1, y1, x2, y2}, Score: score, Class: class}
}

func approx(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("%s = %.17g, want %.17g", what, got, want)
	}
}

func TestCOCONoDetections(t *testing.T) {
	ev := NewEvaluator(3)
	ev.Add([]Object{obj(0, 0, 0, 50, 50), obj(1, 10, 10, 200, 200)}, nil)
	ev.Add(nil, nil)
	r := ev.COCO()
	for i, s := range r.Stats {
		want := 0.0
		switch COCOStatNames[i] {
		case "APs", "ARs": // no GT below 32²
			want = -1
		}
		approx(t, COCOStatNames[i], s, want)
	}
	if !r.PerClass[0].Valid || r.PerClass[0].AP != 0 || r.PerClass[2].Valid || r.PerClass[2].AP != -1 {
		t.Errorf("per class %+v", r.PerClass)
	}
	vr := ev.VOC(VOC07)
	if !vr.Classes[0].Valid || vr.Classes[0].APs[0] != 0 || vr.Classes[2].Valid {
		t.Errorf("VOC per class %+v", vr.Classes)
	}
}

// A class with detections but no GT is -1 and left out of every mean.
func TestCOCOClassWithoutGT(t *testing.T) {
	ev := NewEvaluator(2)
	ev.Add([]Object{obj(0, 0, 0, 100, 100)}, []Detection{det(0, 0.9, 0, 0, 100, 100), det(1, 0.95, 0, 0, 100, 100)})
	r := ev.COCO()
	approx(t, "AP", r.Stats[0], 1)
	approx(t, "AR100", r.Stats[8], 1)
	if r.PerClass[1].Valid || r.PerClass[1].AP != -1 {
		t.Errorf("class without GT: %+v", r.PerClass[1])
	}
	if s := r.Summary([]int{1}); s.AP != -1 || s.NumClasses != 0 {
		t.Errorf("summary over a class without GT: %+v", s)
	}
	v := ev.VOC(VOCArea)
	if v.Classes[1].Valid || v.PerClass[1].Valid {
		t.Errorf("VOC class without GT: %+v", v.Classes[1])
	}
	approx(t, "VOC AP50", v.Summary(nil).AP50, 1)
}

// Detections inside crowd regions are ignored, and a crowd region is never a
// miss; an image whose only GT is a crowd region does not count.
func TestCOCOAllCrowdImage(t *testing.T) {
	ev := NewEvaluator(1)
	crowd := Object{Box: Box{0, 0, 300, 300}, Class: 0, Crowd: true}
	ev.Add([]Object{crowd}, []Detection{det(0, 0.99, 10, 10, 60, 60), det(0, 0.98, 100, 100, 200, 200), det(0, 0.97, 0, 0, 300, 300)})
	ev.Add([]Object{obj(0, 0, 0, 100, 100)}, []Detection{det(0, 0.5, 0, 0, 100, 100)})
	r := ev.COCO()
	approx(t, "AP", r.Stats[0], 1)
	approx(t, "AR100", r.Stats[8], 1)
	if r.PerClass[0].NumGT != 1 {
		t.Errorf("NumGT = %d, want 1 (crowd not counted)", r.PerClass[0].NumGT)
	}

	only := NewEvaluator(1)
	only.Add([]Object{crowd}, []Detection{det(0, 0.9, 10, 10, 60, 60)})
	if s := only.COCO().Stats; s[0] != -1 || s[8] != -1 {
		t.Errorf("all-crowd data set: AP %g AR %g, want -1 -1", s[0], s[8])
	}
}

// Ties in score keep the order the detections were given in (pycocotools
// sorts with a stable mergesort; images in id order).
func TestCOCOTiesKeepOrder(t *testing.T) {
	gt := []Object{obj(0, 0, 0, 100, 100)}
	fp := det(0, 0.5, 300, 300, 400, 400)
	tp := det(0, 0.5, 0, 0, 100, 100)

	ev := NewEvaluator(1)
	ev.Add(gt, []Detection{fp, tp})
	// FP first: precision 0 then 1/2; envelope 1/2 at every recall point.
	approx(t, "AP50 fp first", ev.COCO().Stats[1], 0.5)

	ev = NewEvaluator(1)
	ev.Add(gt, []Detection{tp, fp})
	approx(t, "AP50 tp first", ev.COCO().Stats[1], 1)

	// Across images the first image's detections come first.
	ev = NewEvaluator(1)
	ev.Add(nil, []Detection{fp})
	ev.Add(gt, []Detection{tp})
	approx(t, "AP50 fp in first image", ev.COCO().Stats[1], 0.5)

	// VOC keeps the order too.
	ev = NewEvaluator(1)
	ev.Add(gt, []Detection{fp, tp})
	approx(t, "VOC area AP50 fp first", ev.VOC(VOCArea).Summary(nil).AP50, 0.5)
}

// maxDets is applied per image and class: the second detection of an image
// does not count for AR1 but does for AR10.
func TestCOCOMaxDets(t *testing.T) {
	ev := NewEvaluator(1)
	ev.Add([]Object{obj(0, 0, 0, 100, 100), obj(0, 200, 200, 300, 300)},
		[]Detection{det(0, 0.9, 0, 0, 100, 100), det(0, 0.8, 200, 200, 300, 300)})
	r := ev.COCO()
	approx(t, "AR1", r.Stats[6], 0.5)
	approx(t, "AR10", r.Stats[7], 1)
}

// A hand-worked COCO curve: 2 GT; detections TP (0.9), FP (0.8), TP (0.7).
// Recall .5,.5,1 and precision 1,.5,2/3; the envelope is 1 up to recall .5
// and 2/3 beyond: 51 recall points at 1 and 50 at 2/3 at every IoU.
func TestCOCOHandWorked(t *testing.T) {
	ev := NewEvaluator(1)
	ev.Add([]Object{obj(0, 0, 0, 100, 100), obj(0, 200, 200, 300, 300)},
		[]Detection{det(0, 0.9, 0, 0, 100, 100), det(0, 0.8, 500, 500, 600, 600), det(0, 0.7, 200, 200, 300, 300)})
	want := (51 + 50*(2.0/3)) / 101
	r := ev.COCO()
	approx(t, "AP", r.Stats[0], want)
	approx(t, "AP50", r.Stats[1], want)
	approx(t, "AP75", r.Stats[2], want)
	approx(t, "APl", r.Stats[5], want)
	approx(t, "AR1", r.Stats[6], 0.5)
}

// IoU between thresholds: a detection with IoU 0.58 counts at .50 and .55
// only, so AP = 2/10 of the perfect score.
func TestCOCOIoUThresholds(t *testing.T) {
	ev := NewEvaluator(1)
	// GT 100x100, detection 100x58 inside it: IoU 0.58.
	ev.Add([]Object{obj(0, 0, 0, 100, 100)}, []Detection{det(0, 0.9, 0, 0, 100, 58)})
	r := ev.COCO()
	approx(t, "AP", r.Stats[0], 0.2)
	approx(t, "AP50", r.Stats[1], 1)
	approx(t, "AP75", r.Stats[2], 0)
}

// Area ranges use the GT's Area field, not its box; unmatched detections
// outside a range are ignored there.
func TestCOCOAreaRanges(t *testing.T) {
	ev := NewEvaluator(1)
	small := Object{Box: Box{0, 0, 100, 100}, Class: 0, Area: 500} // box is large, area small
	ev.Add([]Object{small}, []Detection{det(0, 0.9, 0, 0, 100, 100), det(0, 0.8, 400, 400, 410, 410)})
	r := ev.COCO()
	approx(t, "APs", r.Stats[3], 1) // the 10x10 FP is ranked below the TP
	if r.Stats[5] != -1 || r.Stats[4] != -1 {
		t.Errorf("APm %g APl %g, want -1 (no GT there)", r.Stats[4], r.Stats[5])
	}
}

func TestVOCOverlapPlusOne(t *testing.T) {
	// 10x10 pixels and 10x5 pixels, inclusive corners.
	approx(t, "overlap", vocOverlap(Box{1, 1, 10, 10}, Box{1, 1, 10, 5}), 0.5)
	// Without the +1 this would be 0 (a zero-width box).
	approx(t, "single column", vocOverlap(Box{5, 1, 5, 10}, Box{5, 1, 5, 10}), 1)
	approx(t, "disjoint", vocOverlap(Box{1, 1, 10, 10}, Box{11, 1, 20, 10}), 0)
}

// Overlap must be strictly greater than the threshold.
func TestVOCStrictThreshold(t *testing.T) {
	v := newVOCData(1, 1)
	v.addObject(0, 0, Box{1, 1, 10, 10}, false)
	v.addDetection(0, 0, Box{1, 1, 10, 5}, 0.9) // overlap exactly 0.5
	if ap, ok := v.AP(0, 0.5, VOCArea); !ok || ap != 0 {
		t.Errorf("AP at exactly the threshold = %g (%v), want 0", ap, ok)
	}
	if ap, _ := v.AP(0, 0.49, VOCArea); ap != 1 {
		t.Errorf("AP below the overlap = %g, want 1", ap)
	}
}

// Hand-worked voc_eval: 2 positives, TP (0.9), FP (0.8), TP (0.7).
func TestVOCHandWorked(t *testing.T) {
	v := newVOCData(1, 2)
	v.addObject(0, 0, Box{1, 1, 100, 100}, false)
	v.addObject(1, 0, Box{1, 1, 50, 50}, false)
	v.addDetection(0, 0, Box{1, 1, 100, 100}, 0.9)
	v.addDetection(1, 0, Box{60, 60, 90, 90}, 0.8)
	v.addDetection(1, 0, Box{1, 1, 50, 50}, 0.7)
	ap07, _ := v.AP(0, 0.5, VOC07)
	approx(t, "11-point", ap07, (6*1+5*(2.0/3))/11)
	area, _ := v.AP(0, 0.5, VOCArea)
	approx(t, "all-point", area, 0.5*1+0.5*(2.0/3))
}

// A detection whose best overlap is a difficult object is neither TP nor FP;
// a second detection of the same object is an FP.
func TestVOCDifficultAndDuplicates(t *testing.T) {
	v := newVOCData(1, 1)
	v.addObject(0, 0, Box{1, 1, 100, 100}, false)
	v.addObject(0, 0, Box{201, 201, 300, 300}, true)
	v.addDetection(0, 0, Box{201, 201, 300, 300}, 0.99) // on the difficult one
	v.addDetection(0, 0, Box{1, 1, 100, 100}, 0.9)
	if ap, ok := v.AP(0, 0.5, VOCArea); !ok || ap != 1 {
		t.Errorf("difficult match: AP %g, want 1", ap)
	}
	if v.NumPositives(0) != 1 || v.NumObjects(0) != 2 {
		t.Errorf("npos %d objects %d", v.NumPositives(0), v.NumObjects(0))
	}
	v.addDetection(0, 0, Box{2, 2, 100, 100}, 0.95) // duplicate above the better box
	// Ranked: difficult (ignored), duplicate TP, exact box FP.
	if ap, _ := v.AP(0, 0.5, VOCArea); ap != 1 {
		t.Errorf("duplicate below a TP: AP %g, want 1", ap)
	}
	v.addDetection(0, 0, Box{3, 3, 100, 100}, 0.97) // now the first TP; the 0.95 one is an FP
	ap, _ := v.AP(0, 0.5, VOCArea)
	approx(t, "duplicates", ap, 1)
	// Repeats of one detection after the first are FPs ranked below the TP.
	w := newVOCData(1, 1)
	w.addObject(0, 0, Box{1, 1, 100, 100}, false)
	w.addDetection(0, 0, Box{1, 1, 100, 100}, 0.9)
	w.addDetection(0, 0, Box{1, 1, 100, 100}, 0.95)
	w.addDetection(0, 0, Box{1, 1, 100, 100}, 0.8)
	ap, _ = w.AP(0, 0.5, VOCArea)
	approx(t, "duplicate detections", ap, 1)
	ap07, _ := w.AP(0, 0.5, VOC07)
	approx(t, "duplicate detections 07", ap07, 1)
}

// Only difficult objects: the class is null in VOC (npos 0).
func TestVOCOnlyDifficult(t *testing.T) {
	ev := NewEvaluator(2)
	ev.Add([]Object{{Box: Box{0, 0, 10, 10}, Class: 0, Difficult: true}, obj(1, 0, 0, 10, 10)},
		[]Detection{det(0, 0.9, 0, 0, 10, 10), det(1, 0.9, 0, 0, 10, 10)})
	r := ev.VOC(VOC07)
	if r.Classes[0].Valid || r.PerClass[0].AP != -1 {
		t.Errorf("class with only difficult objects: %+v", r.Classes[0])
	}
	s := r.Summary(nil)
	if s.NumClasses != 1 {
		t.Errorf("summary over %d classes, want 1", s.NumClasses)
	}
	approx(t, "mAP50", s.AP50, 1.0000000000000002)
}

func TestSummarySubsets(t *testing.T) {
	per := []ClassAP{
		{Valid: true, AP: 0.2, AP50: 0.4, AP75: 0.1},
		{Valid: false, AP: -1, AP50: -1, AP75: -1},
		{Valid: true, AP: 0.6, AP50: 0.8, AP75: 0.5},
	}
	s := summarize("test", per, []int{0, 1, 2})
	approx(t, "AP", s.AP, 0.4)
	approx(t, "AP50", s.AP50, 0.6)
	approx(t, "AP75", s.AP75, 0.3)
	if s.NumClasses != 2 {
		t.Errorf("NumClasses %d, want 2", s.NumClasses)
	}
	if s := summarize("test", per, []int{2}); s.AP != 0.6 {
		t.Errorf("subset {2}: %+v", s)
	}
	defer func() {
		if recover() == nil {
			t.Error("class index out of range did not panic")
		}
	}()
	summarize("test", per, []int{3})
}

func TestMetricsPercent(t *testing.T) {
	m := MetricsPercent(Summary{AP: 0.5, AP50: 0.75, AP75: 0.25, NumClasses: 3}, Summary{AP: -1, AP50: -1, AP75: -1}, Summary{AP: 0.1, AP50: 0.2, AP75: 0.05, NumClasses: 1})
	if len(m) != 6 || m["AP50"] != 75 || m["nAP75"] != 5 || m["nAP"] != 10 {
		t.Errorf("metrics %v", m)
	}
	if _, ok := m["bAP"]; ok {
		t.Error("base metrics present for an empty base summary")
	}
}

func TestEvaluatorPanicsOnBadClass(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("class out of range did not panic")
		}
	}()
	NewEvaluator(2).Add([]Object{obj(2, 0, 0, 1, 1)}, nil)
}

func TestEvaluatorPanicsOnNaNScore(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NaN score did not panic")
		}
	}()
	NewEvaluator(1).Add(nil, []Detection{det(0, math.NaN(), 0, 0, 1, 1)})
}

// Under COCO rules a difficult object is a crowd region: a detection on it is
// ignored and missing it costs nothing.
func TestCOCODifficultIsCrowd(t *testing.T) {
	ev := NewEvaluator(1)
	hard := Object{Box: Box{200, 200, 300, 300}, Class: 0, Difficult: true}
	ev.Add([]Object{obj(0, 0, 0, 100, 100), hard}, []Detection{det(0, 0.9, 200, 200, 300, 300), det(0, 0.8, 0, 0, 100, 100)})
	r := ev.COCO()
	approx(t, "AP", r.Stats[0], 1)
	if r.PerClass[0].NumGT != 1 {
		t.Errorf("NumGT %d, want 1", r.PerClass[0].NumGT)
	}
}

// The training-time evaluator's rule, as the devkit's: a novel class with
// ground truth that the model never fires on scores 0 and pulls the novel and
// overall means down, under both VOC and COCO rules; a class without ground
// truth is left out.
func TestEvaluatorCountsSilentClass(t *testing.T) {
	ev := NewEvaluator(4)
	ev.Add([]Object{obj(0, 0, 0, 50, 50), obj(1, 60, 60, 120, 120), obj(2, 0, 60, 50, 120)},
		[]Detection{det(0, 0.9, 0, 0, 50, 50), det(1, 0.8, 60, 60, 120, 120)})
	novel := []int{2, 3} // class 2: GT, no detection; class 3: nothing
	for _, r := range []struct {
		name    string
		summary func([]int) Summary
	}{{"voc07", ev.VOC(VOC07).Summary}, {"area", ev.VOC(VOCArea).Summary}, {"coco", ev.COCO().Summary}} {
		all, nov := r.summary(nil), r.summary(novel)
		if all.NumClasses != 3 || nov.NumClasses != 1 {
			t.Errorf("%s: means over %d and %d classes, want 3 and 1", r.name, all.NumClasses, nov.NumClasses)
		}
		if nov.AP50 != 0 || math.Abs(all.AP50-2.0/3) > 1e-9 {
			t.Errorf("%s: nAP50 %g (want 0), AP50 %g (want 2/3)", r.name, nov.AP50, all.AP50)
		}
	}
}
