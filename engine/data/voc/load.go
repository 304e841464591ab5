package voc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/data"
)

// classSets resolves LoadOptions' class lists: the known universe and the
// kept classes with their indices.
func classSets(opts *data.LoadOptions) (known map[string]bool, kept []string, index map[string]int, err error) {
	universe := opts.KnownClasses
	if universe == nil {
		universe = Classes
	}
	known = map[string]bool{}
	for _, c := range universe {
		known[c] = true
	}
	kept = opts.Classes
	if kept == nil {
		kept = universe
	}
	for _, c := range kept {
		if !known[c] {
			return nil, nil, nil, fmt.Errorf("voc: class %q is not one of the known classes %v", c, universe)
		}
	}
	return known, kept, data.ClassIndex(kept), nil
}

// Entry is one image of a VOC image set: its record (objects of the kept
// classes) and the <folder> and <filename> of its annotation, which TFA's
// split files are written from.
type Entry struct {
	Record           data.Record
	Folder, Filename string
}

// Load reads the image sets of a VOC tree. Each set is "SUBDIR/NAME" (e.g.
// "VOC2007/trainval" reads root/VOC2007/ImageSets/Main/trainval.txt) or just
// "NAME" when root itself is in VOC layout (the synthetic dataset). Every
// image is kept, also those left without objects of the kept classes (a
// test set needs them; the training Loader skips them). Objects keep their
// difficult flag.
func Load(root string, sets []string, opts data.LoadOptions) (*data.Dataset, error) {
	entries, classes, err := Scan(root, sets, opts)
	if err != nil {
		return nil, err
	}
	ds := &data.Dataset{Name: "voc:" + strings.Join(sets, "+"), Classes: classes}
	for _, e := range entries {
		ds.Records = append(ds.Records, e.Record)
	}
	return ds, nil
}

// Scan is Load keeping each annotation's folder and file name; it returns
// the kept classes in index order.
func Scan(root string, sets []string, opts data.LoadOptions) ([]Entry, []string, error) {
	known, kept, index, err := classSets(&opts)
	if err != nil {
		return nil, nil, err
	}
	var out []Entry
	for _, set := range sets {
		sub, name := "", set
		if i := strings.LastIndex(set, "/"); i >= 0 {
			sub, name = set[:i], set[i+1:]
		}
		dir := filepath.Join(root, sub)
		listFile := filepath.Join(dir, "ImageSets", "Main", name+".txt")
		ids, err := readLines(listFile)
		if err != nil {
			return nil, nil, err
		}
		for _, l := range ids {
			id := strings.Fields(l.text)[0]
			e, err := loadImage(dir, id, "", known, index, "", &opts)
			if err != nil {
				if err = opts.Bad(err); err != nil {
					return nil, nil, err
				}
				continue
			}
			out = append(out, e)
		}
	}
	return out, append([]string(nil), kept...), nil
}

type line struct {
	n    int // 1-based line number
	text string
}

// readLines returns the non-blank lines of a text file, trimmed; like
// np.loadtxt it ignores blank lines and '#' comments.
func readLines(path string) ([]line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		t := sc.Text()
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = t[:i]
		}
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, line{n, t})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// loadImage reads dir/Annotations/id.xml into a record. imageFile is the
// JPEGImages file name (empty: id plus the extension of <filename>, or
// ".jpg" as detectron2 assumes). With only set, the record holds just the
// objects of that class (a K-shot record); otherwise the objects of the kept
// classes. Every object must be of a known class and lie inside the image.
func loadImage(dir, id, imageFile string, known map[string]bool, index map[string]int, only string, opts *data.LoadOptions) (Entry, error) {
	annPath := filepath.Join(dir, "Annotations", id+".xml")
	ann, err := ReadAnnotation(annPath)
	if err != nil {
		return Entry{}, err
	}
	if imageFile == "" {
		ext := filepath.Ext(ann.Filename)
		if ext == "" {
			ext = ".jpg"
		}
		imageFile = id + ext
	}
	rec := data.Record{ID: id, File: filepath.Join(dir, "JPEGImages", imageFile), Width: ann.Width, Height: ann.Height}
	for i, o := range ann.Objects {
		if !known[o.Name] {
			return Entry{}, fmt.Errorf("%s: object %d: unknown class %q", annPath, i+1, o.Name)
		}
		box, err := data.CheckBox(o.Box(), ann.Width, ann.Height)
		if err != nil {
			return Entry{}, fmt.Errorf("%s: object %d (%s): %v", annPath, i+1, o.Name, err)
		}
		c, keep := index[o.Name]
		if !keep || (only != "" && o.Name != only) {
			continue
		}
		rec.Boxes = append(rec.Boxes, box)
		rec.Classes = append(rec.Classes, c)
		rec.Difficult = append(rec.Difficult, o.Difficult)
	}
	if err := data.CheckImage(rec.File, rec.Width, rec.Height, opts.CheckImages); err != nil {
		return Entry{}, err
	}
	folder := ann.Folder
	if folder == "" {
		folder = filepath.Base(dir)
	}
	return Entry{Record: rec, Folder: folder, Filename: imageFile}, nil
}
