//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/rng"
)

// Parity tests of the detection kernels against the CPU backend on random
// inputs with the edge cases that break kernels (empty boxes, boxes outside
// the map, no boxes, equal scores, one RoI, sizes around the 64-box and
// 2048-key block boundaries). Ops written to round exactly like engine/cpu
// are compared bit for bit; ops whose sums run in another order are compared
// by relative L2 error.

// randBoxes returns n boxes inside a w×h image, some of them empty (zero
// width or height) and some partly outside it.
func randBoxes(r *rand.Rand, n int, w, h float32) []float32 {
	b := make([]float32, 0, 4*n)
	for i := 0; i < n; i++ {
		x1, y1 := r.Float32()*w*1.2-0.1*w, r.Float32()*h*1.2-0.1*h
		bw, bh := r.Float32()*w/3, r.Float32()*h/3
		switch i % 11 {
		case 3:
			bw = 0
		case 7:
			bw, bh = 0, 0
		}
		b = append(b, x1, y1, x1+bw, y1+bh)
	}
	return b
}

func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b) || (a == 0 && b == 0)
}

// checkExact fails unless got and want are equal element by element (NaN
// equals NaN, −0 equals +0).
func checkExact(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !sameBits(got[i], want[i]) {
			t.Fatalf("%s[%d] = %v (%#08x), want %v (%#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// checkClose fails if the relative L2 error exceeds tol or NaN/Inf appear
// where want has none.
func checkClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var num, den float64
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) || math.IsInf(g, 0) != math.IsInf(w, 0) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
		if math.IsNaN(w) || math.IsInf(w, 0) {
			continue
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if rel := math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-12); rel > tol {
		t.Fatalf("%s: relative L2 error %.3g > %.3g", what, rel, tol)
	}
}

func checkInts(t *testing.T, what string, got, want []int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d (got %v, want %v)", what, len(got), len(want), head(got), head(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s[%d] = %d, want %d", what, i, got[i], want[i])
		}
	}
}

func head(v []int64) []int64 { return v[:min(len(v), 10)] }

func TestDetectDropoutMaskMatchesPhilox(t *testing.T) {
	g, _ := denseBackends(t)
	cases := []struct {
		n            int
		p            float32
		seed, offset uint64
	}{
		{0, 0.5, 1, 0},
		{1, 0.5, 1, 0},
		{7, 0.2, 42, 3},
		{4099, 0.8, 0xDEADBEEFCAFEF00D, 1 << 40},
		{1000, 0.5, 9, math.MaxUint64 - 100}, // the counter wraps mod 2^64
		{257, 0, 5, 0},                       // keeps all
		{257, 1, 5, 0},                       // drops all
	}
	for _, c := range cases {
		got := g.ToFloat32(g.DropoutMask(c.n, c.p, c.seed, c.offset))
		want := make([]float32, c.n)
		for i := range want {
			if rng.Keep(c.seed, c.offset, i, c.p) {
				want[i] = 1
			}
		}
		checkExact(t, fmt.Sprintf("mask n=%d p=%v seed=%#x offset=%#x", c.n, c.p, c.seed, c.offset), got, want)
	}
}

func TestDetectDropout(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(1, 2))
	x := denseRand(r, 3001, -5, 5)
	for _, p := range []float32{0, 0.3, 0.8, 1} {
		mg, mc := g.DropoutMask(len(x), p, 7, 11), c.DropoutMask(len(x), p, 7, 11)
		got := g.ToFloat32(g.Dropout(g.FromFloat32(x, 3001), mg, p))
		want := c.ToFloat32(c.Dropout(c.FromFloat32(x, 3001), mc, p))
		checkExact(t, fmt.Sprintf("dropout p=%v", p), got, want)
	}
}

// roiCases returns RoIs for a batch of n feature maps of h×w at 1/scale:
// random boxes, an empty box, a box entirely outside the map, one covering
// more than the map, and an inverted box.
func roiCases(r *rand.Rand, nr, n int, imgW, imgH float32) []float32 {
	rois := make([]float32, 0, 5*(nr+4))
	for i, b := range randBoxes(r, nr, imgW, imgH) {
		if i%4 == 0 {
			rois = append(rois, float32(r.IntN(n)))
		}
		rois = append(rois, b)
	}
	rois = append(rois,
		0, 10, 10, 10, 10, // empty
		float32(n-1), imgW+50, imgH+50, imgW+90, imgH+80, // outside
		0, -40, -40, imgW+40, imgH+40, // larger than the map
		float32(n-1), 30, 30, 20, 25) // inverted
	return rois
}

