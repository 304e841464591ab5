// Package bench times every kernel family at the shapes that matter for
// R-101 C4 training (DeFRCN/MFE sizes), on any backend, and writes a JSON
// report that bench/torch_bench.py writes too for PyTorch on the same shapes,
// so the two can be compared case by case (`fsodgpu bench compare`).
//
// GPU shapes are the training batch (16 images of ~600×1000, 512 RoIs each);
// CPU shapes are the same at batch 1, because the CPU trains one image at a
// time and a batch-16 res4 convolution would take minutes per repeat.
package bench

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Case is one timed kernel call at one shape.
type Case struct {
	Name  string  // unique, e.g. "conv.res4_3x3.fwd"
	Op    string  // the op family, e.g. "conv2d"
	Shape string  // human-readable shapes
	Flops float64 // floating-point operations per call (0 when memory-bound)
	Bytes float64 // minimum bytes moved per call (inputs read once, outputs written once)
	// Setup allocates inputs on the backend and returns the call to time and
	// a cleanup. It runs once per case, outside the timed region.
	Setup func(b backend.Backend) (run func(), cleanup func())
}

// Sizes selects the shapes: batch images and RoIs per image.
type Sizes struct {
	Images      int // images per batch (16 on a GPU, 1 on the CPU)
	RoIsPerImg  int // 512 in DeFRCN
	NMSBoxes    int // boxes per image entering NMS (12000 pre-NMS in training)
	ImageH      int // ~600×1000 VOC/COCO training images
	ImageW      int
	FeatStride  int // res4 stride
	NumClassesA int // VOC 20+1
	NumClassesB int // COCO 80+1
}

// GPUSizes are the training shapes of the issue: batch 16.
func GPUSizes() Sizes {
	return Sizes{Images: 16, RoIsPerImg: 512, NMSBoxes: 12000, ImageH: 600, ImageW: 1000, FeatStride: 16, NumClassesA: 21, NumClassesB: 81}
}

// CPUSizes are the same shapes at batch 1.
func CPUSizes() Sizes {
	s := GPUSizes()
	s.Images = 1
	return s
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// randTensor fills a new F32 tensor with values uniform in [lo,hi).
func randTensor(b backend.Backend, r *rand.Rand, lo, hi float32, shape ...int) *backend.Tensor {
	v := make([]float32, backend.Numel(shape))
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float32()
	}
	return b.FromFloat32(v, shape...)
}

// RandomBoxes returns n boxes spread over an h×w image with realistic
// sizes (16..~400 px, aspect 0.5..2), as proposals look before NMS.
func RandomBoxes(r *rand.Rand, n int, h, w float32) []float32 {
	out := make([]float32, 4*n)
	for i := 0; i < n; i++ {
		s := float32(16 * math.Pow(2, 4.7*r.Float64()))
		a := float32(math.Pow(2, 2*r.Float64()-1))
		bw, bh := s*float32(math.Sqrt(float64(a))), s/float32(math.Sqrt(float64(a)))
		cx, cy := w*r.Float32(), h*r.Float32()
		out[4*i+0] = max(0, cx-bw/2)
		out[4*i+1] = max(0, cy-bh/2)
		out[4*i+2] = min(w, cx+bw/2)
		out[4*i+3] = min(h, cy+bh/2)
	}
	return out
}

func freeAll(b backend.Backend, ts ...*backend.Tensor) {
	for _, t := range ts {
		if t != nil {
			b.Free(t)
		}
	}
}

type convShape struct {
	name                string
	n, c, h, w, k, r, s int
	p                   backend.Conv2dParams
}

func convFlops(cs convShape) float64 {
	oh, ow := cs.p.OutSize(cs.h, cs.w, cs.r, cs.s)
	return 2 * float64(cs.n) * float64(cs.k) * float64(cs.c) * float64(cs.r*cs.s) * float64(oh*ow)
}

