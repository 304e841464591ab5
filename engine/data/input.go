package data

import (
	"bytes"
	"fmt"
	"image"
	"os"
)

// InputConfig is how images become the model's input: the plan's `input:`
// section. The zero value is detectron2's pipeline (PIL decoding, PIL's
// 8-bit resize, no padding to a multiple); the other settings reproduce the
// runs made before these keys existed (jpeg: go, resize: float,
// size_divisibility: 32).
type InputConfig struct {
	// JPEG is "pil" (or ""): decode as PIL/libjpeg-turbo does (islow IDCT
	// for baseline and progressive files, smooth "fancy" chroma upsampling, libjpeg's
	// fixed-point YCbCr→RGB), or "go":
	// Go's image/jpeg conversion (chroma replicated over each block).
	JPEG string `yaml:"jpeg"`
	// Resize is "uint8" (or ""): PIL's BILINEAR resize of the 8-bit image,
	// rounded to 8 bits as detectron2's ResizeTransform gets it, or "float":
	// the same filter kept in float32.
	Resize string `yaml:"resize"`
	// SizeDivisibility pads a batch's H and W up to a multiple (after
	// normalisation, with zeros); 0 pads only to the largest image of the
	// batch, as detectron2's C4 backbone does (FPN uses 32).
	SizeDivisibility int `yaml:"size_divisibility"`
}

// Validate reports a setting outside the allowed values.
func (c InputConfig) Validate() error {
	switch c.JPEG {
	case "", "pil", "go":
	default:
		return fmt.Errorf("input.jpeg %q: want pil or go", c.JPEG)
	}
	switch c.Resize {
	case "", "uint8", "float":
	default:
		return fmt.Errorf("input.resize %q: want uint8 or float", c.Resize)
	}
	if c.SizeDivisibility < 0 {
		return fmt.Errorf("input.size_divisibility %d is negative", c.SizeDivisibility)
	}
	return nil
}

// WithDefaults spells out the defaults (for config.yaml).
func (c InputConfig) WithDefaults() InputConfig {
	if c.JPEG == "" {
		c.JPEG = "pil"
	}
	if c.Resize == "" {
		c.Resize = "uint8"
	}
	return c
}

// DecodeFile reads a JPEG or PNG file as detectron2's read_image does (PIL,
// EXIF orientation applied, converted to RGB).
func DecodeFile(path string) (*Image, error) { return InputConfig{}.DecodeFile(path) }

// DecodeFile reads a JPEG or PNG file; a JPEG's EXIF orientation is
// applied, as detectron2's read_image does. Every image the trainer, the
// evaluator and `detect` read comes through here.
func (c InputConfig) DecodeFile(path string) (*Image, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: missing image: %w", path, err)
	}
	// The header's stated size is checked before the decoder allocates it,
	// here as well as in preflight: a file can change between the two, and
	// detect and eval read images without a preflight.
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: unreadable image: %v", path, err)
	}
	if err := checkPixels(path, cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	src, format, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: unreadable image: %v", path, err)
	}
	var im *Image
	if format == "jpeg" && c.JPEG != "go" {
		im = fromJPEGLikePIL(src, raw)
	} else {
		im = FromImage(src)
	}
	if format == "jpeg" {
		im = im.Orient(jpegOrientation(raw))
	}
	return im, nil
}

// ResizeImage resamples im to w x h by the configured arithmetic.
func (c InputConfig) ResizeImage(im *Image, w, h int) *Image {
	if c.Resize == "float" {
		return im.Resize(w, h)
	}
	return im.ResizeUint8(w, h)
}

// Pack lays images (already resized) into one [len(ims),3,H,W] array in
// the model's channel order (B,G,R unless rgb), H and W the largest image's
// rounded up to a multiple of div (0 or 1: no rounding), zero beyond each
// image. The model normalises and zeroes the padding again after
// normalisation, so padded pixels are 0 in the normalised input, as in
// detectron2's ImageList.
func Pack(ims []*Image, rgb bool, div int) (pix []float32, h, w int) {
	for _, im := range ims {
		h, w = max(h, im.H), max(w, im.W)
	}
	if div > 1 {
		h = (h + div - 1) / div * div
		w = (w + div - 1) / div * div
	}
	pix = make([]float32, len(ims)*3*h*w)
	for k, im := range ims {
		for c := 0; c < 3; c++ {
			src := im.Plane(c)
			if !rgb {
				src = im.Plane(2 - c)
			}
			dst := pix[(k*3+c)*h*w:]
			for y := 0; y < im.H; y++ {
				copy(dst[y*w:y*w+im.W], src[y*im.W:(y+1)*im.W])
			}
		}
	}
	return pix, h, w
}