func TestDetectRoIAlign(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(3, 4))
	const n, ch, h, w = 2, 5, 13, 17
	x := denseRand(r, n*ch*h*w, -1, 1)
	for _, nr := range []int{1, 37} {
		rois := roiCases(r, nr, n, w*16, h*16)
		if nr == 1 {
			rois = rois[:5]
		}
		R := len(rois) / 5
		for _, p := range []backend.RoIAlignParams{
			{OutH: 7, OutW: 7, SpatialScale: 1.0 / 16, SamplingRatio: 0, Aligned: true},
			{OutH: 7, OutW: 7, SpatialScale: 1.0 / 16, SamplingRatio: 0, Aligned: false},
			{OutH: 3, OutW: 5, SpatialScale: 1.0 / 16, SamplingRatio: 2, Aligned: false},
			{OutH: 14, OutW: 14, SpatialScale: 0.0625, SamplingRatio: 1, Aligned: true},
		} {
			name := fmt.Sprintf("R=%d %+v", R, p)
			xg, xc := g.FromFloat32(x, n, ch, h, w), c.FromFloat32(x, n, ch, h, w)
			rg, rc := g.FromFloat32(rois, R, 5), c.FromFloat32(rois, R, 5)
			checkExact(t, "RoIAlign "+name, g.ToFloat32(g.RoIAlign(xg, rg, p)), c.ToFloat32(c.RoIAlign(xc, rc, p)))
			dy := denseRand(r, R*ch*p.OutH*p.OutW, -1, 1)
			dg := g.RoIAlignBackward(g.FromFloat32(dy, R, ch, p.OutH, p.OutW), rg, []int{n, ch, h, w}, p)
			dc := c.RoIAlignBackward(c.FromFloat32(dy, R, ch, p.OutH, p.OutW), rc, []int{n, ch, h, w}, p)
			checkClose(t, "RoIAlignBackward "+name, g.ToFloat32(dg), c.ToFloat32(dc), 1e-5)
			// No atomics on this path: a rerun gives the same bits.
			again := g.RoIAlignBackward(g.FromFloat32(dy, R, ch, p.OutH, p.OutW), rg, []int{n, ch, h, w}, p)
			checkExact(t, "RoIAlignBackward rerun "+name, g.ToFloat32(again), g.ToFloat32(dg))
		}
	}
}

// A map too large for the per-RoI tables in shared memory takes the
// per-sample atomic kernel; it must agree with the CPU backend too.
func TestDetectRoIAlignBackwardLargeMap(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(5, 6))
	const n, ch, h, w = 1, 2, 600, 640
	p := backend.RoIAlignParams{OutH: 7, OutW: 7, SpatialScale: 0.25, SamplingRatio: 0, Aligned: true}
	if 4*(p.OutH*h+p.OutW*w+p.OutH*p.OutW+p.OutH*w) <= maxDynamicShared {
		t.Fatal("test shape no longer exceeds the shared-memory limit; enlarge it")
	}
	rois := roiCases(r, 20, n, w*4, h*4)
	R := len(rois) / 5
	dy := denseRand(r, R*ch*49, -1, 1)
	dg := g.RoIAlignBackward(g.FromFloat32(dy, R, ch, 7, 7), g.FromFloat32(rois, R, 5), []int{n, ch, h, w}, p)
	dc := c.RoIAlignBackward(c.FromFloat32(dy, R, ch, 7, 7), c.FromFloat32(rois, R, 5), []int{n, ch, h, w}, p)
	checkClose(t, "RoIAlignBackward atomic path", g.ToFloat32(dg), c.ToFloat32(dc), 1e-5)
}

