package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// yoloBatch is a batch resized (and in training augmented) to the network
// input on the host: normalised pixels [N,3,I,I], each image's boxes in
// network pixels, and the factors back to the input image's pixels.
type yoloBatch struct {
	pixels []float32
	boxes  [][][4]float32
	sx, sy []float32 // network pixel × s = input pixel (test time, no augmentation)
}

// prepare resizes each image's unpadded region to InputSize² by bilinear
// sampling, with the training augmentation folded into the sampling map
// when rng is not nil: the image is scaled by f ∈ [1−Scale, 1+Scale] about
// its centre and shifted by up to Translate of its size, then exposure and
// saturation are scaled in HSV. Pixels from outside the image take the
// pixel mean (0 after normalisation). Boxes follow the same map, are
// clipped to the input, and ones left under 2 pixels wide or high dropped.
func (m *YOLOv1) prepare(in *Input, rng *rand.Rand) *yoloBatch {
	I := m.y.InputSize
	src := m.be.ToFloat32(in.Images)
	n, H, W := in.Images.Shape[0], in.Images.Shape[2], in.Images.Shape[3]
	b := &yoloBatch{pixels: make([]float32, n*3*I*I), boxes: make([][][4]float32, n), sx: make([]float32, n), sy: make([]float32, n)}
	rgb := m.cfg.InputFormat == "RGB"
	for i := 0; i < n; i++ {
		h, w := in.Sizes[i][0], in.Sizes[i][1]
		f, tx, ty := float32(1), float32(0), float32(0)
		expo, sat := float32(1), float32(1)
		if rng != nil {
			f = 1 + m.y.Scale*(2*rng.Float32()-1)
			tx, ty = m.y.Translate*(2*rng.Float32()-1), m.y.Translate*(2*rng.Float32()-1)
			expo, sat = hsvFactor(rng, m.y.Exposure), hsvFactor(rng, m.y.Saturation)
		}
		b.sx[i], b.sy[i] = float32(w)/float32(I), float32(h)/float32(I)
		// Output pixel (u, v) in image fractions p_out = (p_in − ½)·f + ½ + t.
		img := src[i*3*H*W : (i+1)*3*H*W]
		out := b.pixels[i*3*I*I : (i+1)*3*I*I]
		for v := 0; v < I; v++ {
			qy := ((float32(v)+0.5)/float32(I)-0.5-ty)/f + 0.5
			for u := 0; u < I; u++ {
				qx := ((float32(u)+0.5)/float32(I)-0.5-tx)/f + 0.5
				var px [3]float32
				inside := qx >= 0 && qx <= 1 && qy >= 0 && qy <= 1
				for c := 0; c < 3; c++ {
					if inside {
						px[c] = bilinear(img[c*H*W:(c+1)*H*W], W, h, w, qx*float32(w)-0.5, qy*float32(h)-0.5)
					} else {
						px[c] = m.cfg.PixelMean[c]
					}
				}
				if inside && (expo != 1 || sat != 1) {
					px = adjustHSV(px, expo, sat, rgb)
				}
				for c := 0; c < 3; c++ {
					out[(c*I+v)*I+u] = (px[c] - m.cfg.PixelMean[c]) / m.cfg.PixelStd[c]
				}
			}
		}
		if in.Boxes == nil {
			continue
		}
		b.boxes[i] = make([][4]float32, len(in.Boxes[i]))
		for k, bx := range in.Boxes[i] {
			mapX := func(x float32) float32 {
				return clamp(((x/float32(w)-0.5)*f+0.5+tx)*float32(I), 0, float32(I))
			}
			mapY := func(y float32) float32 {
				return clamp(((y/float32(h)-0.5)*f+0.5+ty)*float32(I), 0, float32(I))
			}
			b.boxes[i][k] = [4]float32{mapX(bx[0]), mapY(bx[1]), mapX(bx[2]), mapY(bx[3])}
		}
	}
	return b
}

func hsvFactor(rng *rand.Rand, f float32) float32 {
	if f <= 1 {
		return 1
	}
	// Uniform in log space between 1/f and f, so darker and brighter are
	// equally likely.
	return float32(math.Exp(float64((2*rng.Float32() - 1)) * math.Log(float64(f))))
}

