package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/internal/geom"
)

// Error analysis after Hoiem et al., as the YOLO paper uses it: for each class
// its top N detections (N = its number of ground-truth objects) are sorted
// into Correct, Localization, Similar, Other and Background.

// IoU thresholds of the error analysis.
const (
	errCorrectIoU = 0.5
	errTouchIoU   = 0.1
)

// ErrorKind is the category one analysed detection falls into.
type ErrorKind int

const (
	Correct ErrorKind = iota
	Localization
	Similar
	Other
	Background
)

// ErrorKindNames are the JSON keys and table columns, in ErrorKind order.
var ErrorKindNames = [5]string{"correct", "localization", "similar", "other", "background"}

func (k ErrorKind) String() string { return ErrorKindNames[k] }

// ErrorCounts counts analysed detections per kind; N is their sum.
type ErrorCounts struct {
	N            int `json:"n"`
	Correct      int `json:"correct"`
	Localization int `json:"localization"`
	Similar      int `json:"similar"`
	Other        int `json:"other"`
	Background   int `json:"background"`
}

func (c *ErrorCounts) add(k ErrorKind) {
	c.N++
	switch k {
	case Correct:
		c.Correct++
	case Localization:
		c.Localization++
	case Similar:
		c.Similar++
	case Other:
		c.Other++
	case Background:
		c.Background++
	}
}

func (c *ErrorCounts) plus(o ErrorCounts) {
	c.N += o.N
	c.Correct += o.Correct
	c.Localization += o.Localization
	c.Similar += o.Similar
	c.Other += o.Other
	c.Background += o.Background
}

// Counts returns the five counts in ErrorKind order.
func (c ErrorCounts) Counts() [5]int {
	return [5]int{c.Correct, c.Localization, c.Similar, c.Other, c.Background}
}

// Fractions returns the counts over N (zeros when N is 0).
func (c ErrorCounts) Fractions() [5]float64 {
	var f [5]float64
	if c.N == 0 {
		return f
	}
	for i, v := range c.Counts() {
		f[i] = float64(v) / float64(c.N)
	}
	return f
}

// BaseNovelConfusion counts Similar and Other detections whose overlapped
// object (the one of another class with the largest IoU) crosses the split.
type BaseNovelConfusion struct {
	NovelOnBase int `json:"novel_on_base"` // a novel-class detection on a base-class object
	BaseOnNovel int `json:"base_on_novel"` // a base-class detection on a novel-class object
}

// ErrorAnalysis is the result: the per-detection kinds and the counts.
type ErrorAnalysis struct {
	Overall  ErrorCounts
	PerClass []ErrorCounts // by class index
	// Base and Novel are set when the split is known (SetSplit).
	Base, Novel *ErrorCounts
	Confusion   *BaseNovelConfusion
	// Kinds[i] is the kind of detection i of the input, -1 when it was
	// not among its class's top N.
	Kinds []ErrorKind
	// hit[i] is the class of the object that made detection i Similar or
	// Other (-1 otherwise); the split confusion is counted from it.
	hit []int
}

// ImageDetection is a detection of image Image (an index into the objects).
type ImageDetection struct {
	Image int
	Detection
}

