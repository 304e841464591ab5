package data

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// boxImages writes n PNG images of varying sizes, each dark with one bright
// box (record i's box), and returns the dataset.
func boxImages(t *testing.T, n int) *Dataset {
	dir := t.TempDir()
	ds := &Dataset{Name: "test", Classes: []string{"a", "b", "c"}}
	for i := 0; i < n; i++ {
		w, h := 40+7*i, 60-3*i
		b := [4]float32{float32(3 + i), 5, float32(20 + i), 30}
		path := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		writeImage(t, path, w, h, func(x, y int) color.RGBA {
			if float32(x) >= b[0] && float32(x) < b[2] && float32(y) >= b[1] && float32(y) < b[3] {
				return color.RGBA{250, 250, 250, 255}
			}
			return color.RGBA{uint8(i), 0, 0, 255}
		})
		ds.Records = append(ds.Records, Record{ID: fmt.Sprint(i), File: path, Width: w, Height: h,
			Boxes: [][4]float32{b}, Classes: []int{i % 3}})
	}
	return ds
}

func trainConfig() LoaderConfig {
	return LoaderConfig{BatchSize: 2, ShortSides: []int{32, 48, 64}, MaxSize: 100, Flip: true,
		PixelMean: [3]float32{1, 2, 3}, PixelStd: [3]float32{2, 2, 2}, Seed: 11, Workers: 3}
}

func collect(t *testing.T, ds *Dataset, cfg LoaderConfig, n int) []*Batch {
	t.Helper()
	l, err := NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out []*Batch
	for i := 0; i < n; i++ {
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		if l.DataTime() < 0 {
			t.Fatal("negative data time")
		}
		out = append(out, b)
	}
	return out
}

func TestLoaderDeterministicAndResumable(t *testing.T) {
	ds := boxImages(t, 7)
	cfg := trainConfig()
	a := collect(t, ds, cfg, 12)
	one := cfg
	one.Workers, one.Prefetch = 1, 1
	b := collect(t, ds, one, 12)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("batches depend on the number of workers")
	}
	res := cfg
	res.StartIter = 7
	r := collect(t, ds, res, 5)
	for i := range r {
		if !reflect.DeepEqual(r[i], a[7+i]) {
			t.Fatalf("resumed batch %d differs from batch %d of a fresh run", i, 7+i)
		}
	}
	other := cfg
	other.Seed = 12
	if reflect.DeepEqual(collect(t, ds, other, 12), a) {
		t.Fatal("the seed changes nothing")
	}
	// Every epoch is a permutation: the first 14 stream positions visit each
	// record twice, each of the two halves once.
	var recs []int
	sides, flips := map[int]bool{}, map[bool]bool{}
	for _, b := range a[:7] {
		for _, it := range b.Items {
			recs = append(recs, it.Record)
			sides[min(it.W, it.H)] = true
			flips[it.Flipped] = true
		}
	}
	for _, half := range [][]int{recs[:7], recs[7:]} {
		seen := map[int]bool{}
		for _, r := range half {
			seen[r] = true
		}
		if len(seen) != 7 {
			t.Fatalf("an epoch visits %v", half)
		}
	}
	if len(flips) != 2 || len(sides) < 2 {
		t.Fatalf("augmentation never varies: flips %v, short sides %v", flips, sides)
	}
}

// TestLoaderGeometry checks padding, resizing, flipping and normalisation
// against the pixels: the centre of every transformed box must be bright
// and the padding zero.
func TestLoaderGeometry(t *testing.T) {
	for _, div := range []int{0, 32} {
		testLoaderGeometry(t, div)
	}
}

