package coco_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/data/coco"
	"github.com/fsodgpu/fsodgpu/engine/data/internal/fixture"
)

// instances is a small file with non-contiguous category ids, a crowd
// annotation and an image without annotations; images are listed out of id
// order.
const instances = `{
 "info": {"description": "test"},
 "images": [
  {"id": 42, "file_name": "b.jpg", "width": 60, "height": 40},
  {"id": 7, "file_name": "a.jpg", "width": 50, "height": 50},
  {"id": 9, "file_name": "c.jpg", "width": 30, "height": 30}
 ],
 "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}, {"id": 90, "name": "toothbrush"}],
 "annotations": [
  {"id": 1, "image_id": 42, "category_id": 18, "bbox": [10, 5, 20.5, 10], "area": 205, "iscrowd": 0},
  {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2500, "iscrowd": 1},
  {"id": 3, "image_id": 7, "category_id": 90, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0},
  {"id": 4, "image_id": 42, "category_id": 1, "bbox": [30, 10, 5, 5], "area": 25, "iscrowd": 0}
 ]
}`

func tree(t *testing.T, ann string) (annFile, imageDir string) {
	dir := t.TempDir()
	imageDir = filepath.Join(dir, "images")
	for _, im := range []struct {
		name string
		w, h int
	}{{"a.jpg", 50, 50}, {"b.jpg", 60, 40}, {"c.jpg", 30, 30}} {
		fixture.Image(t, filepath.Join(imageDir, im.name), im.w, im.h, fixture.Grey)
	}
	annFile = filepath.Join(dir, "instances.json")
	fixture.WriteFile(t, annFile, ann)
	return annFile, imageDir
}

