package data

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// exifJPEG encodes a 32x16 JPEG with red, green, blue and white quadrants
// (TL, TR, BL, BR) and, for orientation > 0, an EXIF APP1 segment holding
// it in the given byte order.
func exifJPEG(t *testing.T, orientation int, bo binary.ByteOrder) []byte {
	im := image.NewRGBA(image.Rect(0, 0, 32, 16))
	quad := []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 255, 255}}
	for y := 0; y < 16; y++ {
		for x := 0; x < 32; x++ {
			im.SetRGBA(x, y, quad[(y/8)*2+x/16])
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, im, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	if orientation == 0 {
		return buf.Bytes()
	}
	tiff := make([]byte, 26)
	if bo == binary.LittleEndian {
		copy(tiff, "II")
	} else {
		copy(tiff, "MM")
	}
	bo.PutUint16(tiff[2:], 42)
	bo.PutUint32(tiff[4:], 8) // first IFD
	bo.PutUint16(tiff[8:], 1) // one entry
	bo.PutUint16(tiff[10:], 0x0112)
	bo.PutUint16(tiff[12:], 3) // SHORT
	bo.PutUint32(tiff[14:], 1)
	bo.PutUint16(tiff[18:], uint16(orientation))
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(2+len(payload)))
	seg = append(seg, payload...)
	b := buf.Bytes()
	return append(append(append([]byte(nil), b[:2]...), seg...), b[2:]...)
}

func TestEXIFOrientation(t *testing.T) {
	const r, g, b, w = "red", "green", "blue", "white"
	// Where each quadrant's colour ends up: TL, TR, BL, BR of the output.
	cases := []struct {
		o    int
		want [4]string
	}{
		{0, [4]string{r, g, b, w}},
		{1, [4]string{r, g, b, w}},
		{2, [4]string{g, r, w, b}},
		{3, [4]string{w, b, g, r}},
		{4, [4]string{b, w, r, g}},
		{5, [4]string{r, b, g, w}},
		{6, [4]string{b, r, w, g}},
		{7, [4]string{w, g, b, r}},
		{8, [4]string{g, w, r, b}},
	}
	name := func(px [3]float32) string {
		switch {
		case px[0] > 200 && px[1] > 200 && px[2] > 200:
			return w
		case px[0] > 200:
			return r
		case px[1] > 200:
			return g
		case px[2] > 200:
			return b
		}
		return "?"
	}
	dir := t.TempDir()
	for _, c := range cases {
		for _, bo := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
			path := filepath.Join(dir, "x.jpg")
			if err := os.WriteFile(path, exifJPEG(t, c.o, bo), 0o644); err != nil {
				t.Fatal(err)
			}
			im, err := DecodeFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ow, oh := 32, 16
			if c.o >= 5 {
				ow, oh = 16, 32
			}
			if im.W != ow || im.H != oh {
				t.Fatalf("orientation %d: %dx%d, want %dx%d", c.o, im.W, im.H, ow, oh)
			}
			if err := CheckImage(path, ow, oh, true); err != nil {
				t.Fatalf("orientation %d: %v", c.o, err)
			}
			if err := CheckImage(path, 32+16-ow, 32+16-oh, true); c.o >= 5 && err == nil {
				t.Fatalf("orientation %d: the stored size passed the check", c.o)
			}
			for q, at := range [][2]int{{ow / 4, oh / 4}, {3 * ow / 4, oh / 4}, {ow / 4, 3 * oh / 4}, {3 * ow / 4, 3 * oh / 4}} {
				i := at[1]*ow + at[0]
				px := [3]float32{im.Plane(0)[i], im.Plane(1)[i], im.Plane(2)[i]}
				if got := name(px); got != c.want[q] {
					t.Fatalf("orientation %d (%v): quadrant %d is %s %v, want %s", c.o, bo, q, got, px, c.want[q])
				}
			}
		}
	}
}