func TestDetectChannelAttention(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		n, ch, cr, h, w int
		pool            string
		bias            bool
	}{
		{11, 32, 8, 3, 3, "max", true},
		{11, 32, 8, 3, 3, "avg", true},
		{1, 64, 4, 7, 7, "max", false},
		{17, 48, 3, 1, 1, "avg", false},
	} {
		name := fmt.Sprintf("%+v", tc)
		x := denseRand(r, tc.n*tc.ch*tc.h*tc.w, -2, 2)
		// Constant planes: every element ties for the max, argmax must be 0.
		for i := 0; i < tc.h*tc.w; i++ {
			x[i] = 0.5
		}
		w1, w2 := denseRand(r, tc.cr*tc.ch, -0.5, 0.5), denseRand(r, tc.ch*tc.cr, -0.5, 0.5)
		b1, b2 := denseRand(r, tc.cr, -0.1, 0.1), denseRand(r, tc.ch, -0.1, 0.1)
		dy := denseRand(r, len(x), -1, 1)
		run := func(be backend.Backend) (y []float32, cache [4][]float32, argmax []int64, grads [5][]float32) {
			xt := be.FromFloat32(x, tc.n, tc.ch, tc.h, tc.w)
			w1t, w2t := be.FromFloat32(w1, tc.cr, tc.ch), be.FromFloat32(w2, tc.ch, tc.cr)
			var b1t, b2t *backend.Tensor
			if tc.bias {
				b1t, b2t = be.FromFloat32(b1, tc.cr), be.FromFloat32(b2, tc.ch)
			}
			yt, ca := be.ChannelAttention(xt, w1t, b1t, w2t, b2t, tc.pool)
			y = be.ToFloat32(yt)
			cache = [4][]float32{be.ToFloat32(ca.Pooled), be.ToFloat32(ca.Hidden), be.ToFloat32(ca.Gate)}
			if ca.ArgMax != nil {
				argmax = be.ToInt64(ca.ArgMax)
			}
			dx, dw1, db1, dw2, db2 := be.ChannelAttentionBackward(xt, w1t, w2t, be.FromFloat32(dy, tc.n, tc.ch, tc.h, tc.w), ca, tc.pool)
			grads = [5][]float32{be.ToFloat32(dx), be.ToFloat32(dw1), be.ToFloat32(db1), be.ToFloat32(dw2), be.ToFloat32(db2)}
			return
		}
		yg, cg, ag, gg := run(g)
		yc, cc, ac, gc := run(c)
		checkClose(t, "y "+name, yg, yc, 1e-5)
		for i, nm := range []string{"pooled", "hidden", "gate"} {
			checkClose(t, nm+" "+name, cg[i], cc[i], 1e-5)
		}
		checkInts(t, "argmax "+name, ag, ac)
		for i, nm := range []string{"dx", "dw1", "db1", "dw2", "db2"} {
			checkClose(t, nm+" "+name, gg[i], gc[i], 1e-4)
		}
		// Deterministic: a second run gives the same bits.
		_, _, _, gg2 := run(g)
		for i := range gg {
			checkExact(t, "rerun grad "+name, gg2[i], gg[i])
		}
	}
}

// nmsInputs returns m boxes clustered so that many overlap, scores with
// deliberate ties, and classes drawn from nc values.
func nmsInputs(r *rand.Rand, m, nc int) (boxes, scores []float32, classes []int64) {
	centres := denseRand(r, 80, 0, 800)
	for i := 0; i < m; i++ {
		k := r.IntN(40)
		cx, cy := centres[2*k]+r.Float32()*40, centres[2*k+1]+r.Float32()*40
		bw, bh := 10+r.Float32()*120, 10+r.Float32()*120
		if i%13 == 5 {
			bw = 0 // empty box
		}
		boxes = append(boxes, cx-bw/2, cy-bh/2, cx+bw/2, cy+bh/2)
		s := float32(r.IntN(50)) / 50 // ties in score
		scores = append(scores, s)
		classes = append(classes, int64(r.IntN(nc)))
	}
	return
}

