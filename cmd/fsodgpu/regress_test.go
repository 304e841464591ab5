package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/eval"
)

// makeRuns writes one results.json per value under root/<name>/repN.
func makeRuns(t *testing.T, root, name string, r eval.JobResults, metric string, values ...float64) {
	t.Helper()
	for i, v := range values {
		job := r
		job.Seed = i
		job.Metrics = map[string]float64{metric: v}
		dir := filepath.Join(root, name, fmt.Sprintf("rep%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := eval.WriteJobResults(filepath.Join(dir, eval.ResultsFileName), &job); err != nil {
			t.Fatal(err)
		}
	}
}

const defrcnYAML = "../../configs/reported/defrcn.yaml"

func TestRegressCommandPasses(t *testing.T) {
	root := t.TempDir()
	voc := eval.JobResults{Dataset: "voc", Split: 1, Protocol: "fsod", Shots: 5, Method: "mfe"}
	makeRuns(t, root, "voc1-5shot", voc, "nAP50", 64.0, 63.5, 65.1)
	out, err := runCLI(t, "regress", "--reported", defrcnYAML, root)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"3 jobs against DeFRCN", "voc", "fsod", "64.2 ± 0.9", "64.6", "-0.4", "ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRegressCommandFailsBelowTolerance(t *testing.T) {
	root := t.TempDir()
	coco := eval.JobResults{Dataset: "coco", Protocol: "fsod", Shots: 10, Method: "mfe"}
	makeRuns(t, root, "coco-10shot", coco, "nAP", 15.0, 15.4) // reported 18.4
	makeRuns(t, filepath.Join(root, "deeper", "still"), "synth", eval.JobResults{Dataset: "synth", Split: 1, Protocol: "fsod", Shots: 1, Method: "mfe"}, "nAP50", 30)
	out, err := runCLI(t, "regress", "--reported", defrcnYAML, root)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 groups are below") {
		t.Errorf("error %v, want 1 of 2 groups below\n%s", err, out)
	}
	if !strings.Contains(out, "BELOW") || !strings.Contains(out, "no reported entry") {
		t.Errorf("table:\n%s", out)
	}
	// A looser tolerance accepts the same runs.
	if out, err := runCLI(t, "regress", "--reported", defrcnYAML, "--tolerance", "4", root); err != nil {
		t.Errorf("tolerance 4: %v\n%s", err, out)
	}
}

func TestRegressCommandErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := runCLI(t, "regress", "--reported", defrcnYAML, empty); err == nil || !strings.Contains(err.Error(), "no results.json") {
		t.Errorf("empty tree: %v", err)
	}
	if _, err := runCLI(t, "regress", "--reported", defrcnYAML); err == nil {
		t.Error("no RUN_DIR accepted")
	}
	if _, err := runCLI(t, "regress", "--reported", filepath.Join(empty, "none.yaml"), empty); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing reported file: %v", err)
	}
	root := t.TempDir()
	makeRuns(t, root, "j", eval.JobResults{Dataset: "voc", Split: 1, Protocol: "fsod", Shots: 1, Method: "mfe"}, "nAP50", 50)
	if _, err := runCLI(t, "regress", "--reported", defrcnYAML, "--metric", "mAP", root); err == nil || !strings.Contains(err.Error(), `metric "mAP"`) {
		t.Errorf("bad --metric: %v", err)
	}
}
