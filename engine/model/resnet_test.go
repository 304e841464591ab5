package model

import (
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

func TestBottleneckStridePlacement(t *testing.T) {
	be := cpu.New()
	for _, in1x1 := range []bool{true, false} {
		s := nn.NewStore(be, 1)
		bb := NewBackbone(s, BackboneConfig{Depth: 50, Blocks: []int{1, 2, 1, 1}, StemWidth: 4, StrideIn1x1: in1x1}, 4)
		first := bb.stages[1].blocks[0] // res3.0
		s1, s3 := first.convs[0].Conv.P.StrideH, first.convs[1].Conv.P.StrideH
		if (in1x1 && (s1 != 2 || s3 != 1)) || (!in1x1 && (s1 != 1 || s3 != 2)) {
			t.Fatalf("stride_in_1x1 %v: conv1 stride %d, conv2 stride %d", in1x1, s1, s3)
		}
		if bb.stages[1].blocks[1].shortcut != nil || first.shortcut.Conv.P.StrideH != 2 {
			t.Fatal("shortcut only on the first block, with the stage's stride")
		}
		// Output: 64×64 → stem /4 → res2 /1 → res3 /2 → res4 /2 = 4×4, 4·4·4 = 64 channels.
		tp := autograd.NewTape(be, false)
		outs := bb.Forward(tp, tp.Const(be.Zeros(backend.F32, 1, 3, 64, 64)))
		if got := outs[2].Shape(); got[1] != 64 || got[2] != 4 || got[3] != 4 {
			t.Fatalf("res4 shape %v, want [1,64,4,4]", got)
		}
		tp.Release()
	}
}

func TestFreezeAtMatchesDetectron2(t *testing.T) {
	be := cpu.New()
	for freezeAt, frozenStages := range map[int][]string{
		0: nil,
		1: {"backbone.stem."},
		3: {"backbone.stem.", "backbone.res2.", "backbone.res3."},
		5: {"backbone.stem.", "backbone.res2.", "backbone.res3.", "backbone.res4.", "roi_heads.res5."},
	} {
		cfg := tinyConfig()
		cfg.Backbone.FreezeAt = freezeAt
		d, err := New(be, cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Params() {
			want := p.Buffer
			for _, pre := range frozenStages {
				want = want || strings.HasPrefix(p.Name, pre)
			}
			if p.Frozen != want {
				t.Errorf("freeze_at %d: %s frozen %v, want %v", freezeAt, p.Name, p.Frozen, want)
			}
		}
	}
	cfg := tinyConfig()
	cfg.ROI.FreezeFeat = true
	cfg.Freeze = []string{"proposal_generator.*"}
	d, err := New(be, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Params() {
		want := p.Buffer || strings.HasPrefix(p.Name, "roi_heads.res5.") || strings.HasPrefix(p.Name, "proposal_generator.")
		if p.Frozen != want {
			t.Errorf("freeze_feat + patterns: %s frozen %v, want %v", p.Name, p.Frozen, want)
		}
	}
}
