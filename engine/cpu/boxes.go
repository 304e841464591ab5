package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// boxScaleClamp bounds dw, dh before exp in BoxDecode: detectron2's
// _DEFAULT_SCALE_CLAMP = log(1000/16), so no box grows more than 62.5×
// its reference in one step.
var boxScaleClamp = float32(math.Log(1000.0 / 16))

// checkBoxes panics unless b is F32 [M,4] and returns M.
func checkBoxes(op string, b *backend.Tensor) int {
	if b.DType != backend.F32 || len(b.Shape) != 2 || b.Shape[1] != 4 {
		panic(fmt.Sprintf("cpu: %s: boxes %s%v, want F32 [M,4]", op, b.DType, b.Shape))
	}
	return b.Shape[0]
}

// BoxIoU returns the [N,M] IoU matrix of torchvision.ops.box_iou, except that
// two boxes whose union is 0 (both degenerate) get 0 instead of 0/0 = NaN,
// as detectron2's pairwise_iou, so a degenerate ground truth cannot poison
// the matcher.
func (c *CPU) BoxIoU(a, b *backend.Tensor) *backend.Tensor {
	n, m := checkBoxes("BoxIoU", a), checkBoxes("BoxIoU", b)
	as, bs := F32(a), F32(b)
	out := c.newF32(n, m)
	os := F32(out)
	areaB := make([]float32, m)
	for j := range areaB {
		areaB[j] = (bs[j*4+2] - bs[j*4]) * (bs[j*4+3] - bs[j*4+1])
	}
	c.parallelFor(n, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x1, y1, x2, y2 := as[i*4], as[i*4+1], as[i*4+2], as[i*4+3]
			areaA := (x2 - x1) * (y2 - y1)
			row := os[i*m : (i+1)*m]
			for j := range row {
				w := max(0, min(x2, bs[j*4+2])-max(x1, bs[j*4]))
				h := max(0, min(y2, bs[j*4+3])-max(y1, bs[j*4+1]))
				inter := w * h
				union := areaA + areaB[j] - inter
				if union == 0 {
					row[j] = 0
				} else {
					row[j] = inter / union
				}
			}
		}
	})
	return out
}

// BoxEncode returns detectron2's Box2BoxTransform.get_deltas: for reference
// boxes ref and targets gt (both [N,4]), (wx·(gx−rx)/rw, wy·(gy−ry)/rh,
// ww·log(gw/rw), wh·log(gh/rh)) with centres x1 + w/2.
func (c *CPU) BoxEncode(ref, gt *backend.Tensor, weights [4]float32) *backend.Tensor {
	n := checkBoxes("BoxEncode", ref)
	if checkBoxes("BoxEncode", gt) != n {
		panic(fmt.Sprintf("cpu: BoxEncode: ref %v, gt %v", ref.Shape, gt.Shape))
	}
	rs, gs := F32(ref), F32(gt)
	out := c.newF32(n, 4)
	ds := F32(out)
	for i := 0; i < n; i++ {
		r, g := rs[i*4:i*4+4], gs[i*4:i*4+4]
		rw, rh := r[2]-r[0], r[3]-r[1]
		rx, ry := r[0]+0.5*rw, r[1]+0.5*rh
		gw, gh := g[2]-g[0], g[3]-g[1]
		gx, gy := g[0]+0.5*gw, g[1]+0.5*gh
		ds[i*4] = weights[0] * (gx - rx) / rw
		ds[i*4+1] = weights[1] * (gy - ry) / rh
		ds[i*4+2] = weights[2] * float32(math.Log(float64(gw/rw)))
		ds[i*4+3] = weights[3] * float32(math.Log(float64(gh/rh)))
	}
	return out
}

// BoxDecode applies deltas [N,4k] (k boxes per reference, e.g. one per
// class) to ref [N,4] as detectron2's Box2BoxTransform.apply_deltas:
// deltas are divided by the weights, dw and dh clamped at log(1000/16), and
// the box is centre ± half the new size.
func (c *CPU) BoxDecode(ref, deltas *backend.Tensor, weights [4]float32) *backend.Tensor {
	n := checkBoxes("BoxDecode", ref)
	if deltas.DType != backend.F32 || len(deltas.Shape) != 2 || deltas.Shape[0] != n || deltas.Shape[1]%4 != 0 {
		panic(fmt.Sprintf("cpu: BoxDecode: ref %v, deltas %v; want [N,4], [N,4k]", ref.Shape, deltas.Shape))
	}
	k := deltas.Shape[1] / 4
	rs, ds := F32(ref), F32(deltas)
	out := c.newF32(n, 4*k)
	os := F32(out)
	for i := 0; i < n; i++ {
		r := rs[i*4 : i*4+4]
		w, h := r[2]-r[0], r[3]-r[1]
		cx, cy := r[0]+0.5*w, r[1]+0.5*h
		for j := 0; j < k; j++ {
			d := ds[(i*k+j)*4 : (i*k+j)*4+4]
			dx, dy := d[0]/weights[0], d[1]/weights[1]
			dw, dh := min(d[2]/weights[2], boxScaleClamp), min(d[3]/weights[3], boxScaleClamp)
			px, py := dx*w+cx, dy*h+cy
			pw := float32(math.Exp(float64(dw))) * w
			ph := float32(math.Exp(float64(dh))) * h
			o := os[(i*k+j)*4 : (i*k+j)*4+4]
			o[0], o[1], o[2], o[3] = px-0.5*pw, py-0.5*ph, px+0.5*pw, py+0.5*ph
		}
	}
	return out
}

// ClipBoxes clamps x1, x2 to [0,w] and y1, y2 to [0,h] (detectron2
// Boxes.clip). boxes may be [N,4k]: every group of four is clipped.
func (c *CPU) ClipBoxes(boxes *backend.Tensor, h, w float32) *backend.Tensor {
	if boxes.DType != backend.F32 || len(boxes.Shape) != 2 || boxes.Shape[1]%4 != 0 {
		panic(fmt.Sprintf("cpu: ClipBoxes: boxes %s%v, want F32 [N,4k]", boxes.DType, boxes.Shape))
	}
	out := c.Clone(boxes)
	os := F32(out)
	for i := 0; i < len(os); i += 4 {
		os[i] = min(max(os[i], 0), w)
		os[i+1] = min(max(os[i+1], 0), h)
		os[i+2] = min(max(os[i+2], 0), w)
		os[i+3] = min(max(os[i+3], 0), h)
	}
	return out
}
