package weights

import (
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

func TestTorchvisionKey(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		c4, use  bool
	}{
		{"conv1.weight", "backbone.stem.conv1.weight", true, true},
		{"bn1.running_var", "backbone.stem.conv1.norm.running_var", true, true},
		{"layer1.2.bn3.bias", "backbone.res2.2.conv3.norm.bias", true, true},
		{"layer3.0.downsample.0.weight", "backbone.res4.0.shortcut.weight", true, true},
		{"layer4.0.downsample.1.running_mean", "roi_heads.res5.0.shortcut.norm.running_mean", true, true},
		{"layer4.1.conv2.weight", "backbone.res5.1.conv2.weight", false, true},
		{"fc.weight", "", true, false},
		{"layer1.0.bn1.num_batches_tracked", "", true, false},
	} {
		got, use, err := TorchvisionKey(tc.in, tc.c4)
		if err != nil || got != tc.want || use != tc.use {
			t.Errorf("TorchvisionKey(%q, %v) = %q, %v, %v; want %q, %v", tc.in, tc.c4, got, use, err, tc.want, tc.use)
		}
	}
	for _, bad := range []string{"layer5.0.conv1.weight", "conv1.bias", "layer1.0.conv1.bias", "head.weight"} {
		if _, _, err := TorchvisionKey(bad, true); err == nil {
			t.Errorf("TorchvisionKey(%q) accepted", bad)
		}
	}
}

func TestDetectron2Key(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		use      bool
	}{
		{"conv1_w", "backbone.stem.conv1.weight", true},
		{"res_conv1_bn_s", "backbone.stem.conv1.norm.weight", true},
		{"res2_0_branch2a_w", "backbone.res2.0.conv1.weight", true},
		{"res4_22_branch2c_bn_b", "backbone.res4.22.conv3.norm.bias", true},
		{"res5_0_branch1_bn_riv", "roi_heads.res5.0.shortcut.norm.running_var", true},
		{"res3.1.conv2.norm.weight", "backbone.res3.1.conv2.norm.weight", true},
		{"backbone.res5.0.conv1.weight", "roi_heads.res5.0.conv1.weight", true},
		{"roi_heads.res5.2.conv3.norm.bias", "roi_heads.res5.2.conv3.norm.bias", true},
		{"fc1000_w", "", false},
		{"res2_0_branch2a_w_momentum", "", false},
		{"proposal_generator.rpn_head.conv.weight", "proposal_generator.rpn_head.conv.weight", true},
		{"affine_rcnn.bias", "affine_rcnn.bias", true},
		{"pixel_mean", "", false},
	} {
		got, use := Detectron2Key(tc.in, true)
		if got != tc.want || use != tc.use {
			t.Errorf("Detectron2Key(%q) = %q, %v; want %q, %v", tc.in, got, use, tc.want, tc.use)
		}
	}
}

func fingerprint(t *testing.T, x safetensors.Tensor) float64 {
	t.Helper()
	v, err := x.Float32()
	if err != nil {
		t.Fatal(err)
	}
	s := 0.0
	for i, f := range v {
		s += float64(f) * float64(i%7+1)
	}
	return s
}

// checkpoints writes the test checkpoints with PyTorch and returns their
// directory and fingerprints; it skips without python3 + torch + torchvision.
func checkpoints(t *testing.T) (string, refs) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, torchvision, numpy").Run(); err != nil {
		t.Skipf("%s cannot import torch, torchvision and numpy: %v", py, err)
	}
	dir := t.TempDir()
	out, err := exec.Command(py, filepath.Join("testdata", "make_checkpoints.py"), dir).Output()
	if err != nil {
		t.Fatalf("make_checkpoints.py: %v", err)
	}
	var raw map[string]map[string][2]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	ref := refs{}
	for set, m := range raw {
		ref[set] = map[string]struct {
			Shape []int
			Sum   float64
		}{}
		for k, v := range m {
			var e struct {
				Shape []int
				Sum   float64
			}
			if json.Unmarshal(v[0], &e.Shape) != nil || json.Unmarshal(v[1], &e.Sum) != nil {
				t.Fatalf("bad fingerprint for %s", k)
			}
			ref[set][k] = e
		}
	}
	return dir, ref
}

