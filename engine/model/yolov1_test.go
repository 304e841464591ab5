package model

import (
	"math"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

func tinyYOLO(backbone string, classes int) Config {
	c := DemoConfig()
	c.Arch = ArchYOLOv1
	c.NumClasses = classes
	c.YOLO.Backbone = backbone
	c.YOLO.InputSize = 64
	c.YOLO.S = 2
	c.YOLO.Width = 1.0 / 16
	c.YOLO.FC = 32
	return c
}

func TestYOLOLayerCounts(t *testing.T) {
	if n := len(darknet24()); n != 24 {
		t.Fatalf("darknet24 has %d convolutions", n)
	}
	if n := len(fastYOLO()); n != 9 {
		t.Fatalf("Fast YOLO has %d convolutions", n)
	}
	// Both reduce 448 to 7 (stride 64).
	for name, layers := range map[string][]darknetLayer{"darknet24": darknet24(), "fast": fastYOLO()} {
		size := 448
		for _, l := range layers {
			size /= l.stride
			if l.pool {
				size /= 2
			}
		}
		if size != 7 {
			t.Fatalf("%s: 448 → %d", name, size)
		}
	}
}

func TestAssignYOLOTargets(t *testing.T) {
	// 64-pixel input, S = 2: cells of 32 pixels.
	boxes := [][][4]float32{{
		{0, 0, 16, 16},   // centre (8, 8): cell (0,0), small
		{0, 0, 40, 24},   // centre (20, 12): cell (0,0) too, larger: wins
		{40, 40, 64, 60}, // centre (52, 50): cell (1,1)
		{10, 10, 10, 30}, // zero width: skipped
	}}
	tg := AssignYOLOTargets(boxes, [][]int64{{3, 1, 2, 0}}, 2, 64)
	if tg.Obj[0] != 1 || tg.Obj[1] != 0 || tg.Obj[2] != 0 || tg.Obj[3] != 1 {
		t.Fatalf("obj %v", tg.Obj)
	}
	if tg.Cls[0] != 1 || tg.Cls[3] != 2 {
		t.Fatalf("cls %v (the larger box must win cell 0)", tg.Cls)
	}
	want := []float32{20.0 / 32, 12.0 / 32, 40.0 / 64, 24.0 / 64}
	for k, v := range want {
		if math.Abs(float64(tg.Box[k]-v)) > 1e-6 {
			t.Fatalf("cell 0 box %v, want %v", tg.Box[:4], want)
		}
	}
	if got := tg.Box[12:16]; math.Abs(float64(got[0]-(52.0/32-1))) > 1e-6 || math.Abs(float64(got[1]-(50.0/32-1))) > 1e-6 {
		t.Fatalf("cell 3 box %v", got)
	}
	// Listing the larger box first gives the same winner.
	tg2 := AssignYOLOTargets([][][4]float32{{boxes[0][1], boxes[0][0]}}, [][]int64{{1, 3}}, 2, 64)
	if tg2.Cls[0] != 1 {
		t.Fatalf("order changed the winner: %v", tg2.Cls)
	}
}

func TestYOLODecode(t *testing.T) {
	be := cpu.New()
	c := tinyYOLO("fast", 2)
	m, err := NewYOLOv1(be, c, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, d := 2, 5*2+2
	pred := make([]float32, s*s*d)
	// Cell (1,0): box 0 at the cell centre, 16×32 network pixels, conf 0.8,
	// class 1 with 0.9 → score 0.72. Box 1 a near copy with conf 0.5 (NMS).
	cell := pred[(1*s+0)*d:]
	copy(cell, []float32{0.5, 0.5, 0.5, float32(math.Sqrt(0.5)), 0.8, 0.5, 0.5, 0.5, float32(math.Sqrt(0.5)), 0.5})
	cell[10], cell[11] = 0.01, 0.9
	// The input image was 128 wide, 64 high: network pixel × (2, 1).
	b := &yoloBatch{sx: []float32{2}, sy: []float32{1}}
	dets := m.decode(pred, b, [][2]int{{64, 128}})
	if len(dets[0].Scores) != 1 {
		t.Fatalf("want one detection after NMS and the threshold, got %+v", dets[0])
	}
	got := dets[0]
	if got.Classes[0] != 1 || math.Abs(float64(got.Scores[0]-0.72)) > 1e-6 {
		t.Fatalf("class %d score %g, want 1 and 0.72", got.Classes[0], got.Scores[0])
	}
	// Centre (16, 48) network px, size 16×32 → x 8..24 ×2, y 32..64.
	want := [4]float32{16, 32, 48, 64}
	for k := range want {
		if math.Abs(float64(got.Boxes[0][k]-want[k])) > 1e-4 {
			t.Fatalf("box %v, want %v", got.Boxes[0], want)
		}
	}
}

func TestYOLOTrainsOnOneImage(t *testing.T) {
	be := cpu.New()
	// The ResNet (batch norm over a batch of one) needs a smaller step.
	for _, tc := range []struct {
		bb, head string
		lr       float32
	}{{"fast", "fc", 0.01}, {"resnet", "fc", 0.002}, {"resnet", "conv", 0.002}} {
		bb, lr := tc.bb+"/"+tc.head, tc.lr
		c := tinyYOLO(tc.bb, 2)
		c.YOLO.Head = tc.head
		c.YOLO.Scale, c.YOLO.Translate, c.YOLO.Exposure, c.YOLO.Saturation = 0, 0, 1, 1
		c.YOLO.Dropout = 0
		c.Backbone.Norm = "bn" // the ResNet from scratch, as the demo
		m, err := Build(be, c, 3)
		if err != nil {
			t.Fatal(err)
		}
		img := make([]float32, 3*64*64)
		for y := 8; y < 40; y++ {
			for x := 8; x < 40; x++ {
				for ch := 0; ch < 3; ch++ {
					img[(ch*64+y)*64+x] = 250
				}
			}
		}
		in := Input{Images: be.FromFloat32(img, 1, 3, 64, 64), Sizes: [][2]int{{64, 64}},
			Boxes: [][][4]float32{{{8, 8, 40, 40}}}, Classes: [][]int64{{1}}}
		var first, last float32
		for it := 0; it < 30; it++ {
			m.ZeroGrad()
			out, err := m.Forward(in, it, true)
			if err != nil {
				t.Fatal(err)
			}
			l := out.Losses["loss_yolo"]
			if l != l {
				t.Fatalf("%s: NaN loss at step %d", bb, it)
			}
			if it == 0 {
				first = l
			}
			last = l
			for _, p := range m.Params() {
				if p.Frozen || p.Buffer || p.Var.Grad == nil {
					continue
				}
				v, g := be.ToFloat32(p.Value), be.ToFloat32(p.Var.Grad)
				for i := range v {
					v[i] -= lr * g[i]
				}
				be.Free(p.Value)
				p.Value = be.FromFloat32(v, p.Value.Shape...)
			}
		}
		if !(last < 0.5*first) {
			t.Fatalf("%s: loss %g → %g in 30 steps on one image", bb, first, last)
		}
		if _, err := m.Forward(Input{Images: in.Images, Sizes: in.Sizes}, 0, false); err != nil {
			t.Fatal(err)
		}
	}
}

func TestYOLOSurgery(t *testing.T) {
	be := cpu.New()
	c := tinyYOLO("fast", 2)
	m, err := NewYOLOv1(be, c, 1)
	if err != nil {
		t.Fatal(err)
	}
	base := m.StateDict()
	sd, err := Surgery(SurgeryInput{Arch: ArchYOLOv1, YOLO: c.YOLO, Method: SurgeryRandInit, Base: base,
		BaseClasses: []string{"a", "b"}, Target: []string{"b", "new", "a"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	hid := c.YOLO.FC
	w0, w1 := be.ToFloat32(base["yolo.fc2.weight"]), be.ToFloat32(sd["yolo.fc2.weight"])
	dOld, dNew := 12, 13
	if sd["yolo.fc2.weight"].Shape[0] != 4*dNew {
		t.Fatalf("new shape %v", sd["yolo.fc2.weight"].Shape)
	}
	row := func(w []float32, r int) []float32 { return w[r*hid : (r+1)*hid] }
	for q := 0; q < 4; q++ {
		for k := 0; k < 10; k++ { // box rows kept
			if row(w1, q*dNew+k)[0] != row(w0, q*dOld+k)[0] {
				t.Fatalf("cell %d box row %d changed", q, k)
			}
		}
		if row(w1, q*dNew+10)[3] != row(w0, q*dOld+11)[3] || row(w1, q*dNew+12)[3] != row(w0, q*dOld+10)[3] {
			t.Fatalf("cell %d: class rows not copied by name", q)
		}
		if row(w1, q*dNew+11)[3] == row(w0, q*dOld+10)[3] || row(w1, q*dNew+11)[3] == row(w0, q*dOld+11)[3] {
			t.Fatalf("cell %d: the new class row is a copy", q)
		}
	}
	// The fine-tune model loads it strictly.
	c.NumClasses = 3
	ft, err := NewYOLOv1(be, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := ft.LoadStateDict(sd, true); err != nil {
		t.Fatal(err)
	}
	if _, err := Surgery(SurgeryInput{Arch: ArchYOLOv1, YOLO: YOLOConfig{S: 3, B: 2}, Method: SurgeryRemove, Base: base,
		BaseClasses: []string{"a", "b"}, Target: []string{"x"}}); err == nil {
		t.Fatal("a grid that does not match fc2 must be an error")
	}
}

// The conv head's last layer is one 1×1 convolution shared by every cell:
// surgery rewrites its class output channels once, and the output is read
// in the loss's [N,S,S,5B+C] layout.
func TestYOLOConvHeadSurgery(t *testing.T) {
	be := cpu.New()
	c := tinyYOLO("fast", 2)
	c.YOLO.Head = "conv"
	m, err := NewYOLOv1(be, c, 1)
	if err != nil {
		t.Fatal(err)
	}
	base := m.StateDict()
	if base["yolo.fc2.weight"] != nil || base["yolo.pred.weight"] == nil {
		t.Fatalf("conv head parameters: %v", base["yolo.pred.weight"])
	}
	sd, err := Surgery(SurgeryInput{Arch: ArchYOLOv1, YOLO: c.YOLO, Method: SurgeryRandInit, Base: base,
		BaseClasses: []string{"a", "b"}, Target: []string{"b", "new", "a"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	w0, w1 := be.ToFloat32(base["yolo.pred.weight"]), be.ToFloat32(sd["yolo.pred.weight"])
	if got := sd["yolo.pred.weight"].Shape; len(got) != 4 || got[0] != 13 || got[1] != c.YOLO.FC {
		t.Fatalf("new shape %v, want [13 %d 1 1]", got, c.YOLO.FC)
	}
	hid := c.YOLO.FC
	row := func(w []float32, r int) []float32 { return w[r*hid : (r+1)*hid] }
	for k := 0; k < 10; k++ {
		if row(w1, k)[0] != row(w0, k)[0] {
			t.Fatalf("box channel %d changed", k)
		}
	}
	if row(w1, 10)[1] != row(w0, 11)[1] || row(w1, 12)[1] != row(w0, 10)[1] {
		t.Fatal("class channels not copied by name")
	}
	if row(w1, 11)[1] == row(w0, 10)[1] || row(w1, 11)[1] == row(w0, 11)[1] {
		t.Fatal("the new class channel is a copy")
	}
	c.NumClasses = 3
	ft, err := NewYOLOv1(be, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := ft.LoadStateDict(sd, true); err != nil {
		t.Fatal(err)
	}
	// Layout: a bias on output channel k shows up at pred[..., k] of every cell.
	bias := make([]float32, 13)
	bias[11] = 7
	sd["yolo.pred.bias"] = be.FromFloat32(bias, 13)
	sd["yolo.pred.weight"] = be.FromFloat32(make([]float32, 13*hid), 13, hid, 1, 1)
	if err := ft.LoadStateDict(sd, true); err != nil {
		t.Fatal(err)
	}
	pred := ft.rawPred(be.FromFloat32(make([]float32, 3*64*64), 1, 3, 64, 64), [][2]int{{64, 64}})
	for q := 0; q < c.YOLO.S*c.YOLO.S; q++ {
		for k := 0; k < 13; k++ {
			want := float32(0)
			if k == 11 {
				want = 7
			}
			if pred[q*13+k] != want {
				t.Fatalf("cell %d output %d = %g, want %g", q, k, pred[q*13+k], want)
			}
		}
	}
	c.YOLO.Head = "dense"
	if _, err := NewYOLOv1(be, c, 1); err == nil {
		t.Fatal("yolo.head dense must be an error")
	}
}
