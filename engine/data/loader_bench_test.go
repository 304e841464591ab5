package data

import (
	"fmt"
	"image/color"
	"path/filepath"
	"testing"
)

// benchDataset writes n JPEGs of w x h with textured content.
func benchDataset(b *testing.B, n, w, h int) *Dataset {
	dir := b.TempDir()
	ds := &Dataset{Name: "bench", Classes: []string{"a"}}
	for i := 0; i < n; i++ {
		path := filepath.Join(dir, fmt.Sprintf("%d.jpg", i))
		writeImage(b, path, w, h, func(x, y int) color.RGBA {
			return color.RGBA{uint8(x * 7 % 256), uint8(y * 3 % 256), uint8((x ^ y) % 256), 255}
		})
		ds.Records = append(ds.Records, Record{ID: fmt.Sprint(i), File: path, Width: w, Height: h,
			Boxes: [][4]float32{{10, 10, 100, 100}}, Classes: []int{0}})
	}
	return ds
}

func benchLoader(b *testing.B, ds *Dataset, cfg LoaderConfig) {
	l, err := NewLoader(ds, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*cfg.BatchSize)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkLoaderVOC is DeFRCN's VOC training input: 500x375 JPEGs, short
// side 480..800, max 1333, flip, two images per batch.
func BenchmarkLoaderVOC(b *testing.B) {
	var sides []int
	for s := 480; s <= 800; s += 32 {
		sides = append(sides, s)
	}
	benchLoader(b, benchDataset(b, 16, 500, 375), LoaderConfig{BatchSize: 2, ShortSides: sides, MaxSize: 1333,
		Flip: true, PixelMean: [3]float32{103.53, 116.28, 123.675}})
}

// BenchmarkLoaderSynth is the demo's input: 128 px images, batch 8.
func BenchmarkLoaderSynth(b *testing.B) {
	benchLoader(b, benchDataset(b, 32, 128, 128), LoaderConfig{BatchSize: 8, ShortSides: []int{96, 128, 160},
		MaxSize: 256, Flip: true})
}
