package model

import (
	"math"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/neck"
)

// Every neck type that gives a map goes through the config path: parsed from
// YAML as a plan writes it, built on res4, trained one step (every neck
// weight gets a gradient), frozen by model.neck.freeze, and run at inference.
func TestNeckConfigPath(t *testing.T) {
	be := cpu.New()
	for _, typ := range neck.Types {
		if typ == "spp_net" {
			continue
		}
		t.Run(typ, func(t *testing.T) {
			cfg := tinyConfig() // res4 has 16 channels, the least rfb and rfb_a take
			if err := yaml.Unmarshal([]byte("neck: {type: "+typ+"}\n"), &cfg); err != nil {
				t.Fatal(err)
			}
			d, err := New(be, cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			var neckParams []string
			for _, p := range d.Params() {
				if strings.HasPrefix(p.Name, "neck.") {
					neckParams = append(neckParams, p.Name)
				}
			}
			if len(neckParams) == 0 {
				t.Fatalf("no neck.* parameters in %v", d.StateDict())
			}
			out, err := d.Forward(tinyBatch(be), 0, true)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range out.Losses {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Errorf("loss %s = %v", k, v)
				}
			}
			for _, p := range d.Params() {
				if strings.HasPrefix(p.Name, "neck.") && !p.Frozen && p.Grad == nil {
					t.Errorf("%s: trainable but no gradient", p.Name)
				}
			}
			if _, err := d.Forward(tinyBatch(be), 0, false); err != nil {
				t.Fatal(err)
			}
			cfg.Neck.Freeze = true
			f, err := New(be, cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range f.Params() {
				if strings.HasPrefix(p.Name, "neck.") && !p.Frozen {
					t.Errorf("neck.freeze: %s is trainable", p.Name)
				}
			}
		})
	}
}

// Misconfigured necks are errors naming the key, before anything trains.
func TestNeckConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"neck: {type: spp_net}", "fixed-length vector"},
		{"neck: {type: sppx}", `type "sppx"`},
		{"neck: {type: sppf, rates: [1, 2]}", "rates does not apply"},
		{"neck: {type: spp, k: [4]}", "must be odd"},
		{"neck: {type: rfb, stride: 2}", "stride 2"},
		{"neck: {type: sppf, k: [5, 9]}", "one kernel size"},
	} {
		cfg := tinyConfig()
		if err := yaml.Unmarshal([]byte(tc.yaml), &cfg); err != nil {
			t.Fatal(err)
		}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "neck") {
			t.Errorf("%s: error %v, want one naming the neck and %q", tc.yaml, err, tc.want)
		}
	}
	cfg := tinyConfig()
	dec := yaml.NewDecoder(strings.NewReader("neck: {type: sppf, c1: 16}"))
	dec.KnownFields(true) // as plans are read
	if err := dec.Decode(&cfg); err == nil {
		t.Errorf("neck.c1 parsed; it is the backbone's channels and must not be a key")
	}
}

// c2 other than c1 changes the channels the RPN and the RoI heads read.
func TestNeckC2(t *testing.T) {
	be := cpu.New()
	cfg := tinyConfig()
	cfg.Neck = neck.Config{Type: "sppf", C2: 24}
	d, err := New(be, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.StateDict()["roi_heads.res5.0.conv1.weight"].Shape[1]; got != 24 {
		t.Errorf("res5 reads %d channels, want the neck's 24", got)
	}
	if _, err := d.Forward(tinyBatch(be), 0, true); err != nil {
		t.Fatal(err)
	}
}

// ROIAlign (aligned false), ROIAlignV2 and ROIPool pool differently, so the
// losses of the same weights differ, and gradients flow through each to
// res4; an unknown pooler is an error.
func TestPoolerType(t *testing.T) {
	be := cpu.New()
	loss := map[string]float64{}
	for _, pt := range []string{"ROIAlignV2", "ROIAlign", "ROIPool"} {
		cfg := tinyConfig()
		cfg.ROI.PoolerType = pt
		d, err := New(be, cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		loss[pt] = lossOf(d, tinyBatch(be), []string{"loss_cls", "loss_box_reg"})
		if _, err := d.Forward(tinyBatch(be), 0, true); err != nil {
			t.Fatal(err)
		}
		if g := d.store.Get("backbone.res4.0.conv1.weight"); g.Grad == nil {
			t.Errorf("%s: no gradient reaches res4 through the pooler", pt)
		}
	}
	if loss["ROIAlignV2"] == loss["ROIAlign"] || loss["ROIPool"] == loss["ROIAlign"] || loss["ROIPool"] == loss["ROIAlignV2"] {
		t.Errorf("two poolers give the same loss %v", loss)
	}
	cfg := tinyConfig()
	cfg.ROI.PoolerType = "ROIAlignV3"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "pooler_type") {
		t.Errorf("pooler_type ROIAlignV3: error %v", err)
	}
}