// TestAgainstPyTorch writes checkpoints with PyTorch once and checks the
// readers and the import against its fingerprints.
func TestAgainstPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PyTorch to write checkpoints; skipped with -short")
	}
	dir, ref := checkpoints(t)
	t.Run("readers", func(t *testing.T) { testReaders(t, dir, ref) })
	t.Run("import", func(t *testing.T) { testImport(t, dir, ref) })
}

type refs = map[string]map[string]struct {
	Shape []int
	Sum   float64
}

func testReaders(t *testing.T, dir string, ref refs) {
	check := func(file, set string, got map[string]safetensors.Tensor) {
		t.Helper()
		if len(got) != len(ref[set]) {
			t.Errorf("%s: %d float tensors, want %d", file, len(got), len(ref[set]))
		}
		for k, want := range ref[set] {
			x, ok := got[k]
			if !ok {
				t.Errorf("%s: missing %s", file, k)
				continue
			}
			if len(x.Shape) != len(want.Shape) {
				t.Errorf("%s: %s shape %v, want %v", file, k, x.Shape, want.Shape)
				continue
			}
			for i := range want.Shape {
				if x.Shape[i] != want.Shape[i] {
					t.Errorf("%s: %s shape %v, want %v", file, k, x.Shape, want.Shape)
				}
			}
			if s := fingerprint(t, x); math.Abs(s-want.Sum) > 1e-4*(1+math.Abs(want.Sum)) {
				t.Errorf("%s: %s fingerprint %.6g, want %.6g", file, k, s, want.Sum)
			}
		}
	}
	for _, f := range []string{"tv.pth", "tv_legacy.pth"} {
		got, err := ReadPth(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		check(f, "tv", got)
	}
	for _, f := range []string{"c2_p2.pkl", "c2_p4.pkl"} {
		got, err := ReadPkl(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		check(f, "c2", got)
	}
	got, err := ReadPkl(filepath.Join(dir, "d2.pkl"))
	if err != nil {
		t.Fatal(err)
	}
	check("d2.pkl", "d2", got)
}

func testImport(t *testing.T, dir string, ref refs) {
	im, err := Import(Torchvision, filepath.Join(dir, "tv.pth"), true)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tv.safetensors")
	if err := im.Write(out, Torchvision, "tv.pth"); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	x, ok := f.Tensors["roi_heads.res5.0.shortcut.norm.running_var"]
	if !ok {
		t.Fatal("res5 shortcut BN not under roi_heads in the C4 import")
	}
	if s, want := fingerprint(t, x), ref["tv"]["layer4.0.downsample.1.running_var"].Sum; math.Abs(s-want) > 1e-4*math.Abs(want) {
		t.Fatalf("imported tensor fingerprint %v, want %v", s, want)
	}
	if len(im.Skipped) != 2 { // fc.weight, fc.bias (the reader drops integer tensors)
		t.Errorf("skipped %v", im.Skipped)
	}

	c2, err := Import(Detectron2, filepath.Join(dir, "c2_p2.pkl"), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"backbone.stem.conv1.norm.running_mean", "backbone.stem.conv1.norm.running_var",
		"backbone.res2.0.conv1.norm.running_var", "roi_heads.res5.1.shortcut.weight"} {
		if _, ok := c2.Tensors[k]; !ok {
			t.Errorf("C2 import lacks %s", k)
		}
	}
	if v, _ := c2.Tensors["backbone.stem.conv1.norm.running_var"].Float32(); v[3] != 1 {
		t.Errorf("filled running_var %v, want ones", v)
	}
	dr, err := Import(Detectron2, filepath.Join(dir, "defrcn.pth"), true)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range ref["defrcn"] {
		x, ok := dr.Tensors[k]
		if k == "pixel_mean" {
			if ok {
				t.Error("pixel_mean imported as a parameter")
			}
			continue
		}
		if !ok {
			t.Errorf("DeFRCN .pth import lacks %s", k)
		} else if s := fingerprint(t, x); math.Abs(s-want.Sum) > 1e-4*(1+math.Abs(want.Sum)) {
			t.Errorf("%s fingerprint %v, want %v", k, s, want.Sum)
		}
	}
	if _, err := Import(Detectron2, filepath.Join(dir, "d2.pkl"), true); err == nil {
		t.Error("a pickle without a stem imported without error")
	}
}
