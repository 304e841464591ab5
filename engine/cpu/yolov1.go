package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// The YOLOv1 loss (GOLDEN.md's yolov1_loss): the paper's sum-squared error
// over an S×S grid with targets already assigned to cells, divided by the
// batch size. Cell (n,i,j) is row i, column j; predictor b of a cell is
// pred[5b:5b+5] = (x, y, √w, √h, conf), the cell's class scores follow.
// Everything is computed in float64 and the loss rounded once.

func checkYOLOv1(op string, pred, obj, box, cls *backend.Tensor, p backend.YOLOv1LossParams) int {
	d := 5*p.B + p.C
	if p.S < 1 || p.B < 1 || p.C < 1 || len(pred.Shape) != 4 || pred.Shape[1] != p.S || pred.Shape[2] != p.S || pred.Shape[3] != d ||
		!backend.SameShape(obj.Shape, pred.Shape[:3]) || !backend.SameShape(box.Shape, []int{pred.Shape[0], p.S, p.S, 4}) ||
		!backend.SameShape(cls.Shape, pred.Shape[:3]) || obj.DType != backend.F32 || cls.DType != backend.I64 {
		panic(fmt.Sprintf("cpu: %s of pred %v, obj %s%v, box %v, cls %s%v with %+v (want pred [N,S,S,5B+C], obj F32 [N,S,S], box [N,S,S,4], cls I64 [N,S,S])",
			op, pred.Shape, obj.DType, obj.Shape, box.Shape, cls.DType, cls.Shape, p))
	}
	return pred.Shape[0]
}

// yolov1IoU is the IoU of predictor pr = (x, y, √w, √h) of cell (i, j) with
// target t = (tx, ty, tw, th), both as centre-size boxes in image fractions;
// 0 when the union is 0.
func yolov1IoU(pr, t []float32, i, j, s int) float64 {
	fs := float64(s)
	pcx, pcy := (float64(j)+float64(pr[0]))/fs, (float64(i)+float64(pr[1]))/fs
	pw, ph := float64(pr[2])*float64(pr[2]), float64(pr[3])*float64(pr[3])
	tcx, tcy := (float64(j)+float64(t[0]))/fs, (float64(i)+float64(t[1]))/fs
	tw, th := float64(t[2]), float64(t[3])
	iw := math.Min(pcx+pw/2, tcx+tw/2) - math.Max(pcx-pw/2, tcx-tw/2)
	ih := math.Min(pcy+ph/2, tcy+th/2) - math.Max(pcy-ph/2, tcy-th/2)
	inter := math.Max(iw, 0) * math.Max(ih, 0)
	union := pw*ph + tw*th - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// yolov1Responsible is the predictor with the largest IoU (lowest index on
// ties) and that IoU.
func yolov1Responsible(cell, t []float32, i, j int, p backend.YOLOv1LossParams) (int, float64) {
	r, best := 0, math.Inf(-1)
	for b := range p.B {
		if iou := yolov1IoU(cell[5*b:5*b+4], t, i, j, p.S); iou > best {
			r, best = b, iou
		}
	}
	return r, best
}

// yolov1Cell visits cell q of the batch: it returns the cell's loss (before
// the 1/N) and, when grad is not nil, writes d(cell loss)/d(cell) scaled by
// g into grad.
func yolov1Cell(q int, pv, ov, bv []float32, cv []int64, p backend.YOLOv1LossParams, g float64, grad []float32) float64 {
	d := 5*p.B + p.C
	cell := pv[q*d : (q+1)*d]
	i, j := q/p.S%p.S, q%p.S
	lc, ln := float64(p.LambdaCoord), float64(p.LambdaNoobj)
	loss := 0.0
	// sq adds w·(v − t)² to the loss and its gradient to grad[k].
	sq := func(k int, t, w float64) {
		e := float64(cell[k]) - t
		loss += w * e * e
		if grad != nil {
			grad[k] = float32(g * 2 * w * e)
		}
	}
	if ov[q] == 0 {
		for b := range p.B {
			sq(5*b+4, 0, ln)
		}
		return loss
	}
	t := bv[q*4 : q*4+4]
	c := cv[q]
	if c < 0 || int(c) >= p.C {
		panic(fmt.Sprintf("cpu: YOLOv1Loss: cell %d has class %d, want 0..%d", q, c, p.C-1))
	}
	r, iou := yolov1Responsible(cell, t, i, j, p)
	for b := range p.B {
		if b != r {
			sq(5*b+4, 0, ln)
			continue
		}
		sq(5*b, float64(t[0]), lc)
		sq(5*b+1, float64(t[1]), lc)
		sq(5*b+2, math.Sqrt(float64(t[2])), lc)
		sq(5*b+3, math.Sqrt(float64(t[3])), lc)
		sq(5*b+4, iou, 1)
	}
	for k := range p.C {
		want := 0.0
		if int64(k) == c {
			want = 1
		}
		sq(5*p.B+k, want, 1)
	}
	return loss
}

// YOLOv1Loss returns the scalar loss (shape []).
func (c *CPU) YOLOv1Loss(pred, obj, box, cls *backend.Tensor, p backend.YOLOv1LossParams) *backend.Tensor {
	n := checkYOLOv1("YOLOv1Loss", pred, obj, box, cls, p)
	pv, ov, bv, cv := F32(pred), F32(obj), F32(box), I64(cls)
	sum := 0.0
	for q := range n * p.S * p.S { // in cell order: deterministic
		sum += yolov1Cell(q, pv, ov, bv, cv, p, 0, nil)
	}
	out := c.newF32()
	F32(out)[0] = float32(sum / float64(max(n, 1)))
	return out
}

// YOLOv1LossBackward returns dloss · dL/dpred; entries no term reads (the
// coordinates of predictors that are not responsible, no-object cells'
// coordinates and class scores) are 0.
func (c *CPU) YOLOv1LossBackward(pred, obj, box, cls, dloss *backend.Tensor, p backend.YOLOv1LossParams) *backend.Tensor {
	n := checkYOLOv1("YOLOv1LossBackward", pred, obj, box, cls, p)
	if dloss.Numel() != 1 {
		panic(fmt.Sprintf("cpu: YOLOv1LossBackward: dloss %v, want a scalar", dloss.Shape))
	}
	g := float64(F32(dloss)[0]) / float64(max(n, 1))
	dp := c.newF32(pred.Shape...)
	pv, ov, bv, cv, dv := F32(pred), F32(obj), F32(box), I64(cls), F32(dp)
	d := 5*p.B + p.C
	c.parallelFor(n*p.S*p.S, max(1, elemGrain/(4*d)), func(lo, hi int) {
		for q := lo; q < hi; q++ {
			yolov1Cell(q, pv, ov, bv, cv, p, g, dv[q*d:(q+1)*d])
		}
	})
	return dp
}