func TestDetectBatchedNMS(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		m, nc int
		iou   float32
	}{
		{0, 1, 0.5}, {1, 1, 0.5}, {7, 2, 0.5}, {64, 1, 0.7}, {65, 1, 0.7}, {129, 3, 0.3},
		{2049, 1, 0.7}, {3000, 20, 0.5}, {5000, 1, 0.0}, {4100, 300, 0.7},
		{20000, 1, 0.7}, // one segment of more than 256 mask words per row
	} {
		boxes, scores, classes := nmsInputs(r, tc.m, tc.nc)
		name := fmt.Sprintf("m=%d classes=%d iou=%v", tc.m, tc.nc, tc.iou)
		got := g.ToInt64(g.BatchedNMS(g.FromFloat32(boxes, tc.m, 4), g.FromFloat32(scores, tc.m), g.FromInt64(classes, tc.m), tc.iou))
		want := c.ToInt64(c.BatchedNMS(c.FromFloat32(boxes, tc.m, 4), c.FromFloat32(scores, tc.m), c.FromInt64(classes, tc.m), tc.iou))
		checkInts(t, "keep "+name, got, want)
	}
	// Identical boxes and scores: the lowest index survives.
	const m = 100
	boxes := make([]float32, 0, 4*m)
	for i := 0; i < m; i++ {
		boxes = append(boxes, 10, 10, 50, 50)
	}
	scores, classes := make([]float32, m), make([]int64, m)
	got := g.ToInt64(g.BatchedNMS(g.FromFloat32(boxes, m, 4), g.FromFloat32(scores, m), g.FromInt64(classes, m), 0.5))
	checkInts(t, "identical boxes", got, []int64{0})
}

// The RPN's shape: 16 images of 12000 proposals, batched with the image as
// the class, in one call.
func TestDetectBatchedNMSRPNBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("192000-box NMS reference on the CPU")
	}
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(11, 12))
	boxes, scores, classes := nmsInputs(r, 16*12000, 1)
	for i := range classes {
		classes[i] = int64(i / 12000)
		scores[i] = r.Float32()
	}
	m := len(scores)
	got := g.ToInt64(g.BatchedNMS(g.FromFloat32(boxes, m, 4), g.FromFloat32(scores, m), g.FromInt64(classes, m), 0.7))
	want := c.ToInt64(c.BatchedNMS(c.FromFloat32(boxes, m, 4), c.FromFloat32(scores, m), c.FromInt64(classes, m), 0.7))
	checkInts(t, "keep", got, want)
}

func TestDetectTopK(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(13, 14))
	for _, tc := range []struct{ n, k int }{{1, 1}, {5, 0}, {5, 9}, {2048, 100}, {2049, 2049}, {20000, 12000}, {70000, 6000}} {
		x := denseRand(r, tc.n, -3, 3)
		for i := range x {
			if i%7 == 0 {
				x[i] = float32(r.IntN(4)) // ties
			}
		}
		if tc.n > 10 {
			x[3] = float32(math.NaN())
			x[9] = float32(math.Inf(1))
			x[4] = float32(math.Copysign(0, -1))
		}
		name := fmt.Sprintf("n=%d k=%d", tc.n, tc.k)
		vg, ig := g.TopK(g.FromFloat32(x, tc.n), tc.k)
		vc, ic := c.TopK(c.FromFloat32(x, tc.n), tc.k)
		checkExact(t, "values "+name, g.ToFloat32(vg), c.ToFloat32(vc))
		checkInts(t, "indices "+name, g.ToInt64(ig), c.ToInt64(ic))
	}
}