// Cases returns the suite for the given sizes.
func Cases(sz Sizes) []Case {
	fh, fw := ceilDiv(sz.ImageH, sz.FeatStride), ceilDiv(sz.ImageW, sz.FeatStride)
	rois := sz.Images * sz.RoIsPerImg
	p1 := backend.Conv2dParams{StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}
	p3 := backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}
	p1s2 := backend.Conv2dParams{StrideH: 2, StrideW: 2, DilationH: 1, DilationW: 1}
	pStem := backend.Conv2dParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3, DilationH: 1, DilationW: 1}
	convs := []convShape{
		{"stem_7x7s2", sz.Images, 3, sz.ImageH, sz.ImageW, 64, 7, 7, pStem},
		{"res4_3x3", sz.Images, 256, fh, fw, 256, 3, 3, p3},
		{"res4_1x1_expand", sz.Images, 256, fh, fw, 1024, 1, 1, p1},
		// Box head: res5 on 7×7 RoI features (stride 2 in the first 1×1, MSRA style).
		{"res5_1x1s2_reduce", rois, 1024, 7, 7, 512, 1, 1, p1s2},
		{"res5_3x3", rois, 512, 4, 4, 512, 3, 3, p3},
	}
	var cases []Case
	for _, cs := range convs {
		cs := cs
		oh, ow := cs.p.OutSize(cs.h, cs.w, cs.r, cs.s)
		shape := fmt.Sprintf("x[%d,%d,%d,%d] w[%d,%d,%d,%d] -> [%d,%d,%d,%d]", cs.n, cs.c, cs.h, cs.w, cs.k, cs.c, cs.r, cs.s, cs.n, cs.k, oh, ow)
		flops := convFlops(cs)
		cases = append(cases, Case{
			Name: "conv." + cs.name + ".fwd", Op: "conv2d", Shape: shape, Flops: flops,
			Setup: func(b backend.Backend) (func(), func()) {
				r := rand.New(rand.NewPCG(1, 2))
				x := randTensor(b, r, -1, 1, cs.n, cs.c, cs.h, cs.w)
				w := randTensor(b, r, -0.1, 0.1, cs.k, cs.c, cs.r, cs.s)
				return func() { b.Free(b.Conv2d(x, w, nil, cs.p)) }, func() { freeAll(b, x, w) }
			},
		}, Case{
			Name: "conv." + cs.name + ".bwd", Op: "conv2d_backward", Shape: shape + " (data+filter)", Flops: 2 * flops,
			Setup: func(b backend.Backend) (func(), func()) {
				r := rand.New(rand.NewPCG(3, 4))
				x := randTensor(b, r, -1, 1, cs.n, cs.c, cs.h, cs.w)
				w := randTensor(b, r, -0.1, 0.1, cs.k, cs.c, cs.r, cs.s)
				dy := randTensor(b, r, -1, 1, cs.n, cs.k, oh, ow)
				return func() {
						dx, dw, _ := b.Conv2dBackward(x, w, dy, cs.p, true, false)
						freeAll(b, dx, dw)
					}, func() {
						freeAll(b, x, w, dy)
					}
			},
		})
	}

	// RoI-Align, forward and backward, 7×7 ROIAlignV2 with adaptive sampling.
	raP := backend.RoIAlignParams{OutH: 7, OutW: 7, SpatialScale: 1 / float32(sz.FeatStride), SamplingRatio: 0, Aligned: true}
	raShape := fmt.Sprintf("x[%d,1024,%d,%d] rois[%d,5] -> [%d,1024,7,7]", sz.Images, fh, fw, rois, rois)
	makeRoIs := func(b backend.Backend, r *rand.Rand) *backend.Tensor {
		v := make([]float32, 0, 5*rois)
		for img := 0; img < sz.Images; img++ {
			boxes := RandomBoxes(r, sz.RoIsPerImg, float32(sz.ImageH), float32(sz.ImageW))
			for i := 0; i < sz.RoIsPerImg; i++ {
				v = append(v, float32(img), boxes[4*i], boxes[4*i+1], boxes[4*i+2], boxes[4*i+3])
			}
		}
		return b.FromFloat32(v, rois, 5)
	}
	raBytes := float64(4 * (sz.Images*1024*fh*fw + rois*5 + rois*1024*49))
	cases = append(cases, Case{
		Name: "roi_align.fwd", Op: "roi_align", Shape: raShape, Bytes: raBytes,
		Setup: func(b backend.Backend) (func(), func()) {
			r := rand.New(rand.NewPCG(5, 6))
			x := randTensor(b, r, -1, 1, sz.Images, 1024, fh, fw)
			rr := makeRoIs(b, r)
			return func() { b.Free(b.RoIAlign(x, rr, raP)) }, func() { freeAll(b, x, rr) }
		},
	}, Case{
		Name: "roi_align.fwd_bwd", Op: "roi_align", Shape: raShape + " forward+backward", Bytes: 2 * raBytes,
		Setup: func(b backend.Backend) (func(), func()) {
			r := rand.New(rand.NewPCG(7, 8))
			x := randTensor(b, r, -1, 1, sz.Images, 1024, fh, fw)
			rr := makeRoIs(b, r)
			dy := randTensor(b, r, -1, 1, rois, 1024, 7, 7)
			return func() {
				b.Free(b.RoIAlign(x, rr, raP))
				b.Free(b.RoIAlignBackward(dy, rr, x.Shape, raP))
			}, func() { freeAll(b, x, rr, dy) }
		},
	})

	// Channel attention (TEM adapter) on the res5 RoI features.
	ca := []int{rois, 2048, 4, 4}
	caBytes := float64(4 * 2 * backend.Numel(ca))
	cases = append(cases, Case{
		Name: "channel_attention.fwd_bwd", Op: "channel_attention", Shape: fmt.Sprintf("x%v r16 max-pool, forward+backward", ca), Bytes: 2 * caBytes,
		Setup: func(b backend.Backend) (func(), func()) {
			r := rand.New(rand.NewPCG(9, 10))
			x := randTensor(b, r, -1, 1, ca...)
			w1 := randTensor(b, r, -0.05, 0.05, 128, 2048)
			b1 := randTensor(b, r, -0.05, 0.05, 128)
			w2 := randTensor(b, r, -0.05, 0.05, 2048, 128)
			b2 := randTensor(b, r, -0.05, 0.05, 2048)
			dy := randTensor(b, r, -1, 1, ca...)
			return func() {
				y, cache := b.ChannelAttention(x, w1, b1, w2, b2, "max")
				dx, dw1, db1, dw2, db2 := b.ChannelAttentionBackward(x, w1, w2, dy, cache, "max")
				freeAll(b, y, cache.Pooled, cache.ArgMax, cache.Hidden, cache.Gate, dx, dw1, db1, dw2, db2)
			}, func() { freeAll(b, x, w1, b1, w2, b2, dy) }
		},
	})

	// RC loss on the two dropout samples' logits.
	for _, k := range []int{sz.NumClassesA, sz.NumClassesB} {
		k := k
		cases = append(cases, Case{
			Name: fmt.Sprintf("rc_loss.k%d.fwd_bwd", k), Op: "rc_loss", Shape: fmt.Sprintf("a,b[%d,%d] forward+backward", rois, k),
			Bytes: float64(4 * 4 * rois * k),
			Setup: func(b backend.Backend) (func(), func()) {
				r := rand.New(rand.NewPCG(11, uint64(k)))
				a := randTensor(b, r, -3, 3, rois, k)
				bb := randTensor(b, r, -3, 3, rois, k)
				one := b.FromFloat32([]float32{1})
				return func() {
					l := b.RCLoss(a, bb)
					da, db := b.RCLossBackward(a, bb, one)
					freeAll(b, l, da, db)
				}, func() { freeAll(b, a, bb, one) }
			},
		})
	}

	// Batched NMS over all images' proposals at once (class = image index, as
	// proposal NMS batches images).
	nb := sz.Images * sz.NMSBoxes
	cases = append(cases, Case{
		Name: "nms.batched", Op: "nms", Shape: fmt.Sprintf("%d images x %d boxes, IoU 0.7", sz.Images, sz.NMSBoxes),
		Bytes: float64(nb * (16 + 4 + 8)),
		Setup: func(b backend.Backend) (func(), func()) {
			r := rand.New(rand.NewPCG(13, 14))
			boxes := make([]float32, 0, 4*nb)
			scores := make([]float32, nb)
			classes := make([]int64, nb)
			for img := 0; img < sz.Images; img++ {
				boxes = append(boxes, RandomBoxes(r, sz.NMSBoxes, float32(sz.ImageH), float32(sz.ImageW))...)
				for i := 0; i < sz.NMSBoxes; i++ {
					scores[img*sz.NMSBoxes+i] = r.Float32()
					classes[img*sz.NMSBoxes+i] = int64(img)
				}
			}
			tb := b.FromFloat32(boxes, nb, 4)
			ts := b.FromFloat32(scores, nb)
			tc := b.FromInt64(classes, nb)
			return func() { b.Free(b.BatchedNMS(tb, ts, tc, 0.7)) }, func() { freeAll(b, tb, ts, tc) }
		},
	})

	// SGEMM, the core of the linear layers (and of the CPU convolutions).
	for _, n := range []int{1024, 2048} {
		n := n
		cases = append(cases, Case{
			Name: fmt.Sprintf("gemm.%d", n), Op: "matmul", Shape: fmt.Sprintf("[%d,%d]x[%d,%d]", n, n, n, n),
			Flops: 2 * float64(n) * float64(n) * float64(n),
			Setup: func(b backend.Backend) (func(), func()) {
				r := rand.New(rand.NewPCG(15, uint64(n)))
				a := randTensor(b, r, -1, 1, n, n)
				bb := randTensor(b, r, -1, 1, n, n)
				return func() { b.Free(b.MatMul(a, bb, false, false)) }, func() { freeAll(b, a, bb) }
			},
		})
	}
	return append(cases, neckCases(sz)...)
}
