package model

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

func TestConfigYAMLRoundTripAndDefaults(t *testing.T) {
	c := MFEDefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := DemoConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"freeze_at: 3", "pre_nms_topk_train: 12000", "backward_scale: 0.75", "pooler_resolution: 7", "sem: true"} {
		if !strings.Contains(string(b), key) {
			t.Errorf("YAML lacks %q:\n%s", key, b)
		}
	}
	var back Config
	if err := yaml.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ROI.GDLScale != 0.75 || back.RPN.PostNMSTest != 1000 || !back.MFE.RC || back.Backbone.Depth != 101 || len(back.RPN.AnchorSizes) != 5 {
		t.Fatalf("round trip lost values: %+v", back)
	}
	// A partial YAML over the defaults changes only what it names.
	over := DefaultConfig()
	if err := yaml.Unmarshal([]byte("num_classes: 20\nroi_heads:\n  cls_dropout: true\n"), &over); err != nil {
		t.Fatal(err)
	}
	if over.NumClasses != 20 || !over.ROI.ClsDropout || over.ROI.BatchSizePerImage != 512 {
		t.Fatalf("overlay: %+v", over.ROI)
	}
	bad := DefaultConfig()
	bad.Backbone.Depth = 42
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "backbone.depth 42") {
		t.Fatalf("depth 42: %v", err)
	}
}

// SEM relabels its refined boxes by default (the MFE paper's "stronger
// RPN"); sem_relabel: false keeps the old behaviour, and the default is
// harmless without SEM (DeFRCN).
func TestSEMRelabelIsTheDefault(t *testing.T) {
	if !DefaultConfig().MFE.SEMRelabel || !DemoConfig().MFE.SEMRelabel {
		t.Fatal("mfe.sem_relabel is not on by default")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DeFRCN (no SEM) with the default sem_relabel: %v", err)
	}
	c := MFEDefaultConfig()
	if err := yaml.Unmarshal([]byte("mfe: {sem_relabel: false}\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.MFE.SEMRelabel || !c.MFE.SEM {
		t.Fatalf("sem_relabel: false over the defaults: %+v", c.MFE)
	}
}

func TestUnknownArchIsAnError(t *testing.T) {
	c := DemoConfig()
	c.Arch = "ssd"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ssd") {
		t.Fatalf("arch ssd: %v", err)
	}
	if _, err := Build(cpu.New(), c, 1); err == nil {
		t.Fatal("Build must refuse an unknown arch")
	}
	c.Arch = ""
	m, err := Build(cpu.New(), c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*Detector); !ok {
		t.Fatalf("the default arch built %T, want the Faster R-CNN *Detector", m)
	}
}
