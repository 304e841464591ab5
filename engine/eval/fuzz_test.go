package eval

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/internal/fuzzseed"
)

// fuzzDevkit writes a one-image devkit (image "a") whose annotation is ann.
func fuzzDevkit(t *testing.T, ann []byte) string {
	dir := t.TempDir()
	for p, b := range map[string][]byte{
		"ImageSets/Main/test.txt": []byte("a\n"),
		"Annotations/a.xml":       ann,
	} {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// FuzzVOCAnnotation: an annotation is read or refused with an error; every
// accepted object has an ordered box.
func FuzzVOCAnnotation(f *testing.F) {
	fuzzseed.Add(f, []string{"testdata/eval-cases/case1_mixed/voc/Annotations", "testdata/bad/voc"}, ".xml")
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ReadVOCDevkit(fuzzDevkit(t, data), "test", nil)
		if err != nil {
			return
		}
		for c := range k.Classes {
			for _, objs := range k.Data.objects[c] {
				for _, o := range objs {
					if o.box[0] > o.box[2] || o.box[1] > o.box[3] {
						t.Fatalf("class %s: accepted box %v", k.Classes[c], o.box)
					}
				}
			}
		}
		rep := NewVOCReport(k, []float64{0.5}, VOC07)
		if len(rep.Classes) != len(k.Classes) {
			t.Fatalf("report lists %d of %d classes", len(rep.Classes), len(k.Classes))
		}
	})
}

// FuzzVOCDetections: a devkit result file is read or refused; the AP of
// whatever is accepted is in [0, 1].
func FuzzVOCDetections(f *testing.F) {
	fuzzseed.Add(f, []string{"testdata/eval-cases/case1_mixed/voc_dets", "testdata/bad/voc"}, ".txt")
	ann := []byte(`<annotation><object><name>car</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>18</ymax></bndbox></object></annotation>`)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := fuzzDevkit(t, ann)
		dets := filepath.Join(dir, "dets")
		if err := os.Mkdir(dets, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dets, VOCResultFile("test", "car")), data, 0o644); err != nil {
			t.Fatal(err)
		}
		k, err := ReadVOCDevkit(dir, "test", []string{"car"})
		if err != nil {
			t.Fatal(err)
		}
		if err := k.ReadDetections(dets); err != nil {
			return
		}
		for _, m := range []VOCMetric{VOC07, VOCArea} {
			if ap, ok := k.Data.AP(0, 0.5, m); !ok || !(ap >= 0 && ap <= 1+1e-9) {
				t.Fatalf("%s AP %g (%v)", m, ap, ok)
			}
		}
	})
}

// FuzzCOCOGroundTruth: an instances file is read or refused; an accepted one
// evaluates (against no detections) without error.
func FuzzCOCOGroundTruth(f *testing.F) {
	fuzzseed.Add(f, []string{"testdata/eval-cases", "testdata/bad/coco"}, "gt.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		gt, err := ReadCOCOGroundTruth(fuzzseed.File(t, "gt.json", data))
		if err != nil {
			return
		}
		if _, err := gt.Evaluate(nil); err != nil {
			t.Fatalf("accepted ground truth does not evaluate: %v", err)
		}
	})
}

// FuzzCOCOResults: a results file is read or refused against a fixed ground
// truth; accepted results evaluate to stats in [-1, 1].
func FuzzCOCOResults(f *testing.F) {
	fuzzseed.Add(f, []string{"testdata/eval-cases/case1_mixed", "testdata/bad/coco"}, ".json")
	root := fuzzseed.Root()
	gt, err := ReadCOCOGroundTruth(filepath.Join(root, "testdata/eval-cases/case1_mixed/gt.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dets, err := ReadCOCOResults(fuzzseed.File(t, "results.json", data), gt)
		if err != nil {
			return
		}
		res, err := gt.Evaluate(dets)
		if err != nil {
			return
		}
		for i, s := range res.Stats {
			if !(s >= -1 && s <= 1+1e-9) {
				t.Fatalf("stat %d = %g", i, s)
			}
		}
	})
}
