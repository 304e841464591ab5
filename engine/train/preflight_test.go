package train

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/data/synth"
)

// preflightPlan is a tiny synthetic plan (the neck test's without the neck).
func preflightPlan(cache string) string {
	var lines []string
	for _, l := range strings.Split(neckPlan(cache, "{}"), "\n") {
		if !strings.Contains(l, "neck:") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func TestEmptyPlanNamesTheFile(t *testing.T) {
	for _, text := range []string{"", "\n\n", "# only a comment\n"} {
		path := filepath.Join(t.TempDir(), "plan.yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPlan(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "empty plan") || strings.Contains(err.Error(), "EOF") {
			t.Errorf("%q: error %v, want one naming %s and saying it is empty", text, err, path)
		}
	}
	if _, err := ParsePlan([]byte(preflightPlan("/tmp/x") + "---\nname: second\n")); err == nil || !strings.Contains(err.Error(), "more than one YAML document") {
		t.Errorf("two documents: %v", err)
	}
}

// shots: [0] with a schedule for 0 used to pass validation and fail only
// after base training, with a message about "voc" on a synthetic plan.
func TestShotNonsenseFailsValidation(t *testing.T) {
	base := preflightPlan("/tmp/x")
	cases := []struct{ from, to, want string }{
		{"shots: [5]", "shots: [0]", "finetune.shots: 0 is not a shot count"},
		{"shots: [5]", "shots: [-1]", "finetune.shots: -1 is not a shot count"},
		{"shots: [5]", "shots: [5, 5]", "finetune.shots: 5 listed twice"},
		{"seeds: [0]", "seeds: [-3]", "finetune.seeds: seed -3"},
		{"    5: {max_iter: 2, steps: [1]}", "    5: {max_iter: 2, steps: [1]}\n    0: {max_iter: 2, steps: [1]}", "finetune.schedules: 0 is not a shot count"},
	}
	for _, c := range cases {
		text := strings.Replace(base, c.from, c.to, 1)
		if c.to == "shots: [0]" || c.to == "shots: [-1]" {
			text = strings.Replace(text, "    5: {max_iter", "    "+strings.Trim(c.to[len("shots: "):], "[]")+": {max_iter", 1)
		}
		_, err := ParsePlan([]byte(text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.to, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "voc") {
			t.Errorf("%s: the message of a synth plan speaks of voc: %v", c.to, err)
		}
	}
	p, err := ParsePlan([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, opt := range []RunOptions{{Shots: []int{0}}, {Seeds: []int{-1}}, {Shots: []int{7}}} {
		opt.Out, opt.Backend, opt.Quiet, opt.Log = out, "cpu", true, &bytes.Buffer{}
		if _, err := Run(p, opt); err == nil {
			t.Errorf("%+v: Run accepted it", opt)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "base")); err == nil {
		t.Error("base training started despite invalid shots/seeds")
	}
}

// A JPEG whose headers are intact but whose scan data is cut passes a header
// check; the preflight's full decode must stop the run before base
// training, naming the file. A missing split file must too.
func TestPreflightCatchesLateFailures(t *testing.T) {
	cache := t.TempDir()
	root, err := synth.Ensure(cache, synth.Params{Images: 40, Size: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePlan([]byte(preflightPlan(cache)))
	if err != nil {
		t.Fatal(err)
	}
	run := func() (string, error) {
		var log bytes.Buffer
		out := t.TempDir()
		_, err := Run(p, RunOptions{Out: out, Backend: "cpu", Quiet: true, Log: &log})
		if _, serr := os.Stat(filepath.Join(out, "base", "metrics.json")); serr == nil {
			t.Errorf("base training ran before the failure:\n%s", log.String())
		}
		return log.String(), err
	}

	// A split file the 5-shot fine-tune needs, gone.
	split := filepath.Join(root, "vocsplit", "box_5shot_"+synth.NovelClasses()[0]+"_train.txt")
	splitData, err := os.ReadFile(split)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(split); err != nil {
		t.Fatal(err)
	}
	if _, err := run(); err == nil || !strings.Contains(err.Error(), filepath.Base(split)) {
		t.Errorf("missing split file: error %v, want one naming %s", err, filepath.Base(split))
	}
	if err := os.WriteFile(split, splitData, 0o644); err != nil {
		t.Fatal(err)
	}

	// Cut the scan data of the first training image: header intact.
	img := filepath.Join(root, "JPEGImages", "000000.jpg")
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, raw[:len(raw)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(); err == nil || !strings.Contains(err.Error(), "000000.jpg") {
		t.Errorf("cut JPEG: error %v, want one naming 000000.jpg", err)
	}
}
