package voc

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/internal/fuzzseed"
)

// FuzzReadAnnotation: an annotation is parsed or refused with an error;
// whatever is accepted has a positive size and finite, ordered boxes.
func FuzzReadAnnotation(f *testing.F) {
	fuzzseed.Add(f, []string{"testdata/eval-cases/case1_mixed/voc/Annotations", "testdata/bad/voc"}, ".xml")
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := ReadAnnotation(fuzzseed.File(t, "a.xml", raw))
		if err != nil {
			return
		}
		if a.Width <= 0 || a.Height <= 0 {
			t.Fatalf("accepted size %dx%d", a.Width, a.Height)
		}
		for _, o := range a.Objects {
			for _, v := range []float64{o.XMin, o.YMin, o.XMax, o.YMax} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("accepted non-finite box %+v", o)
				}
			}
			if o.XMin > o.XMax || o.YMin > o.YMax {
				t.Fatalf("accepted reversed box %+v", o)
			}
		}
	})
}

// FuzzSplitFile: a K-shot split file (one image path a line) is read against
// a one-image devkit or refused; accepted records carry the split's class.
func FuzzSplitFile(f *testing.F) {
	fuzzseed.Add(f, []string{"testdata/data/vocsplit", "testdata/bad/voc"}, "_train.txt")
	f.Add([]byte("JPEGImages/a.jpg\n"))
	ann := []byte(`<annotation><filename>a.jpg</filename><size><width>32</width><height>24</height></size>
<object><name>car</name><difficult>0</difficult><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>18</ymax></bndbox></object></annotation>`)
	f.Fuzz(func(t *testing.T, raw []byte) {
		root := t.TempDir()
		for p, b := range map[string][]byte{
			"Annotations/a.xml":                ann,
			"JPEGImages/a.jpg":                 []byte("not decoded here"),
			"vocsplit/box_1shot_car_train.txt": raw,
		} {
			p = filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ds, err := LoadShots(root, filepath.Join(root, "vocsplit"), []string{"car"}, 1, 0,
			data.LoadOptions{KnownClasses: []string{"car", "dog"}})
		if err != nil {
			return
		}
		for _, r := range ds.Records {
			for _, c := range r.Classes {
				if c != 0 {
					t.Fatalf("record %s has class %d", r.ID, c)
				}
			}
		}
	})
}
