package nn

import (
	"math"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

func TestFreezeByPattern(t *testing.T) {
	s := NewStore(cpu.New(), 1)
	NewConvBN(s, "backbone.stem.conv1", 3, 4, 3, 1, 1)
	NewConvBN(s, "backbone.res2.0.conv1", 4, 4, 1, 1, 0)
	l := NewLinear(s, "roi_heads.box_predictor.cls_score", 4, 3, Normal(0.01))
	n, err := s.Freeze("backbone.stem.*", "backbone.res2.*")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 { // the two conv weights; the norms were buffers, frozen already
		t.Fatalf("froze %d params, want 2", n)
	}
	for _, p := range s.Params() {
		want := strings.HasPrefix(p.Name, "backbone.")
		if p.Frozen != want || p.RequiresGrad == p.Frozen {
			t.Errorf("%s: frozen %v requiresGrad %v", p.Name, p.Frozen, p.RequiresGrad)
		}
	}
	if l.W.Frozen {
		t.Fatal("classifier frozen by a backbone pattern")
	}
	if _, err := s.Freeze("backbone.[stem"); err == nil {
		t.Fatal("malformed pattern accepted")
	}
}

func TestInitIsSeededAndPerName(t *testing.T) {
	be := cpu.New()
	a := NewStore(be, 7)
	wa := a.New("x.weight", Normal(1), 100)
	b := NewStore(be, 7)
	b.New("other.weight", Normal(1), 5) // creation order must not matter
	wb := b.New("x.weight", Normal(1), 100)
	c := NewStore(be, 8)
	wc := c.New("x.weight", Normal(1), 100)
	va, vb, vc := be.ToFloat32(wa.Value), be.ToFloat32(wb.Value), be.ToFloat32(wc.Value)
	same := true
	var sum, sq float64
	for i := range va {
		if va[i] != vb[i] {
			t.Fatalf("same seed and name, different values at %d", i)
		}
		same = same && va[i] == vc[i]
		sum += float64(va[i])
		sq += float64(va[i]) * float64(va[i])
	}
	if same {
		t.Fatal("different seeds gave the same values")
	}
	if std := math.Sqrt(sq / 100); std < 0.7 || std > 1.3 || math.Abs(sum/100) > 0.3 {
		t.Fatalf("Normal(1) sample has std %.2f mean %.2f", std, sum/100)
	}
}

func TestStateDictRoundTripAndErrors(t *testing.T) {
	be := cpu.New()
	src := NewStore(be, 1)
	NewLinear(src, "fc", 3, 2, Normal(1))
	dst := NewStore(be, 2)
	l := NewLinear(dst, "fc", 3, 2, Normal(1))
	if err := dst.LoadStateDict(src.StateDict(), true); err != nil {
		t.Fatal(err)
	}
	if be.ToFloat32(l.W.Value)[4] != be.ToFloat32(src.Get("fc.weight").Value)[4] {
		t.Fatal("values not loaded")
	}
	v0 := dst.Version()
	sd := map[string]*backend.Tensor{"fc.weight": be.Zeros(backend.F32, 3, 2), "fc.extra": be.Zeros(backend.F32, 1)}
	err := dst.LoadStateDict(sd, true)
	if err == nil {
		t.Fatal("bad state dict accepted")
	}
	for _, want := range []string{"fc.weight: checkpoint [3,2], model [2,3]", "missing: fc.bias", "unexpected: fc.extra"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if dst.Version() != v0 {
		t.Fatal("failed load changed the store")
	}
	if err := dst.LoadStateDict(map[string]*backend.Tensor{"fc.bias": be.FromFloat32([]float32{5, 6}, 2)}, false); err != nil {
		t.Fatalf("non-strict partial load: %v", err)
	}
	if got := be.ToFloat32(l.B.Value); got[1] != 6 {
		t.Fatalf("bias %v after partial load", got)
	}
}

func TestFrozenBatchNormFolds(t *testing.T) {
	be := cpu.New()
	s := NewStore(be, 1)
	bn := NewFrozenBatchNorm(s, "bn", 2)
	sd := s.StateDict()
	load := map[string]*backend.Tensor{}
	for k, v := range sd {
		load[k] = v
	}
	load["bn.weight"] = be.FromFloat32([]float32{2, 1}, 2)
	load["bn.bias"] = be.FromFloat32([]float32{1, 0}, 2)
	load["bn.running_mean"] = be.FromFloat32([]float32{0.5, -1}, 2)
	load["bn.running_var"] = be.FromFloat32([]float32{4, 0.25}, 2)
	if err := s.LoadStateDict(load, true); err != nil {
		t.Fatal(err)
	}
	tp := autograd.NewTape(be, false)
	x := tp.Const(be.FromFloat32([]float32{1, 2.5, 0, 1}, 1, 2, 2, 1))
	got := be.ToFloat32(bn.Forward(tp, x).Value)
	// channel 0: (x−0.5)/√(4+1e-5)·2+1; channel 1: (x+1)/√(0.25+1e-5)
	want := []float64{1.5, 3, 2, 4}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-4 {
			t.Fatalf("frozen BN %v, want %v", got, want)
		}
	}
}
