package golden

import (
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// The built-in ops: every op of GOLDEN.md but resnet, which needs the model
// and is registered by it. Input, output and attribute names are GOLDEN.md's.
func init() {
	Register("conv2d", conv2d)
	Register("linear", linear)
	Register("frozen_bn", frozenBN)
	Register("relu", relu)
	Register("dropout", dropout)
	Register("max_pool2d", maxPool2d)
	Register("nms", nms)
	Register("roi_align", roiAlign)
	Register("channel_attention", channelAttention)
	Register("rc_loss", rcLoss)
	Register("cross_entropy", crossEntropy)
	Register("smooth_l1", smoothL1)
	Register("bce_with_logits", bceWithLogits)
	Register("silu", silu)
	Register("leaky_relu", leakyReLU)
	Register("roi_pool", roiPool)
	Register("yolov1_loss", yolov1Loss)
}

func conv2d(c *Call) {
	var p backend.Conv2dParams
	p.StrideH, p.StrideW = c.Pair("stride")
	p.PadH, p.PadW = c.Pair("padding")
	p.DilationH, p.DilationW = c.Pair("dilation")
	x, w, b := c.In("x"), c.In("w"), c.OptIn("b")
	c.Out("y", c.B.Conv2d(x, w, b, p))
	if !c.Backward() {
		return
	}
	dx, dw, db := c.B.Conv2dBackward(x, w, c.GradOut("y"), p, true, b != nil)
	c.GradIn("x", dx)
	c.GradIn("w", dw)
	if b != nil {
		c.GradIn("b", db)
	}
}

// linear is y = x·wᵀ + b, composed from MatMul and a broadcast Add as the
// model's Linear layer does.
func linear(c *Call) {
	x, w, b := c.In("x"), c.In("w"), c.OptIn("b")
	y := c.B.MatMul(x, w, false, true)
	if b != nil {
		y = c.B.Binary(backend.Add, y, b)
	}
	c.Out("y", y)
	if !c.Backward() {
		return
	}
	dy := c.GradOut("y")
	c.GradIn("x", c.B.MatMul(dy, w, false, false))
	c.GradIn("w", c.B.MatMul(dy, x, true, false))
	if b != nil {
		c.GradIn("b", c.B.Sum(dy, []int{0}, false))
	}
}

// frozenBN folds the running statistics into a per-channel scale and shift
// on the host, in float64, as the model does when it loads weights.
func frozenBN(c *Call) {
	eps := c.Float("eps")
	w, _ := c.HostIn("weight")
	bias, _ := c.HostIn("bias")
	mean, _ := c.HostIn("running_mean")
	variance, _ := c.HostIn("running_var")
	n := len(w)
	if len(bias) != n || len(mean) != n || len(variance) != n {
		c.Fail("frozen_bn: weight, bias, running_mean, running_var have %d, %d, %d, %d channels",
			n, len(bias), len(mean), len(variance))
	}
	scale, shift := make([]float32, n), make([]float32, n)
	for i := range n {
		s := float64(w[i]) / math.Sqrt(float64(variance[i])+eps)
		scale[i] = float32(s)
		shift[i] = float32(float64(bias[i]) - float64(mean[i])*s)
	}
	x := c.In("x")
	sc, sh := c.B.FromFloat32(scale, n), c.B.FromFloat32(shift, n)
	c.owned = append(c.owned, sc, sh)
	c.Out("y", c.B.ChannelAffine(x, sc, sh))
	if c.Backward() {
		c.GradIn("x", c.B.ChannelAffine(c.GradOut("y"), sc, nil))
	}
}

func relu(c *Call) {
	x := c.In("x")
	y := c.B.Unary(backend.ReLU, x)
	c.Out("y", y)
	if c.Backward() {
		c.GradIn("x", c.B.UnaryBackward(backend.ReLU, x, y, c.GradOut("y")))
	}
}

func dropout(c *Call) {
	p := float32(c.Float("p"))
	x, mask := c.In("x"), c.In("mask")
	c.Out("y", c.B.Dropout(x, mask, p))
	if c.Backward() {
		c.GradIn("x", c.B.Dropout(c.GradOut("y"), mask, p))
	}
}

func maxPool2d(c *Call) {
	var p backend.PoolParams
	p.KernelH, p.KernelW = c.Pair("kernel")
	p.StrideH, p.StrideW = c.Pair("stride")
	p.PadH, p.PadW = c.Pair("padding")
	x := c.In("x")
	y, argmax := c.B.MaxPool2d(x, p)
	c.owned = append(c.owned, argmax)
	c.Out("y", y)
	if c.Backward() {
		c.GradIn("x", c.B.MaxPool2dBackward(c.GradOut("y"), argmax, x.Shape))
	}
}

func nms(c *Call) {
	iou := float32(c.Float("iou_threshold"))
	c.Out("keep", c.B.BatchedNMS(c.In("boxes"), c.In("scores"), c.InInt("classes"), iou))
}

func roiAlign(c *Call) {
	var p backend.RoIAlignParams
	p.OutH, p.OutW = c.Pair("output_size")
	p.SpatialScale = float32(c.Float("spatial_scale"))
	c.Attr("sampling_ratio", &p.SamplingRatio)
	c.Attr("aligned", &p.Aligned)
	x, rois := c.In("x"), c.In("rois")
	c.Out("y", c.B.RoIAlign(x, rois, p))
	if c.Backward() {
		c.GradIn("x", c.B.RoIAlignBackward(c.GradOut("y"), rois, x.Shape, p))
	}
}

func channelAttention(c *Call) {
	pool := c.String("pool")
	if pool != "max" && pool != "avg" {
		c.Fail("attribute pool %q is not max or avg", pool)
	}
	x, w1, b1, w2, b2 := c.In("x"), c.In("w1"), c.In("b1"), c.In("w2"), c.In("b2")
	var r int
	c.Attr("reduction", &r)
	if r <= 0 || len(x.Shape) != 4 || len(w1.Shape) != 2 || w1.Shape[0]*r != x.Shape[1] {
		c.Fail("channel_attention: x %v and w1 %v do not match reduction %d", x.Shape, w1.Shape, r)
	}
	y, cache := c.B.ChannelAttention(x, w1, b1, w2, b2, pool)
	c.owned = append(c.owned, cache.Pooled, cache.ArgMax, cache.Hidden, cache.Gate)
	c.Out("y", y)
	if !c.Backward() {
		return
	}
	dx, dw1, db1, dw2, db2 := c.B.ChannelAttentionBackward(x, w1, w2, c.GradOut("y"), cache, pool)
	c.GradIn("x", dx)
	c.GradIn("w1", dw1)
	c.GradIn("b1", db1)
	c.GradIn("w2", dw2)
	c.GradIn("b2", db2)
}

func rcLoss(c *Call) {
	a, b := c.In("a"), c.In("b")
	c.Out("loss", c.B.RCLoss(a, b))
	if c.Backward() {
		da, db := c.B.RCLossBackward(a, b, c.GradOut("loss"))
		c.GradIn("a", da)
		c.GradIn("b", db)
	}
}

func crossEntropy(c *Call) {
	logits, target := c.In("logits"), c.InInt("target")
	c.Out("loss", c.B.CrossEntropy(logits, target))
	if c.Backward() {
		c.GradIn("logits", c.B.CrossEntropyBackward(logits, target, c.GradOut("loss")))
	}
}

func smoothL1(c *Call) {
	beta := float32(c.Float("beta"))
	r := c.Reduction()
	x, target := c.In("x"), c.In("target")
	c.Out("loss", c.B.SmoothL1(x, target, beta, r))
	if c.Backward() {
		c.GradIn("x", c.B.SmoothL1Backward(x, target, c.GradOut("loss"), beta, r))
	}
}

func bceWithLogits(c *Call) {
	r := c.Reduction()
	x, target := c.In("x"), c.In("target")
	c.Out("loss", c.B.BCEWithLogits(x, target, r))
	if c.Backward() {
		c.GradIn("x", c.B.BCEWithLogitsBackward(x, target, c.GradOut("loss"), r))
	}
}

func silu(c *Call) {
	x := c.In("x")
	c.Out("y", c.B.SiLU(x))
	if c.Backward() {
		c.GradIn("x", c.B.SiLUBackward(x, c.GradOut("y")))
	}
}

func leakyReLU(c *Call) {
	slope := float32(c.Float("negative_slope"))
	x := c.In("x")
	c.Out("y", c.B.LeakyReLU(x, slope))
	if c.Backward() {
		c.GradIn("x", c.B.LeakyReLUBackward(x, c.GradOut("y"), slope))
	}
}

func roiPool(c *Call) {
	var p backend.RoIPoolParams
	p.OutH, p.OutW = c.Pair("output_size")
	p.SpatialScale = float32(c.Float("spatial_scale"))
	x, rois := c.In("x"), c.In("rois")
	if len(x.Shape) != 4 || len(rois.Shape) != 2 || rois.Shape[1] != 5 || p.OutH < 1 || p.OutW < 1 {
		c.Fail("roi_pool: x %v, rois %v, output_size %dx%d (want [N,C,H,W], [R,5], positive)", x.Shape, rois.Shape, p.OutH, p.OutW)
	}
	y, argmax := c.B.RoIPool(x, rois, p)
	c.owned = append(c.owned, argmax)
	c.Out("y", y)
	if c.Backward() {
		c.GradIn("x", c.B.RoIPoolBackward(c.GradOut("y"), argmax, rois, x.Shape))
	}
}

func yolov1Loss(c *Call) {
	var p backend.YOLOv1LossParams
	c.Attr("S", &p.S)
	c.Attr("B", &p.B)
	c.Attr("C", &p.C)
	p.LambdaCoord = float32(c.Float("lambda_coord"))
	p.LambdaNoobj = float32(c.Float("lambda_noobj"))
	pred, obj, box, cls := c.In("pred"), c.In("obj"), c.In("box"), c.InInt("cls")
	if p.S < 1 || p.B < 1 || p.C < 1 || len(pred.Shape) != 4 || !backend.SameShape(pred.Shape, []int{pred.Shape[0], p.S, p.S, 5*p.B + p.C}) {
		c.Fail("yolov1_loss: pred %v does not match S %d, B %d, C %d", pred.Shape, p.S, p.B, p.C)
	}
	c.Out("loss", c.B.YOLOv1Loss(pred, obj, box, cls, p))
	if c.Backward() {
		c.GradIn("pred", c.B.YOLOv1LossBackward(pred, obj, box, cls, c.GradOut("loss"), p))
	}
}
