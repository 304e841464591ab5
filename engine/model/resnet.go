package model

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// block is one residual block (basic or bottleneck) in detectron2's naming:
// prefix.conv1..conv3 and prefix.shortcut, each with a frozen BN.
type block struct {
	convs    []*nn.ConvBN
	shortcut *nn.ConvBN // nil when the input is added unchanged
}

func (b *block) forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	y := x
	for i, c := range b.convs {
		y = c.Forward(t, y)
		if i < len(b.convs)-1 {
			y = t.ReLU(y)
		}
	}
	short := x
	if b.shortcut != nil {
		short = b.shortcut.Forward(t, x)
	}
	return t.ReLU(t.Add(y, short))
}

// stage is a sequence of blocks, res2..res5.
type stage struct {
	name   string
	blocks []*block
	out    int
}

func (s *stage) forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	for _, b := range s.blocks {
		x = b.forward(t, x)
	}
	return x
}

// stageDepths are the block counts of res2..res5 (cfg.Blocks when set) and
// whether the blocks are bottlenecks (depth 50, 101) or basic (18, 34).
func stageDepths(cfg BackboneConfig) ([4]int, bool) {
	var d [4]int
	switch cfg.Depth {
	case 18:
		d = [4]int{2, 2, 2, 2}
	case 34, 50:
		d = [4]int{3, 4, 6, 3}
	case 101:
		d = [4]int{3, 4, 23, 3}
	default:
		panic(fmt.Sprintf("model: ResNet depth %d", cfg.Depth))
	}
	if len(cfg.Blocks) == 4 {
		copy(d[:], cfg.Blocks)
	}
	return d, cfg.Depth >= 50
}

// newStage builds res<idx> (idx 2..5) named prefix (e.g. "backbone.res4")
// taking in channels; it returns the stage. Widths follow torchvision:
// bottleneck width w·2^(idx-2), output 4× that (1× for basic blocks).
func newStage(s *nn.Store, prefix string, cfg BackboneConfig, idx, in int) *stage {
	depths, bottleneck := stageDepths(cfg)
	width := cfg.StemWidth << (idx - 2)
	out := width
	if bottleneck {
		out = 4 * width
	}
	st := &stage{name: prefix, out: out}
	for i := 0; i < depths[idx-2]; i++ {
		stride := 1
		if i == 0 && idx > 2 {
			stride = 2
		}
		name := fmt.Sprintf("%s.%d", prefix, i)
		b := &block{}
		if in != out || stride != 1 {
			b.shortcut = nn.NewConvBN(s, name+".shortcut", in, out, 1, stride, 0)
		}
		if bottleneck {
			s1, s3 := 1, stride
			if cfg.StrideIn1x1 {
				s1, s3 = stride, 1
			}
			b.convs = []*nn.ConvBN{
				nn.NewConvBN(s, name+".conv1", in, width, 1, s1, 0),
				nn.NewConvBN(s, name+".conv2", width, width, 3, s3, 1),
				nn.NewConvBN(s, name+".conv3", width, out, 1, 1, 0),
			}
		} else {
			b.convs = []*nn.ConvBN{
				nn.NewConvBN(s, name+".conv1", in, out, 3, stride, 1),
				nn.NewConvBN(s, name+".conv2", out, out, 3, 1, 1),
			}
		}
		st.blocks = append(st.blocks, b)
		in = out
	}
	return st
}

// Backbone is the stem and res2..res4 (C4: stride 16); res5 lives in the
// RoI heads. With full set, res5 is part of the backbone too (the golden
// "resnet" op and classification-style uses).
type Backbone struct {
	stem   *nn.ConvBN
	stages []*stage
}

// NewBackbone creates backbone.stem and backbone.res2..res<last> on s.
func NewBackbone(s *nn.Store, cfg BackboneConfig, last int) *Backbone {
	bb := &Backbone{stem: nn.NewConvBN(s, "backbone.stem.conv1", 3, cfg.StemWidth, 7, 2, 3)}
	in := cfg.StemWidth
	for idx := 2; idx <= last; idx++ {
		st := newStage(s, fmt.Sprintf("backbone.res%d", idx), cfg, idx, in)
		bb.stages = append(bb.stages, st)
		in = st.out
	}
	return bb
}

// OutChannels is the channel count of the last stage.
func (bb *Backbone) OutChannels() int { return bb.stages[len(bb.stages)-1].out }

// Forward returns the output of every stage (res2, res3, ...) for a
// normalised image batch x [N,3,H,W].
func (bb *Backbone) Forward(t *autograd.Tape, x *autograd.Var) []*autograd.Var {
	y := t.ReLU(bb.stem.Forward(t, x))
	y = t.MaxPool2d(y, backend.PoolParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1})
	outs := make([]*autograd.Var, 0, len(bb.stages))
	for _, st := range bb.stages {
		y = st.forward(t, y)
		outs = append(outs, y)
	}
	return outs
}

// freezePatterns are the name globs detectron2's freeze_at covers.
func freezePatterns(freezeAt int) []string {
	var pats []string
	if freezeAt >= 1 {
		pats = append(pats, "backbone.stem.*")
	}
	for idx := 2; idx <= freezeAt && idx <= 4; idx++ {
		pats = append(pats, fmt.Sprintf("backbone.res%d.*", idx))
	}
	if freezeAt >= 5 { // C4: res5 is the box head
		pats = append(pats, "backbone.res5.*", "roi_heads.res5.*")
	}
	return pats
}
