package data

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeImage writes a PNG or JPEG (by extension) coloured by fill. (The
// fixture package cannot be used here: it imports voc, which imports data.)
func writeImage(t testing.TB, path string, w, h int, fill func(x, y int) color.RGBA) {
	t.Helper()
	im := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			im.SetRGBA(x, y, fill(x, y))
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(f, im)
	} else {
		err = jpeg.Encode(f, im, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestResizeShapeMatchesDetectron2(t *testing.T) {
	cases := []struct{ w, h, short, max, nw, nh int }{
		{500, 375, 800, 1333, 1067, 800}, // a typical VOC image
		{375, 500, 800, 1333, 800, 1067},
		{1000, 200, 800, 1333, 1333, 267}, // the long side hits the cap
		{640, 480, 480, 0, 640, 480},      // already the size
		{128, 128, 96, 1333, 96, 96},
		{333, 500, 600, 1000, 600, 901},
	}
	for _, c := range cases {
		nw, nh := ResizeShape(c.w, c.h, c.short, c.max)
		if nw != c.nw || nh != c.nh {
			t.Errorf("%dx%d short %d max %d: got %dx%d want %dx%d", c.w, c.h, c.short, c.max, nw, nh, c.nw, c.nh)
		}
	}
}

func TestResizeKeepsFlatImagesAndAverages(t *testing.T) {
	im := NewImage(7, 5)
	for i := range im.Pix {
		im.Pix[i] = 42
	}
	for _, s := range [][2]int{{3, 2}, {7, 5}, {20, 13}, {1, 1}} {
		out := im.Resize(s[0], s[1])
		for _, v := range out.Pix {
			if math.Abs(float64(v)-42) > 1e-4 {
				t.Fatalf("flat image resized to %v has %v", s, v)
			}
		}
	}
	// Halving a 1-px checkerboard averages it (no aliasing): every output is
	// the mean, where nearest-neighbour or 2-tap bilinear would give 0 or 255.
	cb := NewImage(16, 16)
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			for c := 0; c < 3; c++ {
				cb.Plane(c)[y*16+x] = float32(255 * ((x + y) % 2))
			}
		}
	}
	for _, v := range cb.Resize(8, 8).Pix {
		if math.Abs(float64(v)-127.5) > 20 {
			t.Fatalf("downscaled checkerboard has %v, want about 127.5", v)
		}
	}
	// Enlarging a horizontal ramp keeps it a ramp: bilinear interpolation
	// with half-pixel centres, values between the neighbours.
	ramp := NewImage(4, 1)
	copy(ramp.Plane(0), []float32{0, 10, 20, 30})
	up := ramp.Resize(8, 1).Plane(0)
	want := []float32{0, 2.5, 7.5, 12.5, 17.5, 22.5, 27.5, 30}
	for i := range want {
		if math.Abs(float64(up[i]-want[i])) > 1e-4 {
			t.Fatalf("upsampled ramp %v, want %v", up, want)
		}
	}
}

func TestFlipTwiceIsIdentity(t *testing.T) {
	im := NewImage(5, 3)
	for i := range im.Pix {
		im.Pix[i] = float32(i)
	}
	orig := append([]float32(nil), im.Pix...)
	im.FlipH()
	if im.Plane(0)[0] != orig[4] || im.Plane(2)[5] != orig[2*15+9] {
		t.Fatalf("flip did not mirror rows: %v", im.Pix)
	}
	im.FlipH()
	for i := range orig {
		if im.Pix[i] != orig[i] {
			t.Fatal("flipping twice changed the image")
		}
	}
	b := [4]float32{3, 4, 17, 9}
	once := TransformBox(b, 1, 1, 40, true)
	if once != [4]float32{23, 4, 37, 9} {
		t.Fatalf("flipped box %v", once)
	}
	if twice := TransformBox(once, 1, 1, 40, true); twice != b {
		t.Fatalf("box flipped twice %v, want %v", twice, b)
	}
	if s := TransformBox(b, 2, 0.5, 80, false); s != [4]float32{6, 2, 34, 4.5} {
		t.Fatalf("scaled box %v", s)
	}
}

func TestDecodeFile(t *testing.T) {
	dir := t.TempDir()
	fill := func(x, y int) color.RGBA { return color.RGBA{uint8(10 * x), uint8(20 * y), 200, 255} }
	writeImage(t, filepath.Join(dir, "a.png"), 6, 4, fill)
	im, err := DecodeFile(filepath.Join(dir, "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	if im.W != 6 || im.H != 4 || im.Plane(0)[2*6+3] != 30 || im.Plane(1)[2*6+3] != 40 || im.Plane(2)[0] != 200 {
		t.Fatalf("decoded %dx%d %v", im.W, im.H, im.Pix)
	}
	// JPEG is lossy: a flat colour comes back within a few levels.
	writeImage(t, filepath.Join(dir, "b.jpg"), 16, 16, func(x, y int) color.RGBA { return color.RGBA{200, 50, 100, 255} })
	jp, err := DecodeFile(filepath.Join(dir, "b.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range []float32{200, 50, 100} {
		if v := jp.Plane(c)[8*16+8]; math.Abs(float64(v-want)) > 4 {
			t.Fatalf("jpeg channel %d = %v, want about %v", c, v, want)
		}
	}
}

func TestRand(t *testing.T) {
	a, b := NewRand(1, 2), NewRand(1, 2)
	for i := 0; i < 100; i++ {
		if a.Uint64() != b.Uint64() {
			t.Fatal("same keys, different streams")
		}
	}
	if NewRand(1, 2).Uint64() == NewRand(2, 1).Uint64() {
		t.Fatal("key order ignored")
	}
	// Pin the stream: the split files and the synthetic dataset must not
	// change silently.
	if got := NewRand(0).Uint64(); got != pinnedFirst {
		t.Fatalf("NewRand(0).Uint64() = %#x, pinned %#x", got, pinnedFirst)
	}
	counts := make([]int, 5)
	r := NewRand(9)
	for i := 0; i < 50000; i++ {
		counts[r.Intn(5)]++
	}
	for _, c := range counts {
		if c < 9500 || c > 10500 {
			t.Fatalf("Intn(5) counts %v", counts)
		}
	}
	p := NewRand(3).Perm(50)
	seen := make([]bool, 50)
	for _, v := range p {
		seen[v] = true
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("Perm misses %d", i)
		}
	}
}

// pinnedFirst is the first output of NewRand(0).
const pinnedFirst = 0x1cd364143cce4aae

// TestResizeMatchesPIL compares Resize with PIL's BILINEAR resize (what
// detectron2's ResizeTransform uses) on a random image, up and down: PIL
// rounds to 8 bits, so the float resize may differ by up to one level and
// the uint8 one (the default) not at all.
func TestResizeMatchesPIL(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "data", "resize")
	src, err := DecodeFile(filepath.Join(dir, "src.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]int{{61, 40}, {15, 9}, {37, 50}, {20, 23}} {
		want, err := DecodeFile(filepath.Join(dir, fmt.Sprintf("pil_%dx%d.png", s[0], s[1])))
		if err != nil {
			t.Fatal(err)
		}
		got := src.Resize(s[0], s[1])
		for i := range got.Pix {
			if d := math.Abs(float64(got.Pix[i] - want.Pix[i])); d > 1 {
				t.Fatalf("%dx%d: value %d differs from PIL by %.2f", s[0], s[1], i, d)
			}
		}
		// The default (input.resize uint8) is PIL's arithmetic: equal.
		got = InputConfig{}.ResizeImage(src, s[0], s[1])
		for i := range got.Pix {
			if got.Pix[i] != want.Pix[i] {
				t.Fatalf("%dx%d uint8: value %d is %v, PIL's %v", s[0], s[1], i, got.Pix[i], want.Pix[i])
			}
		}
	}
}
