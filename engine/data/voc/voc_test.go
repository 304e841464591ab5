package voc_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/data/internal/fixture"
	"github.com/fsodgpu/fsodgpu/engine/data/voc"
)

// devkit builds root/VOC2007 and root/VOC2012 with a few images.
func devkit(t *testing.T) string {
	root := t.TempDir()
	v7, v12 := filepath.Join(root, "VOC2007"), filepath.Join(root, "VOC2012")
	fixture.VOCImage(t, v7, "000001", 100, 80,
		fixture.Obj("dog", 1, 1, 100, 80), fixture.Obj("bird", 10, 20, 30, 40))
	d := fixture.Obj("bird", 50, 5, 60, 15)
	d.Difficult = true
	fixture.VOCImage(t, v7, "000002", 64, 48, d, fixture.Obj("person", 2, 3, 4, 5))
	fixture.VOCImage(t, v12, "2008_000003", 90, 90, fixture.Obj("bird", 11, 11, 20, 20), fixture.Obj("bird", 31, 31, 40, 40), fixture.Obj("bird", 51, 51, 60, 60))
	fixture.ImageSet(t, v7, "trainval", "000001", "000002")
	fixture.ImageSet(t, v12, "trainval", "2008_000003")
	return root
}

func TestLoadConvertsBoxesLikeDetectron2(t *testing.T) {
	root := devkit(t)
	ds, err := voc.Load(root, []string{"VOC2007/trainval", "VOC2012/trainval"}, data.LoadOptions{CheckImages: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ds.Classes, voc.Classes) {
		t.Fatalf("classes %v", ds.Classes)
	}
	if len(ds.Records) != 3 {
		t.Fatalf("%d records", len(ds.Records))
	}
	r := ds.Records[0]
	if r.ID != "000001" || r.Width != 100 || r.Height != 80 || r.File != filepath.Join(root, "VOC2007", "JPEGImages", "000001.jpg") {
		t.Fatalf("record %+v", r)
	}
	// xmin, ymin lose 1; xmax, ymax stay: the whole 100x80 image is [0,0,100,80].
	want := [][4]float32{{0, 0, 100, 80}, {9, 19, 30, 40}}
	if !reflect.DeepEqual(r.Boxes, want) {
		t.Fatalf("boxes %v, want %v", r.Boxes, want)
	}
	idx := data.ClassIndex(voc.Classes)
	if r.Classes[0] != idx["dog"] || r.Classes[1] != idx["bird"] {
		t.Fatalf("classes %v", r.Classes)
	}
	if !reflect.DeepEqual(ds.Records[1].Difficult, []bool{true, false}) {
		t.Fatalf("difficult %v", ds.Records[1].Difficult)
	}
	if ds.Records[2].ID != "2008_000003" || len(ds.Records[2].Boxes) != 3 {
		t.Fatalf("VOC2012 record %+v", ds.Records[2])
	}
}

func TestLoadKeepsOnlyChosenClasses(t *testing.T) {
	root := devkit(t)
	base, _, _, err := voc.Split(1) // bird is novel in split 1
	if err != nil {
		t.Fatal(err)
	}
	ds, err := voc.Load(root, []string{"VOC2007/trainval"}, data.LoadOptions{Classes: base})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Records) != 2 {
		t.Fatalf("%d records; images without kept objects must stay", len(ds.Records))
	}
	got := ds.NumInstances()
	idx := data.ClassIndex(base)
	if got[idx["dog"]] != 1 || got[idx["person"]] != 1 || len(ds.Records[0].Boxes) != 1 {
		t.Fatalf("instances %v, records %+v", got, ds.Records)
	}
}

func TestSplits(t *testing.T) {
	for n, novel := range map[int][]string{
		1: {"bird", "bus", "cow", "motorbike", "sofa"},
		2: {"aeroplane", "bottle", "cow", "horse", "sofa"},
		3: {"boat", "cat", "motorbike", "sheep", "sofa"},
	} {
		base, nv, all, err := voc.Split(n)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(nv, novel) || len(base) != 15 || !reflect.DeepEqual(all[15:], novel) || !reflect.DeepEqual(all[:15], base) {
			t.Fatalf("split %d: base %v novel %v all %v", n, base, nv, all)
		}
	}
	if _, _, _, err := voc.Split(4); err == nil {
		t.Fatal("split 4 accepted")
	}
}

