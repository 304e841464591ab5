package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
)

// COCOCategory is one entry of a COCO instances file's categories.
type COCOCategory struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// COCOGroundTruth is a COCO instances file ready for evaluation. Images are
// in increasing id order and categories in increasing id order, as
// COCOeval's params take them; class index k is Categories[k].
type COCOGroundTruth struct {
	Path       string
	ImageIDs   []int64
	Categories []COCOCategory
	images     []cocoImage // GT only; parallel to ImageIDs
	imageIndex map[int64]int
	catIndex   map[int]int
}

// ClassIndex maps a category id to its class index.
func (g *COCOGroundTruth) ClassIndex(categoryID int) (int, bool) {
	k, ok := g.catIndex[categoryID]
	return k, ok
}

// COCOResultEntry is one detection in COCO's results format.
type COCOResultEntry struct {
	ImageID    int64      `json:"image_id"`
	CategoryID int        `json:"category_id"`
	BBox       [4]float64 `json:"bbox"` // x, y, w, h
	Score      float64    `json:"score"`
}

type cocoFileImage struct {
	ID *int64 `json:"id"`
}

type cocoFileCategory struct {
	ID   *int   `json:"id"`
	Name string `json:"name"`
}

type cocoFileAnnotation struct {
	ID         *int64    `json:"id"`
	ImageID    *int64    `json:"image_id"`
	CategoryID *int      `json:"category_id"`
	BBox       []float64 `json:"bbox"`
	Area       *float64  `json:"area"`
	IsCrowd    *int      `json:"iscrowd"`
}

type cocoFile struct {
	Images      []cocoFileImage      `json:"images"`
	Categories  []cocoFileCategory   `json:"categories"`
	Annotations []cocoFileAnnotation `json:"annotations"`
}

// jsonError names the file and, for syntax errors, the byte offset.
func jsonError(path string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: malformed JSON at byte %d: %v", path, se.Offset, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: JSON field %q at byte %d: want %s, got %s", path, te.Field, te.Offset, te.Type, te.Value)
	}
	return fmt.Errorf("%s: %v", path, err)
}

// ReadCOCOGroundTruth reads a COCO instances JSON file (images, categories,
// annotations with bbox [x,y,w,h], area and iscrowd; iscrowd may be absent,
// meaning 0).
func ReadCOCOGroundTruth(path string) (*COCOGroundTruth, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f cocoFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonError(path, err)
	}
	g := &COCOGroundTruth{Path: path, imageIndex: map[int64]int{}, catIndex: map[int]int{}}
	for i, im := range f.Images {
		if im.ID == nil {
			return nil, fmt.Errorf("%s: image %d: missing id", path, i)
		}
		if _, dup := g.imageIndex[*im.ID]; dup {
			return nil, fmt.Errorf("%s: image %d: duplicate image id %d", path, i, *im.ID)
		}
		g.imageIndex[*im.ID] = -1
		g.ImageIDs = append(g.ImageIDs, *im.ID)
	}
	sort.Slice(g.ImageIDs, func(i, j int) bool { return g.ImageIDs[i] < g.ImageIDs[j] })
	for i, id := range g.ImageIDs {
		g.imageIndex[id] = i
	}
	for i, c := range f.Categories {
		if c.ID == nil {
			return nil, fmt.Errorf("%s: category %d: missing id", path, i)
		}
		if _, dup := g.catIndex[*c.ID]; dup {
			return nil, fmt.Errorf("%s: category %d: duplicate category id %d", path, i, *c.ID)
		}
		g.catIndex[*c.ID] = -1
		g.Categories = append(g.Categories, COCOCategory{ID: *c.ID, Name: c.Name})
	}
	sort.Slice(g.Categories, func(i, j int) bool { return g.Categories[i].ID < g.Categories[j].ID })
	for k, c := range g.Categories {
		g.catIndex[c.ID] = k
	}
	g.images = make([]cocoImage, len(g.ImageIDs))
	for i, a := range f.Annotations {
		where := fmt.Sprintf("%s: annotation %d", path, i)
		if a.ID == nil {
			return nil, fmt.Errorf("%s: missing id", where)
		}
		where = fmt.Sprintf("%s (id %d)", where, *a.ID)
		switch {
		case a.ImageID == nil:
			return nil, fmt.Errorf("%s: missing image_id", where)
		case a.CategoryID == nil:
			return nil, fmt.Errorf("%s: missing category_id", where)
		case a.Area == nil:
			return nil, fmt.Errorf("%s: missing area", where)
		}
		img, ok := g.imageIndex[*a.ImageID]
		if !ok {
			return nil, fmt.Errorf("%s: image_id %d is not in images", where, *a.ImageID)
		}
		k, ok := g.catIndex[*a.CategoryID]
		if !ok {
			return nil, fmt.Errorf("%s: category_id %d is not in categories", where, *a.CategoryID)
		}
		b, err := checkCOCOBox(a.BBox)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		crowd := a.IsCrowd != nil && *a.IsCrowd != 0
		g.images[img].gts = append(g.images[img].gts, cocoGT{id: *a.ID, box: b, area: *a.Area, crowd: crowd, cat: k})
	}
	return g, nil
}

