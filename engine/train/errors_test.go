package train

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/eval"
)

func TestFinetuneWritesErrorAnalysis(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny detector")
	}
	root := synthRoot(t, 40, 2)
	j := tinyJob(t, root, filepath.Join(t.TempDir(), "ft"), 1)
	j.Kind = "finetune"
	// The test set holds the base classes only; call the last one novel.
	n := len(j.Test.Classes)
	for c := 0; c < n-1; c++ {
		j.Base = append(j.Base, c)
	}
	j.Novel = []int{n - 1}
	j.Info = JobInfo{Dataset: "synth", Protocol: "gfsod", Shots: 1}
	if _, err := j.Run(); err != nil {
		t.Fatal(err)
	}
	var rep eval.ErrorReport
	data, err := os.ReadFile(filepath.Join(j.Dir, "errors.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Base == nil || rep.Novel == nil || rep.Confusion == nil || len(rep.PerClass) != len(j.Test.Classes) {
		t.Fatalf("errors.json lacks the split or classes: %s", data)
	}
	sum := 0
	for _, c := range rep.PerClass {
		sum += c.N
	}
	o := rep.Overall
	if sum != o.N || o.Correct+o.Localization+o.Similar+o.Other+o.Background != o.N || rep.Base.N+rep.Novel.N != o.N {
		t.Fatalf("counts do not add up: %s", data)
	}
	if st, err := os.Stat(filepath.Join(j.Dir, "errors.png")); err != nil || st.Size() < 1000 {
		t.Fatalf("errors.png: %v", err)
	}
}
