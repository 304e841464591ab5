package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Anchors returns detectron2's DefaultAnchorGenerator output for one feature
// map (offset 0): cell anchors for every (size, ratio), size-major, each
// (−w/2, −h/2, w/2, h/2) with w = sqrt(size²/ratio), h = ratio·w computed in
// float64 as detectron2 does in Python; shifted to (x·stride, y·stride) and
// laid out (y, x, anchor) into [h*w*A, 4].
func (c *CPU) Anchors(h, w int, stride float32, sizes, ratios []float32) *backend.Tensor {
	if h < 0 || w < 0 || len(sizes) == 0 || len(ratios) == 0 {
		panic(fmt.Sprintf("cpu: Anchors: map %dx%d, %d sizes, %d ratios", h, w, len(sizes), len(ratios)))
	}
	cell := make([][4]float32, 0, len(sizes)*len(ratios))
	for _, s := range sizes {
		area := float64(s) * float64(s)
		for _, r := range ratios {
			aw := math.Sqrt(area / float64(r))
			ah := float64(r) * aw
			cell = append(cell, [4]float32{float32(-aw / 2), float32(-ah / 2), float32(aw / 2), float32(ah / 2)})
		}
	}
	na := len(cell)
	out := c.newF32(h*w*na, 4)
	os := F32(out)
	for y := 0; y < h; y++ {
		sy := float32(y) * stride
		for x := 0; x < w; x++ {
			sx := float32(x) * stride
			base := ((y*w + x) * na) * 4
			for a, ca := range cell {
				o := os[base+a*4 : base+a*4+4]
				o[0], o[1], o[2], o[3] = sx+ca[0], sy+ca[1], sx+ca[2], sy+ca[3]
			}
		}
	}
	return out
}
