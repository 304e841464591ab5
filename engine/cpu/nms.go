package cpu

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// BatchedNMS follows torchvision.ops.batched_nms: boxes of different classes
// never suppress each other; within a class a box is dropped when its IoU
// with a kept box of higher rank is > iou (areas without +1, IoU computed in
// float32 as torchvision's CPU kernel does). The rank is decreasing score
// with ties broken by lower index first, which is what torchvision's nms
// gets from its stable descending sort; the keep list comes out in that rank
// order across all classes.
//
// One sort serves every class: walking the boxes in rank order, a box is
// compared only with the boxes already kept in its class and stops at the
// first overlap. That is the greedy NMS result; it costs at most M·kept IoUs
// and in practice far fewer, where torchvision's sweep compares every kept
// box with every later one.
func (c *CPU) BatchedNMS(boxes, scores, classes *backend.Tensor, iou float32) *backend.Tensor {
	m := checkBoxes("BatchedNMS", boxes)
	if scores.Numel() != m || classes.Numel() != m || classes.DType != backend.I64 {
		panic(fmt.Sprintf("cpu: BatchedNMS: boxes %v, scores %v, classes %s%v; want [M,4], [M], I64 [M]",
			boxes.Shape, scores.Shape, classes.DType, classes.Shape))
	}
	bs, ss, cs := F32(boxes), F32(scores), I64(classes)
	order := rankByScore(ss)
	// Kept boxes are copied, with their areas, into one contiguous list per
	// class, so the inner loop streams through memory.
	kept := map[int64][]nmsBox{}
	keep := make([]int64, 0, min(m, 1024))
	for _, i := range order {
		b := bs[i*4 : i*4+4]
		cand := nmsBox{b[0], b[1], b[2], b[3], (b[2] - b[0]) * (b[3] - b[1])}
		cls := cs[i]
		same := kept[cls]
		if !suppressed(cand, same, iou) {
			kept[cls] = append(same, cand)
			keep = append(keep, int64(i))
		}
	}
	return c.FromInt64(keep, len(keep))
}

// nmsBox is x1, y1, x2, y2 and the area (x2−x1)·(y2−y1).
type nmsBox [5]float32

// suppressed reports whether cand overlaps any kept box by IoU > thr.
func suppressed(cand nmsBox, kept []nmsBox, thr float32) bool {
	for k := range kept {
		b := &kept[k]
		w := max(0, min(cand[2], b[2])-max(cand[0], b[0]))
		h := max(0, min(cand[3], b[3])-max(cand[1], b[1]))
		inter := w * h
		if inter == 0 && thr >= 0 {
			continue // IoU 0 (or 0/0 = NaN) never exceeds a threshold ≥ 0
		}
		if inter/(cand[4]+b[4]-inter) > thr {
			return true
		}
	}
	return false
}

// rankByScore returns the indices of s by decreasing value, ties by lower
// index. NaN ranks first, as torch's descending sort puts it.
func rankByScore(s []float32) []int32 {
	order := make([]int32, len(s))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if r := cmpDesc(s[a], s[b]); r != 0 {
			return r
		}
		return cmp.Compare(a, b)
	})
	return order
}

// cmpDesc orders float32 values descending with NaN above everything.
func cmpDesc(a, b float32) int {
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	return cmp.Compare(b, a)
}