// testLoaderGeometry runs TestLoaderGeometry with input.size_divisibility
// div: 0 (detectron2's C4) pads only to the batch's largest image.
func testLoaderGeometry(t *testing.T, div int) {
	ds := boxImages(t, 5)
	cfg := trainConfig()
	cfg.Input.SizeDivisibility = div
	for _, b := range collect(t, ds, cfg, 8) {
		var mh, mw int
		for _, it := range b.Items {
			mh, mw = max(mh, it.H), max(mw, it.W)
		}
		if div > 0 {
			mh, mw = (mh+div-1)/div*div, (mw+div-1)/div*div
		}
		if b.H != mh || b.W != mw || len(b.Images) != len(b.Items)*3*b.H*b.W {
			t.Fatalf("size_divisibility %d: batch %dx%d with %d values, want %dx%d", div, b.H, b.W, len(b.Images), mh, mw)
		}
		for k, it := range b.Items {
			r := ds.Records[it.Record]
			nw, nh := ResizeShape(r.Width, r.Height, min(it.W, it.H), cfg.MaxSize)
			if it.W != nw || it.H != nh || it.OrigW != r.Width || it.ScaleX != float32(nw)/float32(r.Width) {
				t.Fatalf("item %+v for a %dx%d image", it, r.Width, r.Height)
			}
			want := TransformBox(r.Boxes[0], it.ScaleX, it.ScaleY, it.W, it.Flipped)
			if len(it.Boxes) != 1 || it.Boxes[0] != want || it.Classes[0] != int64(r.Classes[0]) {
				t.Fatalf("boxes %v classes %v, want %v", it.Boxes, it.Classes, want)
			}
			// Channel 0 is blue (BGR): bright 250, dark 0, then (v-1)/2.
			plane := b.Images[(k*3)*b.H*b.W : (k*3+1)*b.H*b.W]
			at := func(x, y float32) float32 { return plane[int(y)*b.W+int(x)] }
			cx, cy := (want[0]+want[2])/2, (want[1]+want[3])/2
			if v := at(cx, cy); v < 100 {
				t.Fatalf("box centre (%v,%v) of a flipped=%v image is dark: %v", cx, cy, it.Flipped, v)
			}
			if v := at(cx, want[3]+2); want[3]+2 < float32(it.H) && v > 10 {
				t.Fatalf("below the box is bright: %v", v)
			}
			for y := 0; y < b.H; y++ {
				for x := 0; x < b.W; x++ {
					if (x >= it.W || y >= it.H) && plane[y*b.W+x] != 0 {
						t.Fatalf("padding at (%d,%d) is %v", x, y, plane[y*b.W+x])
					}
				}
			}
		}
	}
}

func TestLoaderNormalisation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flat.png")
	writeImage(t, path, 32, 32, func(x, y int) color.RGBA { return color.RGBA{200, 100, 50, 255} })
	ds := &Dataset{Classes: []string{"a"}, Records: []Record{{ID: "x", File: path, Width: 32, Height: 32,
		Boxes: [][4]float32{{0, 0, 10, 10}}, Classes: []int{0}}}}
	for _, rgb := range []bool{false, true} {
		cfg := LoaderConfig{BatchSize: 1, ShortSides: []int{32}, PixelMean: [3]float32{10, 20, 30},
			PixelStd: [3]float32{2, 4, 5}, RGB: rgb}
		b := collect(t, ds, cfg, 1)[0]
		want := []float32{(50 - 10) / 2.0, (100 - 20) / 4.0, (200 - 30) / 5.0}
		if rgb {
			want = []float32{(200 - 10) / 2.0, (100 - 20) / 4.0, (50 - 30) / 5.0}
		}
		for c := 0; c < 3; c++ {
			if got := b.Images[c*32*32+100]; got != want[c] {
				t.Fatalf("rgb=%v channel %d = %v, want %v", rgb, c, got, want[c])
			}
		}
	}
}

func TestLoaderShardsTheGlobalBatch(t *testing.T) {
	ds := boxImages(t, 6)
	global := trainConfig()
	global.BatchSize = 4
	g := collect(t, ds, global, 5)
	for rank := 0; rank < 2; rank++ {
		cfg := trainConfig()
		cfg.Rank, cfg.WorldSize = rank, 2
		for i, b := range collect(t, ds, cfg, 5) {
			for k, it := range b.Items {
				if !reflect.DeepEqual(it, g[i].Items[rank*2+k]) {
					t.Fatalf("rank %d iter %d slot %d: %+v, global %+v", rank, i, k, it, g[i].Items[rank*2+k])
				}
			}
		}
	}
}

