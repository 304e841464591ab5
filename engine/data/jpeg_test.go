package data

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// agreement compares two decodings value by value: the fraction of equal
// values and the largest difference.
func agreement(t *testing.T, got, want *Image) (equal float64, maxDiff float32) {
	t.Helper()
	if got.W != want.W || got.H != want.H {
		t.Fatalf("decoded %dx%d, PIL %dx%d", got.W, got.H, want.W, want.H)
	}
	n := 0
	for i, v := range got.Pix {
		d := v - want.Pix[i]
		if d < 0 {
			d = -d
		}
		if d == 0 {
			n++
		}
		maxDiff = max(maxDiff, d)
	}
	return float64(n) / float64(len(got.Pix)), maxDiff
}

// jpegPairs lists dir's x.jpg files that have PIL's decoding x.pil.png.
func jpegPairs(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no JPEG fixtures in %s", dir)
	}
	return files
}

func comparePIL(t *testing.T, dir string, check func(name string, goEq, pilEq float64, goMax, pilMax float32)) {
	var tot [2]float64
	var worst [2]float32
	files := jpegPairs(t, dir)
	for _, f := range files {
		want, err := DecodeFile(strings.TrimSuffix(f, ".jpg") + ".pil.png")
		if err != nil {
			t.Fatal(err)
		}
		old, err := InputConfig{JPEG: "go"}.DecodeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := InputConfig{JPEG: "pil"}.DecodeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		goEq, goMax := agreement(t, old, want)
		pilEq, pilMax := agreement(t, got, want)
		t.Logf("%-16s jpeg: go %.4f equal, max diff %3.0f; pil %.4f equal, max diff %3.0f",
			filepath.Base(f), goEq, goMax, pilEq, pilMax)
		tot[0] += goEq
		tot[1] += pilEq
		worst[0], worst[1] = max(worst[0], goMax), max(worst[1], pilMax)
		if check != nil {
			check(filepath.Base(f), goEq, pilEq, goMax, pilMax)
		}
	}
	n := float64(len(files))
	t.Logf("mean over %d images: go %.4f equal (max diff %.0f), pil %.4f equal (max diff %.0f)",
		len(files), tot[0]/n, worst[0], tot[1]/n, worst[1])
}

// TestJPEGDecodesLikePIL compares the default decoding with PIL's (what
// detectron2 reads) on photographs encoded by PIL at 4:2:0, 4:2:2, 4:4:4,
// progressive, grayscale and CMYK (testdata/data/jpeg, made by
// make_pil_jpeg.py). They get libjpeg's IDCT, chroma upsampling and colour
// conversion, so every value must equal PIL's.
func TestJPEGDecodesLikePIL(t *testing.T) {
	comparePIL(t, filepath.Join("..", "..", "testdata", "data", "jpeg"), func(name string, goEq, pilEq float64, goMax, pilMax float32) {
		if pilEq != 1 {
			t.Errorf("%s: %.4f of the values equal PIL's, max difference %v; want all equal", name, pilEq, pilMax)
		}
		if pilEq < goEq {
			t.Errorf("%s: PIL-style decoding (%.4f equal) agrees less than Go's (%.4f)", name, pilEq, goEq)
		}
	})
}

// TestJPEGAgreementElsewhere measures the same on any directory of x.jpg
// and PIL's x.pil.png (make_pil_jpeg.py --decode DIR), e.g. real photos or
// the synthetic set: FSOD_JPEG_DIR=dir go test -run JPEGAgreement -v.
func TestJPEGAgreementElsewhere(t *testing.T) {
	dir := os.Getenv("FSOD_JPEG_DIR")
	if dir == "" {
		t.Skip("FSOD_JPEG_DIR not set")
	}
	comparePIL(t, dir, nil)
}

// FuzzBaselinePlanes feeds the baseline reader arbitrary bytes with the
// frame size image/jpeg would have decoded (it only ever sees files
// image/jpeg accepted, but must not hang, panic or decode another size).
func FuzzBaselinePlanes(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "data", "jpeg", "*.jpg"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		c, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(c.Width), uint16(c.Height))
	}
	f.Fuzz(func(t *testing.T, b []byte, w, h uint16) {
		if int(w)*int(h) > 1<<20 {
			return // image/jpeg would have allocated the picture first
		}
		p, err := decodeBaselinePlanes(b, int(w), int(h))
		if err == nil && (p.w != int(w) || p.h != int(h)) {
			t.Fatalf("decoded a %dx%d frame, asked for %dx%d", p.w, p.h, w, h)
		}
	})
}
