package coco

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/fsodgpu/fsodgpu/engine/data"
)

// Image is an entry of "images".
type Image struct {
	ID       int64  `json:"id"`
	FileName string `json:"file_name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

// Annotation is an entry of "annotations"; BBox is [x, y, w, h] in pixels.
type Annotation struct {
	ID         int64     `json:"id"`
	ImageID    int64     `json:"image_id"`
	CategoryID int64     `json:"category_id"`
	BBox       []float64 `json:"bbox"`
	Area       float64   `json:"area"`
	IsCrowd    int       `json:"iscrowd"`
}

// File is the part of an instances JSON file the loaders use.
type File struct {
	Images      []Image      `json:"images"`
	Annotations []Annotation `json:"annotations"`
	Categories  []Category   `json:"categories"`
}

// ReadFile parses an instances JSON file; syntax errors give the line.
func ReadFile(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var f File
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: malformed JSON: %s", path, describeJSONError(raw, err))
	}
	if f.Images == nil || f.Categories == nil {
		return nil, fmt.Errorf("%s: not a COCO instances file (no \"images\" or \"categories\")", path)
	}
	return &f, nil
}

func describeJSONError(raw []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(raw)) {
		return err.Error()
	}
	return fmt.Sprintf("line %d: %v", bytes.Count(raw[:off], []byte("\n"))+1, err)
}

// BoxXYXY converts [x, y, w, h] to x1,y1,x2,y2 (detectron2's XYWH_ABS).
func BoxXYXY(b []float64) [4]float32 {
	return [4]float32{float32(b[0]), float32(b[1]), float32(b[0] + b[2]), float32(b[1] + b[3])}
}

// index holds a parsed file's lookups.
type index struct {
	path     string
	f        *File
	images   map[int64]int // image id -> position in f.Images
	catName  map[int64]string
	classIdx map[string]int  // kept class -> index
	anns     map[int64][]int // image id -> annotation positions, file order
	bad      map[int64]error // images with an invalid annotation
}

func newIndex(path string, f *File, classes []string) (*index, []string, error) {
	ix := &index{path: path, f: f, images: map[int64]int{}, catName: map[int64]string{},
		anns: map[int64][]int{}, bad: map[int64]error{}}
	cats := append([]Category(nil), f.Categories...)
	sort.Slice(cats, func(i, j int) bool { return cats[i].ID < cats[j].ID })
	byName := map[string]bool{}
	for _, c := range cats {
		if _, dup := ix.catName[c.ID]; dup {
			return nil, nil, fmt.Errorf("%s: category id %d appears twice", path, c.ID)
		}
		ix.catName[c.ID] = c.Name
		byName[c.Name] = true
	}
	if classes == nil {
		for _, c := range cats {
			classes = append(classes, c.Name)
		}
	}
	for _, c := range classes {
		if !byName[c] {
			return nil, nil, fmt.Errorf("%s: no category named %q", path, c)
		}
	}
	ix.classIdx = data.ClassIndex(classes)
	for i, im := range f.Images {
		if _, dup := ix.images[im.ID]; dup {
			return nil, nil, fmt.Errorf("%s: image id %d appears twice", path, im.ID)
		}
		if im.Width <= 0 || im.Height <= 0 || im.FileName == "" {
			return nil, nil, fmt.Errorf("%s: image id %d: needs file_name, width and height (got %q %dx%d)", path, im.ID, im.FileName, im.Width, im.Height)
		}
		ix.images[im.ID] = i
	}
	for i, a := range f.Annotations {
		where := fmt.Sprintf("%s: annotation %d (id %d)", path, i+1, a.ID)
		pos, ok := ix.images[a.ImageID]
		if !ok {
			return nil, nil, fmt.Errorf("%s: image_id %d is not in \"images\"", where, a.ImageID)
		}
		ix.anns[a.ImageID] = append(ix.anns[a.ImageID], i)
		if _, ok := ix.catName[a.CategoryID]; !ok {
			ix.bad[a.ImageID] = fmt.Errorf("%s: unknown category_id %d", where, a.CategoryID)
			continue
		}
		if len(a.BBox) != 4 {
			ix.bad[a.ImageID] = fmt.Errorf("%s: bbox %v must have 4 numbers [x,y,w,h]", where, a.BBox)
			continue
		}
		if a.BBox[2] < 0 || a.BBox[3] < 0 {
			ix.bad[a.ImageID] = fmt.Errorf("%s: bbox %v has a negative width or height", where, a.BBox)
			continue
		}
		im := f.Images[pos]
		if _, err := data.CheckBox(BoxXYXY(a.BBox), im.Width, im.Height); err != nil {
			ix.bad[a.ImageID] = fmt.Errorf("%s: %v", where, err)
		}
	}
	return ix, classes, nil
}

// record builds the record of one image from the given annotations, keeping
// those of the kept classes.
func (ix *index) record(imageDir string, id int64, annPos []int) data.Record {
	im := ix.f.Images[ix.images[id]]
	rec := data.Record{ID: strconv.FormatInt(id, 10), File: filepath.Join(imageDir, im.FileName), Width: im.Width, Height: im.Height}
	for _, p := range annPos {
		a := ix.f.Annotations[p]
		c, ok := ix.classIdx[ix.catName[a.CategoryID]]
		if !ok {
			continue
		}
		box, _ := data.CheckBox(BoxXYXY(a.BBox), im.Width, im.Height) // validated in newIndex
		rec.Boxes = append(rec.Boxes, box)
		rec.Classes = append(rec.Classes, c)
		rec.Crowd = append(rec.Crowd, a.IsCrowd == 1)
	}
	return rec
}

func (ix *index) sortedImageIDs() []int64 {
	ids := make([]int64, 0, len(ix.images))
	for id := range ix.images {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Load reads an instances file; images are in imageDir under their
// file_name. opts.Classes selects and orders the classes by name (nil: every
// category, in id order). Records are sorted by image id, as detectron2
// does; every image is kept, also those without annotations, and crowd
// annotations are kept with their flag (the training Loader ignores them).
func Load(annFile, imageDir string, opts data.LoadOptions) (*data.Dataset, error) {
	f, err := ReadFile(annFile)
	if err != nil {
		return nil, err
	}
	ix, classes, err := newIndex(annFile, f, opts.Classes)
	if err != nil {
		return nil, err
	}
	ds := &data.Dataset{Name: "coco:" + filepath.Base(annFile), Classes: classes}
	for _, id := range ix.sortedImageIDs() {
		if err := ix.bad[id]; err != nil {
			if err = opts.Bad(err); err != nil {
				return nil, err
			}
			continue
		}
		rec := ix.record(imageDir, id, ix.anns[id])
		if err := data.CheckImage(rec.File, rec.Width, rec.Height, opts.CheckImages); err != nil {
			if err = opts.Bad(err); err != nil {
				return nil, err
			}
			continue
		}
		ds.Records = append(ds.Records, rec)
	}
	return ds, nil
}
