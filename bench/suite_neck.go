package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// neckCases times the ops of the SPP-family necks, RoI pooling and the
// YOLOv1 loss (issue 10) at a detector's shapes: the C4 detector's res4 map
// (1024 channels at stride 16), the SPPF/SPP hidden map (512 channels), RFB's
// non-square and ASPP's dilated 3×3 convolutions at 256 channels, ROIPool
// at the RoI-Align case's shapes and the YOLOv1 head (7×7 grid, B 2, C 20,
// four images per detector image of the batch).
func neckCases(sz Sizes) []Case {
	fh, fw := ceilDiv(sz.ImageH, sz.FeatStride), ceilDiv(sz.ImageW, sz.FeatStride)
	res4 := []int{sz.Images, 1024, fh, fw}
	hidden := []int{sz.Images, 512, fh, fw}
	mapBytes := func(shape []int) float64 { return float64(4 * backend.Numel(shape)) }
	var cases []Case

	// Activations: forward and backward, read x (and dy), write y (and dx).
	for _, act := range []string{"silu", "leaky_relu"} {
		act := act
		cases = append(cases, Case{
			Name: act + ".fwd_bwd", Op: act, Shape: fmt.Sprintf("x%v forward+backward", res4), Bytes: 5 * mapBytes(res4),
			Setup: func(b backend.Backend) (func(), func()) {
				r := rand.New(rand.NewPCG(21, 22))
				x, dy := randTensor(b, r, -4, 4, res4...), randTensor(b, r, -1, 1, res4...)
				return func() {
					if act == "silu" {
						freeAll(b, b.SiLU(x), b.SiLUBackward(x, dy))
					} else {
						freeAll(b, b.LeakyReLU(x, 0.1), b.LeakyReLUBackward(x, dy, 0.1))
					}
				}, func() { freeAll(b, x, dy) }
			},
		})
	}

	// SPPF's pool: 5×5, stride 1, padding 2 on the hidden map, with backward.
	pool := backend.PoolParams{KernelH: 5, KernelW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2}
	cases = append(cases, Case{
		Name: "max_pool2d.k5s1.fwd_bwd", Op: "max_pool2d", Shape: fmt.Sprintf("x%v k5 s1 p2 forward+backward", hidden),
		Bytes: 3*mapBytes(hidden) + 2*2*mapBytes(hidden), // x, y, dy, dx in floats; argmax written and read as int64
		Setup: func(b backend.Backend) (func(), func()) {
			r := rand.New(rand.NewPCG(23, 24))
			x, dy := randTensor(b, r, -1, 1, hidden...), randTensor(b, r, -1, 1, hidden...)
			return func() {
				y, am := b.MaxPool2d(x, pool)
				freeAll(b, y, b.MaxPool2dBackward(dy, am, x.Shape), am)
			}, func() { freeAll(b, x, dy) }
		},
	})

	// SPP-net's pyramid (levels 4, 2, 1) on the res4 map.
	cases = append(cases, Case{
		Name: "adaptive_max_pool2d.spp421.fwd_bwd", Op: "adaptive_max_pool2d", Shape: fmt.Sprintf("x%v levels 4,2,1 forward+backward", res4),
		Bytes: 2 * 3 * mapBytes(res4), // each level reads x and writes dx
		Setup: func(b backend.Backend) (func(), func()) {
			r := rand.New(rand.NewPCG(25, 26))
			x := randTensor(b, r, -1, 1, res4...)
			return func() {
				for _, l := range []int{4, 2, 1} {
					y, am := b.AdaptiveMaxPool2d(x, l, l)
					dx := b.MaxPool2dBackward(y, am, x.Shape)
					freeAll(b, y, am, dx)
				}
			}, func() { freeAll(b, x) }
		},
	})

	// RFB's (3,1) convolution and ASPP's dilated 3×3 (rate 6) at 256 channels.
	c256 := []int{sz.Images, 256, fh, fw}
	for _, cs := range []convShape{
		{"rfb_3x1", sz.Images, 256, fh, fw, 256, 3, 1, backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 0, DilationH: 1, DilationW: 1}},
		{"aspp_3x3d6", sz.Images, 256, fh, fw, 256, 3, 3, backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 6, PadW: 6, DilationH: 6, DilationW: 6}},
	} {
		cs := cs
		cases = append(cases, Case{
			Name: "conv." + cs.name + ".fwd_bwd", Op: "conv2d", Shape: fmt.Sprintf("x%v w[256,256,%d,%d] forward+backward", c256, cs.r, cs.s),
			Flops: 3 * convFlops(cs),
			Setup: func(b backend.Backend) (func(), func()) {
				r := rand.New(rand.NewPCG(27, 28))
				x := randTensor(b, r, -1, 1, c256...)
				w := randTensor(b, r, -0.1, 0.1, 256, 256, cs.r, cs.s)
				dy := randTensor(b, r, -1, 1, c256...)
				return func() {
					y := b.Conv2d(x, w, nil, cs.p)
					dx, dw, _ := b.Conv2dBackward(x, w, dy, cs.p, true, false)
					freeAll(b, y, dx, dw)
				}, func() { freeAll(b, x, w, dy) }
			},
		})
	}

	// ROIPool 7×7 over the RoI-Align case's RoIs, forward and backward.
	rois := sz.Images * sz.RoIsPerImg
	rp := backend.RoIPoolParams{OutH: 7, OutW: 7, SpatialScale: 1 / float32(sz.FeatStride)}
	cases = append(cases, Case{
		Name: "roi_pool.fwd_bwd", Op: "roi_pool", Shape: fmt.Sprintf("x%v rois[%d,5] -> [%d,1024,7,7] forward+backward", res4, rois, rois),
		Bytes: 2 * (mapBytes(res4) + float64(rois*1024*49*(4+8))),
		Setup: func(b backend.Backend) (func(), func()) {
			r := rand.New(rand.NewPCG(29, 30))
			x := randTensor(b, r, -1, 1, res4...)
			v := make([]float32, 0, 5*rois)
			for img := range sz.Images {
				boxes := RandomBoxes(r, sz.RoIsPerImg, float32(sz.ImageH), float32(sz.ImageW))
				for i := range sz.RoIsPerImg {
					v = append(v, float32(img), boxes[4*i], boxes[4*i+1], boxes[4*i+2], boxes[4*i+3])
				}
			}
			rr := b.FromFloat32(v, rois, 5)
			dy := randTensor(b, r, -1, 1, rois, 1024, 7, 7)
			return func() {
				y, am := b.RoIPool(x, rr, rp)
				freeAll(b, y, b.RoIPoolBackward(dy, am, rr, x.Shape), am)
			}, func() { freeAll(b, x, rr, dy) }
		},
	})

	// YOLOv1 loss, forward and gradient.
	yp := backend.YOLOv1LossParams{S: 7, B: 2, C: 20, LambdaCoord: 5, LambdaNoobj: 0.5}
	yn := 4 * sz.Images
	cells := yn * yp.S * yp.S
	cases = append(cases, Case{
		Name: "yolov1_loss.fwd_bwd", Op: "yolov1_loss", Shape: fmt.Sprintf("pred[%d,7,7,30] forward+backward", yn),
		Bytes: float64(cells * 4 * (2*30 + 2*(1+4) + 2*2)),
		Setup: func(b backend.Backend) (func(), func()) {
			r := rand.New(rand.NewPCG(31, 32))
			pred := randTensor(b, r, 0, 1, yn, yp.S, yp.S, 30)
			objV, clsV := make([]float32, cells), make([]int64, cells)
			for q := range cells {
				if r.Float32() < 0.1 {
					objV[q] = 1
				}
				clsV[q] = int64(r.IntN(yp.C))
			}
			obj, cls := b.FromFloat32(objV, yn, yp.S, yp.S), b.FromInt64(clsV, yn, yp.S, yp.S)
			box := randTensor(b, r, 0.05, 0.6, yn, yp.S, yp.S, 4)
			one := b.FromFloat32([]float32{1})
			return func() {
				freeAll(b, b.YOLOv1Loss(pred, obj, box, cls, yp), b.YOLOv1LossBackward(pred, obj, box, cls, one, yp))
			}, func() { freeAll(b, pred, obj, cls, box, one) }
		},
	})
	return cases
}
