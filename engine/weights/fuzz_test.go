package weights

import (
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/internal/fuzzseed"
)

// FuzzReadPth feeds arbitrary files to the .pth reader (zip and legacy
// formats): an error or consistent tensors, never a panic, and no allocation
// beyond the file (the Go fuzzer reports an allocation over its limit).
func FuzzReadPth(f *testing.F) {
	fuzzseed.Add(f, []string{"testdata/bad/weights"}, ".pth")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadPth(fuzzseed.File(t, "x.pth", data))
		if err != nil {
			return
		}
		for k, x := range got {
			if v, err := x.Float32(); err != nil || len(v) != x.Numel() {
				t.Fatalf("%s: %d values for shape %v (%v)", k, len(v), x.Shape, err)
			}
		}
	})
}

// FuzzReadPkl is FuzzReadPth for detectron2/MSRA pickles of numpy arrays.
func FuzzReadPkl(f *testing.F) {
	fuzzseed.Add(f, []string{"testdata/bad/weights"}, ".pkl", ".pth")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadPkl(fuzzseed.File(t, "x.pkl", data))
		if err != nil {
			return
		}
		for k, x := range got {
			if v, err := x.Float32(); err != nil || len(v) != x.Numel() {
				t.Fatalf("%s: %d values for shape %v (%v)", k, len(v), x.Shape, err)
			}
		}
	})
}
