//go:build cuda

package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Parity of the neck, RoI-pooling and YOLOv1-loss kernels with the CPU
// backend, at ragged sizes. Max pooling and RoI pooling select values and
// add their gradients in the CPU's order: bit-equal. SiLU and leaky ReLU
// differ from the CPU's float64 evaluation by float32 rounding only.

func TestNeckActivations(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(41, 42))
	n := 3*257 + 5
	data := denseRand(r, n, -20, 20)
	data[0], data[1] = 0, -0
	gx, cx := pair(g, c, data, n)
	gd, cd := pair(g, c, denseRand(r, n, -1, 1), n)
	expect(t, "silu", g, g.SiLU(gx), c.SiLU(cx), 1e-6)
	expect(t, "silu backward", g, g.SiLUBackward(gx, gd), c.SiLUBackward(cx, cd), 1e-6)
	expect(t, "leaky_relu", g, g.LeakyReLU(gx, 0.1), c.LeakyReLU(cx, 0.1), 0)
	expect(t, "leaky_relu backward", g, g.LeakyReLUBackward(gx, gd, 0.1), c.LeakyReLUBackward(cx, cd, 0.1), 0)
}

func TestNeckPools(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(43, 44))
	shape := []int{2, 5, 13, 11}
	gx, cx := pair(g, c, denseInts(r, backend.Numel(shape), 7), shape...) // ties everywhere
	for _, k := range []int{5, 9, 13} {
		p := backend.PoolParams{KernelH: k, KernelW: k, StrideH: 1, StrideW: 1, PadH: k / 2, PadW: k / 2}
		gy, ga := g.MaxPool2d(gx, p)
		cy, ca := c.MaxPool2d(cx, p)
		expect(t, fmt.Sprint("max_pool2d k", k), g, gy, cy, 0)
		expect(t, fmt.Sprint("argmax k", k), g, ga, ca, 0)
	}
	for _, l := range [][2]int{{4, 4}, {2, 3}, {1, 1}, {16, 16}} {
		gy, ga := g.AdaptiveMaxPool2d(gx, l[0], l[1])
		cy, ca := c.AdaptiveMaxPool2d(cx, l[0], l[1])
		expect(t, fmt.Sprint("adaptive_max_pool2d ", l), g, gy, cy, 0)
		expect(t, fmt.Sprint("adaptive argmax ", l), g, ga, ca, 0)
		gd, cd := pair(g, c, denseRand(r, backend.Numel(cy.Shape), -1, 1), cy.Shape...)
		expect(t, fmt.Sprint("adaptive backward ", l), g, g.MaxPool2dBackward(gd, ga, gx.Shape), c.MaxPool2dBackward(cd, ca, cx.Shape), 0)
	}
}

func TestNeckRoIPool(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(45, 46))
	shape := []int{2, 37, 12, 16} // 37 channels: warps of the backward see a ragged channel count
	gx, cx := pair(g, c, denseInts(r, backend.Numel(shape), 5), shape...)
	var rois []float32
	for i := range 70 {
		x0, y0 := -40+300*r.Float32(), -30+220*r.Float32()
		rois = append(rois, float32(i%2), x0, y0, x0+200*r.Float32()-20, y0+150*r.Float32()-15)
	}
	gr, cr := pair(g, c, rois, 70, 5)
	for _, o := range [][2]int{{7, 7}, {2, 3}} {
		p := backend.RoIPoolParams{OutH: o[0], OutW: o[1], SpatialScale: 1.0 / 16}
		gy, ga := g.RoIPool(gx, gr, p)
		cy, ca := c.RoIPool(cx, cr, p)
		expect(t, fmt.Sprint("roi_pool ", o), g, gy, cy, 0)
		expect(t, fmt.Sprint("roi_pool argmax ", o), g, ga, ca, 0)
		gd, cd := pair(g, c, denseRand(r, backend.Numel(cy.Shape), -1, 1), cy.Shape...)
		expect(t, fmt.Sprint("roi_pool backward ", o), g, g.RoIPoolBackward(gd, ga, gr, gx.Shape), c.RoIPoolBackward(cd, ca, cr, cx.Shape), 0)
	}
}

func TestNeckYOLOv1Loss(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(47, 48))
	p := backend.YOLOv1LossParams{S: 7, B: 2, C: 20, LambdaCoord: 5, LambdaNoobj: 0.5}
	n := 9 // 441 cells: more than the forward's 256 threads
	cells := n * p.S * p.S
	obj, cls := make([]float32, cells), make([]int64, cells)
	for q := range cells {
		if r.Float32() < 0.3 {
			obj[q] = 1
		}
		cls[q] = int64(r.IntN(p.C))
	}
	gp, cp := pair(g, c, denseRand(r, cells*30, 0, 1), n, 7, 7, 30)
	gob, cob := pair(g, c, obj, n, 7, 7)
	gb, cb := pair(g, c, denseRand(r, cells*4, 0.05, 0.6), n, 7, 7, 4)
	gc, cc := pairI64(g, c, cls, n, 7, 7)
	gd, cd := pair(g, c, []float32{0.3})
	expect(t, "yolov1_loss", g, g.YOLOv1Loss(gp, gob, gb, gc, p), c.YOLOv1Loss(cp, cob, cb, cc, p), 1e-6)
	expect(t, "yolov1_loss backward", g, g.YOLOv1LossBackward(gp, gob, gb, gc, gd, p), c.YOLOv1LossBackward(cp, cob, cb, cc, cd, p), 1e-6) // nvcc may fuse the IoU arithmetic
}