func TestTestLoaderVisitsEveryRecordOnce(t *testing.T) {
	ds := boxImages(t, 5)
	ds.Records[2].Boxes, ds.Records[2].Classes = nil, nil // an image without objects is still evaluated
	l, err := NewTestLoader(ds, LoaderConfig{BatchSize: 2, ShortSides: []int{40}, MaxSize: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var ids []string
	for {
		b, err := l.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range b.Items {
			if it.Flipped || min(it.W, it.H) != 40 && max(it.W, it.H) != 80 {
				t.Fatalf("test item %+v", it)
			}
			ids = append(ids, it.ID)
		}
	}
	if strings.Join(ids, ",") != "0,1,2,3,4" {
		t.Fatalf("visited %v", ids)
	}
	if _, err := l.Next(); err != io.EOF {
		t.Fatalf("after the end: %v", err)
	}
	if _, err := NewTestLoader(ds, LoaderConfig{BatchSize: 1, ShortSides: []int{40, 50}}); err == nil {
		t.Fatal("a test loader accepted two short sides")
	}
}

func TestLoaderBadImage(t *testing.T) {
	ds := boxImages(t, 3)
	ds.Records[1].File = filepath.Join(t.TempDir(), "gone.jpg")
	cfg := trainConfig()
	l, err := NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	for i := 0; i < 10 && lerr == nil; i++ {
		_, lerr = l.Next()
	}
	l.Close()
	if lerr == nil || !strings.Contains(lerr.Error(), "gone.jpg") || !strings.Contains(lerr.Error(), "missing image") {
		t.Fatalf("error %v", lerr)
	}
	var mu sync.Mutex
	warned := 0
	cfg.SkipBad, cfg.Warn = true, func(e error) { mu.Lock(); warned++; mu.Unlock() }
	skipped := 0
	for _, b := range collect(t, ds, cfg, 10) {
		skipped += len(b.Skipped)
		for _, e := range b.Skipped {
			if !strings.Contains(e.Error(), "gone.jpg") {
				t.Fatalf("skipped for %v", e)
			}
		}
		for _, it := range b.Items {
			if it.Record == 1 {
				t.Fatal("the missing image was used")
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// The loader runs ahead, so it may have warned about batches not taken.
	if skipped == 0 || warned < skipped {
		t.Fatalf("skipped %d, warned %d", skipped, warned)
	}
}

func TestLoaderDropsCrowdAndEmpty(t *testing.T) {
	ds := boxImages(t, 3)
	ds.Records[0].Crowd = []bool{true} // only a crowd box: not trained on
	ds.Records[1].Boxes = append(ds.Records[1].Boxes, [4]float32{1, 1, 2, 2})
	ds.Records[1].Classes = append(ds.Records[1].Classes, 2)
	ds.Records[1].Crowd = []bool{false, true}
	for _, b := range collect(t, ds, trainConfig(), 6) {
		for _, it := range b.Items {
			if it.Record == 0 || len(it.Boxes) != 1 {
				t.Fatalf("item %+v", it)
			}
		}
	}
	ds.Records = ds.Records[:1]
	if _, err := NewLoader(ds, trainConfig()); err == nil {
		t.Fatal("a dataset of crowd boxes only was accepted")
	}
}

func TestLoaderConfigErrors(t *testing.T) {
	ds := boxImages(t, 1)
	for _, c := range []LoaderConfig{
		{BatchSize: 0, ShortSides: []int{32}},
		{BatchSize: 1},
		{BatchSize: 1, ShortSides: []int{-3}},
		{BatchSize: 1, ShortSides: []int{32}, Rank: 2, WorldSize: 2},
		{BatchSize: 1, ShortSides: []int{32}, StartIter: -1},
	} {
		if _, err := NewLoader(ds, c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestLoaderCloseWithoutDraining(t *testing.T) {
	l, err := NewLoader(boxImages(t, 4), trainConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l.Close()
	for i := 0; i < 5; i++ {
		if _, err := l.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				t.Fatal("a closed training loader reports EOF")
			}
			return
		}
	}
}
