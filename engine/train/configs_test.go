package train

import (
	"path/filepath"
	"testing"
)

// Every plan shipped in configs/ must parse and validate: a typo in a key
// fails here rather than on a user's GPU after base training.
func TestShippedConfigsParse(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	more, _ := filepath.Glob("../../configs/*/*.yaml")
	files = append(files, more...)
	more, _ = filepath.Glob("../../configs/*/*/*.yaml")
	files = append(files, more...)
	n := 0
	for _, f := range files {
		if filepath.Base(filepath.Dir(f)) == "reported" {
			continue
		}
		n++
		p, err := LoadPlan(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, st := range []*StageConfig{&p.Base, &p.FineTune.Stage} {
			if _, err := p.StageModel(st); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
	if n < 17 {
		t.Fatalf("found %d plan files, want the demo + 12 VOC + 4 COCO", n)
	}
}
