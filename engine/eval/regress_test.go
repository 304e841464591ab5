package eval

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeJob(t *testing.T, dir string, r *JobResults) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, ResultsFileName)
	if err := WriteJobResults(p, r); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJobResultsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := &JobResults{Dataset: "voc", Split: 2, Protocol: "gfsod", Shots: 5, Seed: 7, Method: "mfe",
		Metrics: map[string]float64{"AP50": 70.25, "nAP50": 51.5}}
	p := writeJob(t, dir, want)
	got, err := ReadJobResults(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Dataset != want.Dataset || got.Split != want.Split || got.Protocol != want.Protocol ||
		got.Shots != want.Shots || got.Seed != want.Seed || got.Method != want.Method ||
		len(got.Metrics) != 2 || got.Metrics["AP50"] != 70.25 || got.Metrics["nAP50"] != 51.5 {
		t.Errorf("read back %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after an atomic write, want 1", len(entries))
	}
}

func TestJobResultsErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		`{"dataset": "imagenet", "split": 1, "protocol": "fsod", "shots": 1, "metrics": {}}`:         `dataset "imagenet"`,
		`{"dataset": "voc", "split": 1, "protocol": "few", "shots": 1, "metrics": {}}`:               `protocol "few"`,
		`{"dataset": "voc", "split": 1, "protocol": "fsod", "shots": 0, "metrics": {}}`:              `shots 0`,
		`{"dataset": "voc", "split": 1, "protocol": "fsod", "shots": 1, "metrics": {"nAP50": 140}}`:  `metric nAP50 = 140`,
		`{"dataset": "voc", "split": 1, "protocol": "fsod", "shots": 1, "metrics": {"nAP50": "x"}}`:  `metrics`,
		`{"dataset": "voc", "split": 1, "protocol": "fsod", "shots": 1, "metrics": {"nAP50": 50}`:    `malformed JSON`,
		`{"dataset": "voc", "split": -1, "protocol": "fsod", "shots": 1, "metrics": {"nAP50": 50}}`:  `split -1`,
		`{"dataset": "coco", "split": 0, "protocol": "gfsod", "shots": 1, "metrics": {"nAP": -0.5}}`: `metric nAP = -0.5`,
	}
	for text, want := range cases {
		p := filepath.Join(dir, ResultsFileName)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadJobResults(p)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and %q", text, err, want)
		}
	}
	if err := WriteJobResults(filepath.Join(dir, "w.json"), &JobResults{Dataset: "voc", Protocol: "fsod"}); err == nil {
		t.Error("WriteJobResults accepted shots 0")
	}
}

