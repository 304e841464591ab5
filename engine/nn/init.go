package nn

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// Init returns initial values for a shape from a random stream.
type Init func(r *rand.Rand, shape []int) []float32

// rng derives a stream from the store seed and the parameter name, so a
// parameter's initial value does not depend on what was created before it.
func (s *Store) rng(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(s.seed, h.Sum64()))
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Constant fills with v.
func Constant(v float32) Init {
	return func(_ *rand.Rand, shape []int) []float32 {
		x := make([]float32, numel(shape))
		for i := range x {
			x[i] = v
		}
		return x
	}
}

// Normal draws from N(0, std²).
func Normal(std float64) Init {
	return func(r *rand.Rand, shape []int) []float32 {
		x := make([]float32, numel(shape))
		for i := range x {
			x[i] = float32(r.NormFloat64() * std)
		}
		return x
	}
}

// KaimingFanOut is detectron2's c2_msra_fill: N(0, 2/fan_out) with fan_out =
// shape[0]·(receptive field), the init its ResNets use without pre-training.
func KaimingFanOut() Init {
	return func(r *rand.Rand, shape []int) []float32 {
		fanOut := numel(shape) / shape[1] // K·R·S
		return Normal(math.Sqrt(2/float64(fanOut)))(r, shape)
	}
}

// KaimingUniformFanIn is PyTorch's default Linear/Conv init (a = √5):
// U(−1/√fan_in, 1/√fan_in).
func KaimingUniformFanIn(fanIn int) Init {
	return func(r *rand.Rand, shape []int) []float32 {
		b := 1 / math.Sqrt(float64(fanIn))
		x := make([]float32, numel(shape))
		for i := range x {
			x[i] = float32((2*r.Float64() - 1) * b)
		}
		return x
	}
}
