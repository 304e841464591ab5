package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// refBatchedNMS is torchvision's algorithm spelled out in float64: per class,
// a stable descending sort by score, then the suppression sweep; the kept
// indices of all classes are merged by (score descending, index ascending).
func refBatchedNMS(boxes []float64, scores []float64, classes []int64, thr float64) []int64 {
	byClass := map[int64][]int{}
	for i, c := range classes {
		byClass[c] = append(byClass[c], i)
	}
	iou := func(a, b int) float64 {
		p, q := boxes[a*4:a*4+4], boxes[b*4:b*4+4]
		w := math.Max(0, math.Min(p[2], q[2])-math.Max(p[0], q[0]))
		h := math.Max(0, math.Min(p[3], q[3])-math.Max(p[1], q[1]))
		inter := w * h
		return inter / ((p[2]-p[0])*(p[3]-p[1]) + (q[2]-q[0])*(q[3]-q[1]) - inter)
	}
	var keep []int64
	for _, idx := range byClass {
		sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
		dead := make([]bool, len(idx))
		for a := range idx {
			if dead[a] {
				continue
			}
			keep = append(keep, int64(idx[a]))
			for b := a + 1; b < len(idx); b++ {
				if !dead[b] && iou(idx[a], idx[b]) > thr {
					dead[b] = true
				}
			}
		}
	}
	slices.SortFunc(keep, func(a, b int64) int {
		if scores[a] != scores[b] {
			if scores[a] > scores[b] {
				return -1
			}
			return 1
		}
		return int(a - b)
	})
	return keep
}

// clusteredBoxes returns m boxes on a 600×1000 image gathered around a few
// object centres, as RPN proposals are, with scores in (0,1) and nc classes.
func clusteredBoxes(r *rand.Rand, m, nc int) (boxes, scores []float32, classes []int64) {
	type obj struct{ cx, cy, w, h float32 }
	objs := make([]obj, 40)
	for i := range objs {
		objs[i] = obj{r.Float32() * 1000, r.Float32() * 600, 20 + r.Float32()*300, 20 + r.Float32()*300}
	}
	boxes, scores, classes = make([]float32, m*4), make([]float32, m), make([]int64, m)
	for i := 0; i < m; i++ {
		o := objs[r.IntN(len(objs))]
		w := o.w * (0.5 + r.Float32())
		h := o.h * (0.5 + r.Float32())
		cx := o.cx + (r.Float32()-0.5)*o.w*0.6
		cy := o.cy + (r.Float32()-0.5)*o.h*0.6
		copy(boxes[i*4:], []float32{max(cx-w/2, 0), max(cy-h/2, 0), min(cx+w/2, 1000), min(cy+h/2, 600)})
		scores[i] = r.Float32()
		classes[i] = int64(r.IntN(nc))
	}
	return boxes, scores, classes
}

func TestBatchedNMSMatchesReference(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(21, 22))
	for _, nc := range []int{1, 3, 20} {
		for _, thr := range []float32{0.3, 0.5, 0.7} {
			b, s, cl := clusteredBoxes(r, 600, nc)
			got := I64(c.BatchedNMS(c.FromFloat32(b, 600, 4), c.FromFloat32(s, 600), c.FromInt64(cl, 600), thr))
			want := refBatchedNMS(toF64(b), toF64(s), cl, float64(thr))
			if !slices.Equal(got, want) {
				t.Fatalf("classes %d, iou %v: keep %d boxes, reference %d; first difference at %d",
					nc, thr, len(got), len(want), firstDiff(got, want))
			}
			if nc == 1 && len(want) > 500 {
				t.Fatalf("iou %v kept %d of 600 clustered boxes: the case tests too little suppression", thr, len(want))
			}
		}
	}
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestBatchedNMSEdgeCases(t *testing.T) {
	c := New()
	nms := func(boxes []float32, scores []float32, classes []int64, thr float32) []int64 {
		m := len(scores)
		return I64(c.BatchedNMS(c.FromFloat32(boxes, m, 4), c.FromFloat32(scores, m), c.FromInt64(classes, m), thr))
	}
	if got := nms(nil, nil, nil, 0.5); len(got) != 0 {
		t.Fatalf("zero boxes keep %v", got)
	}
	// A suppresses B (IoU 90/110 = 0.82); B would suppress C (88/112 = 0.79)
	// but is gone, and A and C overlap by 78/122 = 0.64 < 0.7, so C survives:
	// the greedy order matters.
	abc := []float32{0, 0, 100, 100, 10, 0, 110, 100, 22, 0, 122, 100}
	if got := nms(abc, []float32{0.9, 0.8, 0.7}, []int64{0, 0, 0}, 0.7); !slices.Equal(got, []int64{0, 2}) {
		t.Fatalf("chain keep %v, want [0 2]", got)
	}
	// IoU exactly at the threshold does not suppress (strict >).
	half := []float32{0, 0, 10, 10, 0, 0, 10, 5}
	if got := nms(half, []float32{0.9, 0.8}, []int64{0, 0}, 0.5); !slices.Equal(got, []int64{0, 1}) {
		t.Fatalf("IoU = threshold keep %v, want [0 1]", got)
	}
	if got := nms(half, []float32{0.9, 0.8}, []int64{0, 0}, 0.49); !slices.Equal(got, []int64{0}) {
		t.Fatalf("IoU 0.5 > 0.49 keep %v, want [0]", got)
	}
	// Identical scores: lower index ranks first and suppresses the other.
	same := []float32{0, 0, 10, 10, 1, 1, 10, 10, 50, 50, 60, 60, 0, 0, 10, 10}
	if got := nms(same, []float32{0.5, 0.5, 0.5, 0.5}, []int64{0, 0, 0, 0}, 0.5); !slices.Equal(got, []int64{0, 2}) {
		t.Fatalf("tied scores keep %v, want [0 2]", got)
	}
	// The same boxes in different classes never suppress each other; the
	// result is still ordered by score across classes.
	if got := nms(same, []float32{0.1, 0.9, 0.5, 0.3}, []int64{0, 1, 2, 3}, 0.5); !slices.Equal(got, []int64{1, 2, 3, 0}) {
		t.Fatalf("distinct classes keep %v, want [1 2 3 0]", got)
	}
	// Two identical degenerate boxes: IoU 0/0 is not > threshold, both kept.
	if got := nms([]float32{5, 5, 5, 5, 5, 5, 5, 5}, []float32{0.2, 0.3}, []int64{7, 7}, 0.5); !slices.Equal(got, []int64{1, 0}) {
		t.Fatalf("degenerate boxes keep %v, want [1 0]", got)
	}
}

func BenchmarkBatchedNMS12000(b *testing.B) {
	c := New()
	bx, s, cl := clusteredBoxes(rand.New(rand.NewPCG(1, 1)), 12000, 1)
	boxes, scores, classes := c.FromFloat32(bx, 12000, 4), c.FromFloat32(s, 12000), c.FromInt64(cl, 12000)
	var kept int
	for i := 0; i < b.N; i++ {
		kept = c.BatchedNMS(boxes, scores, classes, 0.7).Numel()
	}
	b.ReportMetric(float64(kept), "kept")
}
