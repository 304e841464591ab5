package eval

import (
	"math/rand/v2"
	"testing"
)

// benchSet builds a test set the size of a real one: numImages images with a
// few objects each and 100 detections per image (half near an object, half
// random), as a detector with maxDets 100 produces.
func benchSet(numImages, numClasses int) *Evaluator {
	r := rand.New(rand.NewPCG(5, 6))
	ev := NewEvaluator(numClasses)
	for range numImages {
		objs := make([]Object, 1+r.IntN(7))
		for i := range objs {
			objs[i] = Object{Box: randomBox(r), Class: r.IntN(numClasses), Crowd: r.IntN(50) == 0}
		}
		dets := make([]Detection, 100)
		for i := range dets {
			if i%2 == 0 {
				o := objs[r.IntN(len(objs))]
				b := o.Box
				w, h := b[2]-b[0], b[3]-b[1]
				x, y := b[0]+0.1*w*r.NormFloat64(), b[1]+0.1*h*r.NormFloat64()
				dets[i] = Detection{Box: Box{x, y, x + w, y + h}, Score: r.Float64(), Class: o.Class}
			} else {
				dets[i] = Detection{Box: randomBox(r), Score: 0.5 * r.Float64(), Class: r.IntN(numClasses)}
			}
		}
		ev.Add(objs, dets)
	}
	return ev
}

// BenchmarkCOCOVal5k is COCO val2017's size: 5000 images, 80 classes,
// 500k detections.
func BenchmarkCOCOVal5k(b *testing.B) {
	ev := benchSet(5000, 80)
	b.ResetTimer()
	for range b.N {
		ev.COCO()
	}
}

// BenchmarkVOC07Test is VOC2007 test's size: 4952 images, 20 classes, 495k
// detections, AP at the 10 thresholds.
func BenchmarkVOC07Test(b *testing.B) {
	ev := benchSet(4952, 20)
	b.ResetTimer()
	for range b.N {
		ev.VOC(VOC07)
	}
}
