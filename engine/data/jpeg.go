package data

import "image"

// The JPEG path detectron2 takes is PIL, which decodes with libjpeg-turbo's
// defaults: the chroma planes a JPEG stores at half resolution are
// upsampled with a triangle ("fancy") filter, then converted to RGB with
// libjpeg's fixed-point tables. Go's image/jpeg hands back the planes as
// stored (image.YCbCr), so the upsampling and conversion are done here, in
// libjpeg's integer arithmetic (jdsample.c, jdcolor.c); baseline and
// progressive files also get libjpeg's IDCT (jpegidct.go), so they come out
// as PIL's pixels.

// fromJPEGLikePIL converts a decoded JPEG (src, from the file's bytes raw)
// as PIL's Image.open(...).convert("RGB") would give it.
func fromJPEGLikePIL(src image.Image, raw []byte) *Image {
	switch s := src.(type) {
	case *image.YCbCr:
		if s.Rect.Min != (image.Point{}) {
			break
		}
		fx, fy := chromaFactors(s.SubsampleRatio)
		if p, err := decodeBaselinePlanes(raw, s.Rect.Dx(), s.Rect.Dy()); err == nil && len(p.pix) == 3 && p.w == s.Rect.Dx() && p.h == s.Rect.Dy() &&
			p.hs[1] == p.hs[2] && p.vs[1] == p.vs[2] && p.hs[0] == p.hmax && p.vs[0] == p.vmax &&
			p.hmax == fx*p.hs[1] && p.vmax == fy*p.vs[1] {
			return ycbcrLikeLibjpeg(p.w, p.h, p.pix[0], p.stride[0], p.pix[1], p.pix[2], p.stride[1], fx, fy)
		}
		return ycbcrLikeLibjpeg(s.Rect.Dx(), s.Rect.Dy(), s.Y, s.YStride, s.Cb, s.Cr, s.CStride, fx, fy)
	case *image.Gray:
		if p, err := decodeBaselinePlanes(raw, s.Rect.Dx(), s.Rect.Dy()); err == nil && len(p.pix) == 1 && p.w == s.Rect.Dx() && p.h == s.Rect.Dy() {
			return FromImage(&image.Gray{Pix: p.pix[0], Stride: p.stride[0], Rect: image.Rect(0, 0, p.w, p.h)})
		}
	case *image.CMYK:
		// Adobe CMYK (transform 0, every component at full resolution):
		// the stored samples are inverted, as PIL's "CMYK;I" and Go read
		// them. YCCK and subsampled CMYK keep Go's planes.
		if p, err := decodeBaselinePlanes(raw, s.Rect.Dx(), s.Rect.Dy()); err == nil && len(p.pix) == 4 && p.adobe == 0 &&
			p.hmax == 1 && p.vmax == 1 {
			c := image.NewCMYK(image.Rect(0, 0, p.w, p.h))
			for y := 0; y < p.h; y++ {
				for x := 0; x < p.w; x++ {
					for k := 0; k < 4; k++ {
						c.Pix[y*c.Stride+4*x+k] = 255 - p.pix[k][y*p.stride[k]+x]
					}
				}
			}
			return cmykLikePIL(c)
		}
		return cmykLikePIL(s)
	}
	return FromImage(src)
}

// chromaFactors are the horizontal and vertical subsampling of the chroma
// planes relative to luma.
func chromaFactors(r image.YCbCrSubsampleRatio) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

// ycbcrLikeLibjpeg upsamples the chroma planes (subsampled by fx, fy) and
// converts to RGB as libjpeg does.
func ycbcrLikeLibjpeg(w, h int, yp []uint8, ystride int, cbp, crp []uint8, cstride, fx, fy int) *Image {
	// libjpeg's downsampled size: the chroma samples that cover the image
	// (the planes extend to whole MCUs; the extra samples are not used).
	cw, ch := (w+fx-1)/fx, (h+fy-1)/fy
	cb := upsampleChroma(cbp, cstride, cw, ch, w, h, fx, fy)
	cr := upsampleChroma(crp, cstride, cw, ch, w, h, fx, fy)
	im := NewImage(w, h)
	n := w * h
	r, g, b := im.Pix[:n], im.Pix[n:2*n], im.Pix[2*n:]
	for y := 0; y < h; y++ {
		yrow := yp[y*ystride:]
		for x := 0; x < w; x++ {
			i := y*w + x
			rr, gg, bb := libjpegYCbCrToRGB(yrow[x], cb[i], cr[i])
			r[i], g[i], b[i] = float32(rr), float32(gg), float32(bb)
		}
	}
	return im
}

// libjpeg's jdcolor.c conversion, 16-bit fixed point: R = Y + 1.402 Cr' and
// B = Y + 1.772 Cb' each rounded to the nearest integer by table, G = Y +
// (-0.34414 Cb' - 0.71414 Cr' + ½) >> 16 (an arithmetic shift), all clamped
// to 0..255, where Cb' = Cb - 128 and Cr' = Cr - 128.
const (
	yccScaleBits = 16
	yccHalf      = 1 << (yccScaleBits - 1)
)

func yccFix(x float64) int64 { return int64(x*(1<<yccScaleBits) + 0.5) }

var yccCrR, yccCbB, yccCrG, yccCbG [256]int64

