package cpu

import "testing"

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

func BenchmarkConvSmallHead3x3(b *testing.B)  { benchConv(b, convSmallHead3x3, false, false) }
func BenchmarkConvSmallHeadDown(b *testing.B) { benchConv(b, convSmallHeadDown, false, false) }
func BenchmarkConvSmallHeadProj(b *testing.B) { benchConv(b, convSmallHeadProj, false, false) }
func BenchmarkConvSmallStem(b *testing.B)     { benchConv(b, convSmallStem, false, false) }
func BenchmarkConvSmallRes2x3(b *testing.B)   { benchConv(b, convSmallRes2x3, false, false) }

func BenchmarkConvSmallBackwardHead3x3(b *testing.B) {
	benchConv(b, convSmallHead3x3, true, true)
}
func BenchmarkConvSmallBackwardHeadDown(b *testing.B) {
	benchConv(b, convSmallHeadDown, true, true)
}
func BenchmarkConvSmallBackwardHeadProj(b *testing.B) {
	benchConv(b, convSmallHeadProj, true, true)
}

// The stem's input is the image, so training never asks for its dx.
func BenchmarkConvSmallBackwardStemNoDx(b *testing.B) {
	benchConv(b, convSmallStem, true, false)
}
func BenchmarkConvSmallBackwardRes2x3(b *testing.B) {
	benchConv(b, convSmallRes2x3, true, true)
}
