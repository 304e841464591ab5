package neck

import (
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// BenchmarkBlock is one forward and backward of each block on the demo
// detector's res4 map during training: [2,32,16,16] (two 256-px images of a
// width-8 ResNet-18), batch-statistics BN as backbone.norm bn gives it.
func BenchmarkBlock(b *testing.B) {
	be := cpu.New()
	for _, typ := range Types[1:] {
		b.Run(typ, func(b *testing.B) {
			s := nn.NewStore(be, 1)
			s.BatchNorm = true
			blk, err := New(s, "neck", Config{Type: typ}, 32)
			if err != nil {
				b.Fatal(err)
			}
			x := randomInput(be, 3, 2, 32, 16, 16)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tp := autograd.NewTape(be, true)
				xv := autograd.NewLeaf(x, true)
				tp.Backward(tp.Sum(blk.Forward(tp, xv), nil))
				s.ZeroGrad()
				be.Free(xv.Grad)
			}
		})
	}
}