func init() {
	for i := 0; i < 256; i++ {
		x := int64(i - 128)
		yccCrR[i] = (yccFix(1.40200)*x + yccHalf) >> yccScaleBits
		yccCbB[i] = (yccFix(1.77200)*x + yccHalf) >> yccScaleBits
		yccCrG[i] = -yccFix(0.71414) * x
		yccCbG[i] = -yccFix(0.34414)*x + yccHalf
	}
}

func clamp255(v int64) uint8 { return uint8(min(max(v, 0), 255)) }

func libjpegYCbCrToRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy := int64(y)
	return clamp255(yy + yccCrR[cr]),
		clamp255(yy + (yccCbG[cb]+yccCrG[cr])>>yccScaleBits),
		clamp255(yy + yccCbB[cb])
}

// upsampleChroma returns a w x h plane from a cw x ch plane subsampled by
// (fx, fy), as libjpeg-turbo's jdsample.c does with fancy upsampling on:
// h2v1 and h2v2 are triangle filters (each output sample 3/4 of the nearer
// input and 1/4 of the next, in both directions for h2v2) with libjpeg's
// alternating rounding biases, h1v2 the vertical one; the image edges
// repeat the last sample. Other factors (4:1:1, 4:1:0) are replicated, as
// libjpeg's int_upsample does; so are planes 2 samples wide or less, which
// libjpeg does not filter.
func upsampleChroma(src []uint8, stride, cw, ch, w, h, fx, fy int) []uint8 {
	out := make([]uint8, w*h)
	at := func(x, y int) int32 { return int32(src[y*stride+x]) }
	switch {
	case fx == 1 && fy == 1:
		for y := 0; y < h; y++ {
			copy(out[y*w:(y+1)*w], src[y*stride:y*stride+w])
		}
	case fx == 2 && fy == 1 && cw > 2:
		row := make([]uint8, 2*cw)
		for y := 0; y < h; y++ {
			row[0] = uint8(at(0, y))
			row[1] = uint8((at(0, y)*3 + at(1, y) + 2) >> 2)
			for i := 1; i < cw-1; i++ {
				v := at(i, y) * 3
				row[2*i] = uint8((v + at(i-1, y) + 1) >> 2)
				row[2*i+1] = uint8((v + at(i+1, y) + 2) >> 2)
			}
			last := cw - 1
			row[2*last] = uint8((at(last, y)*3 + at(last-1, y) + 1) >> 2)
			row[2*last+1] = uint8(at(last, y))
			copy(out[y*w:(y+1)*w], row[:w])
		}
	case fx == 2 && fy == 2 && cw > 2:
		row := make([]uint8, 2*cw)
		sums := make([]int32, cw)
		for oy := 0; oy < h; oy++ {
			iy := oy / 2
			// The upper output row of a pair leans on the input row above,
			// the lower one on the row below; the edges repeat.
			ny := iy - 1
			if oy%2 == 1 {
				ny = iy + 1
			}
			ny = min(max(ny, 0), ch-1)
			for i := range sums {
				sums[i] = at(i, iy)*3 + at(i, ny)
			}
			row[0] = uint8((sums[0]*4 + 8) >> 4)
			row[1] = uint8((sums[0]*3 + sums[1] + 7) >> 4)
			for i := 1; i < cw-1; i++ {
				row[2*i] = uint8((sums[i]*3 + sums[i-1] + 8) >> 4)
				row[2*i+1] = uint8((sums[i]*3 + sums[i+1] + 7) >> 4)
			}
			last := cw - 1
			row[2*last] = uint8((sums[last]*3 + sums[last-1] + 8) >> 4)
			row[2*last+1] = uint8((sums[last]*4 + 7) >> 4)
			copy(out[oy*w:(oy+1)*w], row[:w])
		}
	case fx == 1 && fy == 2:
		for oy := 0; oy < h; oy++ {
			iy := oy / 2
			ny, bias := iy-1, int32(1)
			if oy%2 == 1 {
				ny, bias = iy+1, 2
			}
			ny = min(max(ny, 0), ch-1)
			for x := 0; x < w; x++ {
				out[oy*w+x] = uint8((at(x, iy)*3 + at(x, ny) + bias) >> 2)
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[y*w+x] = uint8(at(x/fx, y/fy))
			}
		}
	}
	return out
}

// cmykLikePIL converts as PIL's convert("RGB") does from CMYK (Go's
// decoder has already undone Adobe's inversion, as PIL's "CMYK;I" raw mode
// does): each channel is (255-K) - C(255-K)/255 with PIL's rounded divide.
func cmykLikePIL(s *image.CMYK) *Image {
	b := s.Rect
	im := NewImage(b.Dx(), b.Dy())
	n := im.W * im.H
	mulDiv255 := func(a, b int32) int32 { t := a*b + 128; return ((t >> 8) + t) >> 8 }
	for y := 0; y < im.H; y++ {
		for x := 0; x < im.W; x++ {
			p := s.Pix[s.PixOffset(b.Min.X+x, b.Min.Y+y):]
			nk := 255 - int32(p[3])
			i := y*im.W + x
			for c := 0; c < 3; c++ {
				im.Pix[c*n+i] = float32(clamp255(int64(nk - mulDiv255(int32(p[c]), nk))))
			}
		}
	}
	return im
}
