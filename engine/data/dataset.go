package data

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // register the decoders used by DecodeConfig and Decode
	_ "image/png"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
)

// Record is one image and its ground truth. See the package comment.
type Record struct {
	ID            string
	File          string
	Width, Height int
	Boxes         [][4]float32
	Classes       []int
	Difficult     []bool
	Crowd         []bool
}

// Dataset is an ordered class-name list and the records that index into it.
type Dataset struct {
	Name    string
	Classes []string
	Records []Record
}

// NumInstances counts the boxes of each class.
func (d *Dataset) NumInstances() []int {
	n := make([]int, len(d.Classes))
	for _, r := range d.Records {
		for _, c := range r.Classes {
			n[c]++
		}
	}
	return n
}

// LoadOptions control the dataset builders of the sub-packages.
type LoadOptions struct {
	// Classes are the kept classes in index order; objects of other known
	// classes are dropped (base training ignores novel objects). Nil keeps
	// every known class.
	Classes []string
	// KnownClasses is the class universe of a VOC-layout dataset; an object
	// whose name is not in it is an error ("unknown class"). Nil means the 20
	// PASCAL VOC classes. COCO takes its universe from the categories.
	KnownClasses []string
	// CheckImages decodes each image's header at load time: the file must be
	// a readable JPEG/PNG whose size matches the annotation. Without it only
	// the file's existence is checked and a bad image fails in the Loader.
	CheckImages bool
	// SkipBad reports a bad image (or a bad split-file line) through Warn
	// and drops it instead of failing.
	SkipBad bool
	// Warn receives the problems SkipBad skips; nil logs them.
	Warn func(error)
}

// Bad handles one user-input problem: it returns err unless SkipBad is set,
// in which case it reports err through Warn and returns nil.
func (o *LoadOptions) Bad(err error) error {
	if !o.SkipBad {
		return err
	}
	if o.Warn != nil {
		o.Warn(err)
	} else {
		log.Printf("skipping: %v", err)
	}
	return nil
}

// CheckImage verifies that path exists and, when decode is set, that its
// header decodes to a width x height image (after EXIF orientation).
func CheckImage(path string, width, height int, decode bool) error {
	if !decode {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s: missing image: %w", path, err)
		}
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: missing image: %w", path, err)
	}
	defer f.Close()
	// The EXIF segment precedes the frame header; 128 KiB covers the
	// largest APP1 segment (64 KiB) with room to spare.
	head := make([]byte, 128<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return fmt.Errorf("%s: unreadable image: %v", path, err)
	}
	head = head[:n]
	cfg, format, err := image.DecodeConfig(io.MultiReader(bytes.NewReader(head), f))
	if err != nil {
		return fmt.Errorf("%s: unreadable image: %v", path, err)
	}
	if err := checkPixels(path, cfg.Width, cfg.Height); err != nil {
		return err
	}
	w, h := cfg.Width, cfg.Height
	if format == "jpeg" {
		w, h = orientedSize(w, h, jpegOrientation(head))
	}
	if w != width || h != height {
		return fmt.Errorf("%s: image is %dx%d but the annotation says %dx%d", path, w, h, width, height)
	}
	return nil
}

// CheckBox validates a box in 0-based x1,y1,x2,y2 coordinates against an
// image of width x height and clips it. A box may overshoot the image by at
// most one pixel (an off-by-one of the 1-based VOC convention, which
// detectron2 clips away anyway); more than that, or x2 < x1, is an error.
func CheckBox(b [4]float32, width, height int) ([4]float32, error) {
	const slack = 1
	w, h := float32(width), float32(height)
	switch {
	case b[2] < b[0]:
		return b, fmt.Errorf("x2 %g < x1 %g", b[2], b[0])
	case b[3] < b[1]:
		return b, fmt.Errorf("y2 %g < y1 %g", b[3], b[1])
	case b[0] < -slack || b[1] < -slack || b[2] > w+slack || b[3] > h+slack:
		return b, fmt.Errorf("box [%g %g %g %g] outside the %dx%d image", b[0], b[1], b[2], b[3], width, height)
	}
	b[0] = min(max(b[0], 0), w)
	b[1] = min(max(b[1], 0), h)
	b[2] = min(max(b[2], 0), w)
	b[3] = min(max(b[3], 0), h)
	return b, nil
}

// ClassIndex maps names to their position in classes.
func ClassIndex(classes []string) map[string]int {
	m := make(map[string]int, len(classes))
	for i, c := range classes {
		m[c] = i
	}
	return m
}

// PerBox splits r into one record per box, each sharing r's image: TFA's
// K-shot loaders count shots in instances, not images.
func (r Record) PerBox() []Record {
	out := make([]Record, len(r.Boxes))
	for j := range r.Boxes {
		o := Record{ID: r.ID, File: r.File, Width: r.Width, Height: r.Height,
			Boxes: r.Boxes[j : j+1], Classes: r.Classes[j : j+1]}
		if r.Difficult != nil {
			o.Difficult = r.Difficult[j : j+1]
		}
		if r.Crowd != nil {
			o.Crowd = r.Crowd[j : j+1]
		}
		out[j] = o
	}
	return out
}

// ShotSplitFile is the path of TFA's split file name for a seed: seed 0 at
// the top of splitDir (or in splitDir/seed0, where DeFRCN keeps it, when
// only that exists), seed S in splitDir/seedS.
func ShotSplitFile(splitDir, name string, seed int) string {
	if seed != 0 {
		return filepath.Join(splitDir, fmt.Sprintf("seed%d", seed), name)
	}
	top := filepath.Join(splitDir, name)
	if _, err := os.Stat(top); err != nil {
		if alt := filepath.Join(splitDir, "seed0", name); fileExists(alt) {
			return alt
		}
	}
	return top
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// KeepShots implements the last step of TFA's K-shot loaders: the split file
// for one class lists images, each instance of the class in them becomes a
// one-box record, and if there are more than shots such records, shots of
// them are kept. TFA draws them with an unseeded np.random.choice, so two
// runs of the same split train on different instances; here the choice is
// keyed by (seed, class name, shots) and the kept records stay in file order,
// so a split file and a seed always give the same K instances.
func KeepShots(recs []Record, class string, shots int, seed int64) []Record {
	if len(recs) <= shots {
		return recs
	}
	r := NewRand(uint64(seed), StringKey(class), uint64(shots))
	idx := r.Perm(len(recs))[:shots]
	sort.Ints(idx)
	out := make([]Record, shots)
	for i, j := range idx {
		out[i] = recs[j]
	}
	return out
}
