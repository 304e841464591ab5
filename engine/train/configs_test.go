package train

import (
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// Every plan shipped in configs/ must parse and validate: a typo in a key
// fails here rather than on a user's GPU after base training.
func TestShippedConfigsParse(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	more, _ := filepath.Glob("../../configs/*/*.yaml")
	files = append(files, more...)
	more, _ = filepath.Glob("../../configs/*/*/*.yaml")
	files = append(files, more...)
	n := 0
	for _, f := range files {
		if filepath.Base(filepath.Dir(f)) == "reported" {
			continue
		}
		n++
		p, err := LoadPlan(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, st := range []*StageConfig{&p.Base, &p.FineTune.Stage} {
			if _, err := p.StageModel(st); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
	if n < 17 {
		t.Fatalf("found %d plan files, want the demo + 12 VOC + 4 COCO", n)
	}
}

// The ablation's DeFRCN arm must be the demo with only the fine-tune head
// changed, or bench/ablation compares more than the head.
func TestAblationConfigMatchesDemo(t *testing.T) {
	demo, err := LoadPlan("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	arm, err := LoadPlan("../../bench/ablation/defrcn_synth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := demo.StageModel(&demo.FineTune.Stage)
	if err != nil {
		t.Fatal(err)
	}
	want.MFE.SEM, want.MFE.TEM, want.MFE.RC = false, false, false
	want.ROI.ClsDropout, want.ROI.DropoutRatio = true, demo.Model.MFE.RCDropout
	got, err := arm.StageModel(&arm.FineTune.Stage)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fine-tune model:\n  defrcn arm %+v\n  demo, head swapped %+v", got, want)
	}
	// Everything but the names and the fine-tune's model overrides is equal.
	// (The stages' model overrides are yaml nodes carrying line numbers:
	// compare the base stage's resolved model instead.)
	a, _ := arm.StageModel(&arm.Base)
	d, _ := demo.StageModel(&demo.Base)
	if !reflect.DeepEqual(a, d) {
		t.Errorf("base model:\n  defrcn arm %+v\n  demo %+v", a, d)
	}
	arm.Name, arm.Method = demo.Name, demo.Method
	for _, p := range []*Plan{arm, demo} {
		p.Base.Model, p.FineTune.Stage.Model = yaml.Node{}, yaml.Node{}
	}
	if !reflect.DeepEqual(arm, demo) {
		t.Errorf("bench/ablation/defrcn_synth.yaml differs from configs/demo.yaml beyond the fine-tune head")
	}
}
