package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalErrorsCommand(t *testing.T) {
	dir := t.TempDir()
	gt := filepath.Join(dir, "gt.json")
	res := filepath.Join(dir, "dets.json")
	// cat and dog share a supercategory; car does not.
	write(t, gt, `{"images":[{"id":7},{"id":3}],
	"categories":[{"id":1,"name":"cat","supercategory":"animal"},{"id":2,"name":"dog","supercategory":"animal"},{"id":5,"name":"car","supercategory":"vehicle"}],
	"annotations":[
	 {"id":1,"image_id":7,"category_id":1,"bbox":[0,0,10,10],"area":100},
	 {"id":2,"image_id":7,"category_id":2,"bbox":[50,0,10,10],"area":100},
	 {"id":3,"image_id":3,"category_id":5,"bbox":[0,0,20,20],"area":400},
	 {"id":4,"image_id":3,"category_id":1,"bbox":[100,100,10,10],"area":100}]}`)
	// cat: correct on image 7, then (tie at 0.5, file order) a similar hit on
	// the dog; a third cat detection is beyond N = 2. dog: on the car (other).
	// car: localization (IoU 0.25). The cat on the dog is a base detection on
	// a novel object, the dog on the car the reverse.
	write(t, res, `[
	 {"image_id":7,"category_id":1,"bbox":[0,0,10,10],"score":0.9},
	 {"image_id":7,"category_id":1,"bbox":[50,0,10,10],"score":0.5},
	 {"image_id":3,"category_id":1,"bbox":[100,100,10,10],"score":0.5},
	 {"image_id":3,"category_id":2,"bbox":[0,0,20,20],"score":0.7},
	 {"image_id":3,"category_id":5,"bbox":[0,0,10,10],"score":0.8}]`)
	out, png := filepath.Join(dir, "errors.json"), filepath.Join(dir, "errors.png")
	printed, err := runCLI(t, "eval", "errors", "--gt", gt, "--results", res, "--json", out, "--png", png, "--novel", "2")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	readJSONFile(t, out, &got)
	want := map[string]map[string]float64{
		"overall": {"n": 4, "correct": 1, "localization": 1, "similar": 1, "other": 1, "background": 0},
		"base":    {"n": 3, "correct": 1, "localization": 1, "similar": 1, "other": 0, "background": 0},
		"novel":   {"n": 1, "correct": 0, "localization": 0, "similar": 0, "other": 1, "background": 0},
	}
	for k, w := range want {
		g, _ := got[k].(map[string]any)
		for key, v := range w {
			if g[key] != v {
				t.Errorf("%s.%s = %v, want %v", k, key, g[key], v)
			}
		}
	}
	pc := got["per_class"].(map[string]any)
	if cat := pc["1"].(map[string]any); cat["n"] != 2.0 || cat["correct"] != 1.0 || cat["similar"] != 1.0 {
		t.Errorf("per_class 1: %v", cat)
	}
	if car := pc["5"].(map[string]any); car["localization"] != 1.0 {
		t.Errorf("per_class 5: %v", car)
	}
	if conf := got["base_novel_confusion"].(map[string]any); conf["novel_on_base"] != 1.0 || conf["base_on_novel"] != 1.0 {
		t.Errorf("confusion %v", conf)
	}
	if !strings.Contains(printed, "dog*") || !strings.Contains(printed, "0.500") {
		t.Errorf("table:\n%s", printed)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Fatalf("png: %v", err)
	}
	if _, err := runCLI(t, "eval", "errors", "--gt", gt, "--results", res, "--novel", "9"); err == nil || !strings.Contains(err.Error(), "9") {
		t.Fatalf("an unknown novel id must be named: %v", err)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
