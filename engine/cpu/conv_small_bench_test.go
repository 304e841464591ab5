//go:build unix

package cpu

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// The demo detector's convolutions (width-8 ResNet-18 C4, 128-pixel images,
// 4 images a batch, 32 RoIs an image so the head sees 128 RoIs): small
// feature maps, where im2col and col2im bookkeeping rather than the GEMM set
// the speed.
var (
	convSmallHead3x3  = convCase{128, 64, 4, 4, 64, 3, 3, cp(1, 1, 1)}
	convSmallHeadDown = convCase{128, 32, 8, 8, 64, 3, 3, cp(2, 1, 1)}
	convSmallHeadProj = convCase{128, 32, 8, 8, 64, 1, 1, cp(2, 0, 1)}
	convSmallStem     = convCase{4, 3, 128, 128, 8, 7, 7, cp(2, 3, 1)}
	convSmallRes2x3   = convCase{4, 8, 32, 32, 8, 3, 3, cp(1, 1, 1)}
)

// benchConvSmall reports GFLOP/s for one forward pass (backward false) or one
// backward pass (backward true): 2·N·K·C·R·S·OH·OW for the forward and for
// each of dw and dx.
func benchConvSmall(b *testing.B, cc convCase, backward, needDx bool) {
	c := New()
	r := rand.New(rand.NewPCG(3, 4))
	oh, ow := cc.p.OutSize(cc.h, cc.w, cc.r, cc.s)
	xf, _ := randF32(r, cc.n*cc.c*cc.h*cc.w, -1, 1)
	wf, _ := randF32(r, cc.k*cc.c*cc.r*cc.s, -0.1, 0.1)
	x, w := c.FromFloat32(xf, cc.n, cc.c, cc.h, cc.w), c.FromFloat32(wf, cc.k, cc.c, cc.r, cc.s)
	flops := 2.0 * float64(cc.n*cc.k*cc.c*cc.r*cc.s*oh*ow)
	var dy *backend.Tensor
	if backward {
		gf, _ := randF32(r, cc.n*cc.k*oh*ow, -1, 1)
		dy = c.FromFloat32(gf, cc.n, cc.k, oh, ow)
		if needDx {
			flops *= 2
		}
	}
	cpu0 := cpuTime()
	for b.Loop() {
		if backward {
			c.Conv2dBackward(x, w, dy, cc.p, needDx, false)
		} else {
			c.Conv2d(x, w, nil, cc.p)
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time. Other jobs share the
// 2-core development machine; CPU time per op (all threads together) moves
// far less with their load than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkConvSmallHead3x3(b *testing.B)  { benchConvSmall(b, convSmallHead3x3, false, false) }
func BenchmarkConvSmallHeadDown(b *testing.B) { benchConvSmall(b, convSmallHeadDown, false, false) }
func BenchmarkConvSmallHeadProj(b *testing.B) { benchConvSmall(b, convSmallHeadProj, false, false) }
func BenchmarkConvSmallStem(b *testing.B)     { benchConvSmall(b, convSmallStem, false, false) }
func BenchmarkConvSmallRes2x3(b *testing.B)   { benchConvSmall(b, convSmallRes2x3, false, false) }

func BenchmarkConvSmallBackwardHead3x3(b *testing.B) {
	benchConvSmall(b, convSmallHead3x3, true, true)
}
func BenchmarkConvSmallBackwardHeadDown(b *testing.B) {
	benchConvSmall(b, convSmallHeadDown, true, true)
}
func BenchmarkConvSmallBackwardHeadProj(b *testing.B) {
	benchConvSmall(b, convSmallHeadProj, true, true)
}

// The stem's input is the image, so training never asks for its dx.
func BenchmarkConvSmallBackwardStemNoDx(b *testing.B) {
	benchConvSmall(b, convSmallStem, true, false)
}
func BenchmarkConvSmallBackwardRes2x3(b *testing.B) {
	benchConvSmall(b, convSmallRes2x3, true, true)
}
