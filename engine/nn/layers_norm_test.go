package nn

import (
	"math"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// With TrainableNorm the frozen BN's weight and bias get the gradients of
// y = x·w/σ + (b − μ·w/σ): dL/dw = Σ dy·(x−μ)/σ, dL/db = Σ dy per channel,
// and the output equals the folded (frozen) path for the same values.
func TestTrainableNormGradients(t *testing.T) {
	be := cpu.New()
	s := NewStore(be, 1)
	s.TrainableNorm = true
	bn := NewFrozenBatchNorm(s, "bn", 2)
	if bn.Weight.Buffer || !bn.Weight.RequiresGrad {
		t.Fatal("weight should be a trainable parameter")
	}
	be.Free(bn.Weight.Value)
	bn.Weight.Value = be.FromFloat32([]float32{2, -1}, 2)
	bn.Mean.Value = be.FromFloat32([]float32{0.5, -1}, 2)
	bn.Var.Value = be.FromFloat32([]float32{4, 0.25}, 2)
	bn.Bias.Value = be.FromFloat32([]float32{0.1, 0.3}, 2)
	x := []float32{1, 2, 3, 4, -1, 0, 1, 2} // [1,2,2,2]
	tape := autograd.NewTape(be, true)
	y := bn.Forward(tape, autograd.NewLeaf(be.FromFloat32(x, 1, 2, 2, 2), false))
	got := be.ToFloat32(y.Value)
	mean, vr, w, b := []float64{0.5, -1}, []float64{4, 0.25}, []float64{2, -1}, []float64{0.1, 0.3}
	var dw, db [2]float64
	for i, v := range x {
		c := i / 4
		inv := 1 / math.Sqrt(vr[c]+1e-5)
		want := (float64(v)-mean[c])*inv*w[c] + b[c]
		if math.Abs(float64(got[i])-want) > 1e-5 {
			t.Fatalf("y[%d] = %v, want %v", i, got[i], want)
		}
		dw[c] += (float64(v) - mean[c]) * inv
		db[c]++
	}
	tape.Backward(tape.Sum(y, []int{0, 1, 2, 3}))
	gw, gb := be.ToFloat32(bn.Weight.Grad), be.ToFloat32(bn.Bias.Grad)
	for c := 0; c < 2; c++ {
		if math.Abs(float64(gw[c])-dw[c]) > 1e-4 || math.Abs(float64(gb[c])-db[c]) > 1e-5 {
			t.Fatalf("channel %d: grads w %v b %v, want %v %v", c, gw[c], gb[c], dw[c], db[c])
		}
	}
	// Frozen, the same values take the folded path and give the same output.
	bn.Weight.SetFrozen(true)
	bn.Bias.SetFrozen(true)
	t2 := autograd.NewTape(be, false)
	y2 := be.ToFloat32(bn.Forward(t2, t2.Const(be.FromFloat32(x, 1, 2, 2, 2))).Value)
	for i := range y2 {
		if math.Abs(float64(y2[i]-got[i])) > 1e-5 {
			t.Fatalf("folded path differs at %d: %v vs %v", i, y2[i], got[i])
		}
	}
}
