package eval

import (
	"fmt"
	"math"
)

// Box is x1,y1,x2,y2 in input-image pixels (0-based, continuous).
type Box [4]float64

// Object is one ground-truth instance of an image.
type Object struct {
	Box       Box
	Class     int
	Difficult bool
	Crowd     bool
	// Area is COCO's annotation area (the segment's area on COCO); 0 means
	// the box area.
	Area float64
}

// Detection is one scored box of an image.
type Detection struct {
	Box   Box
	Score float64
	Class int
}

// ClassAP holds one class's average precisions as fractions in 0..1.
type ClassAP struct {
	// Valid is false when the class has no countable ground truth; the APs
	// are then -1 and the class is left out of every mean.
	Valid bool
	// NumGT counts the countable ground truth (non-crowd for COCO,
	// non-difficult for VOC).
	NumGT int
	// AP is the mean over IoU .50:.05:.95; AP50 and AP75 at one IoU.
	AP, AP50, AP75 float64
}

// Summary is a mean over a set of classes, fractions in 0..1; -1 when no class
// of the set is valid.
type Summary struct {
	AP, AP50, AP75 float64
	// NumClasses is how many valid classes the means are over.
	NumClasses int
}

// summarize averages the valid entries of perClass over classes (all when
// classes is nil). It panics on an index out of range: class subsets come
// from the program, not from the user.
func summarize(op string, perClass []ClassAP, classes []int) Summary {
	if classes == nil {
		classes = make([]int, len(perClass))
		for i := range classes {
			classes[i] = i
		}
	}
	var s Summary
	for _, c := range classes {
		if c < 0 || c >= len(perClass) {
			panic(fmt.Sprintf("eval.%s.Summary: class %d out of range [0,%d)", op, c, len(perClass)))
		}
		pc := perClass[c]
		if !pc.Valid {
			continue
		}
		s.AP += pc.AP
		s.AP50 += pc.AP50
		s.AP75 += pc.AP75
		s.NumClasses++
	}
	if s.NumClasses == 0 {
		return Summary{AP: -1, AP50: -1, AP75: -1}
	}
	n := float64(s.NumClasses)
	s.AP /= n
	s.AP50 /= n
	s.AP75 /= n
	return s
}

// Evaluator collects the ground truth and detections of a test set image by
// image, then scores them with COCO or VOC rules. The zero value is not
// usable; call NewEvaluator.
type Evaluator struct {
	numClasses int
	images     []image
}

type image struct {
	objects    []Object
	detections []Detection
}

// NewEvaluator returns an empty evaluator for classes 0..numClasses-1.
func NewEvaluator(numClasses int) *Evaluator {
	if numClasses <= 0 {
		panic(fmt.Sprintf("eval.NewEvaluator: numClasses %d <= 0", numClasses))
	}
	return &Evaluator{numClasses: numClasses}
}

// NumImages is the number of images added so far.
func (e *Evaluator) NumImages() int { return len(e.images) }

// Add records one image: its ground truth and its detections (in any order;
// ties in score keep the order given, as pycocotools does). Images without
// objects count: their detections are false positives. The slices are
// copied.
func (e *Evaluator) Add(objects []Object, detections []Detection) {
	for i, o := range objects {
		if o.Class < 0 || o.Class >= e.numClasses {
			panic(fmt.Sprintf("eval.Evaluator.Add: object %d class %d out of range [0,%d)", i, o.Class, e.numClasses))
		}
	}
	for i, d := range detections {
		if d.Class < 0 || d.Class >= e.numClasses {
			panic(fmt.Sprintf("eval.Evaluator.Add: detection %d class %d out of range [0,%d)", i, d.Class, e.numClasses))
		}
		// NaN has no place in a ranking by score.
		if math.IsNaN(d.Score) {
			panic(fmt.Sprintf("eval.Evaluator.Add: detection %d score is NaN", i))
		}
	}
	e.images = append(e.images, image{
		objects:    append([]Object(nil), objects...),
		detections: append([]Detection(nil), detections...),
	})
}

// COCO scores the collected images with pycocotools' rules.
func (e *Evaluator) COCO() *COCOResult {
	imgs := make([]cocoImage, len(e.images))
	var nextID int64 = 1
	for i, im := range e.images {
		ci := &imgs[i]
		for _, o := range im.objects {
			b := cocoBox{o.Box[0], o.Box[1], o.Box[2] - o.Box[0], o.Box[3] - o.Box[1]}
			area := o.Area
			if area == 0 {
				area = b[2] * b[3]
			}
			ci.gts = append(ci.gts, cocoGT{id: nextID, box: b, area: area, crowd: o.Crowd || o.Difficult, cat: o.Class})
			nextID++
		}
		for _, d := range im.detections {
			b := cocoBox{d.Box[0], d.Box[1], d.Box[2] - d.Box[0], d.Box[3] - d.Box[1]}
			ci.dets = append(ci.dets, cocoDet{box: b, score: d.Score, cat: d.Class})
		}
	}
	return evaluateCOCO(imgs, e.numClasses)
}

// VOC scores the collected images with voc_eval's rules at IoU .50:.05:.95.
func (e *Evaluator) VOC(metric VOCMetric) *VOCResult {
	return e.VOCData().Evaluate(metric)
}

// VOCData converts the collected images to the devkit's 1-based inclusive
// pixels, for AP at thresholds other than the standard ones.
func (e *Evaluator) VOCData() *VOCData {
	v := newVOCData(e.numClasses, len(e.images))
	for i, im := range e.images {
		for _, o := range im.objects {
			v.addObject(i, o.Class, toDevkit(o.Box), o.Difficult || o.Crowd)
		}
		for _, d := range im.detections {
			v.addDetection(i, d.Class, toDevkit(d.Box), d.Score)
		}
	}
	return v
}

// toDevkit shifts a 0-based continuous box to the devkit's 1-based inclusive
// corners, the inverse of detectron2's loader (xmin-1, ymin-1, xmax, ymax).
func toDevkit(b Box) Box { return Box{b[0] + 1, b[1] + 1, b[2], b[3]} }
