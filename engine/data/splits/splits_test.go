package splits_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/data/coco"
	"github.com/fsodgpu/fsodgpu/engine/data/internal/fixture"
	"github.com/fsodgpu/fsodgpu/engine/data/splits"
	"github.com/fsodgpu/fsodgpu/engine/data/voc"
)

func TestParseList(t *testing.T) {
	good := map[string][]int{
		"0-29":       seq(0, 29),
		"1,2,3,5,10": {1, 2, 3, 5, 10},
		"10, 1,2":    {1, 2, 10},
		"0-2,1-3,7":  {0, 1, 2, 3, 7},
		"4":          {4},
		"3-3":        {3},
	}
	for in, want := range good {
		got, err := splits.ParseList("seeds", in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":      "empty element",
		"1,,2":  "empty element",
		"5-2":   "ends before it starts",
		"a":     `"a" is not a non-negative integer`,
		"1-x":   `"x" is not`,
		"-3":    `"" is not`,
		"1,2.5": `"2.5" is not`,
	}
	for in, want := range bad {
		_, err := splits.ParseList("--seeds", in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--seeds") {
			t.Errorf("%q: error %v, want one mentioning %q", in, err, want)
		}
	}
}

func seq(a, b int) []int {
	var s []int
	for i := a; i <= b; i++ {
		s = append(s, i)
	}
	return s
}

// vocTree builds a VOC2007/VOC2012 pair where image i holds 1 + i%3 dogs
// and every third image a cat.
func vocTree(t *testing.T) string {
	root := t.TempDir()
	var ids7, ids12 []string
	for i := 0; i < 24; i++ {
		dir, id := filepath.Join(root, "VOC2007"), fmt.Sprintf("%06d", i)
		if i%2 == 1 {
			dir, id = filepath.Join(root, "VOC2012"), fmt.Sprintf("2008_%06d", i)
			ids12 = append(ids12, id)
		} else {
			ids7 = append(ids7, id)
		}
		var objs []voc.Object
		for k := 0; k <= i%3; k++ {
			objs = append(objs, fixture.Obj("dog", float64(1+10*k), 1, float64(8+10*k), 8))
		}
		if i%3 == 0 {
			objs = append(objs, fixture.Obj("cat", 1, 20, 9, 29))
		}
		fixture.VOCImage(t, dir, id, 40, 40, objs...)
	}
	fixture.ImageSet(t, filepath.Join(root, "VOC2007"), "trainval", ids7...)
	fixture.ImageSet(t, filepath.Join(root, "VOC2012"), "trainval", ids12...)
	return root
}

func readAll(t *testing.T, dir string) map[string]string {
	files := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestVOCRoundTrip writes splits with WriteVOC, reads them back with the
// TFA-format reader and checks K instances per class, determinism and the
// file layout.
func TestVOCRoundTrip(t *testing.T) {
	root := vocTree(t)
	out := filepath.Join(root, "vocsplit")
	opts := splits.VOCOptions{Root: root, Sets: []string{"VOC2007/trainval", "VOC2012/trainval"},
		Classes: []string{"dog", "cat"}, Shots: []int{1, 2, 3, 5}, Seeds: []int{0, 1, 2}, Out: out}
	n, err := splits.WriteVOC(opts)
	if err != nil || n != 2*4*3 {
		t.Fatalf("wrote %d files: %v", n, err)
	}
	files := readAll(t, out)
	if len(files) != n {
		t.Fatalf("%d files on disk", len(files))
	}
	first := files["box_1shot_dog_train.txt"]
	if !strings.HasPrefix(first, "datasets/VOC20") || !strings.Contains(first, "/JPEGImages/") || !strings.HasSuffix(first, ".jpg\n") {
		t.Fatalf("seed 0 file %q is not in TFA's format", first)
	}
	if _, ok := files[filepath.Join("seed2", "box_5shot_cat_train.txt")]; !ok {
		t.Fatalf("no seed2/ file among %v", files)
	}
	for _, seed := range opts.Seeds {
		for _, k := range opts.Shots {
			ds, err := voc.LoadShots(root, out, opts.Classes, k, seed, data.LoadOptions{KnownClasses: opts.Classes})
			if err != nil {
				t.Fatal(err)
			}
			if got := ds.NumInstances(); !reflect.DeepEqual(got, []int{k, k}) {
				t.Fatalf("seed %d, %d-shot: instances %v", seed, k, got)
			}
		}
	}
	// Same seed, same bytes (written again elsewhere); other seeds differ.
	opts.Out = filepath.Join(t.TempDir(), "again")
	if _, err := splits.WriteVOC(opts); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(readAll(t, opts.Out), files) {
		t.Fatal("the same seeds wrote different files")
	}
	differ := 0
	for s := 1; s <= 2; s++ {
		if files[filepath.Join(fmt.Sprint("seed", s), "box_3shot_dog_train.txt")] != files["box_3shot_dog_train.txt"] {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("every seed gave the same 3-shot dog split")
	}
	// Published files are not replaced by accident; rewriting equal bytes is fine.
	opts.Out = out
	if _, err := splits.WriteVOC(opts); err != nil {
		t.Fatalf("rewriting the same files: %v", err)
	}
	fixture.WriteFile(t, filepath.Join(out, "box_1shot_cat_train.txt"), "datasets/VOC2012/JPEGImages/2008_000003.jpg\n")
	if _, err := splits.WriteVOC(opts); err == nil || !strings.Contains(err.Error(), "box_1shot_cat_train.txt exists") {
		t.Fatalf("replaced a different file: %v", err)
	}
	opts.Overwrite = true
	if _, err := splits.WriteVOC(opts); err != nil {
		t.Fatal(err)
	}
	// A file depends only on (class, K, seed): asking for other shots or
	// seeds leaves it unchanged.
	opts.Out, opts.Shots, opts.Seeds = filepath.Join(t.TempDir(), "one"), []int{3}, []int{2}
	if _, err := splits.WriteVOC(opts); err != nil {
		t.Fatal(err)
	}
	if readAll(t, opts.Out)[filepath.Join("seed2", "box_3shot_dog_train.txt")] != files[filepath.Join("seed2", "box_3shot_dog_train.txt")] {
		t.Fatal("the 3-shot seed-2 file depends on the other shots requested")
	}
}

func TestWriteVOCErrors(t *testing.T) {
	root := vocTree(t)
	o := splits.VOCOptions{Root: root, Sets: []string{"VOC2007/trainval"}, Classes: []string{"dog", "cat", "cow"},
		Shots: []int{1}, Seeds: []int{0}, Out: t.TempDir()}
	if _, err := splits.WriteVOC(o); err == nil || !strings.Contains(err.Error(), "no image holds a cow") {
		t.Fatalf("absent class: %v", err)
	}
	o.Classes = []string{"dog"} // cat objects are then unknown
	if _, err := splits.WriteVOC(o); err == nil || !strings.Contains(err.Error(), `unknown class "cat"`) {
		t.Fatalf("unknown class: %v", err)
	}
	o.Classes, o.Shots = []string{"dog", "cat"}, []int{0}
	if _, err := splits.WriteVOC(o); err == nil {
		t.Fatal("0 shots accepted")
	}
}

// TestCOCORoundTrip writes cocosplit files with WriteCOCO and reads them
// back with coco.LoadShots: K instances per class (all 7 airplanes when K
// exceeds them), TFA's file content, the same bytes for the same seeds.
func TestCOCORoundTrip(t *testing.T) {
	dir := t.TempDir()
	type img struct {
		ID       int    `json:"id"`
		FileName string `json:"file_name"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
		License  int    `json:"license"`
	}
	type ann struct {
		ID       int       `json:"id"`
		ImageID  int       `json:"image_id"`
		Category int       `json:"category_id"`
		BBox     []float64 `json:"bbox"`
		Area     float64   `json:"area"`
		IsCrowd  int       `json:"iscrowd"`
	}
	var images []img
	var anns []ann
	for i := 1; i <= 30; i++ {
		images = append(images, img{ID: 100 + i, FileName: fmt.Sprintf("%d.jpg", i), Width: 64, Height: 48, License: 3})
		fixture.Image(t, filepath.Join(dir, "images", fmt.Sprintf("%d.jpg", i)), 64, 48, fixture.Grey)
		for k := 0; k <= i%3; k++ {
			anns = append(anns, ann{ID: len(anns) + 1, ImageID: 100 + i, Category: 18, BBox: []float64{float64(2 + 10*k), 2, 8, 8}, Area: 64})
		}
		if i%4 == 0 {
			anns = append(anns, ann{ID: len(anns) + 1, ImageID: 100 + i, Category: 5, BBox: []float64{1, 30, 20, 10}, Area: 200})
		}
		if i%5 == 0 { // crowd boxes are never sampled
			anns = append(anns, ann{ID: len(anns) + 1, ImageID: 100 + i, Category: 5, BBox: []float64{0, 0, 64, 48}, Area: 3072, IsCrowd: 1})
		}
	}
	src, _ := json.Marshal(map[string]any{"info": map[string]string{"year": "2014"}, "licenses": []any{}, "images": images,
		"annotations": anns, "categories": []coco.Category{{ID: 18, Name: "dog"}, {ID: 5, Name: "airplane"}}})
	annFile := filepath.Join(dir, "trainvalno5k.json")
	fixture.WriteFile(t, annFile, string(src))
	out := filepath.Join(dir, "cocosplit")
	o := splits.COCOOptions{AnnFile: annFile, Shots: []int{1, 2, 5, 10}, Seeds: []int{0, 1}, Out: out}
	if n, err := splits.WriteCOCO(o); err != nil || n != 16 {
		t.Fatalf("wrote %d: %v", n, err)
	}
	files := readAll(t, out)
	var f struct {
		Info        map[string]string `json:"info"`
		Images      []img             `json:"images"`
		Annotations []ann             `json:"annotations"`
		Categories  []coco.Category   `json:"categories"`
	}
	if err := json.Unmarshal([]byte(files[filepath.Join("seed1", "full_box_5shot_airplane_trainval.json")]), &f); err != nil {
		t.Fatal(err)
	}
	if f.Info["year"] != "2014" || len(f.Categories) != 2 || len(f.Annotations) != 5 || f.Images[0].License != 3 {
		t.Fatalf("airplane 5-shot file %+v", f)
	}
	for _, a := range f.Annotations {
		if a.Category != 5 || a.IsCrowd != 0 {
			t.Fatalf("annotation %+v in the airplane file", a)
		}
	}
	for _, seed := range o.Seeds {
		for _, k := range o.Shots {
			ds, err := coco.LoadShots(out, filepath.Join(dir, "images"), []string{"airplane", "dog"}, k, seed, data.LoadOptions{CheckImages: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := ds.NumInstances(); !reflect.DeepEqual(got, []int{min(k, 7), k}) {
				t.Fatalf("seed %d %d-shot: %v", seed, k, got)
			}
		}
	}
	o.Out = filepath.Join(dir, "again")
	if _, err := splits.WriteCOCO(o); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(readAll(t, o.Out), files) {
		t.Fatal("the same seeds wrote different files")
	}
}
