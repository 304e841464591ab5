package model

import (
	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/golden"
	"github.com/fsodgpu/fsodgpu/engine/nn"
	"github.com/fsodgpu/fsodgpu/engine/weights"
)

func init() { golden.Register("resnet", goldenResNet) }

// goldenResNet runs GOLDEN.md's "resnet" op: a torchvision ResNet (stem,
// layer1..layer4, eval mode) with the case's weights loaded through the
// torchvision → detectron2 name mapping, so the case checks the blocks,
// the stride placement and the weight import together.
func goldenResNet(c *golden.Call) {
	var block string
	var layers []int
	var strideIn1x1 bool
	c.Attr("block", &block)
	c.Attr("layers", &layers)
	c.Attr("stride_in_1x1", &strideIn1x1)
	cfg := BackboneConfig{Blocks: layers, StrideIn1x1: strideIn1x1}
	switch block {
	case "basic":
		cfg.Depth = 18
	case "bottleneck":
		cfg.Depth = 50
	default:
		c.Fail("resnet: block %q (want basic or bottleneck)", block)
	}
	if len(layers) != 4 {
		c.Fail("resnet: layers %v (want four block counts)", layers)
	}
	stem, ok := c.Case.Tensors["param.conv1.weight"]
	if !ok || len(stem.Shape) != 4 {
		c.Fail("resnet: needs param.conv1.weight [width,3,7,7]")
	}
	cfg.StemWidth = stem.Shape[0]
	s := nn.NewStore(c.B, 0)
	bb := NewBackbone(s, cfg, 5)
	sd := map[string]*backend.Tensor{}
	for _, k := range c.Case.Params() {
		name, use, err := weights.TorchvisionKey(k, false)
		if err != nil {
			c.Fail("resnet: %v", err)
		}
		if use {
			sd[name] = c.Param(k)
		}
	}
	if err := s.LoadStateDict(sd, true); err != nil {
		c.Fail("resnet: %v", err)
	}
	t := autograd.NewTape(c.B, false)
	defer t.Release()
	outs := bb.Forward(t, t.Const(c.In("image")))
	c.Out("layer3", c.B.Clone(outs[2].Value))
	c.Out("layer4", c.B.Clone(outs[3].Value))
	for _, p := range s.Params() {
		c.B.Free(p.Value)
	}
}
