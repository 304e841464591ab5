package splits

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/data/voc"
)

// VOCOptions configure WriteVOC.
type VOCOptions struct {
	Root    string   // the tree holding the sets
	Sets    []string // e.g. VOC2007/trainval, VOC2012/trainval (TFA's pool), or trainval
	Classes []string // class universe and the classes to write; nil: the 20 VOC classes
	Shots   []int
	Seeds   []int
	Out     string // the vocsplit directory
	// Overwrite replaces existing files with other content. Without it such
	// a file is an error: seed 0 lives at the top of vocsplit/, where TFA's
	// published splits are, and they must not be replaced by accident.
	Overwrite bool
	// Load is passed to voc.Scan (SkipBad, Warn, CheckImages); its class
	// lists are set from Classes.
	Load data.LoadOptions
}

// WriteVOC writes box_{K}shot_{class}_train.txt for every class, shot and
// seed: seed 0 in Out, seed S in Out/seedS, as TFA lays them out. Each line
// names an image as TFA's prepare_voc_few_shot.py does,
// "datasets/{folder}/JPEGImages/{file}" with the annotation's <folder>; a
// class's candidates are the images holding at least one instance of it,
// difficult ones counted, as in TFA. It returns the number of files written.
func WriteVOC(o VOCOptions) (int, error) {
	classes := o.Classes
	if classes == nil {
		classes = voc.Classes
	}
	if err := checkShots(o.Shots, o.Seeds); err != nil {
		return 0, err
	}
	lo := o.Load
	lo.Classes, lo.KnownClasses = classes, classes
	entries, _, err := voc.Scan(o.Root, o.Sets, lo)
	if err != nil {
		return 0, err
	}
	written := 0
	for ci, cls := range classes {
		var cand []voc.Entry
		var counts []int
		for _, e := range entries {
			n := 0
			for _, c := range e.Record.Classes {
				if c == ci {
					n++
				}
			}
			if n > 0 {
				cand = append(cand, e)
				counts = append(counts, n)
			}
		}
		if len(cand) == 0 {
			return written, fmt.Errorf("%s %v: no image holds a %s", o.Root, o.Sets, cls)
		}
		for _, seed := range o.Seeds {
			for _, k := range o.Shots {
				var b strings.Builder
				for _, i := range sample(counts, cls, k, seed) {
					fmt.Fprintf(&b, "datasets/%s/JPEGImages/%s\n", cand[i].Folder, cand[i].Filename)
				}
				if err := writeFile(voc.ShotFile(o.Out, cls, k, seed), []byte(b.String()), o.Overwrite); err != nil {
					return written, err
				}
				written++
			}
		}
	}
	return written, nil
}

func checkShots(shots, seeds []int) error {
	if len(shots) == 0 || len(seeds) == 0 {
		return fmt.Errorf("splits: need at least one shot count and one seed")
	}
	for _, k := range shots {
		if k <= 0 {
			return fmt.Errorf("splits: shots %d must be positive", k)
		}
	}
	for _, s := range seeds {
		if s < 0 {
			return fmt.Errorf("splits: seed %d is negative", s)
		}
	}
	return nil
}

// writeFile writes a split file; an existing file with other content is
// kept unless overwrite is set (writing the same bytes again is fine).
func writeFile(path string, b []byte, overwrite bool) error {
	if old, err := os.ReadFile(path); err == nil && !overwrite && !bytes.Equal(old, b) {
		return fmt.Errorf("%s exists with other content (a published split?); pass --force (Overwrite) to replace it, or write elsewhere", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
