package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

const goodCOCOGT = `{"images": [{"id": 7}, {"id": 3}],
 "categories": [{"id": 44, "name": "bottle"}, {"id": 1, "name": "person"}],
 "annotations": [
  {"id": 1, "image_id": 7, "category_id": 44, "bbox": [10, 10, 20, 30], "area": 600, "iscrowd": 0},
  {"id": 2, "image_id": 3, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2500}
 ]}`

func TestReadCOCOGroundTruth(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gt.json")
	writeFile(t, p, goodCOCOGT)
	g, err := ReadCOCOGroundTruth(p)
	if err != nil {
		t.Fatal(err)
	}
	// Images and categories in increasing id order, as COCOeval's params.
	if len(g.ImageIDs) != 2 || g.ImageIDs[0] != 3 || g.Categories[0].ID != 1 || g.Categories[1].Name != "bottle" {
		t.Errorf("ids %v categories %v", g.ImageIDs, g.Categories)
	}
	if k, ok := g.ClassIndex(44); !ok || k != 1 {
		t.Errorf("ClassIndex(44) = %d, %v", k, ok)
	}
	if _, ok := g.ClassIndex(2); ok {
		t.Error("ClassIndex(2) found")
	}
	gts := g.images[1].gts // image 7
	if len(gts) != 1 || gts[0].box != (cocoBox{10, 10, 20, 30}) || gts[0].area != 600 || gts[0].cat != 1 {
		t.Errorf("image 7 GT %+v", gts)
	}
}

func TestCOCOBadInput(t *testing.T) {
	dir := t.TempDir()
	gtCases := []struct{ text, want string }{
		{`{"images": [`, "malformed JSON"},
		{`{"images": [{"id": "a"}]}`, "images.id"},
		{strings.Replace(goodCOCOGT, `"category_id": 44`, `"category_id": 5`, 1), "annotation 0 (id 1): category_id 5 is not in categories"},
		{strings.Replace(goodCOCOGT, `"image_id": 3,`, `"image_id": 9,`, 1), "annotation 1 (id 2): image_id 9 is not in images"},
		{strings.Replace(goodCOCOGT, `[10, 10, 20, 30]`, `[10, 10, 20]`, 1), "bbox has 3 numbers"},
		{strings.Replace(goodCOCOGT, `[10, 10, 20, 30]`, `[10, 10, -20, 30]`, 1), "negative width"},
		{strings.Replace(goodCOCOGT, `, "area": 2500`, ``, 1), "missing area"},
		{strings.Replace(goodCOCOGT, `{"id": 3}`, `{"id": 7}`, 1), "duplicate image id 7"},
		{strings.Replace(goodCOCOGT, `{"id": 1, "name"`, `{"id": 44, "name"`, 1), "duplicate category id 44"},
	}
	p := filepath.Join(dir, "gt.json")
	for _, c := range gtCases {
		writeFile(t, p, c.text)
		_, err := ReadCOCOGroundTruth(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "gt.json") {
			t.Errorf("error %v, want one naming gt.json and %q", err, c.want)
		}
	}
	if _, err := ReadCOCOGroundTruth(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}

	writeFile(t, p, goodCOCOGT)
	g, err := ReadCOCOGroundTruth(p)
	if err != nil {
		t.Fatal(err)
	}
	resCases := []struct{ text, want string }{
		{`{"image_id": 7}`, "want a JSON list"},
		{`[{"image_id": 7, "category_id": 44, "bbox": [1, 2, 3, 4], "score": 0.5}`, "malformed JSON"},
		{`[{"image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]`, "result 0: unknown category_id 2"},
		{`[{"image_id": 7, "category_id": 44, "bbox": [1, 2, 3, 4], "score": 0.5}, {"image_id": 8, "category_id": 44, "bbox": [1, 2, 3, 4], "score": 0.5}]`, "result 1: image_id 8 is not in the ground truth"},
		{`[{"image_id": 7, "category_id": 44, "bbox": [1, 2, 3, 4]}]`, "missing score"},
		{`[{"image_id": 7, "category_id": 44, "bbox": [1, 2, 3], "score": 0.5}]`, "bbox has 3 numbers"},
	}
	rp := filepath.Join(dir, "dets.json")
	for _, c := range resCases {
		writeFile(t, rp, c.text)
		_, err := ReadCOCOResults(rp, g)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "dets.json") {
			t.Errorf("%s: error %v, want one naming dets.json and %q", c.text, err, c.want)
		}
	}
	// The "unknown category" message is COCO's results wording for a wrong
	// id mapping; the in-memory path rejects it too.
	if _, err := g.Evaluate([]COCOResultEntry{{ImageID: 7, CategoryID: 99, BBox: [4]float64{1, 2, 3, 4}, Score: 1}}); err == nil {
		t.Error("Evaluate accepted an unknown category")
	}
}

func TestCOCOResultsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "gt.json")
	writeFile(t, p, goodCOCOGT)
	g, err := ReadCOCOGroundTruth(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []COCOResultEntry{{ImageID: 7, CategoryID: 44, BBox: [4]float64{10, 10, 20, 30}, Score: 0.25}}
	rp := filepath.Join(dir, "dets.json")
	if err := WriteCOCOResults(rp, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCOCOResults(rp, g)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("read back %+v", got)
	}
	res, err := g.Evaluate(got)
	if err != nil {
		t.Fatal(err)
	}
	// bottle found exactly; person missed. Precision is tp/(tp+fp+eps) as in
	// pycocotools, so a perfect AP is 1 only to within an ulp.
	approx(t, "bottle AP", res.PerClass[1].AP, 1)
	approx(t, "person AP", res.PerClass[0].AP, 0)
	approx(t, "AP", res.Stats[0], 0.5)
}

const vocXMLTemplate = `<annotation>
  <filename>%s.jpg</filename>
  <object><name>car</name><difficult>0</difficult><bndbox><xmin>10</xmin><ymin>20</ymin><xmax>110</xmax><ymax>220</ymax></bndbox></object>
  <object><name>dog</name><difficult>1</difficult><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>50</xmax><ymax>50</ymax></bndbox></object>
  <object><name>zebra</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>50</xmax><ymax>50</ymax></bndbox></object>
</annotation>`

func writeDevkit(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "ImageSets", "Main", "test.txt"), "000001\n000002\n\n")
	writeFile(t, filepath.Join(dir, "Annotations", "000001.xml"), strings.Replace(vocXMLTemplate, "%s", "000001", 1))
	writeFile(t, filepath.Join(dir, "Annotations", "000002.xml"), "<annotation><filename>000002.jpg</filename></annotation>")
}

func TestReadVOCDevkit(t *testing.T) {
	dir := t.TempDir()
	writeDevkit(t, dir)
	k, err := ReadVOCDevkit(dir, "test", []string{"car", "dog", "cat"})
	if err != nil {
		t.Fatal(err)
	}
	if len(k.ImageIDs) != 2 || k.Data.NumPositives(0) != 1 || k.Data.NumObjects(1) != 1 || k.Data.NumPositives(1) != 0 || k.Data.NumObjects(2) != 0 {
		t.Errorf("images %v car npos %d dog objects %d", k.ImageIDs, k.Data.NumPositives(0), k.Data.NumObjects(1))
	}
	if b := k.Data.objects[0][0][0].box; b != (Box{10, 20, 110, 220}) {
		t.Errorf("car box %v", b)
	}
	dets := filepath.Join(dir, "dets")
	// The second box is narrower than a pixel: (x1+1, y1+1, x2, y2) has
	// xmin > xmax, which result files allow.
	writeFile(t, filepath.Join(dets, "comp4_det_test_car.txt"), "000001 0.9 10 20 110 220\n000002 0.8 1.7 1 1.2 5\n")
	writeFile(t, filepath.Join(dets, "comp4_det_test_dog.txt"), "")
	if err := k.ReadDetections(dets); err != nil {
		t.Fatal(err)
	}
	if !k.Data.HasDetections(0) || !k.Data.HasDetections(1) || k.Data.HasDetections(2) || k.Data.NumDetections(0) != 2 {
		t.Errorf("HasDetections %v %v %v, car dets %d", k.Data.HasDetections(0), k.Data.HasDetections(1), k.Data.HasDetections(2), k.Data.NumDetections(0))
	}
	if ap, ok := k.Data.AP(0, 0.5, VOCArea); !ok || ap != 1 {
		t.Errorf("car AP %g %v", ap, ok)
	}
	rep := NewVOCReport(k, []float64{0.5}, VOC07)
	// car: AP; dog: only a difficult object and an empty file → null; cat:
	// nothing at all → null, still listed.
	if len(rep.Classes) != 3 || rep.Classes[0].Class != "car" || rep.Classes[1].AP != nil || rep.Classes[2].AP != nil || rep.Key() != "mAP50" {
		t.Errorf("report %+v", rep)
	}
	if r75 := NewVOCReport(k, []float64{0.75}, VOCArea); r75.Key() != "mAP75" {
		t.Errorf("key at 0.75: %s", r75.Key())
	}
}

