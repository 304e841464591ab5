// Package geom holds box arithmetic shared by the model, the evaluators and
// the tests, in one place so that every caller agrees on the convention.
package geom

// IoU is the intersection over union of two corner-form boxes (x1, y1, x2,
// y2; widths x2-x1, no +1, as detectron2 and COCO), 0 when they do not
// overlap or the union is empty. It is generic so the model's float32 boxes
// and the evaluators' float64 boxes use the same code.
func IoU[T ~float32 | ~float64](a, b [4]T) T {
	iw := min(a[2], b[2]) - max(a[0], b[0])
	ih := min(a[3], b[3]) - max(a[1], b[1])
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}
