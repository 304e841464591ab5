package coco

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/data"
)

// ShotFile is the split file LoadShots reads for one class: TFA keeps seed
// 0 at the top of cocosplit/ (DeFRCN in cocosplit/seed0/) and seed S in
// cocosplit/seedS/ (data.ShotSplitFile).
func ShotFile(splitDir, class string, shots, seed int) string {
	return data.ShotSplitFile(splitDir, fmt.Sprintf("full_box_%dshot_%s_trainval.json", shots, class), seed)
}

// LoadShots builds the K-shot training set of (classes, shots, seed) from
// the cocosplit files, as TFA's and DeFRCN's load_coco_json do: per class,
// the file's images in id order each give one record per annotation (one
// box), and more than shots records are cut to shots by data.KeepShots
// (seeded, where TFA's np.random.choice is not). Seed 0 is read from
// splitDir, or splitDir/seed0.
func LoadShots(splitDir, imageDir string, classes []string, shots, seed int, opts data.LoadOptions) (*data.Dataset, error) {
	if shots <= 0 {
		return nil, fmt.Errorf("coco: shots %d must be positive", shots)
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("coco: no classes given for the %d-shot split", shots)
	}
	ds := &data.Dataset{Name: fmt.Sprintf("coco:%dshot_seed%d", shots, seed), Classes: append([]string(nil), classes...)}
	for _, cls := range classes {
		path := ShotFile(splitDir, cls, shots, seed)
		f, err := ReadFile(path)
		if err != nil {
			return nil, err
		}
		ix, _, err := newIndex(path, f, classes)
		if err != nil {
			return nil, err
		}
		var recs []data.Record
		for _, id := range ix.sortedImageIDs() {
			if err := ix.bad[id]; err != nil {
				if err = opts.Bad(err); err != nil {
					return nil, err
				}
				continue
			}
			full := ix.record(imageDir, id, ix.anns[id])
			if len(full.Boxes) != len(ix.anns[id]) {
				if err := opts.Bad(fmt.Errorf("%s: image %d has annotations of classes other than %v", path, id, classes)); err != nil {
					return nil, err
				}
				continue
			}
			if err := data.CheckImage(full.File, full.Width, full.Height, opts.CheckImages); err != nil {
				if err = opts.Bad(fmt.Errorf("%s: %w", path, err)); err != nil {
					return nil, err
				}
				continue
			}
			recs = append(recs, full.PerBox()...)
		}
		if len(recs) == 0 {
			if err := opts.Bad(fmt.Errorf("%s: no annotation of %s", path, cls)); err != nil {
				return nil, err
			}
		}
		ds.Records = append(ds.Records, data.KeepShots(recs, cls, shots, int64(seed))...)
	}
	return ds, nil
}
