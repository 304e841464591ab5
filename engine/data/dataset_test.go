package data_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/data"
)

func TestRecordPerBox(t *testing.T) {
	r := data.Record{ID: "7", File: "a.jpg", Width: 4, Height: 5,
		Boxes: [][4]float32{{0, 0, 1, 1}, {1, 1, 2, 2}}, Classes: []int{3, 4}, Crowd: []bool{false, true}}
	got := r.PerBox()
	if len(got) != 2 || got[1].Classes[0] != 4 || got[1].Boxes[0] != [4]float32{1, 1, 2, 2} || !got[1].Crowd[0] ||
		got[0].Crowd[0] || got[0].Difficult != nil || got[1].File != "a.jpg" || got[1].Width != 4 {
		t.Fatalf("PerBox: %+v", got)
	}
	if len(got[0].Boxes) != 1 || len(got[0].Classes) != 1 {
		t.Fatalf("PerBox record 0 holds %d boxes", len(got[0].Boxes))
	}
}

func TestShotSplitFile(t *testing.T) {
	dir := t.TempDir()
	if got := data.ShotSplitFile(dir, "f.txt", 3); got != filepath.Join(dir, "seed3", "f.txt") {
		t.Fatalf("seed 3: %s", got)
	}
	if got := data.ShotSplitFile(dir, "f.txt", 0); got != filepath.Join(dir, "f.txt") {
		t.Fatalf("seed 0 with neither file: %s", got)
	}
	if err := os.MkdirAll(filepath.Join(dir, "seed0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed0", "f.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := data.ShotSplitFile(dir, "f.txt", 0); got != filepath.Join(dir, "seed0", "f.txt") {
		t.Fatalf("seed 0 only in seed0/: %s", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := data.ShotSplitFile(dir, "f.txt", 0); got != filepath.Join(dir, "f.txt") {
		t.Fatalf("seed 0 at the top wins: %s", got)
	}
}