func TestDetectBoxes(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(15, 16))
	a, b := randBoxes(r, 37, 640, 480), randBoxes(r, 53, 640, 480)
	a = append(a, 5, 5, 5, 5) // degenerate: union 0 with itself
	b = append(b, 5, 5, 5, 5)
	na, nb := len(a)/4, len(b)/4
	checkExact(t, "BoxIoU", g.ToFloat32(g.BoxIoU(g.FromFloat32(a, na, 4), g.FromFloat32(b, nb, 4))),
		c.ToFloat32(c.BoxIoU(c.FromFloat32(a, na, 4), c.FromFloat32(b, nb, 4))))

	// Encode needs non-degenerate boxes.
	ref, gt := make([]float32, 0, 4*50), make([]float32, 0, 4*50)
	for i := 0; i < 50; i++ {
		x, y := r.Float32()*500, r.Float32()*400
		ref = append(ref, x, y, x+1+r.Float32()*200, y+1+r.Float32()*200)
		x, y = r.Float32()*500, r.Float32()*400
		gt = append(gt, x, y, x+1+r.Float32()*200, y+1+r.Float32()*200)
	}
	wts := [4]float32{10, 10, 5, 5}
	checkExact(t, "BoxEncode", g.ToFloat32(g.BoxEncode(g.FromFloat32(ref, 50, 4), g.FromFloat32(gt, 50, 4), wts)),
		c.ToFloat32(c.BoxEncode(c.FromFloat32(ref, 50, 4), c.FromFloat32(gt, 50, 4), wts)))

	deltas := denseRand(r, 50*12, -3, 3)
	deltas[2], deltas[7] = 100, 90 // past the log(1000/16) clamp
	for _, w := range [][4]float32{{1, 1, 1, 1}, wts} {
		checkExact(t, "BoxDecode", g.ToFloat32(g.BoxDecode(g.FromFloat32(ref, 50, 4), g.FromFloat32(deltas, 50, 12), w)),
			c.ToFloat32(c.BoxDecode(c.FromFloat32(ref, 50, 4), c.FromFloat32(deltas, 50, 12), w)))
	}

	wide := denseRand(r, 40*8, -100, 800)
	checkExact(t, "ClipBoxes", g.ToFloat32(g.ClipBoxes(g.FromFloat32(wide, 40, 8), 480, 640)),
		c.ToFloat32(c.ClipBoxes(c.FromFloat32(wide, 40, 8), 480, 640)))

	sizes, ratios := []float32{32, 64, 128, 256, 512}, []float32{0.5, 1, 2}
	checkExact(t, "Anchors", g.ToFloat32(g.Anchors(38, 50, 16, sizes, ratios)), c.ToFloat32(c.Anchors(38, 50, 16, sizes, ratios)))
	checkExact(t, "Anchors empty map", g.ToFloat32(g.Anchors(0, 5, 16, sizes, ratios)), c.ToFloat32(c.Anchors(0, 5, 16, sizes, ratios)))
}

func TestDetectLosses(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(17, 18))
	for _, n := range []int{0, 1, 33, 4097} {
		const k = 21
		logits := denseRand(r, n*k, -8, 8)
		target := make([]int64, n)
		for i := range target {
			target[i] = int64(r.IntN(k))
		}
		dl := []float32{1.7}
		name := fmt.Sprintf("n=%d", n)
		lg, tg := g.FromFloat32(logits, n, k), g.FromInt64(target, n)
		lc, tc := c.FromFloat32(logits, n, k), c.FromInt64(target, n)
		checkClose(t, "CrossEntropy "+name, g.ToFloat32(g.CrossEntropy(lg, tg)), c.ToFloat32(c.CrossEntropy(lc, tc)), 1e-6)
		checkClose(t, "CrossEntropyBackward "+name, g.ToFloat32(g.CrossEntropyBackward(lg, tg, g.FromFloat32(dl))),
			c.ToFloat32(c.CrossEntropyBackward(lc, tc, c.FromFloat32(dl))), 1e-6)

		b := denseRand(r, n*k, -8, 8)
		bg, bc := g.FromFloat32(b, n, k), c.FromFloat32(b, n, k)
		lossG := g.ToFloat32(g.RCLoss(lg, bg))
		checkClose(t, "RCLoss "+name, lossG, c.ToFloat32(c.RCLoss(lc, bc)), 1e-6)
		checkExact(t, "RCLoss rerun "+name, g.ToFloat32(g.RCLoss(lg, bg)), lossG)
		dag, dbg := g.RCLossBackward(lg, bg, g.FromFloat32(dl))
		dac, dbc := c.RCLossBackward(lc, bc, c.FromFloat32(dl))
		checkClose(t, "RCLossBackward a "+name, g.ToFloat32(dag), c.ToFloat32(dac), 1e-6)
		checkClose(t, "RCLossBackward b "+name, g.ToFloat32(dbg), c.ToFloat32(dbc), 1e-6)

		x, y := denseRand(r, n*4, -3, 3), denseRand(r, n*4, -3, 3)
		for i := 0; i < len(x); i += 9 {
			y[i] = x[i] // d = 0 exactly
		}
		xg, yg := g.FromFloat32(x, n, 4), g.FromFloat32(y, n, 4)
		xc, yc := c.FromFloat32(x, n, 4), c.FromFloat32(y, n, 4)
		ones := make([]float32, n*4)
		for i := range ones {
			ones[i] = float32(i%5) - 2
		}
		for _, red := range []backend.Reduction{backend.ReduceMean, backend.ReduceSum, backend.ReduceNone} {
			up := dl
			shape := []int{}
			if red == backend.ReduceNone {
				up, shape = ones, []int{n, 4}
			}
			for _, beta := range []float32{0, 1.0 / 9, 1} {
				nm := fmt.Sprintf("SmoothL1 %s red=%d beta=%v", name, red, beta)
				checkClose(t, nm, g.ToFloat32(g.SmoothL1(xg, yg, beta, red)), c.ToFloat32(c.SmoothL1(xc, yc, beta, red)), 1e-6)
				checkClose(t, nm+" backward", g.ToFloat32(g.SmoothL1Backward(xg, yg, g.FromFloat32(up, shape...), beta, red)),
					c.ToFloat32(c.SmoothL1Backward(xc, yc, c.FromFloat32(up, shape...), beta, red)), 1e-6)
			}
			tt := denseRand(r, n*4, 0, 1)
			tg, tc := g.FromFloat32(tt, n, 4), c.FromFloat32(tt, n, 4)
			nm := fmt.Sprintf("BCEWithLogits %s red=%d", name, red)
			checkClose(t, nm, g.ToFloat32(g.BCEWithLogits(xg, tg, red)), c.ToFloat32(c.BCEWithLogits(xc, tc, red)), 1e-6)
			checkClose(t, nm+" backward", g.ToFloat32(g.BCEWithLogitsBackward(xg, tg, g.FromFloat32(up, shape...), red)),
				c.ToFloat32(c.BCEWithLogitsBackward(xc, tc, c.FromFloat32(up, shape...), red)), 1e-6)
		}
	}
}