// bilinear samples plane (row stride W, valid h×w) at (x, y) in pixel
// coordinates, clamping at the edges.
func bilinear(plane []float32, W, h, w int, x, y float32) float32 {
	x = clamp(x, 0, float32(w-1))
	y = clamp(y, 0, float32(h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	ax, ay := x-float32(x0), y-float32(y0)
	top := plane[y0*W+x0]*(1-ax) + plane[y0*W+x1]*ax
	bot := plane[y1*W+x0]*(1-ax) + plane[y1*W+x1]*ax
	return top*(1-ay) + bot*ay
}

// adjustHSV scales value (exposure) and saturation of one 0..255 pixel.
func adjustHSV(px [3]float32, expo, sat float32, rgb bool) [3]float32 {
	r, g, b := px[0], px[1], px[2]
	if !rgb {
		r, b = b, r
	}
	mx, mn := max(r, g, b), min(r, g, b)
	v := mx
	s := float32(0)
	if mx > 0 {
		s = (mx - mn) / mx
	}
	var hue float32
	if d := mx - mn; d > 0 {
		switch mx {
		case r:
			hue = (g - b) / d
		case g:
			hue = 2 + (b-r)/d
		default:
			hue = 4 + (r-g)/d
		}
	}
	v, s = min(v*expo, 255), min(s*sat, 1)
	// Back to RGB from (hue in sextants, s, v).
	c := v * s
	hh := hue
	if hh < 0 {
		hh += 6
	}
	x := c * (1 - float32(math.Abs(math.Mod(float64(hh), 2)-1)))
	var r1, g1, b1 float32
	switch int(hh) % 6 {
	case 0:
		r1, g1 = c, x
	case 1:
		r1, g1 = x, c
	case 2:
		g1, b1 = c, x
	case 3:
		g1, b1 = x, c
	case 4:
		r1, b1 = x, c
	default:
		r1, b1 = c, x
	}
	off := v - c
	r, g, b = r1+off, g1+off, b1+off
	if !rgb {
		r, b = b, r
	}
	return [3]float32{r, g, b}
}

// YOLOTargets are yolov1_loss's cell targets: Obj [N,S,S], Box [N,S,S,4]
// (tx, ty in the cell, tw, th as image fractions), Cls [N,S,S].
type YOLOTargets struct {
	Obj []float32
	Box []float32
	Cls []int64
}

// AssignYOLOTargets puts each box (network pixels of an I×I input) in the
// cell holding its centre. When two boxes share a cell the larger one (by
// area; the first listed on equal areas) wins: YOLOv1 predicts one class
// per cell, and the larger object is the one its coarse 7×7 grid can
// localise, while the smaller is more often a part of it or a neighbour
// that a better-placed cell also covers. Boxes of zero width or height are
// skipped.
func AssignYOLOTargets(boxes [][][4]float32, classes [][]int64, s, size int) *YOLOTargets {
	n := len(boxes)
	tg := &YOLOTargets{Obj: make([]float32, n*s*s), Box: make([]float32, n*s*s*4), Cls: make([]int64, n*s*s)}
	area := make([]float32, n*s*s)
	fs, fi := float32(s), float32(size)
	for i := range boxes {
		for k, b := range boxes[i] {
			w, h := b[2]-b[0], b[3]-b[1]
			if w <= 0 || h <= 0 {
				continue
			}
			cx, cy := (b[0]+b[2])/2/fi*fs, (b[1]+b[3])/2/fi*fs
			col, row := min(int(cx), s-1), min(int(cy), s-1)
			q := (i*s+row)*s + col
			if tg.Obj[q] != 0 && area[q] >= w*h {
				continue
			}
			tg.Obj[q], area[q], tg.Cls[q] = 1, w*h, classes[i][k]
			copy(tg.Box[4*q:4*q+4], []float32{cx - float32(col), cy - float32(row), w / fi, h / fi})
		}
	}
	return tg
}

// decode turns pred [N,S,S,5B+C] into detections in input pixels: each
// box's class-specific confidence Pr(class|object)·confidence (both
// clamped to [0,1]: the last layer is linear, so raw values can leave it),
// the score threshold, per-class NMS, the top detections_per_image.
func (m *YOLOv1) decode(pred []float32, b *yoloBatch, sizes [][2]int) []Detections {
	s, nb, c := m.y.S, m.y.B, m.cfg.NumClasses
	d := 5*nb + c
	fi := float32(m.y.InputSize)
	out := make([]Detections, len(sizes))
	for i := range sizes {
		w, h := float32(sizes[i][1]), float32(sizes[i][0])
		var boxes [][4]float32
		var flat, scores []float32
		var cls []int64
		for row := 0; row < s; row++ {
			for col := 0; col < s; col++ {
				cell := pred[((i*s+row)*s+col)*d:][:d]
				for k := 0; k < nb; k++ {
					p := cell[5*k : 5*k+5]
					conf := clamp(p[4], 0, 1)
					cx := (float32(col) + clamp(p[0], 0, 1)) / float32(s) * fi
					cy := (float32(row) + clamp(p[1], 0, 1)) / float32(s) * fi
					bw, bh := p[2]*p[2]*fi, p[3]*p[3]*fi
					bx := [4]float32{clamp((cx-bw/2)*b.sx[i], 0, w), clamp((cy-bh/2)*b.sy[i], 0, h),
						clamp((cx+bw/2)*b.sx[i], 0, w), clamp((cy+bh/2)*b.sy[i], 0, h)}
					if bx[2] <= bx[0] || bx[3] <= bx[1] || !finite(bx[:]) {
						continue
					}
					for j := 0; j < c; j++ {
						sc := clamp(cell[5*nb+j], 0, 1) * conf
						if sc <= m.y.ScoreThresh {
							continue
						}
						boxes = append(boxes, bx)
						flat = append(flat, bx[:]...)
						scores = append(scores, sc)
						cls = append(cls, int64(j))
					}
				}
			}
		}
		if len(scores) == 0 {
			continue
		}
		keep := nms(m.be, flat, scores, cls, m.y.NMS)
		keep = keep[:min(len(keep), m.y.DetsPerImage)]
		for _, k := range keep {
			out[i].Boxes = append(out[i].Boxes, boxes[k])
			out[i].Scores = append(out[i].Scores, scores[k])
			out[i].Classes = append(out[i].Classes, cls[k])
		}
	}
	return out
}

// yoloSurgery rewrites the class rows of the last layer (yolo.fc2, or the
// conv head's yolo.pred) of every cell for the target classes: randinit copies the rows of classes the base
// model knows (by name) and draws the others from N(0, 0.01), as fc2 is
// initialised; remove draws every class row afresh. The box rows (5B per
// cell) are kept either way: they are class-agnostic. S and B are in.YOLO's.
func yoloSurgery(in SurgeryInput) (map[string]*backend.Tensor, error) {
	if in.Method != SurgeryRandInit && in.Method != SurgeryRemove {
		return nil, fmt.Errorf("surgery yolov1: method %q (want randinit or remove)", in.Method)
	}
	// The fc head's last layer has the rows of every cell; the conv head's
	// 1×1 convolution one set of rows (output channels) that all cells share.
	last, cells := "yolo.fc2", in.YOLO.S*in.YOLO.S
	if in.Base["yolo.fc2.weight"] == nil && in.Base["yolo.pred.weight"] != nil {
		last, cells = "yolo.pred", 1
	}
	wT, bT := in.Base[last+".weight"], in.Base[last+".bias"]
	if wT == nil || bT == nil {
		return nil, fmt.Errorf("surgery yolov1: the base weights have neither yolo.fc2 nor yolo.pred (not a yolov1 model?)")
	}
	if len(in.Target) == 0 {
		return nil, fmt.Errorf("surgery yolov1: no target classes")
	}
	be := wT.Backend
	rows := wT.Shape[0]
	hid := wT.Numel() / max(rows, 1)
	cb := len(in.BaseClasses)
	s, nb := in.YOLO.S, in.YOLO.B
	if s < 1 || nb < 1 || rows != cells*(5*nb+cb) {
		return nil, fmt.Errorf("surgery yolov1: %s has %d rows, want %d cell(s) · (5·boxes_per_cell + %d base classes) = %d", last, rows, cells, cb, cells*(5*nb+cb))
	}
	baseIdx := map[string]int{}
	for i, n := range in.BaseClasses {
		baseIdx[n] = i
	}
	w, bias := be.ToFloat32(wT), be.ToFloat32(bT)
	dOld, dNew := 5*nb+cb, 5*nb+len(in.Target)
	nw := make([]float32, cells*dNew*hid)
	nbias := make([]float32, cells*dNew)
	rng := rand.New(rand.NewPCG(in.Seed, 0x5951))
	for q := 0; q < cells; q++ {
		for k := 0; k < dNew; k++ {
			dst := (q*dNew + k)
			src := -1
			switch {
			case k < 5*nb:
				src = q*dOld + k
			case in.Method == SurgeryRandInit:
				if i, ok := baseIdx[in.Target[k-5*nb]]; ok {
					src = q*dOld + 5*nb + i
				}
			}
			if src >= 0 {
				copy(nw[dst*hid:(dst+1)*hid], w[src*hid:(src+1)*hid])
				nbias[dst] = bias[src]
				continue
			}
			for h := 0; h < hid; h++ {
				nw[dst*hid+h] = float32(rng.NormFloat64() * 0.01)
			}
		}
	}
	out := make(map[string]*backend.Tensor, len(in.Base))
	for k, v := range in.Base {
		out[k] = v
	}
	shape := append([]int{cells * dNew}, wT.Shape[1:]...)
	out[last+".weight"] = be.FromFloat32(nw, shape...)
	out[last+".bias"] = be.FromFloat32(nbias, cells*dNew)
	return out, nil
}
