package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

func softmax64(row []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, v)
	}
	p := make([]float64, len(row))
	z := 0.0
	for i, v := range row {
		p[i] = math.Exp(v - m)
		z += p[i]
	}
	for i := range p {
		p[i] /= z
	}
	return p
}

// refRCLoss is GOLDEN.md's definition: the mean over rows of
// KL(p_a‖p_b) + KL(p_b‖p_a), each KL written as Σ p log(p/q).
func refRCLoss(a, b []float64, k int) float64 {
	n := len(a) / k
	s := 0.0
	for i := 0; i < n; i++ {
		pa, pb := softmax64(a[i*k:(i+1)*k]), softmax64(b[i*k:(i+1)*k])
		for j := range pa {
			s += pa[j]*math.Log(pa[j]/pb[j]) + pb[j]*math.Log(pb[j]/pa[j])
		}
	}
	return s / float64(n)
}

func TestRCLoss(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(61, 62))
	for _, k := range []int{2, 21, 81} {
		n := 7
		af, ad := randF32(r, n*k, -3, 3)
		bf, bd := randF32(r, n*k, -3, 3)
		a, b := c.FromFloat32(af, n, k), c.FromFloat32(bf, n, k)
		assertClose(t, "RCLoss", F32(c.RCLoss(a, b)), []float64{refRCLoss(ad, bd, k)}, 1e-6)
		da, db := c.RCLossBackward(a, b, c.FromFloat32([]float32{0.9}))
		want := numericGrad(func(in [][]float64) []float64 { return []float64{refRCLoss(in[0], in[1], k)} },
			[][]float64{ad, bd}, []float64{0.9}, 1e-5)
		assertClose(t, "RCLossBackward da", F32(da), want[0], 1e-5)
		assertClose(t, "RCLossBackward db", F32(db), want[1], 1e-5)
	}
	// Identical logits (and logits differing by a per-row constant, which
	// softmax ignores) have zero loss and zero gradient.
	a := c.FromFloat32([]float32{1, 2, 3, -1, 0, 1}, 2, 3)
	b := c.FromFloat32([]float32{6, 7, 8, -1, 0, 1}, 2, 3)
	if l := F32(c.RCLoss(a, b))[0]; math.Abs(float64(l)) > 1e-7 {
		t.Fatalf("RC loss of shifted logits = %v, want 0", l)
	}
	da, _ := c.RCLossBackward(a, b, c.FromFloat32([]float32{1}))
	for _, v := range F32(da) {
		if math.Abs(float64(v)) > 1e-7 {
			t.Fatalf("RC gradient of shifted logits %v, want 0", F32(da))
		}
	}
}

func BenchmarkRCLoss(b *testing.B) {
	for _, k := range []int{21, 81} {
		c := New()
		r := rand.New(rand.NewPCG(1, 1))
		af, _ := randF32(r, 512*k, -3, 3)
		bf, _ := randF32(r, 512*k, -3, 3)
		x, y := c.FromFloat32(af, 512, k), c.FromFloat32(bf, 512, k)
		one := c.FromFloat32([]float32{1})
		b.Run(map[int]string{21: "512x21", 81: "512x81"}[k], func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.RCLoss(x, y)
				c.RCLossBackward(x, y, one)
			}
		})
	}
}