// TestLoadErrors builds one broken tree per case and checks that the error
// names the file and the problem, and that SkipBad drops just that image.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string) // dir is the VOC directory
		want   []string
	}{
		{"malformed XML", func(t *testing.T, dir string) {
			fixture.WriteFile(t, filepath.Join(dir, "Annotations", "bad.xml"), "<annotation><size>")
		}, []string{"bad.xml", "malformed XML"}},
		{"missing image", func(t *testing.T, dir string) {
			fixture.VOCImage(t, dir, "bad", 50, 50, fixture.Obj("dog", 1, 1, 10, 10))
			os.Remove(filepath.Join(dir, "JPEGImages", "bad.jpg"))
		}, []string{"bad.jpg", "missing image"}},
		{"unreadable image", func(t *testing.T, dir string) {
			fixture.VOCImage(t, dir, "bad", 50, 50, fixture.Obj("dog", 1, 1, 10, 10))
			fixture.WriteFile(t, filepath.Join(dir, "JPEGImages", "bad.jpg"), "not a jpeg")
		}, []string{"bad.jpg", "unreadable image"}},
		{"size mismatch", func(t *testing.T, dir string) {
			fixture.VOCImage(t, dir, "bad", 50, 50, fixture.Obj("dog", 1, 1, 10, 10))
			fixture.Image(t, filepath.Join(dir, "JPEGImages", "bad.jpg"), 40, 50, fixture.Grey)
		}, []string{"bad.jpg", "40x50", "50x50"}},
		{"box outside the image", func(t *testing.T, dir string) {
			fixture.VOCImage(t, dir, "bad", 50, 50, fixture.Obj("dog", 1, 1, 10, 10), fixture.Obj("cat", 5, 5, 70, 20))
		}, []string{"bad.xml", "object 2 (cat)", "outside the 50x50 image"}},
		{"xmax < xmin", func(t *testing.T, dir string) {
			fixture.VOCImage(t, dir, "bad", 500, 500, fixture.Obj("dog", 412, 1, 300, 10))
		}, []string{"bad.xml", "object 1 (dog)", "xmin 412 > xmax 300"}},
		{"ymax < ymin", func(t *testing.T, dir string) {
			fixture.VOCImage(t, dir, "bad", 500, 500, fixture.Obj("dog", 1, 20, 30, 10))
		}, []string{"bad.xml", "ymin 20 > ymax 10"}},
		{"unknown class", func(t *testing.T, dir string) {
			fixture.VOCImage(t, dir, "bad", 50, 50, fixture.Obj("dgo", 1, 1, 10, 10))
		}, []string{"bad.xml", "object 1", `unknown class "dgo"`}},
		{"non-numeric coordinate", func(t *testing.T, dir string) {
			fixture.VOCImage(t, dir, "bad", 50, 50, fixture.Obj("dog", 1, 1, 10, 10))
			p := filepath.Join(dir, "Annotations", "bad.xml")
			b, _ := os.ReadFile(p)
			fixture.WriteFile(t, p, strings.Replace(string(b), "<xmax>10</xmax>", "<xmax>ten</xmax>", 1))
		}, []string{"bad.xml", "xmax", `"ten"`}},
		{"no size", func(t *testing.T, dir string) {
			fixture.WriteFile(t, filepath.Join(dir, "Annotations", "bad.xml"), "<annotation><filename>bad.jpg</filename></annotation>")
		}, []string{"bad.xml", "no <size>"}},
		{"missing annotation", func(t *testing.T, dir string) {}, []string{filepath.Join("Annotations", "bad.xml")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			fixture.VOCImage(t, dir, "good", 50, 50, fixture.Obj("dog", 1, 1, 10, 10))
			c.damage(t, dir)
			fixture.ImageSet(t, dir, "trainval", "good", "bad")
			_, err := voc.Load(dir, []string{"trainval"}, data.LoadOptions{CheckImages: true})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			var warned []error
			ds, err := voc.Load(dir, []string{"trainval"}, data.LoadOptions{CheckImages: true, SkipBad: true,
				Warn: func(e error) { warned = append(warned, e) }})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Records) != 1 || ds.Records[0].ID != "good" || len(warned) != 1 {
				t.Fatalf("SkipBad kept %d records, warned %v", len(ds.Records), warned)
			}
		})
	}
}

