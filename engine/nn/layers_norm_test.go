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

// With Store.BatchNorm the layer normalises by the batch in training (each
// channel of y has mean b and std w), moves the running statistics by 0.1
// towards the batch's (unbiased variance), and uses them at inference.
func TestBatchNormTrainAndEval(t *testing.T) {
	be := cpu.New()
	s := NewStore(be, 1)
	s.BatchNorm = true
	bn := NewFrozenBatchNorm(s, "bn", 2)
	bn.Weight.Value = be.FromFloat32([]float32{2, 1}, 2)
	bn.Bias.Value = be.FromFloat32([]float32{0.5, -1}, 2)
	x := []float32{1, 2, 3, 6, 10, 10, 12, 16, 0, 1, 2, 3, -4, -4, -4, 0} // [2,2,2,2]
	tape := autograd.NewTape(be, true)
	y := be.ToFloat32(bn.Forward(tape, autograd.NewLeaf(be.FromFloat32(x, 2, 2, 2, 2), false)).Value)
	w, b := []float64{2, 1}, []float64{0.5, -1}
	for c := 0; c < 2; c++ {
		var vals []float64
		for n := 0; n < 2; n++ {
			for i := 0; i < 4; i++ {
				vals = append(vals, float64(y[(n*2+c)*4+i]))
			}
		}
		var m, v float64
		for _, u := range vals {
			m += u
		}
		m /= 8
		for _, u := range vals {
			v += (u - m) * (u - m)
		}
		sd := math.Sqrt(v / 8)
		if math.Abs(m-b[c]) > 1e-5 || math.Abs(sd-w[c]) > 1e-3 {
			t.Fatalf("channel %d: mean %v std %v, want %v %v", c, m, sd, b[c], w[c])
		}
	}
	// Channel 0 values: 1,2,3,6,0,1,2,3 → mean 2.25, unbiased var 3.357.
	rm, rv := be.ToFloat32(bn.Mean.Value), be.ToFloat32(bn.Var.Value)
	if math.Abs(float64(rm[0])-0.225) > 1e-5 || math.Abs(float64(rv[0])-(0.9+0.1*3.357142857)) > 1e-4 {
		t.Fatalf("running stats %v %v", rm[0], rv[0])
	}
	// Inference uses the running statistics.
	t2 := autograd.NewTape(be, false)
	ye := be.ToFloat32(bn.Forward(t2, t2.Const(be.FromFloat32(x, 2, 2, 2, 2))).Value)
	want := (1-0.225)/math.Sqrt(float64(rv[0])+1e-5)*2 + 0.5
	if math.Abs(float64(ye[0])-want) > 1e-4 {
		t.Fatalf("eval y[0] = %v, want %v (running statistics)", ye[0], want)
	}
}
