package model

import (
	"math"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// predictor builds a state dict whose cls_score row r is filled with
// tag+r and bbox_pred row r with tag+100+r, so copied rows are recognisable.
func predictor(be backend.Backend, classes, d int, tag float32) map[string]*backend.Tensor {
	fill := func(rows int, off float32) (*backend.Tensor, *backend.Tensor) {
		w := make([]float32, rows*d)
		b := make([]float32, rows)
		for r := 0; r < rows; r++ {
			for j := 0; j < d; j++ {
				w[r*d+j] = tag + off + float32(r)
			}
			b[r] = -(tag + off + float32(r))
		}
		return be.FromFloat32(w, rows, d), be.FromFloat32(b, rows)
	}
	cw, cb := fill(classes+1, 0)
	bw, bb := fill(4*classes, 100)
	return map[string]*backend.Tensor{
		clsKey + ".weight": cw, clsKey + ".bias": cb, boxKey + ".weight": bw, boxKey + ".bias": bb,
		"backbone.stem.conv1.weight": be.FromFloat32([]float32{7}, 1, 1, 1, 1),
	}
}

func TestSurgeryRandInitCopiesBaseRowsByName(t *testing.T) {
	be := cpu.New()
	base := predictor(be, 3, 2, 0) // classes cat, dog, cow → rows 0,1,2, bg 3
	out, err := Surgery(SurgeryInput{Method: SurgeryRandInit, Base: base, BaseClasses: []string{"cat", "dog", "cow"},
		Target: []string{"dog", "bird", "cat", "cow", "sofa"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if out["backbone.stem.conv1.weight"] != base["backbone.stem.conv1.weight"] {
		t.Fatal("backbone tensor not carried over")
	}
	w, b := be.ToFloat32(out[clsKey+".weight"]), be.ToFloat32(out[clsKey+".bias"])
	if s := out[clsKey+".weight"].Shape; s[0] != 6 || s[1] != 2 {
		t.Fatalf("cls_score shape %v, want [6,2]", s)
	}
	// target row → base row (-1 = new): dog 1, bird new, cat 0, cow 2, sofa new, bg 3.
	for r, src := range []int{1, -1, 0, 2, -1, 3} {
		if src >= 0 {
			if w[2*r] != float32(src) || b[r] != -float32(src) {
				t.Errorf("cls row %d = %v (bias %v), want base row %d", r, w[2*r:2*r+2], b[r], src)
			}
			continue
		}
		if b[r] != 0 || w[2*r] == 0 || math.Abs(float64(w[2*r])) > 0.05 {
			t.Errorf("new cls row %d = %v (bias %v), want N(0, 0.01) and bias 0", r, w[2*r:2*r+2], b[r])
		}
	}
	bw := be.ToFloat32(out[boxKey+".weight"])
	if s := out[boxKey+".weight"].Shape; s[0] != 20 {
		t.Fatalf("bbox_pred shape %v, want [20,2]", s)
	}
	// cat (target 2) takes base rows 0..3 → values 100..103.
	for i := 0; i < 4; i++ {
		if bw[2*(8+i)] != 100+float32(i) {
			t.Fatalf("bbox row %d = %v, want %v", 8+i, bw[2*(8+i)], 100+i)
		}
	}
	if v := bw[2*4]; v == 0 || math.Abs(float64(v)) > 0.005 {
		t.Fatalf("new bbox row for bird = %v, want N(0, 0.001)", v)
	}
}

func TestSurgeryCombineAndRemove(t *testing.T) {
	be := cpu.New()
	base := predictor(be, 2, 1, 0)   // cat, dog
	novel := predictor(be, 1, 1, 50) // bird
	out, err := Surgery(SurgeryInput{Method: SurgeryCombine, Base: base, BaseClasses: []string{"cat", "dog"},
		Novel: novel, NovelClasses: []string{"bird"}, Target: []string{"cat", "dog", "bird"}})
	if err != nil {
		t.Fatal(err)
	}
	w := be.ToFloat32(out[clsKey+".weight"])
	if want := []float32{0, 1, 50, 2}; len(w) != 4 || w[0] != want[0] || w[1] != want[1] || w[2] != want[2] || w[3] != want[3] {
		t.Fatalf("combined cls rows %v, want %v (bg from base)", w, want)
	}
	rm, err := Surgery(SurgeryInput{Method: SurgeryRemove, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	if len(rm) != 1 || rm["backbone.stem.conv1.weight"] == nil {
		t.Fatalf("remove kept %d keys, want only the backbone's", len(rm))
	}
	_, err = Surgery(SurgeryInput{Method: SurgeryRandInit, Base: base, BaseClasses: []string{"cat"}, Target: []string{"cat"}})
	if err == nil || !strings.Contains(err.Error(), "want [1 classes + background") {
		t.Fatalf("class count mismatch: %v", err)
	}
}

// TestSurgeryLoadsIntoDetector runs randinit on a real detector's state dict
// and loads the result strictly into a detector with the new class count.
func TestSurgeryLoadsIntoDetector(t *testing.T) {
	be := cpu.New()
	cfg := tinyConfig()
	d, err := New(be, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Surgery(SurgeryInput{Method: SurgeryRandInit, Base: d.StateDict(), BaseClasses: []string{"a", "b", "c"},
		Target: []string{"a", "b", "c", "d", "e"}, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumClasses = 5
	d2, err := New(be, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.LoadStateDict(out, true); err != nil {
		t.Fatal(err)
	}
	if err := d2.LoadStateDict(d.StateDict(), true); err == nil || !strings.Contains(err.Error(), "roi_heads.box_predictor.cls_score.weight: checkpoint [4,") {
		t.Fatalf("loading a 3-class predictor into a 5-class model: %v", err)
	}
}