func TestLoadMissingImageSet(t *testing.T) {
	_, err := voc.Load(t.TempDir(), []string{"VOC2007/trainval"}, data.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join("VOC2007", "ImageSets", "Main", "trainval.txt")) {
		t.Fatalf("error %v", err)
	}
}

func TestLoadSmallOvershootIsClipped(t *testing.T) {
	dir := t.TempDir()
	// xmin 0 is an off-by-one of the 1-based convention: x1 = -1, clipped to 0.
	fixture.VOCImage(t, dir, "a", 50, 40, fixture.Obj("dog", 0, 1, 51, 40))
	fixture.ImageSet(t, dir, "trainval", "a")
	ds, err := voc.Load(dir, []string{"trainval"}, data.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.Records[0].Boxes[0]; got != [4]float32{0, 0, 50, 40} {
		t.Fatalf("box %v", got)
	}
}

func TestAnnotationRoundTrip(t *testing.T) {
	a := voc.Annotation{Folder: "VOC2007", Filename: "x&y.jpg", Width: 10, Height: 20,
		Objects: []voc.Object{{Name: "dog", Difficult: true, XMin: 1, YMin: 2, XMax: 3.5, YMax: 4}}}
	p := filepath.Join(t.TempDir(), "a.xml")
	fixture.WriteFile(t, p, string(a.Marshal()))
	got, err := voc.ReadAnnotation(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, a) {
		t.Fatalf("got %+v want %+v", *got, a)
	}
}

// writeShotFile writes a TFA split file naming images the way TFA does.
func writeShotFile(t *testing.T, splitDir, cls string, shots, seed int, lines ...string) {
	fixture.WriteFile(t, voc.ShotFile(splitDir, cls, shots, seed), strings.Join(lines, "\n")+"\n")
}

func TestLoadShotsTFAFormat(t *testing.T) {
	root := devkit(t)
	split := filepath.Join(root, "vocsplit")
	writeShotFile(t, split, "bird", 1, 0, "datasets/VOC2007/JPEGImages/000001.jpg")
	writeShotFile(t, split, "dog", 1, 0, "datasets/VOC2007/JPEGImages/000001.jpg")
	// 2-shot bird lists two images holding 1 + 3 birds (difficult ones count).
	writeShotFile(t, split, "bird", 2, 3, "datasets/VOC2012/JPEGImages/2008_000003.jpg", "datasets/VOC2007/JPEGImages/000002.jpg")
	writeShotFile(t, split, "dog", 2, 3, "datasets/VOC2007/JPEGImages/000001.jpg")

	ds, err := voc.LoadShots(root, split, []string{"dog", "bird"}, 1, 0, data.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Each record holds one instance of its file's class only.
	if len(ds.Records) != 2 || ds.Records[0].Classes[0] != 0 || ds.Records[1].Classes[0] != 1 ||
		ds.Records[1].Boxes[0] != [4]float32{9, 19, 30, 40} || len(ds.Records[1].Boxes) != 1 {
		t.Fatalf("records %+v", ds.Records)
	}

	ds2, err := voc.LoadShots(root, split, []string{"dog", "bird"}, 2, 3, data.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	birds := 0
	for _, r := range ds2.Records {
		if ds2.Classes[r.Classes[0]] == "bird" {
			birds++
		}
	}
	if birds != 2 || len(ds2.Records) != 3 {
		t.Fatalf("kept %d birds in %d records, want 2 in 3", birds, len(ds2.Records))
	}
	again, _ := voc.LoadShots(root, split, []string{"dog", "bird"}, 2, 3, data.LoadOptions{})
	if !reflect.DeepEqual(again, ds2) {
		t.Fatal("the K-instance choice is not deterministic")
	}
}

// TestKeepShotsDependsOnSeed checks that the instance choice changes with
// the seed (TFA's is unseeded) but not between calls.
func TestKeepShotsDependsOnSeed(t *testing.T) {
	recs := make([]data.Record, 30)
	for i := range recs {
		recs[i].ID = fmt.Sprint(i)
	}
	ids := func(seed int64) string {
		var s []string
		for _, r := range data.KeepShots(recs, "bird", 5, seed) {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	if ids(1) != ids(1) {
		t.Fatal("not deterministic")
	}
	distinct := map[string]bool{}
	for s := int64(0); s < 10; s++ {
		distinct[ids(s)] = true
	}
	if len(distinct) < 8 {
		t.Fatalf("only %d distinct choices over 10 seeds", len(distinct))
	}
}

func TestLoadShotsLayouts(t *testing.T) {
	root := devkit(t)
	split := filepath.Join(root, "vocsplit")
	// DeFRCN keeps seed 0 in seed0/.
	fixture.WriteFile(t, filepath.Join(split, "seed0", "box_1shot_dog_train.txt"), "/any/prefix/VOC2007/JPEGImages/000001.jpg\n")
	ds, err := voc.LoadShots(root, split, []string{"dog"}, 1, 0, data.LoadOptions{})
	if err != nil || len(ds.Records) != 1 {
		t.Fatalf("seed0 layout: %v %+v", err, ds)
	}
	// A single VOC-layout directory (the synthetic dataset) with any folder name.
	dir := filepath.Join(root, "VOC2007")
	writeShotFile(t, filepath.Join(dir, "vocsplit"), "dog", 1, 5, "datasets/elsewhere/JPEGImages/000001.jpg")
	ds, err = voc.LoadShots(dir, filepath.Join(dir, "vocsplit"), []string{"dog"}, 1, 5, data.LoadOptions{})
	if err != nil || len(ds.Records) != 1 {
		t.Fatalf("single directory: %v %+v", err, ds)
	}
}

func TestLoadShotsErrors(t *testing.T) {
	root := devkit(t)
	split := filepath.Join(root, "vocsplit")
	writeShotFile(t, split, "dog", 1, 0, "datasets/VOC2007/JPEGImages/000001.jpg", "datasets/VOC2007/JPEGImages/009999.jpg")
	_, err := voc.LoadShots(root, split, []string{"dog"}, 1, 0, data.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "box_1shot_dog_train.txt: line 2") || !strings.Contains(err.Error(), "009999") {
		t.Fatalf("error %v", err)
	}
	var warned []error
	ds, err := voc.LoadShots(root, split, []string{"dog"}, 1, 0, data.LoadOptions{SkipBad: true, Warn: func(e error) { warned = append(warned, e) }})
	if err != nil || len(ds.Records) != 1 || len(warned) != 1 {
		t.Fatalf("SkipBad: %v, %d records, warned %v", err, len(ds.Records), warned)
	}
	_, err = voc.LoadShots(root, split, []string{"cat"}, 1, 0, data.LoadOptions{})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "box_1shot_cat_train.txt") {
		t.Fatalf("missing split file: %v", err)
	}
	writeShotFile(t, split, "cow", 1, 0, "datasets/VOC2007/JPEGImages/000001.jpg")
	_, err = voc.LoadShots(root, split, []string{"cow"}, 1, 0, data.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "no instance of cow") {
		t.Fatalf("class absent from its images: %v", err)
	}
}

// TestPublishedTFASplit reads TFA's own seed-0 3-shot bird file against a
// fixture tree holding its three images (annotations made up: two birds in
// the first image, one in each other).
func TestPublishedTFASplit(t *testing.T) {
	root := t.TempDir()
	v7, v12 := filepath.Join(root, "VOC2007"), filepath.Join(root, "VOC2012")
	fixture.VOCImage(t, v7, "003614", 500, 375, fixture.Obj("bird", 10, 10, 50, 50), fixture.Obj("bird", 100, 100, 150, 160), fixture.Obj("person", 1, 1, 5, 5))
	fixture.VOCImage(t, v12, "2009_001208", 500, 333, fixture.Obj("bird", 20, 30, 40, 50))
	fixture.VOCImage(t, v12, "2009_000677", 375, 500, fixture.Obj("bird", 7, 8, 9, 10))
	split := filepath.Join("..", "..", "..", "testdata", "data", "vocsplit")
	ds, err := voc.LoadShots(root, split, []string{"bird"}, 3, 0, data.LoadOptions{CheckImages: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range ds.Records {
		got = append(got, r.ID)
	}
	// Four bird instances, three kept; records stay in file order.
	if len(got) != 3 || ds.NumInstances()[0] != 3 {
		t.Fatalf("records %v", got)
	}
	pos := map[string]int{"003614": 0, "2009_001208": 1, "2009_000677": 2}
	for i := 1; i < len(got); i++ {
		if pos[got[i]] < pos[got[i-1]] {
			t.Fatalf("records out of file order: %v", got)
		}
	}
}