func TestMeanCI(t *testing.T) {
	m, ci := MeanCI([]float64{50})
	if m != 50 || ci != 0 {
		t.Errorf("one value: %g ± %g, want 50 ± 0", m, ci)
	}
	// 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32/7.
	m, ci = MeanCI([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if want := 1.96 * math.Sqrt(32.0/7) / math.Sqrt(8); m != 5 || math.Abs(ci-want) > 1e-12 {
		t.Errorf("%g ± %g, want 5 ± %g", m, ci, want)
	}
}

func TestFindJobResultsAtAnyDepth(t *testing.T) {
	root := t.TempDir()
	job := func(rel string) string {
		return writeJob(t, filepath.Join(root, rel), &JobResults{Dataset: "voc", Split: 1, Protocol: "fsod", Shots: 1, Metrics: map[string]float64{"nAP50": 1}})
	}
	a := job("a")
	b := job("deep/er/still/b")
	c := job("x/c")
	if err := os.WriteFile(filepath.Join(root, "x", "metrics.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := FindJobResults([]string{root, filepath.Join(root, "x"), a})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a, b, c}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("found %v, want %v", got, want)
	}
	if _, err := FindJobResults([]string{filepath.Join(root, "missing")}); err == nil {
		t.Error("a missing RUN_DIR is not an error")
	}
	empty := t.TempDir()
	if got, err := FindJobResults([]string{empty}); err != nil || len(got) != 0 {
		t.Errorf("empty dir: %v, %v", got, err)
	}
}

func TestShippedReportedFiles(t *testing.T) {
	cases := []struct {
		file    string
		entries int
		checks  map[[4]any]float64 // dataset, protocol, split, shots → value
	}{
		{"defrcn.yaml", 3*5*2 + 6*2, map[[4]any]float64{
			{"voc", "fsod", 1, 1}:   55.1,
			{"voc", "fsod", 2, 10}:  47.5,
			{"voc", "fsod", 3, 5}:   55.7,
			{"voc", "gfsod", 1, 10}: 67.0,
			{"voc", "gfsod", 2, 1}:  31.5,
			{"voc", "gfsod", 3, 3}:  54.1,
			{"coco", "fsod", 0, 30}: 22.6,
			{"coco", "gfsod", 0, 1}: 4.8,
		}},
		{"tfa.yaml", 5 + 6, map[[4]any]float64{
			{"voc", "gfsod", 1, 1}:   25.3,
			{"voc", "gfsod", 1, 10}:  52.9,
			{"coco", "gfsod", 0, 5}:  7.0,
			{"coco", "gfsod", 0, 30}: 12.1,
		}},
	}
	for _, c := range cases {
		r, err := ReadReported(filepath.Join("../../configs/reported", c.file))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, tb := range r.Tables {
			for _, s := range tb.Results {
				n += len(s.Shots)
			}
		}
		if n != c.entries {
			t.Errorf("%s: %d entries, want %d", c.file, n, c.entries)
		}
		for k, want := range c.checks {
			e, ok := r.Lookup(k[0].(string), k[1].(string), k[2].(int), k[3].(int))
			if !ok || e.Value != want {
				t.Errorf("%s: %v = %v (found %v), want %v", c.file, k, e.Value, ok, want)
			}
		}
	}
}

func TestReportedErrors(t *testing.T) {
	good := `name: X
source: paper
tables:
  - dataset: voc
    protocol: fsod
    metric: nAP50
    seeds: [0]
    results:
      - split: 1
        shots: {1: 10.5}
`
	dir := t.TempDir()
	p := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(p, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ReadReported(p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Tables[0].Repeats != 1 {
		t.Errorf("omitted repeats = %d, want 1", r.Tables[0].Repeats)
	}
	cases := map[string]string{
		strings.Replace(good, "    seeds: [0]", "    seeds: [0]\n    shot: 3", 1): "field shot not found",
		strings.Replace(good, "name: X", "name: X\nauthors: Y", 1):                "field authors not found",
		strings.Replace(good, "metric: nAP50", "metric: mAP", 1):                  `metric "mAP"`,
		strings.Replace(good, "dataset: voc", "dataset: lvis", 1):                 `dataset "lvis"`,
		strings.Replace(good, "{1: 10.5}", "{1: 105}", 1):                         "want a percentage",
		strings.Replace(good, "{1: 10.5}", "{1: 10.5, 1: 11}", 1):                 "already defined",
		strings.Replace(good, "    seeds: [0]\n", "", 1):                          "no seeds",
		strings.Replace(good, "source: paper\n", "", 1):                           "missing source",
		"": "empty file",
		good + "  - dataset: voc\n    protocol: fsod\n    metric: nAP\n    seeds: [0]\n    results:\n      - split: 1\n        shots: {1: 3}\n": "listed twice",
	}
	for text, want := range cases {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadReported(p)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("error %v, want one naming the file and %q for\n%s", err, want, text)
		}
	}
}

func TestRegressGroups(t *testing.T) {
	root := t.TempDir()
	rep, err := ReadReported("../../configs/reported/defrcn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// VOC FSOD split 1, 1 shot: reported 55.1; three repeats.
	for i, v := range []float64{54, 55, 56.5} {
		writeJob(t, filepath.Join(root, "voc", "s1", "1shot", "rep"+string(rune('0'+i))), &JobResults{
			Dataset: "voc", Split: 1, Protocol: "fsod", Shots: 1, Seed: 0, Method: "mfe",
			Metrics: map[string]float64{"nAP50": v, "AP50": 80}})
	}
	// COCO G-FSOD 10 shot: reported 16.7; split is ignored for COCO.
	writeJob(t, filepath.Join(root, "coco", "a"), &JobResults{Dataset: "coco", Split: 1, Protocol: "gfsod", Shots: 10, Method: "mfe", Metrics: map[string]float64{"nAP": 12}})
	writeJob(t, filepath.Join(root, "coco", "b"), &JobResults{Dataset: "coco", Split: 0, Protocol: "gfsod", Shots: 10, Method: "mfe", Metrics: map[string]float64{"nAP": 13}})
	// No reported entry for synth.
	writeJob(t, filepath.Join(root, "synth"), &JobResults{Dataset: "synth", Split: 1, Protocol: "fsod", Shots: 3, Method: "mfe", Metrics: map[string]float64{"nAP50": 40}})

	paths, err := FindJobResults([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := Regress(paths, rep, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3", len(groups))
	}
	coco, synth, voc := groups[0], groups[1], groups[2]
	if coco.Dataset != "coco" || len(coco.Jobs) != 2 || coco.Mean != 12.5 || coco.Reported == nil || coco.Reported.Value != 16.7 || !coco.Below || coco.Metric != "nAP" {
		t.Errorf("coco group %+v", coco)
	}
	if synth.Reported != nil || synth.Below || synth.Metric != "nAP50" || synth.Mean != 40 || synth.CI != 0 {
		t.Errorf("synth group %+v", synth)
	}
	wantMean, wantCI := MeanCI([]float64{54, 55, 56.5})
	if len(voc.Jobs) != 3 || voc.Mean != wantMean || voc.CI != wantCI || voc.Below || math.Abs(voc.Diff-(wantMean-55.1)) > 1e-12 {
		t.Errorf("voc group %+v", voc)
	}
	var out strings.Builder
	if err := WriteRegressTable(&out, groups, 2); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"no reported entry", "BELOW by more than 2", "55.2 ± 1.4", "55.1", "+0.1", "12.5 ± 1.0", "16.7", "-4.2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	// Overriding the metric compares AP50 (80) with the table's numbers.
	groups, err = Regress(paths[len(paths)-3:], rep, "AP50", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].Metric != "AP50" || groups[0].Mean != 80 || groups[0].Below {
		t.Errorf("override: %+v", groups[0])
	}
	// A job without the compared metric is an error naming it.
	if _, err := Regress(paths, rep, "bAP", 2); err == nil || !strings.Contains(err.Error(), "no metric bAP") {
		t.Errorf("missing metric: %v", err)
	}
	if _, err := Regress(nil, rep, "", 2); err == nil {
		t.Error("no results.json is not an error")
	}
}
