package eval

import (
	"fmt"
	"math"
	"slices"
)

// VOCMetric selects how voc_eval turns a precision/recall curve into AP.
type VOCMetric int

const (
	// VOC07 is the 11-point interpolated AP of the VOC2007 devkit
	// (use_07_metric=True), the metric FSOD papers report on VOC.
	VOC07 VOCMetric = iota
	// VOCArea is the all-point AP: the area under the precision envelope
	// (VOC2010 and later).
	VOCArea
)

func (m VOCMetric) String() string {
	switch m {
	case VOC07:
		return "voc07"
	case VOCArea:
		return "area"
	}
	return fmt.Sprintf("VOCMetric(%d)", int(m))
}

// ParseVOCMetric reads "voc07" or "area".
func ParseVOCMetric(s string) (VOCMetric, error) {
	switch s {
	case "voc07", "07", "11point":
		return VOC07, nil
	case "area", "all":
		return VOCArea, nil
	}
	return 0, fmt.Errorf("unknown VOC metric %q (want voc07 or area)", s)
}

// VOCIoUs are detectron2's thresholds for VOC "AP": 50/100, 55/100, ... 95/100.
var VOCIoUs = func() []float64 {
	v := make([]float64, 10)
	for i := range v {
		v[i] = float64(50+5*i) / 100
	}
	return v
}()

type vocObject struct {
	box       Box // devkit pixels: 1-based, inclusive
	difficult bool
}

type vocDetection struct {
	image int
	score float64
	box   Box
}

// VOCData is a test set in the devkit's terms: per class, the objects of each
// image and the detections in file order. Boxes are 1-based inclusive pixel
// corners, as in Annotations/*.xml and comp4 result files.
type VOCData struct {
	numImages int
	objects   [][][]vocObject // [class][image]
	dets      [][]vocDetection
	// hasDets records whether detections were given for a class at all,
	// even none (an empty result file), so callers can tell "no file".
	hasDets []bool
}

func newVOCData(numClasses, numImages int) *VOCData {
	v := &VOCData{
		numImages: numImages,
		objects:   make([][][]vocObject, numClasses),
		dets:      make([][]vocDetection, numClasses),
		hasDets:   make([]bool, numClasses),
	}
	for c := range v.objects {
		v.objects[c] = make([][]vocObject, numImages)
	}
	return v
}

// insertClass adds an empty class at index pos.
func (v *VOCData) insertClass(pos int) {
	v.objects = slices.Insert(v.objects, pos, make([][]vocObject, v.numImages))
	v.dets = slices.Insert(v.dets, pos, []vocDetection(nil))
	v.hasDets = slices.Insert(v.hasDets, pos, false)
}

func (v *VOCData) addObject(img, class int, b Box, difficult bool) {
	v.objects[class][img] = append(v.objects[class][img], vocObject{box: b, difficult: difficult})
}

func (v *VOCData) addDetection(img, class int, b Box, score float64) {
	v.dets[class] = append(v.dets[class], vocDetection{image: img, score: score, box: b})
	v.hasDets[class] = true
}

// NumClasses is the number of classes.
func (v *VOCData) NumClasses() int { return len(v.objects) }

// NumPositives counts the class's non-difficult objects (voc_eval's npos).
func (v *VOCData) NumPositives(class int) int {
	n := 0
	for _, objs := range v.objects[class] {
		for _, o := range objs {
			if !o.difficult {
				n++
			}
		}
	}
	return n
}

// NumObjects counts the class's objects, difficult ones included.
func (v *VOCData) NumObjects(class int) int {
	n := 0
	for _, objs := range v.objects[class] {
		n += len(objs)
	}
	return n
}

// NumDetections counts the class's detections.
func (v *VOCData) NumDetections(class int) int { return len(v.dets[class]) }

// HasDetections reports whether detections (possibly none) were given for
// the class, e.g. whether its comp4 result file exists.
func (v *VOCData) HasDetections(class int) bool { return v.hasDets[class] }

// AP is voc_eval's average precision of one class at IoU threshold iou (a
// detection matches when its overlap is strictly greater). ok is false when
// the class has no non-difficult object, where AP is undefined.
func (v *VOCData) AP(class int, iou float64, metric VOCMetric) (ap float64, ok bool) {
	if class < 0 || class >= len(v.objects) {
		panic(fmt.Sprintf("eval.VOCData.AP: class %d out of range [0,%d)", class, len(v.objects)))
	}
	return v.apSorted(class, v.sortedDetections(class), iou, metric)
}

// sortedDetections returns the class's detections by decreasing score.
// voc_eval sorts with np.argsort(-confidence); ties keep file order here
// (numpy's default sort is not stable above 16 elements, so the reference
// itself is only defined up to the order of tied scores).
func (v *VOCData) sortedDetections(class int) []vocDetection {
	d := v.dets[class]
	s := make([]vocDetection, len(d))
	for i, j := range orderByScore(len(d), func(i int) float64 { return d[i].score }) {
		s[i] = d[j]
	}
	return s
}

