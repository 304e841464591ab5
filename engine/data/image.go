package data

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Image is a decoded picture: three planes (R, G, B) of W*H float32 values in
// 0..255, row-major.
type Image struct {
	W, H int
	Pix  []float32 // [3][H][W]
}

// NewImage returns a black w x h image.
func NewImage(w, h int) *Image { return &Image{W: w, H: h, Pix: make([]float32, 3*w*h)} }

// Plane returns channel c (0 R, 1 G, 2 B).
func (im *Image) Plane(c int) []float32 { return im.Pix[c*im.W*im.H : (c+1)*im.W*im.H] }

// FromImage converts any image.Image to planar RGB; the common decoder
// outputs (YCbCr from JPEG, RGBA/NRGBA/Gray from PNG) take fast paths.
func FromImage(src image.Image) *Image {
	b := src.Bounds()
	im := NewImage(b.Dx(), b.Dy())
	n := im.W * im.H
	r, g, bl := im.Pix[:n], im.Pix[n:2*n], im.Pix[2*n:]
	switch s := src.(type) {
	case *image.YCbCr:
		for y := 0; y < im.H; y++ {
			for x := 0; x < im.W; x++ {
				yi := s.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := s.COffset(b.Min.X+x, b.Min.Y+y)
				cr, cg, cb := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
				i := y*im.W + x
				r[i], g[i], bl[i] = float32(cr), float32(cg), float32(cb)
			}
		}
	case *image.Gray:
		for y := 0; y < im.H; y++ {
			row := s.Pix[(y)*s.Stride:]
			for x := 0; x < im.W; x++ {
				v := float32(row[x])
				i := y*im.W + x
				r[i], g[i], bl[i] = v, v, v
			}
		}
	case *image.RGBA:
		for y := 0; y < im.H; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < im.W; x++ {
				i := y*im.W + x
				r[i], g[i], bl[i] = float32(row[4*x]), float32(row[4*x+1]), float32(row[4*x+2])
			}
		}
	default:
		// Other models (NRGBA, paletted, 16-bit) go through color.NRGBA so
		// transparent pixels keep their colour instead of turning black.
		for y := 0; y < im.H; y++ {
			for x := 0; x < im.W; x++ {
				c := color.NRGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				i := y*im.W + x
				r[i], g[i], bl[i] = float32(c.R), float32(c.G), float32(c.B)
			}
		}
	}
	return im
}

// ToRGBA rounds the image to 8 bits, for writing it out.
func (im *Image) ToRGBA() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, im.W, im.H))
	n := im.W * im.H
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			v := math.Round(float64(im.Pix[c*n+i]))
			out.Pix[4*i+c] = uint8(min(max(v, 0), 255))
		}
		out.Pix[4*i+3] = 255
	}
	return out
}

// resampleWeights are the taps of one output sample along one axis.
type resampleWeights struct {
	start []int       // first input index of each output
	taps  [][]float32 // normalised weights from start on
}

// triangleWeights builds the taps of a bilinear (triangle) filter from in to
// out samples. Like PIL's BILINEAR, which detectron2's ResizeTransform uses,
// the filter is widened by the scale factor when shrinking, so downscaling
// averages every input pixel instead of skipping some (no aliasing); when
// enlarging it is plain bilinear interpolation with half-pixel centres.
func triangleWeights(in, out int) resampleWeights {
	scale := float64(in) / float64(out)
	support := max(scale, 1)
	w := resampleWeights{start: make([]int, out), taps: make([][]float32, out)}
	for o := 0; o < out; o++ {
		center := (float64(o) + 0.5) * scale
		lo := max(int(math.Floor(center-support)), 0)
		hi := min(int(math.Ceil(center+support)), in)
		taps := make([]float32, 0, hi-lo)
		var sum float64
		first := -1
		for i := lo; i < hi; i++ {
			t := math.Abs((float64(i) + 0.5 - center) / support)
			if t >= 1 {
				if first < 0 {
					continue
				}
				break
			}
			if first < 0 {
				first = i
			}
			taps = append(taps, float32(1-t))
			sum += 1 - t
		}
		if first < 0 { // the centre sits exactly between samples at the edge
			first, taps, sum = min(int(center), in-1), []float32{1}, 1
		}
		for k := range taps {
			taps[k] = float32(float64(taps[k]) / sum)
		}
		w.start[o], w.taps[o] = first, taps
	}
	return w
}

// Resize returns the image resampled to w x h with an antialiased bilinear
// filter (horizontal pass, then vertical).
func (im *Image) Resize(w, h int) *Image {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("data: Resize %dx%d to %dx%d", im.W, im.H, w, h))
	}
	if w == im.W && h == im.H {
		return &Image{W: w, H: h, Pix: append([]float32(nil), im.Pix...)}
	}
	wx, wy := triangleWeights(im.W, w), triangleWeights(im.H, h)
	tmp := make([]float32, im.H*w)
	out := NewImage(w, h)
	for c := 0; c < 3; c++ {
		src := im.Plane(c)
		for y := 0; y < im.H; y++ {
			row := src[y*im.W : (y+1)*im.W]
			dst := tmp[y*w : (y+1)*w]
			for x := 0; x < w; x++ {
				var s float32
				for k, t := range wx.taps[x] {
					s += t * row[wx.start[x]+k]
				}
				dst[x] = s
			}
		}
		dst := out.Plane(c)
		for y := 0; y < h; y++ {
			drow := dst[y*w : (y+1)*w]
			for k, t := range wy.taps[y] {
				srow := tmp[(wy.start[y]+k)*w : (wy.start[y]+k+1)*w]
				for x := range drow {
					drow[x] += t * srow[x]
				}
			}
		}
	}
	return out
}

