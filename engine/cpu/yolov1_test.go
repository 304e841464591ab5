package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// refYOLOIoU is the IoU of corner boxes (x1,y1,x2,y2).
func refYOLOIoU(a, b [4]float64) float64 {
	iw := math.Max(0, math.Min(a[2], b[2])-math.Max(a[0], b[0]))
	ih := math.Max(0, math.Min(a[3], b[3])-math.Max(a[1], b[1]))
	inter := iw * ih
	u := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	if u <= 0 {
		return 0
	}
	return inter / u
}

// refYOLOv1 is GOLDEN.md's formula term by term. The responsible predictor
// and its IoU come from frozen (the unperturbed prediction), so finite
// differences treat them as constants, as the loss's gradient does.
func refYOLOv1(pred, frozen []float64, obj []float64, box []float64, cls []int64, n int, p backend.YOLOv1LossParams) float64 {
	S, B, C := p.S, p.B, p.C
	D := 5*B + C
	lc, ln := float64(p.LambdaCoord), float64(p.LambdaNoobj)
	var coord, confObj, noobj, class float64
	for ni := range n {
		for i := range S {
			for j := range S {
				q := (ni*S+i)*S + j
				c := pred[q*D : (q+1)*D]
				if obj[q] == 0 {
					for b := range B {
						noobj += c[5*b+4] * c[5*b+4]
					}
					continue
				}
				t := box[q*4 : q*4+4]
				tcx, tcy := (float64(j)+t[0])/float64(S), (float64(i)+t[1])/float64(S)
				tb := [4]float64{tcx - t[2]/2, tcy - t[3]/2, tcx + t[2]/2, tcy + t[3]/2}
				r, best := -1, 0.0
				for b := range B {
					f := frozen[q*D+5*b : q*D+5*b+4]
					cx, cy := (float64(j)+f[0])/float64(S), (float64(i)+f[1])/float64(S)
					bw, bh := f[2]*f[2], f[3]*f[3]
					if iou := refYOLOIoU([4]float64{cx - bw/2, cy - bh/2, cx + bw/2, cy + bh/2}, tb); r < 0 || iou > best {
						r, best = b, iou
					}
				}
				x := c[5*r : 5*r+5]
				coord += (x[0]-t[0])*(x[0]-t[0]) + (x[1]-t[1])*(x[1]-t[1]) +
					(x[2]-math.Sqrt(t[2]))*(x[2]-math.Sqrt(t[2])) + (x[3]-math.Sqrt(t[3]))*(x[3]-math.Sqrt(t[3]))
				confObj += (x[4] - best) * (x[4] - best)
				for b := range B {
					if b != r {
						noobj += c[5*b+4] * c[5*b+4]
					}
				}
				for k := range C {
					want := 0.0
					if int64(k) == cls[q] {
						want = 1
					}
					class += (c[5*B+k] - want) * (c[5*B+k] - want)
				}
			}
		}
	}
	return (lc*coord + confObj + ln*noobj + class) / float64(n)
}

func TestYOLOv1Loss(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(91, 92))
	for _, p := range []backend.YOLOv1LossParams{
		{S: 7, B: 2, C: 20, LambdaCoord: 5, LambdaNoobj: 0.5}, // the paper's
		{S: 3, B: 3, C: 4, LambdaCoord: 2, LambdaNoobj: 0.1},
	} {
		n := 2
		cells, D := n*p.S*p.S, 5*p.B+p.C
		pf, pd := randF32(r, cells*D, 0, 1)
		obj := make([]float32, cells)
		objd := make([]float64, cells)
		box := make([]float32, cells*4)
		boxd := make([]float64, cells*4)
		cls := make([]int64, cells)
		for q := range cells {
			if r.Float64() < 0.4 {
				obj[q], objd[q] = 1, 1
				for k, v := range []float64{r.Float64(), r.Float64(), 0.05 + 0.5*r.Float64(), 0.05 + 0.5*r.Float64()} {
					box[q*4+k] = float32(v)
					boxd[q*4+k] = float64(box[q*4+k])
				}
				cls[q] = int64(r.IntN(p.C))
			} else {
				cls[q] = -7 // never read in no-object cells
			}
		}
		pred := c.FromFloat32(pf, n, p.S, p.S, D)
		ot, bt, ct := c.FromFloat32(obj, n, p.S, p.S), c.FromFloat32(box, n, p.S, p.S, 4), c.FromInt64(cls, n, p.S, p.S)
		frozen := append([]float64(nil), pd...)
		want := refYOLOv1(pd, frozen, objd, boxd, cls, n, p)
		assertClose(t, "loss", F32(c.YOLOv1Loss(pred, ot, bt, ct, p)), []float64{want}, 1e-6)
		num := numericGrad(func(in [][]float64) []float64 {
			return []float64{refYOLOv1(in[0], frozen, objd, boxd, cls, n, p)}
		}, [][]float64{pd}, []float64{0.7}, 1e-6)
		dl := c.FromFloat32([]float32{0.7})
		assertClose(t, "dpred", F32(c.YOLOv1LossBackward(pred, ot, bt, ct, dl, p)), num[0], 1e-5)
	}
}

// TestYOLOv1LossResponsible: a 1×1 grid with one object and three
// predictors, values worked out by hand.
func TestYOLOv1LossResponsible(t *testing.T) {
	c := New()
	p := backend.YOLOv1LossParams{S: 1, B: 3, C: 2, LambdaCoord: 5, LambdaNoobj: 0.5}
	// Target: centre (0.5,0.5), 0.4×0.4. Predictor 0 misses it (IoU 0),
	// predictors 1 and 2 are the same box exactly on it (IoU 1, a tie).
	pred := []float32{
		0.1, 0.1, 0.2, 0.2, 0.3, // box [0.08,0.12]² — no overlap
		0.5, 0.5, 0.6, 0.6, 0.8, // sw² = 0.36: the target box itself
		0.5, 0.5, 0.6, 0.6, 0.9,
		0.2, 0.7, // classes
	}
	box := []float32{0.5, 0.5, 0.36, 0.36}
	// Predictors 1 and 2 equal the target box (0.6² = 0.36): IoU 1 each, so
	// predictor 1 (the lower index) is responsible. Coordinates: sw − √0.36
	// = 0, so coord = 0. conf: (0.8 − 1)² = 0.04. No-object: 0.5·(0.3² +
	// 0.9²) = 0.45. Classes (cls 1): 0.2² + 0.3² = 0.13. Total 0.62.
	pt := c.FromFloat32(pred, 1, 1, 1, 17)
	ot, bt, ct := c.FromFloat32([]float32{1}, 1, 1, 1), c.FromFloat32(box, 1, 1, 1, 4), c.FromInt64([]int64{1}, 1, 1, 1)
	if got := F32(c.YOLOv1Loss(pt, ot, bt, ct, p))[0]; math.Abs(float64(got)-0.62) > 1e-6 {
		t.Fatalf("loss %v, want 0.62", got)
	}
	g := F32(c.YOLOv1LossBackward(pt, ot, bt, ct, c.FromFloat32([]float32{1}), p))
	// d/dconf: predictor 0 and 2 as no-object (2·0.5·conf), predictor 1
	// towards its IoU 1: 2·(0.8−1).
	for k, want := range map[int]float64{4: 0.3, 9: -0.4, 14: 0.9, 15: 0.4, 16: -0.6, 0: 0, 5: 0, 10: 0} {
		if math.Abs(float64(g[k])-want) > 1e-6 {
			t.Errorf("dpred[%d] = %v, want %v", k, g[k], want)
		}
	}
}