// AnalyzeErrors classifies detections against objects[image]. group[c]
// names class c's group of similar classes ("" for none); numClasses bounds
// the class indices.
//
// Crowd and difficult objects are left out: they do not count towards N,
// and no detection is compared with them, so a detection on one is judged
// by the other objects of its image only. (A crowd region has no single
// object to localise, and VOC's difficult objects are ones the benchmark
// does not count either.)
//
// Detections are taken per class in decreasing score; equal scores keep the
// order of dets, which is the results file's order when they come from one.
func AnalyzeErrors(objects [][]Object, dets []ImageDetection, numClasses int, group []string) (*ErrorAnalysis, error) {
	nGT := make([]int, numClasses)
	perClass := make([][]int, numClasses)
	for i, objs := range objects {
		for k, o := range objs {
			if o.Class < 0 || o.Class >= numClasses {
				return nil, fmt.Errorf("image %d object %d: class %d out of range [0,%d)", i, k, o.Class, numClasses)
			}
			if !o.Crowd && !o.Difficult {
				nGT[o.Class]++
			}
		}
	}
	for i, d := range dets {
		if d.Class < 0 || d.Class >= numClasses {
			return nil, fmt.Errorf("detection %d: class %d out of range [0,%d)", i, d.Class, numClasses)
		}
		if d.Image < 0 || d.Image >= len(objects) {
			return nil, fmt.Errorf("detection %d: image %d out of range [0,%d)", i, d.Image, len(objects))
		}
		perClass[d.Class] = append(perClass[d.Class], i)
	}
	a := &ErrorAnalysis{PerClass: make([]ErrorCounts, numClasses), Kinds: make([]ErrorKind, len(dets)), hit: make([]int, len(dets))}
	for i := range a.Kinds {
		a.Kinds[i], a.hit[i] = -1, -1
	}
	similar := func(c, o int) bool {
		return c != o && group != nil && group[c] != "" && group[c] == group[o]
	}
	for c := 0; c < numClasses; c++ {
		idx := perClass[c]
		sort.SliceStable(idx, func(x, y int) bool { return dets[idx[x]].Score > dets[idx[y]].Score })
		if len(idx) > nGT[c] {
			idx = idx[:nGT[c]]
		}
		matched := map[[2]int]bool{}
		for _, di := range idx {
			d := dets[di]
			objs := objects[d.Image]
			best, bestIoU := -1, 0.0
			touchesOwn := false
			simObj, simIoU, othObj, othIoU := -1, 0.0, -1, 0.0
			for k, o := range objs {
				if o.Crowd || o.Difficult {
					continue
				}
				iou := geom.IoU(d.Box, o.Box)
				switch {
				case o.Class == c:
					// Strictly greater: on equal IoU the first object wins.
					if iou >= errCorrectIoU && !matched[[2]int{d.Image, k}] && iou > bestIoU {
						best, bestIoU = k, iou
					}
					touchesOwn = touchesOwn || iou >= errTouchIoU
				case similar(c, o.Class):
					if iou >= errTouchIoU && iou > simIoU {
						simObj, simIoU = k, iou
					}
				default:
					if iou >= errTouchIoU && iou > othIoU {
						othObj, othIoU = k, iou
					}
				}
			}
			var kind ErrorKind
			switch {
			case best >= 0:
				kind = Correct
				matched[[2]int{d.Image, best}] = true
			case touchesOwn:
				kind = Localization
			case simObj >= 0:
				kind = Similar
				a.hit[di] = objs[simObj].Class
			case othObj >= 0:
				kind = Other
				a.hit[di] = objs[othObj].Class
			default:
				kind = Background
			}
			a.Kinds[di] = kind
			a.PerClass[c].add(kind)
			a.Overall.add(kind)
		}
	}
	return a, nil
}

// SetSplit fills Base, Novel and the confusion counts from the classes of
// each side (class indices).
func (a *ErrorAnalysis) SetSplit(dets []ImageDetection, base, novel []int) {
	isBase, isNovel := map[int]bool{}, map[int]bool{}
	var b, n ErrorCounts
	for _, c := range base {
		isBase[c] = true
		b.plus(a.PerClass[c])
	}
	for _, c := range novel {
		isNovel[c] = true
		n.plus(a.PerClass[c])
	}
	a.Base, a.Novel = &b, &n
	conf := &BaseNovelConfusion{}
	for i, d := range dets {
		if h := a.hit[i]; h >= 0 {
			switch {
			case isNovel[d.Class] && isBase[h]:
				conf.NovelOnBase++
			case isBase[d.Class] && isNovel[h]:
				conf.BaseOnNovel++
			}
		}
	}
	a.Confusion = conf
}

// ErrorReport is the JSON `fsodgpu eval errors --json` writes: counts, not
// fractions; per_class is keyed by category id.
type ErrorReport struct {
	Overall   ErrorCounts            `json:"overall"`
	PerClass  map[string]ErrorCounts `json:"per_class"`
	Base      *ErrorCounts           `json:"base,omitempty"`
	Novel     *ErrorCounts           `json:"novel,omitempty"`
	Confusion *BaseNovelConfusion    `json:"base_novel_confusion,omitempty"`
}

// Report keys the per-class counts by ids[c] (the category id of class c).
func (a *ErrorAnalysis) Report(ids []string) *ErrorReport {
	r := &ErrorReport{Overall: a.Overall, PerClass: map[string]ErrorCounts{}, Base: a.Base, Novel: a.Novel, Confusion: a.Confusion}
	for c, pc := range a.PerClass {
		r.PerClass[ids[c]] = pc
	}
	return r
}

