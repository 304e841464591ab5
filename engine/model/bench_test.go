package model

import (
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// demoBatch is two 256×256 images with three objects each.
func demoBatch(be backend.Backend) Input {
	img := make([]float32, 2*3*256*256)
	for i := range img {
		img[i] = float32((i * 2654435761) % 255)
	}
	boxes := [][][4]float32{{{10, 20, 90, 120}, {120, 40, 250, 160}, {30, 150, 100, 240}},
		{{5, 5, 60, 60}, {80, 100, 200, 250}, {150, 10, 240, 90}}}
	return Input{Images: be.FromFloat32(img, 2, 3, 256, 256), Sizes: [][2]int{{256, 256}, {256, 256}},
		Boxes: boxes, Classes: [][]int64{{0, 3, 7}, {14, 2, 5}}}
}

func benchDemo(b *testing.B, cfg Config, train bool) {
	be := cpu.New()
	d, err := New(be, cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	in := demoBatch(be)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Forward(in, i, train); err != nil {
			b.Fatal(err)
		}
		d.ZeroGrad()
	}
}

// BenchmarkDemoTrainStep is one forward+backward of the demo detector on
// two 256×256 images (DeFRCN head).
func BenchmarkDemoTrainStep(b *testing.B) { benchDemo(b, DemoConfig(), true) }

// BenchmarkDemoTrainStepMFE is the same with SEM, TEM and RC on.
func BenchmarkDemoTrainStepMFE(b *testing.B) {
	c := DemoConfig()
	c.MFE.SEM, c.MFE.TEM, c.MFE.RC = true, true, true
	benchDemo(b, c, true)
}

// BenchmarkDemoInference is an eval-mode forward of the same batch.
func BenchmarkDemoInference(b *testing.B) { benchDemo(b, DemoConfig(), false) }

// BenchmarkDemoTrainStepNeck is the demo plan's training step (SEM + TEM,
// batch norm) without a neck and with each neck type and pooler on res4:
// what each block costs per iteration, measured back to back in one process.
func BenchmarkDemoTrainStepNeck(b *testing.B) {
	for _, arm := range []string{"none", "sppf", "spp", "simsppf", "aspp", "rfb", "rfb_a", "sppcspc", "cspsppf", "simcspsppf", "ROIAlign"} {
		b.Run(arm, func(b *testing.B) {
			c := DemoConfig()
			c.Backbone.Norm = "bn"
			c.ROI.PoolerResolution = 8
			c.MFE.SEM, c.MFE.TEM = true, true
			switch arm {
			case "none":
			case "ROIAlign":
				c.ROI.PoolerType = arm
			default:
				c.Neck.Type = arm
			}
			benchDemo(b, c, true)
		})
	}
}
