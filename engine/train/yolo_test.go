package train

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/model"
)

// The YOLOv1 arm goes through the same job code: train, checkpoint,
// evaluate, surgery, fine-tune, errors.json.
func TestYOLOv1JobAndSurgery(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny YOLOv1")
	}
	root := synthRoot(t, 40, 4)
	j := tinyJob(t, root, filepath.Join(t.TempDir(), "base"), 3)
	j.Model.Arch = model.ArchYOLOv1
	j.Model.Backbone.Norm = ""
	j.Model.YOLO.Backbone, j.Model.YOLO.InputSize, j.Model.YOLO.S = "fast", 64, 1
	j.Model.YOLO.Width, j.Model.YOLO.FC = 1.0/16, 16
	if _, err := j.Run(); err != nil {
		t.Fatal(err)
	}
	classes := j.Test.Classes
	target := append(append([]string(nil), classes...), "novel_x")
	out := filepath.Join(t.TempDir(), "surgery.safetensors")
	if err := Surgery(j.FinalWeights(), out, "randinit", j.Model, classes, target, 1); err != nil {
		t.Fatal(err)
	}
	ft := tinyJob(t, root, filepath.Join(t.TempDir(), "ft"), 2)
	ft.Model = j.Model
	ft.Model.NumClasses = len(target)
	ft.Test.Classes = target
	ft.Kind, ft.Init = "finetune", out
	ft.Base, ft.Novel = seqInts(len(classes)), []int{len(classes)}
	ft.Info = JobInfo{Dataset: "synth", Protocol: "gfsod", Shots: 1}
	res, err := ft.Run()
	if err != nil {
		t.Fatal(err)
	}
	// The test set has no object of the new class, so there is no nAP.
	if _, ok := res["bAP50"]; !ok {
		t.Fatalf("no bAP50 in %v", res)
	}
	for _, f := range []string{"results.json", "errors.json", "errors.png", "model_final.safetensors"} {
		if _, err := os.Stat(filepath.Join(ft.Dir, f)); err != nil {
			t.Fatal(err)
		}
	}
}

func seqInts(n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = i
	}
	return v
}
