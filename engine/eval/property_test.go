package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

type randomSet struct {
	objects [][]Object
	dets    [][]Detection
}

// randomBox is a box inside a 640x480 image with sides of 4..300 pixels, so
// every COCO area range gets objects.
func randomBox(r *rand.Rand) Box {
	w, h := 4+296*r.Float64()*r.Float64(), 4+296*r.Float64()*r.Float64()
	x, y := r.Float64()*(640-w), r.Float64()*(480-h)
	return Box{x, y, x + w, y + h}
}

// randomGT draws images of random objects; crowd and difficult flags only
// when flags is true.
func randomGT(r *rand.Rand, numImages, numClasses int, flags bool) [][]Object {
	objs := make([][]Object, numImages)
	for i := range objs {
		for range r.IntN(6) {
			o := Object{Box: randomBox(r), Class: r.IntN(numClasses)}
			if flags {
				o.Crowd = r.IntN(10) == 0
				o.Difficult = r.IntN(8) == 0
			}
			objs[i] = append(objs[i], o)
		}
	}
	return objs
}

func evaluate(numClasses int, s randomSet) *Evaluator {
	ev := NewEvaluator(numClasses)
	for i := range s.objects {
		ev.Add(s.objects[i], s.dets[i])
	}
	return ev
}

// Perfect detections (every countable object found with its exact box, no
// other detection) give AP 1 for every class with ground truth, under both
// COCO and VOC rules and both VOC metrics.
func TestPropertyPerfectDetections(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const classes = 4
	for trial := range 30 {
		s := randomSet{objects: randomGT(r, 1+r.IntN(8), classes, false)}
		s.dets = make([][]Detection, len(s.objects))
		for i, objs := range s.objects {
			for _, o := range objs {
				s.dets[i] = append(s.dets[i], Detection{Box: o.Box, Score: r.Float64(), Class: o.Class})
			}
		}
		ev := evaluate(classes, s)
		coco := ev.COCO()
		for k, pc := range coco.PerClass {
			if pc.Valid && (math.Abs(pc.AP-1) > 1e-12 || math.Abs(pc.AP50-1) > 1e-12 || math.Abs(pc.AP75-1) > 1e-12) {
				t.Fatalf("trial %d: COCO class %d: %+v, want AP 1", trial, k, pc)
			}
		}
		for i, st := range coco.Stats {
			if st != -1 && math.Abs(st-1) > 1e-12 && i != 6 && i != 7 {
				t.Fatalf("trial %d: COCO %s = %g, want 1 (or -1)", trial, COCOStatNames[i], st)
			}
		}
		for _, m := range []VOCMetric{VOC07, VOCArea} {
			for k, vc := range ev.VOC(m).Classes {
				for i, ap := range vc.APs {
					if vc.Valid && math.Abs(ap-1) > 1e-12 {
						t.Fatalf("trial %d: VOC %s class %d IoU %g: AP %g, want 1", trial, m, k, VOCIoUs[i], ap)
					}
				}
			}
		}
	}
}

// Shuffling the detections (within each image; with distinct scores the
// order given must not matter) changes no number at all.
func TestPropertyShuffleInvariance(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const classes = 3
	for trial := range 30 {
		s := randomSet{objects: randomGT(r, 1+r.IntN(8), classes, true)}
		s.dets = make([][]Detection, len(s.objects))
		for i, objs := range s.objects {
			for _, o := range objs {
				if r.IntN(4) == 0 {
					continue // a miss
				}
				b := o.Box
				w, h := b[2]-b[0], b[3]-b[1]
				j := Box{b[0] + 0.2*w*r.NormFloat64(), b[1] + 0.2*h*r.NormFloat64(), 0, 0}
				j[2], j[3] = j[0]+w*(1+0.2*r.NormFloat64()), j[1]+h*(1+0.2*r.NormFloat64())
				s.dets[i] = append(s.dets[i], Detection{Box: j, Score: r.Float64(), Class: o.Class})
			}
			for range r.IntN(4) {
				s.dets[i] = append(s.dets[i], Detection{Box: randomBox(r), Score: r.Float64(), Class: r.IntN(classes)})
			}
		}
		base := evaluate(classes, s)
		wantCOCO := base.COCO()
		wantVOC := base.VOC(VOC07)
		for i := range s.dets {
			r.Shuffle(len(s.dets[i]), func(a, b int) { s.dets[i][a], s.dets[i][b] = s.dets[i][b], s.dets[i][a] })
		}
		shuffled := evaluate(classes, s)
		gotCOCO := shuffled.COCO()
		if gotCOCO.Stats != wantCOCO.Stats {
			t.Fatalf("trial %d: COCO stats changed by shuffling:\n%v\n%v", trial, gotCOCO.Stats, wantCOCO.Stats)
		}
		gotVOC := shuffled.VOC(VOC07)
		for k := range gotVOC.Classes {
			if gotVOC.Classes[k] != wantVOC.Classes[k] || gotCOCO.PerClass[k] != wantCOCO.PerClass[k] {
				t.Fatalf("trial %d: class %d changed by shuffling", trial, k)
			}
		}
	}
}