// ---- benchmarks (the shapes that matter; compare against torchvision's
// numbers taken on the same GPU) ----

// BenchmarkDetectBatchedNMS is the RPN's NMS: 16 images × 12000 proposals
// at IoU 0.7, one call with the image index as the class.
func BenchmarkDetectBatchedNMS(b *testing.B) {
	g, _ := denseBackends(b)
	r := rand.New(rand.NewPCG(21, 22))
	boxes, scores, classes := nmsInputs(r, 16*12000, 1)
	for i := range classes {
		classes[i] = int64(i / 12000)
		scores[i] = r.Float32()
	}
	m := len(scores)
	bt, st, ct := g.FromFloat32(boxes, m, 4), g.FromFloat32(scores, m), g.FromInt64(classes, m)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.Free(g.BatchedNMS(bt, st, ct, 0.7))
	}
	if err := g.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDetectRoIAlignBackward compares the deterministic table/patch
// backward with the torchvision-style per-sample atomic kernel on DeFRCN's shape: 16 images of
// a 50×68 res4 map with 1024 channels, 512 RoIs each, 14×14 output.
func BenchmarkDetectRoIAlignBackward(b *testing.B) {
	g, _ := denseBackends(b)
	r := rand.New(rand.NewPCG(23, 24))
	const n, ch, h, w, per = 16, 1024, 50, 68, 512
	p := backend.RoIAlignParams{OutH: 14, OutW: 14, SpatialScale: 1.0 / 16, SamplingRatio: 0, Aligned: true}
	rois := make([]float32, 0, 5*n*per)
	for i, bx := range randBoxes(r, n*per, w*16, h*16) {
		if i%4 == 0 {
			rois = append(rois, float32(i/4/per))
		}
		rois = append(rois, bx)
	}
	R := n * per
	rt := g.FromFloat32(rois, R, 5)
	dy := g.FromFloat32(denseRand(r, R*ch*p.OutH*p.OutW, -1, 1), R, ch, p.OutH, p.OutW)
	b.Run("tables", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			g.Free(g.RoIAlignBackward(dy, rt, []int{n, ch, h, w}, p))
		}
		if err := g.Sync(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("atomic", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			dx := g.Zeros(backend.F32, n, ch, h, w)
			g.launch1D("roi_align_backward_atomic_kernel", dy.Numel(), dx, dy, rt, R, n, ch, h, w, p.OutH, p.OutW,
				p.SpatialScale, p.SamplingRatio, p.Aligned)
			g.Free(dx)
		}
		if err := g.Sync(); err != nil {
			b.Fatal(err)
		}
	})
}
