package neck

import (
	"math"
	"math/rand"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

func randomInput(be backend.Backend, seed int64, shape ...int) *backend.Tensor {
	r := rand.New(rand.NewSource(seed))
	v := make([]float32, backend.Numel(shape))
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return be.FromFloat32(v, shape...)
}

// run builds c on c1 channels, optionally loads sd, and returns y, dL/dx and
// the weights' gradients for L = Σ y·g with a fixed g.
func run(t *testing.T, be backend.Backend, c Config, c1 int, sd map[string]*backend.Tensor, x *backend.Tensor) ([]float32, []float32, map[string][]float32, *nn.Store) {
	t.Helper()
	s := nn.NewStore(be, 7)
	b, err := New(s, "", c, c1)
	if err != nil {
		t.Fatal(err)
	}
	if sd != nil {
		if err := s.LoadStateDict(sd, true); err != nil {
			t.Fatal(err)
		}
	}
	tp := autograd.NewTape(be, true)
	xv := autograd.NewLeaf(x, true)
	y := b.Forward(tp, xv)
	g := randomInput(be, 99, y.Shape()...)
	yv := be.ToFloat32(y.Value)
	tp.Backward(tp.Sum(tp.Mul(y, tp.Const(g)), nil))
	grads := map[string][]float32{}
	for _, p := range s.Params() {
		if p.Grad != nil {
			grads[p.Name] = be.ToFloat32(p.Grad)
		}
	}
	return yv, be.ToFloat32(xv.Grad), grads, s
}

func relErr(got, want []float32) float64 {
	var d, n float64
	for i := range want {
		d += float64(got[i]-want[i]) * float64(got[i]-want[i])
		n += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d) / max(math.Sqrt(n), 1e-12)
}

// NECKS.md: sppf equals spp with k = (5, 9, 13) on the same weights (chained
// 5×5 max pools with stride 1 see 5, 9 and 13 windows), in y and in every
// gradient.
func TestSPPFEqualsSPP(t *testing.T) {
	be := cpu.New()
	x := randomInput(be, 1, 2, 8, 13, 11)
	y1, dx1, g1, s := run(t, be, Config{Type: "sppf", C2: 6}, 8, nil, x)
	y2, dx2, g2, _ := run(t, be, Config{Type: "spp", C2: 6, K: Ints{5, 9, 13}}, 8, s.StateDict(), x)
	if e := relErr(y2, y1); e > 1e-6 {
		t.Errorf("y: rel err %g", e)
	}
	if e := relErr(dx2, dx1); e > 1e-6 {
		t.Errorf("dx: rel err %g", e)
	}
	if len(g1) != 2 || len(g2) != 2 {
		t.Fatalf("gradients of %d and %d weights, want cv1 and cv2", len(g1), len(g2))
	}
	for k, v := range g1 {
		if e := relErr(g2[k], v); e > 1e-6 {
			t.Errorf("%s: rel err %g", k, e)
		}
	}
	// And a different pyramid is not equal: the comparison can fail.
	y3, _, _, _ := run(t, be, Config{Type: "spp", C2: 6, K: Ints{5, 7, 13}}, 8, s.StateDict(), x)
	if relErr(y3, y1) < 1e-4 {
		t.Errorf("spp with k=(5,7,13) equals sppf")
	}
}

// Every type keeps the map's size at stride 1 (spp_net: the same vector
// length for any H, W), with NECKS.md's parameter names.
func TestShapesAndNames(t *testing.T) {
	be := cpu.New()
	for _, typ := range Types {
		s := nn.NewStore(be, 1)
		b, err := New(s, "neck", Config{Type: typ}, 16)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		for _, hw := range [][2]int{{9, 7}, {1, 3}} {
			tp := autograd.NewTape(be, false)
			y := b.Forward(tp, tp.Const(randomInput(be, 2, 2, 16, hw[0], hw[1])))
			want := []int{2, 16, hw[0], hw[1]}
			if typ == "spp_net" {
				want = []int{2, 16 * (16 + 4 + 1)}
			}
			if !backend.SameShape(y.Shape(), want) {
				t.Errorf("%s on %v: output %v, want %v", typ, hw, y.Shape(), want)
			}
			tp.Release()
		}
	}
	names := func(typ string) map[string]bool {
		s := nn.NewStore(be, 1)
		if _, err := New(s, "", Config{Type: typ}, 32); err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, p := range s.Params() {
			m[p.Name] = true
		}
		return m
	}
	for typ, keys := range map[string][]string{
		"sppf":    {"cv1.conv.weight", "cv1.bn.running_var", "cv2.bn.weight"},
		"aspp":    {"c0.weight", "c3.bias"},
		"rfb":     {"branch0.0.conv.weight", "branch2.3.bn.bias", "ConvLinear.conv.weight", "shortcut.bn.running_var"},
		"rfb_a":   {"branch3.3.conv.weight", "branch1.1.conv.weight"},
		"sppcspc": {"cv7.conv.weight", "cv3.bn.running_mean"},
	} {
		got := names(typ)
		for _, k := range keys {
			if !got[k] {
				t.Errorf("%s has no parameter %s (has %v)", typ, k, got)
			}
		}
	}
	s := nn.NewStore(be, 1)
	if _, err := New(s, "", Config{Type: "rfb_a"}, 32); err != nil {
		t.Fatal(err)
	}
	if w := s.Get("branch1.1.conv.weight"); w == nil || !backend.SameShape(w.Value.Shape, []int{8, 8, 3, 1}) {
		t.Errorf("rfb_a branch1.1 is the (3,1) conv: %v", w.Value.Shape)
	}
}
