package coco

import (
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/internal/fuzzseed"
)

// FuzzLoadInstances: an instances JSON is loaded into a dataset or refused;
// every accepted box lies inside its image.
func FuzzLoadInstances(f *testing.F) {
	fuzzseed.Add(f, []string{"testdata/eval-cases", "testdata/bad/coco"}, ".json")
	f.Fuzz(func(t *testing.T, raw []byte) {
		path := fuzzseed.File(t, "instances.json", raw)
		ds, err := Load(path, t.TempDir(), data.LoadOptions{SkipBad: true, Warn: func(error) {}})
		if err != nil {
			return
		}
		for _, r := range ds.Records {
			if r.Width <= 0 || r.Height <= 0 {
				t.Fatalf("image %s: accepted size %dx%d", r.ID, r.Width, r.Height)
			}
			for i, b := range r.Boxes {
				if !(b[0] >= 0 && b[1] >= 0 && b[0] <= b[2] && b[1] <= b[3] && b[2] <= float32(r.Width) && b[3] <= float32(r.Height)) {
					t.Fatalf("image %s: accepted box %d %v in %dx%d", r.ID, i, b, r.Width, r.Height)
				}
				if c := r.Classes[i]; c < 0 || c >= len(ds.Classes) {
					t.Fatalf("image %s: class %d of %d", r.ID, c, len(ds.Classes))
				}
			}
		}
	})
}
