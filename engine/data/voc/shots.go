package voc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/data"
)

// ShotFile is the split file LoadShots reads for one class: TFA keeps seed
// 0 at the top of vocsplit/ (DeFRCN in vocsplit/seed0/) and seed S in
// vocsplit/seedS/ (data.ShotSplitFile).
func ShotFile(splitDir, class string, shots, seed int) string {
	return data.ShotSplitFile(splitDir, fmt.Sprintf("box_%dshot_%s_train.txt", shots, class), seed)
}

// LoadShots builds the K-shot training set of (classes, shots, seed) from
// the split files in splitDir, as TFA's and DeFRCN's load_filtered_voc_instances
// do: for each class, every listed image contributes one record per instance
// of that class (one box each, difficult ones included), and when that gives
// more than shots records, shots of them are kept (data.KeepShots, seeded
// where TFA's choice is not). A line names an image by path, e.g.
// "datasets/VOC2007/JPEGImages/000123.jpg"; the image is looked up in
// root/VOC2007 (the folder before JPEGImages), then root itself (a single
// VOC-layout directory), then by TFA's rule (ids with "_" are VOC2012's).
// Seed 0 is read from splitDir, or splitDir/seed0 where DeFRCN keeps it.
// Records are ordered by class, then by file order.
func LoadShots(root, splitDir string, classes []string, shots, seed int, opts data.LoadOptions) (*data.Dataset, error) {
	if shots <= 0 {
		return nil, fmt.Errorf("voc: shots %d must be positive", shots)
	}
	opts.Classes = classes
	known, kept, index, err := classSets(&opts)
	if err != nil {
		return nil, err
	}
	ds := &data.Dataset{Name: fmt.Sprintf("voc:%dshot_seed%d", shots, seed), Classes: append([]string(nil), kept...)}
	for _, cls := range kept {
		path := ShotFile(splitDir, cls, shots, seed)
		lines, err := readLines(path)
		if err != nil {
			return nil, err
		}
		var recs []data.Record
		for _, l := range lines {
			dir, id, file, err := resolve(root, l.text)
			if err == nil {
				var e Entry
				e, err = loadImage(dir, id, file, known, index, cls, &opts)
				recs = append(recs, e.Record.PerBox()...)
			}
			if err != nil {
				if err = opts.Bad(fmt.Errorf("%s: line %d: %w", path, l.n, err)); err != nil {
					return nil, err
				}
			}
		}
		if len(recs) == 0 {
			if err := opts.Bad(fmt.Errorf("%s: no instance of %s in the listed images", path, cls)); err != nil {
				return nil, err
			}
		}
		ds.Records = append(ds.Records, data.KeepShots(recs, cls, shots, int64(seed))...)
	}
	return ds, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// resolve finds the VOC directory holding the image a split-file line names.
func resolve(root, entry string) (dir, id, file string, err error) {
	parts := strings.Split(filepath.ToSlash(entry), "/")
	file = parts[len(parts)-1]
	id = strings.TrimSuffix(file, filepath.Ext(file))
	var cands []string
	if n := len(parts); n >= 3 && parts[n-2] == "JPEGImages" {
		cands = append(cands, filepath.Join(root, parts[n-3]))
	}
	year := "VOC2007"
	if strings.Contains(id, "_") {
		year = "VOC2012"
	}
	cands = append(cands, root, filepath.Join(root, year))
	for _, d := range cands {
		if fileExists(filepath.Join(d, "Annotations", id+".xml")) {
			return d, id, file, nil
		}
	}
	return "", "", "", fmt.Errorf("image %s not found: no Annotations/%s.xml in %s", entry, id, strings.Join(cands, ", "))
}