func TestLoad(t *testing.T) {
	annFile, imageDir := tree(t, instances)
	ds, err := coco.Load(annFile, imageDir, data.LoadOptions{CheckImages: true})
	if err != nil {
		t.Fatal(err)
	}
	// Classes in category-id order; records in image-id order.
	if !reflect.DeepEqual(ds.Classes, []string{"person", "dog", "toothbrush"}) {
		t.Fatalf("classes %v", ds.Classes)
	}
	var ids []string
	for _, r := range ds.Records {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "7,9,42" {
		t.Fatalf("image order %v", ids)
	}
	a, c, b := ds.Records[0], ds.Records[1], ds.Records[2]
	if a.File != filepath.Join(imageDir, "a.jpg") || !reflect.DeepEqual(a.Crowd, []bool{true, false}) ||
		!reflect.DeepEqual(a.Classes, []int{0, 2}) || a.Difficult != nil {
		t.Fatalf("image 7: %+v", a)
	}
	if len(c.Boxes) != 0 {
		t.Fatalf("image 9: %+v", c)
	}
	// [x,y,w,h] -> [x1,y1,x2,y2], no pixel offset.
	if !reflect.DeepEqual(b.Boxes, [][4]float32{{10, 5, 30.5, 15}, {30, 10, 35, 15}}) || !reflect.DeepEqual(b.Classes, []int{1, 0}) {
		t.Fatalf("image 42: %+v", b)
	}
	// A chosen class list selects and orders the classes by name.
	ds, err = coco.Load(annFile, imageDir, data.LoadOptions{Classes: []string{"dog"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := ds.NumInstances(); len(ds.Records) != 3 || !reflect.DeepEqual(n, []int{1}) {
		t.Fatalf("dog only: %d records, %v", len(ds.Records), n)
	}
	if _, err := coco.Load(annFile, imageDir, data.LoadOptions{Classes: []string{"cat"}}); err == nil || !strings.Contains(err.Error(), `"cat"`) {
		t.Fatalf("unknown class: %v", err)
	}
}

func TestSplit(t *testing.T) {
	base, novel, all := coco.Split()
	if len(base) != 60 || len(novel) != 20 || len(all) != 80 {
		t.Fatalf("%d base, %d novel, %d all", len(base), len(novel), len(all))
	}
	for _, c := range []string{"person", "airplane", "boat", "bottle", "couch", "tv", "potted plant", "dining table"} {
		found := false
		for _, n := range novel {
			found = found || n == c
		}
		if !found {
			t.Errorf("%s is not novel", c)
		}
	}
	if base[0] != "truck" || novel[0] != "person" {
		t.Fatalf("order: base %v novel %v", base[:3], novel[:3])
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, from, to string
		want           []string
	}{
		{"malformed JSON", `"iscrowd": 0}
 ]`, `"iscrowd": 0}
 ,]`, []string{"instances.json", "malformed JSON", "line 14"}},
		{"unknown category", `"category_id": 90`, `"category_id": 91`, []string{"annotation 3 (id 3)", "unknown category_id 91"}},
		{"box outside", `[30, 10, 5, 5]`, `[30, 10, 50, 5]`, []string{"annotation 4 (id 4)", "outside the 60x40 image"}},
		{"negative size", `[30, 10, 5, 5]`, `[30, 10, -5, 5]`, []string{"annotation 4", "negative width"}},
		{"short bbox", `[30, 10, 5, 5]`, `[30, 10, 5]`, []string{"annotation 4", "4 numbers"}},
		{"unknown image", `"image_id": 42, "category_id": 1,`, `"image_id": 43, "category_id": 1,`, []string{"annotation 4", "image_id 43"}},
		{"no images", `"images"`, `"imgs"`, []string{"not a COCO instances file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(instances, c.from) {
				t.Fatalf("fixture lacks %q", c.from)
			}
			annFile, imageDir := tree(t, strings.Replace(instances, c.from, c.to, 1))
			_, err := coco.Load(annFile, imageDir, data.LoadOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// An unreadable image is found when CheckImages decodes the headers.
	annFile, imageDir := tree(t, instances)
	fixture.WriteFile(t, filepath.Join(imageDir, "b.jpg"), "not a jpeg")
	if _, err := coco.Load(annFile, imageDir, data.LoadOptions{}); err != nil {
		t.Fatalf("without CheckImages: %v", err)
	}
	if _, err := coco.Load(annFile, imageDir, data.LoadOptions{CheckImages: true}); err == nil ||
		!strings.Contains(err.Error(), "b.jpg: unreadable image") {
		t.Fatalf("unreadable image: %v", err)
	}
	// Bad annotations and images are per image under SkipBad.
	annFile, imageDir = tree(t, strings.Replace(instances, `[30, 10, 5, 5]`, `[30, 10, 50, 5]`, 1))
	os.Remove(filepath.Join(imageDir, "c.jpg"))
	var warned []string
	ds, err := coco.Load(annFile, imageDir, data.LoadOptions{CheckImages: true, SkipBad: true, Warn: func(e error) { warned = append(warned, e.Error()) }})
	if err != nil || len(ds.Records) != 1 || ds.Records[0].ID != "7" || len(warned) != 2 {
		t.Fatalf("SkipBad: %v, %+v, %v", err, ds, warned)
	}
	if !strings.Contains(warned[0], "c.jpg") || !strings.Contains(warned[0], "missing image") {
		t.Fatalf("warnings %v", warned)
	}
}

// A TFA split file: images and the class's annotations only.
const dogShots = `{"images": [{"id": 42, "file_name": "b.jpg", "width": 60, "height": 40}, {"id": 7, "file_name": "a.jpg", "width": 50, "height": 50}],
 "annotations": [{"id": 1, "image_id": 42, "category_id": 18, "bbox": [10, 5, 20, 10], "iscrowd": 0},
  {"id": 5, "image_id": 7, "category_id": 18, "bbox": [1, 1, 5, 5], "iscrowd": 0},
  {"id": 6, "image_id": 7, "category_id": 18, "bbox": [20, 20, 5, 5], "iscrowd": 0}],
 "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}]}`

func TestLoadShots(t *testing.T) {
	_, imageDir := tree(t, instances)
	split := t.TempDir()
	fixture.WriteFile(t, coco.ShotFile(split, "dog", 2, 4), dogShots)
	fixture.WriteFile(t, coco.ShotFile(split, "person", 2, 4), strings.NewReplacer(`"category_id": 18`, `"category_id": 1`).Replace(dogShots))
	ds, err := coco.LoadShots(split, imageDir, []string{"person", "dog"}, 2, 4, data.LoadOptions{CheckImages: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.NumInstances(); !reflect.DeepEqual(got, []int{2, 2}) || len(ds.Records) != 4 {
		t.Fatalf("instances %v in %d records", got, len(ds.Records))
	}
	for _, r := range ds.Records {
		if len(r.Boxes) != 1 {
			t.Fatalf("record %+v holds %d boxes", r, len(r.Boxes))
		}
	}
	again, _ := coco.LoadShots(split, imageDir, []string{"person", "dog"}, 2, 4, data.LoadOptions{})
	if !reflect.DeepEqual(again.Records, ds.Records) {
		t.Fatal("not deterministic")
	}
	if coco.ShotFile("cs", "traffic light", 30, 0) != filepath.Join("cs", "full_box_30shot_traffic light_trainval.json") {
		t.Fatal(coco.ShotFile("cs", "traffic light", 30, 0))
	}
	fixture.WriteFile(t, coco.ShotFile(split, "dog", 1, 0), strings.Replace(dogShots, `"file_name": "b.jpg"`, `"file_name": "zz.jpg"`, 1))
	_, err = coco.LoadShots(split, imageDir, []string{"dog"}, 1, 0, data.LoadOptions{CheckImages: true})
	if err == nil || !strings.Contains(err.Error(), "full_box_1shot_dog_trainval.json") || !strings.Contains(err.Error(), "zz.jpg") {
		t.Fatalf("missing image in a split: %v", err)
	}
}