func (v *VOCData) apSorted(class int, dets []vocDetection, iou float64, metric VOCMetric) (float64, bool) {
	npos := v.NumPositives(class)
	if npos == 0 {
		return -1, false
	}
	used := make([][]bool, v.numImages)
	for img, objs := range v.objects[class] {
		used[img] = make([]bool, len(objs))
	}
	rec := make([]float64, len(dets))
	prec := make([]float64, len(dets))
	var tp, fp float64
	for i, d := range dets {
		objs := v.objects[class][d.image]
		best, jbest := math.Inf(-1), -1
		for j, o := range objs {
			if ov := vocOverlap(d.box, o.box); ov > best {
				best, jbest = ov, j
			}
		}
		switch {
		case best <= iou:
			fp++
		case objs[jbest].difficult:
			// Neither TP nor FP: the curve gets a repeated point.
		case used[d.image][jbest]:
			fp++
		default:
			tp++
			used[d.image][jbest] = true
		}
		rec[i] = tp / float64(npos)
		prec[i] = tp / math.Max(tp+fp, 0x1p-52)
	}
	if metric == VOC07 {
		return vocAP07(rec, prec), true
	}
	return vocAPArea(rec, prec), true
}

// vocOverlap is voc_eval's IoU with the +1 pixel convention: a box from
// xmin to xmax covers xmax-xmin+1 pixels.
func vocOverlap(a, b Box) float64 {
	iw := math.Max(math.Min(a[2], b[2])-math.Max(a[0], b[0])+1, 0)
	ih := math.Max(math.Min(a[3], b[3])-math.Max(a[1], b[1])+1, 0)
	inter := iw * ih
	uni := (a[2]-a[0]+1)*(a[3]-a[1]+1) + (b[2]-b[0]+1)*(b[3]-b[1]+1) - inter
	return inter / uni
}

// vocAP07 is the 11-point AP: the mean of the best precision at recall >= t
// for t = 0, 0.1, ..., 1 (t computed as i*0.1, as np.arange does).
func vocAP07(rec, prec []float64) float64 {
	var ap float64
	for i := range 11 {
		t := float64(i) * 0.1
		p := 0.0
		for j, r := range rec {
			if r >= t && prec[j] > p {
				p = prec[j]
			}
		}
		ap += p / 11
	}
	return ap
}

// vocAPArea is the all-point AP: the area under the precision envelope,
// summed where recall changes.
func vocAPArea(rec, prec []float64) float64 {
	n := len(rec)
	mrec := make([]float64, n+2)
	mpre := make([]float64, n+2)
	copy(mrec[1:], rec)
	copy(mpre[1:], prec)
	mrec[n+1] = 1
	for i := n + 1; i > 0; i-- {
		mpre[i-1] = math.Max(mpre[i-1], mpre[i])
	}
	var ap float64
	for i := 0; i < n+1; i++ {
		if mrec[i+1] != mrec[i] {
			ap += (mrec[i+1] - mrec[i]) * mpre[i+1]
		}
	}
	return ap
}

// VOCClass is one class's VOC APs at VOCIoUs.
type VOCClass struct {
	// Valid is false when the class has no non-difficult object.
	Valid bool
	// NumPos is the number of non-difficult objects.
	NumPos int
	// APs[i] is the AP at VOCIoUs[i]; -1 when not Valid.
	APs [10]float64
}

// VOCResult is a VOC evaluation at IoU .50:.05:.95.
type VOCResult struct {
	Metric   VOCMetric
	Classes  []VOCClass
	PerClass []ClassAP // AP = mean over the 10 thresholds, AP50, AP75
}

// Evaluate computes every class's AP at VOCIoUs.
func (v *VOCData) Evaluate(metric VOCMetric) *VOCResult {
	r := &VOCResult{Metric: metric, Classes: make([]VOCClass, v.NumClasses()), PerClass: make([]ClassAP, v.NumClasses())}
	for c := range r.Classes {
		vc := VOCClass{NumPos: v.NumPositives(c)}
		pc := ClassAP{NumGT: vc.NumPos, AP: -1, AP50: -1, AP75: -1}
		var sum float64
		dets := v.sortedDetections(c)
		for i, thr := range VOCIoUs {
			ap, ok := v.apSorted(c, dets, thr, metric)
			vc.APs[i] = ap
			vc.Valid = ok
			sum += ap
		}
		if vc.Valid {
			pc.Valid = true
			pc.AP = sum / float64(len(VOCIoUs))
			pc.AP50 = vc.APs[0]
			pc.AP75 = vc.APs[5]
		}
		r.Classes[c] = vc
		r.PerClass[c] = pc
	}
	return r
}

// Summary averages AP (IoU .50:.95), AP50 and AP75 over the valid classes
// among the given ones (nil: all).
func (r *VOCResult) Summary(classes []int) Summary {
	return summarize("VOCResult", r.PerClass, classes)
}