func checkCOCOBox(v []float64) (cocoBox, error) {
	if len(v) != 4 {
		return cocoBox{}, fmt.Errorf("bbox has %d numbers, want 4 (x, y, w, h)", len(v))
	}
	if v[2] < 0 || v[3] < 0 {
		return cocoBox{}, fmt.Errorf("bbox [%g %g %g %g] has a negative width or height", v[0], v[1], v[2], v[3])
	}
	return cocoBox{v[0], v[1], v[2], v[3]}, nil
}

// ReadCOCOResults reads detections in COCO's results format and checks them
// against the ground truth: every image_id and category_id must be known
// (pycocotools rejects unknown images; an unknown category is almost always
// a wrong id mapping, so it is an error here too).
func ReadCOCOResults(path string, gt *COCOGroundTruth) ([]COCOResultEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw []struct {
		ImageID    *int64    `json:"image_id"`
		CategoryID *int      `json:"category_id"`
		BBox       []float64 `json:"bbox"`
		Score      *float64  `json:"score"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return nil, fmt.Errorf("%s: want a JSON list of {image_id, category_id, bbox, score}, got %s", path, te.Value)
		}
		return nil, jsonError(path, err)
	}
	out := make([]COCOResultEntry, len(raw))
	for i, r := range raw {
		where := fmt.Sprintf("%s: result %d", path, i)
		switch {
		case r.ImageID == nil:
			return nil, fmt.Errorf("%s: missing image_id", where)
		case r.CategoryID == nil:
			return nil, fmt.Errorf("%s: missing category_id", where)
		case r.Score == nil:
			return nil, fmt.Errorf("%s: missing score", where)
		case math.IsNaN(*r.Score):
			return nil, fmt.Errorf("%s: score is NaN", where)
		}
		if _, ok := gt.imageIndex[*r.ImageID]; !ok {
			return nil, fmt.Errorf("%s: image_id %d is not in the ground truth %s", where, *r.ImageID, gt.Path)
		}
		if _, ok := gt.catIndex[*r.CategoryID]; !ok {
			return nil, fmt.Errorf("%s: unknown category_id %d (not in %s)", where, *r.CategoryID, gt.Path)
		}
		b, err := checkCOCOBox(r.BBox)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		out[i] = COCOResultEntry{ImageID: *r.ImageID, CategoryID: *r.CategoryID, BBox: b, Score: *r.Score}
	}
	return out, nil
}

// WriteCOCOResults writes detections in COCO's results format.
func WriteCOCOResults(path string, dets []COCOResultEntry) error {
	if dets == nil {
		dets = []COCOResultEntry{}
	}
	data, err := json.Marshal(dets)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return os.WriteFile(path, data, 0o644)
}

// Evaluate scores results against the ground truth as COCOeval (bbox)
// does; PerClass follows g.Categories.
func (g *COCOGroundTruth) Evaluate(dets []COCOResultEntry) (*COCOResult, error) {
	imgs := make([]cocoImage, len(g.images))
	for i, im := range g.images {
		imgs[i].gts = im.gts
	}
	for i, d := range dets {
		img, ok := g.imageIndex[d.ImageID]
		if !ok {
			return nil, fmt.Errorf("detection %d: image_id %d is not in the ground truth %s", i, d.ImageID, g.Path)
		}
		k, ok := g.catIndex[d.CategoryID]
		if !ok {
			return nil, fmt.Errorf("detection %d: unknown category_id %d (not in %s)", i, d.CategoryID, g.Path)
		}
		imgs[img].dets = append(imgs[img].dets, cocoDet{box: cocoBox(d.BBox), score: d.Score, cat: k})
	}
	return evaluateCOCO(imgs, len(g.Categories)), nil
}