// FlipH mirrors the image left-right in place.
func (im *Image) FlipH() {
	for c := 0; c < 3; c++ {
		p := im.Plane(c)
		for y := 0; y < im.H; y++ {
			row := p[y*im.W : (y+1)*im.W]
			for i, j := 0, len(row)-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
	}
}

// ResizeShape is detectron2's ResizeShortestEdge: scale the short side to
// short, unless the long side would then exceed maxSize (0: no limit), in
// which case the long side becomes maxSize; sizes round half up.
func ResizeShape(w, h, short, maxSize int) (nw, nh int) {
	scale := float64(short) / float64(min(w, h))
	fw, fh := scale*float64(w), scale*float64(h)
	if h < w {
		fh = float64(short)
	} else {
		fw = float64(short)
	}
	if m := max(fw, fh); maxSize > 0 && m > float64(maxSize) {
		s := float64(maxSize) / m
		fw, fh = fw*s, fh*s
	}
	return int(fw + 0.5), int(fh + 0.5)
}

// TransformBox maps a box from the original image to the resized (and
// optionally flipped) one: x scales by sx = newW/W, y by sy = newH/H, as
// detectron2's ResizeTransform does, and a flip maps x to newW - x.
func TransformBox(b [4]float32, sx, sy float32, newW int, flip bool) [4]float32 {
	o := [4]float32{b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy}
	if flip {
		w := float32(newW)
		o[0], o[2] = w-o[2], w-o[0]
	}
	return o
}

// pilPrecisionBits is the fixed-point precision of PIL's 8-bit resampling
// (32 bits less 8 for the sample and 2 of headroom for negative taps).
const pilPrecisionBits = 32 - 8 - 2

// pilTaps are one axis's fixed-point taps as PIL's precompute_coeffs and
// normalize_coeffs_8bpc make them for the BILINEAR filter: the support
// widened by the scale when shrinking, the window [xmin, xmax) rounded from
// the centre ± support, weights normalised in float64 and then rounded to
// pilPrecisionBits.
func pilTaps(in, out int) resampleWeights32 {
	scale := float64(in) / float64(out)
	filterscale := max(scale, 1)
	support := filterscale // BILINEAR's support is 1
	w := resampleWeights32{start: make([]int, out), taps: make([][]int32, out)}
	for o := 0; o < out; o++ {
		center := (float64(o) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), in) - xmin
		k := make([]float64, max(xmax, 0))
		var ww float64
		for x := range k {
			t := math.Abs((float64(x+xmin) - center + 0.5) / filterscale)
			if t < 1 {
				k[x] = 1 - t
			}
			ww += k[x]
		}
		taps := make([]int32, len(k))
		for x, v := range k {
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				taps[x] = int32(-0.5 + v*(1<<pilPrecisionBits))
			} else {
				taps[x] = int32(0.5 + v*(1<<pilPrecisionBits))
			}
		}
		w.start[o], w.taps[o] = xmin, taps
	}
	return w
}

type resampleWeights32 struct {
	start []int
	taps  [][]int32
}

// clip8 is PIL's: the fixed-point sum shifted down (floor) and clamped.
func clip8(v int64) uint8 {
	v >>= pilPrecisionBits
	return uint8(min(max(v, 0), 255))
}

// ResizeUint8 resamples as detectron2's ResizeTransform does on a uint8
// image: PIL's Image.resize with BILINEAR, in PIL's fixed-point arithmetic,
// a horizontal pass to an 8-bit intermediate image, then a vertical pass to
// 8 bits; an axis whose size is unchanged is not resampled. The input is
// taken as 8-bit (rounded and clamped), as decoded images are.
func (im *Image) ResizeUint8(w, h int) *Image {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("data: Resize %dx%d to %dx%d", im.W, im.H, w, h))
	}
	src := make([]uint8, len(im.Pix))
	for i, v := range im.Pix {
		src[i] = uint8(min(max(math.Round(float64(v)), 0), 255))
	}
	cw, ch := im.W, im.H
	if w != im.W {
		wx := pilTaps(im.W, w)
		dst := make([]uint8, 3*im.H*w)
		for c := 0; c < 3; c++ {
			for y := 0; y < im.H; y++ {
				row := src[(c*im.H+y)*im.W:]
				drow := dst[(c*im.H+y)*w:]
				for x := 0; x < w; x++ {
					s := int64(1) << (pilPrecisionBits - 1)
					for k, t := range wx.taps[x] {
						s += int64(row[wx.start[x]+k]) * int64(t)
					}
					drow[x] = clip8(s)
				}
			}
		}
		src, cw = dst, w
	}
	if h != im.H {
		wy := pilTaps(im.H, h)
		dst := make([]uint8, 3*h*cw)
		acc := make([]int64, cw)
		for c := 0; c < 3; c++ {
			plane := src[c*ch*cw:]
			for y := 0; y < h; y++ {
				for x := range acc {
					acc[x] = 1 << (pilPrecisionBits - 1)
				}
				for k, t := range wy.taps[y] {
					row := plane[(wy.start[y]+k)*cw : (wy.start[y]+k+1)*cw]
					for x, v := range row {
						acc[x] += int64(v) * int64(t)
					}
				}
				drow := dst[(c*h+y)*cw:]
				for x, s := range acc {
					drow[x] = clip8(s)
				}
			}
		}
		src, ch = dst, h
	}
	out := NewImage(cw, ch)
	for i, v := range src {
		out.Pix[i] = float32(v)
	}
	return out
}