// WriteTable prints the fractions per class (names[c]; novel classes marked
// with *), then the groups and the overall row.
func (a *ErrorAnalysis) WriteTable(w io.Writer, names []string, novel map[int]bool) error {
	var sb strings.Builder
	width := 7
	for _, n := range names {
		width = max(width, len(n)+1)
	}
	fmt.Fprintf(&sb, "%-*s %6s", width, "class", "n")
	for _, k := range ErrorKindNames {
		fmt.Fprintf(&sb, " %12s", k)
	}
	sb.WriteByte('\n')
	row := func(name string, c ErrorCounts) {
		fmt.Fprintf(&sb, "%-*s %6d", width, name, c.N)
		for _, f := range c.Fractions() {
			fmt.Fprintf(&sb, " %12.3f", f)
		}
		sb.WriteByte('\n')
	}
	for c, pc := range a.PerClass {
		name := names[c]
		if novel[c] {
			name += "*"
		}
		row(name, pc)
	}
	if a.Base != nil {
		row("base", *a.Base)
		row("novel", *a.Novel)
	}
	row("overall", a.Overall)
	if a.Confusion != nil {
		fmt.Fprintf(&sb, "novel detections on base objects: %d; base detections on novel objects: %d\n",
			a.Confusion.NovelOnBase, a.Confusion.BaseOnNovel)
	}
	if novel != nil && len(novel) > 0 {
		sb.WriteString("* novel class\n")
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// VOCSimilarGroups is the built-in grouping of the 20 VOC classes into
// animals, vehicles, furniture and the rest (the rest is one group too, as
// the grouping lists four groups). Names are matched in lower case
// with spaces removed, so COCO-style spellings of VOC classes also match.
var VOCSimilarGroups = map[string][]string{
	"animal":    {"bird", "cat", "cow", "dog", "horse", "sheep"},
	"vehicle":   {"aeroplane", "airplane", "bicycle", "boat", "bus", "car", "motorbike", "motorcycle", "train"},
	"furniture": {"chair", "diningtable", "sofa", "couch"},
	"other":     {"person", "bottle", "pottedplant", "tvmonitor", "tv"},
}

func normName(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }

// GroupsByName maps each class name to its group under groups (group →
// class names); classes in no group get "".
func GroupsByName(names []string, groups map[string][]string) []string {
	of := map[string]string{}
	for g, members := range groups {
		for _, m := range members {
			of[normName(m)] = g
		}
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = of[normName(n)]
	}
	return out
}

// ReadSimilarGroups reads a grouping file: a JSON object of group name →
// list of class names. A class named twice is an error.
func ReadSimilarGroups(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var g map[string][]string
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object of group name to a list of class names: %v", path, err)
	}
	seen := map[string]string{}
	for name, members := range g {
		for _, m := range members {
			if prev, dup := seen[normName(m)]; dup {
				return nil, fmt.Errorf("%s: class %q is in both group %q and group %q", path, m, prev, name)
			}
			seen[normName(m)] = name
		}
	}
	return g, nil
}

// ReadCOCOSupercategories returns category id → supercategory of a COCO
// instances file (the field ReadCOCOGroundTruth does not keep).
func ReadCOCOSupercategories(path string) (map[int]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Categories []struct {
			ID            int    `json:"id"`
			Supercategory string `json:"supercategory"`
		} `json:"categories"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonError(path, err)
	}
	out := map[int]string{}
	for _, c := range f.Categories {
		out[c.ID] = c.Supercategory
	}
	return out, nil
}

// ErrorInputs turns a ground truth and its results into the analysis's
// input: objects per image (ImageIDs order) and the results in file order.
func (g *COCOGroundTruth) ErrorInputs(dets []COCOResultEntry) ([][]Object, []ImageDetection) {
	objs := make([][]Object, len(g.images))
	for i, im := range g.images {
		for _, o := range im.gts {
			objs[i] = append(objs[i], Object{
				Box: Box{o.box[0], o.box[1], o.box[0] + o.box[2], o.box[1] + o.box[3]}, Class: o.cat, Crowd: o.crowd})
		}
	}
	out := make([]ImageDetection, len(dets))
	for k, d := range dets {
		out[k] = ImageDetection{Image: g.imageIndex[d.ImageID], Detection: Detection{
			Box:   Box{d.BBox[0], d.BBox[1], d.BBox[0] + d.BBox[2], d.BBox[1] + d.BBox[3]},
			Score: d.Score, Class: g.catIndex[d.CategoryID]}}
	}
	return objs, out
}

// CategoryIDStrings returns the category ids as the report's keys.
func (g *COCOGroundTruth) CategoryIDStrings() []string {
	out := make([]string, len(g.Categories))
	for k, c := range g.Categories {
		out[k] = strconv.Itoa(c.ID)
	}
	return out
}