func TestVOCBadInput(t *testing.T) {
	classes := []string{"car", "dog"}
	annCases := []struct{ xml, want string }{
		{"<annotation><object><name>car</name>", "Annotations/000001.xml: malformed XML"},
		{strings.Replace(vocXMLTemplate, "<xmax>110</xmax>", "<xmax>5</xmax>", 1), "Annotations/000001.xml: object 1 (car): bndbox xmin 10 > xmax 5"},
		{strings.Replace(vocXMLTemplate, "<ymax>50</ymax>", "<ymax>1</ymax>", 1), "object 2 (dog): bndbox ymin 5 > ymax 1"},
		{strings.Replace(vocXMLTemplate, "<xmin>10</xmin>", "<xmin>ten</xmin>", 1), `bndbox xmin "ten" is not a number`},
		{strings.Replace(vocXMLTemplate, "<difficult>0</difficult>", "<difficult>no</difficult>", 1), `<difficult> "no"`},
		{strings.Replace(vocXMLTemplate, "<name>car</name>", "<name></name>", 1), "object 1: missing <name>"},
	}
	for _, c := range annCases {
		dir := t.TempDir()
		writeDevkit(t, dir)
		writeFile(t, filepath.Join(dir, "Annotations", "000001.xml"), strings.Replace(c.xml, "%s", "000001", 1))
		_, err := ReadVOCDevkit(dir, "test", classes)
		if err == nil || !strings.Contains(filepath.ToSlash(err.Error()), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}

	dir := t.TempDir()
	writeDevkit(t, dir)
	if err := os.Remove(filepath.Join(dir, "Annotations", "000002.xml")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadVOCDevkit(dir, "test", classes); err == nil || !strings.Contains(filepath.ToSlash(err.Error()), "Annotations/000002.xml: missing") {
		t.Errorf("missing annotation: %v", err)
	}
	if _, err := ReadVOCDevkit(dir, "trainval", classes); err == nil || !strings.Contains(err.Error(), "trainval.txt") {
		t.Errorf("missing image set: %v", err)
	}

	detCases := []struct{ text, want string }{
		{"000001 0.9 10 20 110\n", "line 1: 5 fields, want 6"},
		{"000001 0.9 10 20 110 220\n000009 0.9 10 20 110 220\n", "line 2: image 000009 is not in ImageSets/Main/test.txt"},
		{"000001 high 10 20 110 220\n", `field 2 "high" is not a number`},
		{"000001 0.9 110 20 10 220\n", "line 1: xmin 110 > xmax 10"},
		{"000001 0.9 10 20 110 220\n000001 0.9 10 221.5 110 220\n", "line 2: ymin 221.5 > ymax 220"},
		{"000001 0.9 10 20 110 NaN\n", `field 6 "NaN" is not a number`},
	}
	for _, c := range detCases {
		dir := t.TempDir()
		writeDevkit(t, dir)
		k, err := ReadVOCDevkit(dir, "test", classes)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "dets", "comp4_det_test_car.txt"), c.text)
		err = k.ReadDetections(filepath.Join(dir, "dets"))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "comp4_det_test_car.txt") {
			t.Errorf("error %v, want one naming the file and %q", err, c.want)
		}
	}
}
