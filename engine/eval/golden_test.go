package eval

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// casesDir holds the reference cases scored by pycocotools and voc_eval
// (see its README.md and manifest.json).
const casesDir = "../../testdata/eval-cases"

var caseNames = []string{"case0_perfect", "case1_mixed", "case2_maxdets", "case3_duplicates"}

const goldenTol = 1e-9

type expectedCOCO struct {
	Stats           []float64          `json:"stats"`
	PerCategoryAP   map[string]float64 `json:"per_category_ap"`
	PerCategoryAP50 map[string]float64 `json:"per_category_ap50"`
	PerCategoryAP75 map[string]float64 `json:"per_category_ap75"`
	NumNonCrowdGT   map[string]int     `json:"per_category_num_noncrowd_gt"`
}

type expectedVOCClass struct {
	NumDets   int      `json:"num_dets"`
	NPos      int      `json:"npos"`
	AP50_07   *float64 `json:"ap50_07"`
	AP50All   *float64 `json:"ap50_all"`
	AP75_07   *float64 `json:"ap75_07"`
	AP75All   *float64 `json:"ap75_all"`
	AP5095_07 *float64 `json:"ap50_95_07"`
	AP5095All *float64 `json:"ap50_95_all"`
}

type expectedVOC struct {
	Classes      []string                    `json:"classes"`
	ClassesInMAP []string                    `json:"classes_in_map"`
	MAP50_07     float64                     `json:"map50_07"`
	MAP50All     float64                     `json:"map50_all"`
	MAP75_07     float64                     `json:"map75_07"`
	MAP75All     float64                     `json:"map75_all"`
	MAP5095_07   float64                     `json:"map50_95_07"`
	MAP5095All   float64                     `json:"map50_95_all"`
	PerClass     map[string]expectedVOCClass `json:"per_class"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > goldenTol {
		t.Errorf("%s = %.17g, want %.17g", what, got, want)
	}
}

func checkCOCO(t *testing.T, gt *COCOGroundTruth, res *COCOResult, want expectedCOCO) {
	t.Helper()
	if len(want.Stats) != 12 {
		t.Fatalf("expected_coco.json has %d stats", len(want.Stats))
	}
	for i, w := range want.Stats {
		near(t, COCOStatNames[i], res.Stats[i], w)
	}
	if len(want.PerCategoryAP) != len(gt.Categories) {
		t.Fatalf("%d categories, expected file has %d", len(gt.Categories), len(want.PerCategoryAP))
	}
	for k, c := range gt.Categories {
		id := strconv.Itoa(c.ID)
		pc := res.PerClass[k]
		near(t, "AP["+id+"]", pc.AP, want.PerCategoryAP[id])
		near(t, "AP50["+id+"]", pc.AP50, want.PerCategoryAP50[id])
		near(t, "AP75["+id+"]", pc.AP75, want.PerCategoryAP75[id])
		if pc.NumGT != want.NumNonCrowdGT[id] {
			t.Errorf("NumGT[%s] = %d, want %d", id, pc.NumGT, want.NumNonCrowdGT[id])
		}
		if pc.Valid != (want.PerCategoryAP[id] > -1) {
			t.Errorf("Valid[%s] = %v with expected AP %g", id, pc.Valid, want.PerCategoryAP[id])
		}
	}
}

func TestCOCOGolden(t *testing.T) {
	for _, name := range caseNames {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(casesDir, name)
			gt, err := ReadCOCOGroundTruth(filepath.Join(dir, "gt.json"))
			if err != nil {
				t.Fatal(err)
			}
			dets, err := ReadCOCOResults(filepath.Join(dir, "dets.json"), gt)
			if err != nil {
				t.Fatal(err)
			}
			res, err := gt.Evaluate(dets)
			if err != nil {
				t.Fatal(err)
			}
			var want expectedCOCO
			readJSON(t, filepath.Join(dir, "expected_coco.json"), &want)
			checkCOCO(t, gt, res, want)
		})
	}
}

// TestCOCOGoldenInMemory feeds the same cases through the trainer's API
// (x1,y1,x2,y2 boxes, class indices) and expects the same numbers.
func TestCOCOGoldenInMemory(t *testing.T) {
	for _, name := range caseNames {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(casesDir, name)
			gt, err := ReadCOCOGroundTruth(filepath.Join(dir, "gt.json"))
			if err != nil {
				t.Fatal(err)
			}
			dets, err := ReadCOCOResults(filepath.Join(dir, "dets.json"), gt)
			if err != nil {
				t.Fatal(err)
			}
			byImage := map[int64][]Detection{}
			for _, d := range dets {
				k, _ := gt.ClassIndex(d.CategoryID)
				b := d.BBox
				byImage[d.ImageID] = append(byImage[d.ImageID], Detection{Box: Box{b[0], b[1], b[0] + b[2], b[1] + b[3]}, Score: d.Score, Class: k})
			}
			ev := NewEvaluator(len(gt.Categories))
			for i, id := range gt.ImageIDs {
				var objs []Object
				for _, g := range gt.images[i].gts {
					b := g.box
					objs = append(objs, Object{Box: Box{b[0], b[1], b[0] + b[2], b[1] + b[3]}, Class: g.cat, Crowd: g.crowd, Area: g.area})
				}
				ev.Add(objs, byImage[id])
			}
			var want expectedCOCO
			readJSON(t, filepath.Join(dir, "expected_coco.json"), &want)
			res := ev.COCO()
			checkCOCO(t, gt, res, want)

			var all []int
			for k := range gt.Categories {
				all = append(all, k)
			}
			s := res.Summary(all)
			near(t, "Summary.AP", s.AP, want.Stats[0])
			near(t, "Summary.AP50", s.AP50, want.Stats[1])
			near(t, "Summary.AP75", s.AP75, want.Stats[2])
		})
	}
}

type vocWant struct {
	iouIdx  []int // indices into VOCIoUs averaged
	metric  VOCMetric
	perCls  func(expectedVOCClass) *float64
	meanAll float64
}

func vocWants(e expectedVOC) map[string]vocWant {
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	return map[string]vocWant{
		"ap50_07":     {[]int{0}, VOC07, func(c expectedVOCClass) *float64 { return c.AP50_07 }, e.MAP50_07},
		"ap50_all":    {[]int{0}, VOCArea, func(c expectedVOCClass) *float64 { return c.AP50All }, e.MAP50All},
		"ap75_07":     {[]int{5}, VOC07, func(c expectedVOCClass) *float64 { return c.AP75_07 }, e.MAP75_07},
		"ap75_all":    {[]int{5}, VOCArea, func(c expectedVOCClass) *float64 { return c.AP75All }, e.MAP75All},
		"ap50_95_07":  {all, VOC07, func(c expectedVOCClass) *float64 { return c.AP5095_07 }, e.MAP5095_07},
		"ap50_95_all": {all, VOCArea, func(c expectedVOCClass) *float64 { return c.AP5095All }, e.MAP5095All},
	}
}

func checkVOC(t *testing.T, data *VOCData, classes []string, want expectedVOC) {
	t.Helper()
	results := map[VOCMetric]*VOCResult{VOC07: data.Evaluate(VOC07), VOCArea: data.Evaluate(VOCArea)}
	inMAP := map[string]bool{}
	for _, c := range want.ClassesInMAP {
		inMAP[c] = true
	}
	for key, w := range vocWants(want) {
		res := results[w.metric]
		var mean float64
		n := 0
		for c, class := range classes {
			ec := want.PerClass[class]
			if data.NumPositives(c) != ec.NPos || data.NumDetections(c) != ec.NumDets {
				t.Errorf("%s: npos %d dets %d, want %d %d", class, data.NumPositives(c), data.NumDetections(c), ec.NPos, ec.NumDets)
			}
			exp := w.perCls(ec)
			vc := res.Classes[c]
			if exp == nil {
				if vc.Valid || inMAP[class] {
					t.Errorf("%s %s: valid %v, want null", key, class, vc.Valid)
				}
				continue
			}
			if !vc.Valid {
				t.Errorf("%s %s: not valid, want %g", key, class, *exp)
				continue
			}
			var ap float64
			for _, i := range w.iouIdx {
				ap += vc.APs[i]
			}
			ap /= float64(len(w.iouIdx))
			near(t, key+" "+class, ap, *exp)
			mean += ap
			n++
		}
		if n != len(want.ClassesInMAP) {
			t.Errorf("%s: %d classes in the mean, want %d", key, n, len(want.ClassesInMAP))
		}
		near(t, "m"+key, mean/float64(n), w.meanAll)
	}
	for m, res := range results {
		s := res.Summary(nil)
		if m == VOC07 {
			near(t, "Summary(voc07).AP50", s.AP50, want.MAP50_07)
			near(t, "Summary(voc07).AP75", s.AP75, want.MAP75_07)
			near(t, "Summary(voc07).AP", s.AP, want.MAP5095_07)
		} else {
			near(t, "Summary(area).AP50", s.AP50, want.MAP50All)
			near(t, "Summary(area).AP75", s.AP75, want.MAP75All)
			near(t, "Summary(area).AP", s.AP, want.MAP5095All)
		}
	}
}

func TestVOCGolden(t *testing.T) {
	for _, name := range caseNames {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(casesDir, name)
			var want expectedVOC
			readJSON(t, filepath.Join(dir, "expected_voc.json"), &want)
			kit, err := ReadVOCDevkit(filepath.Join(dir, "voc"), "test", want.Classes)
			if err != nil {
				t.Fatal(err)
			}
			if err := kit.ReadDetections(filepath.Join(dir, "voc_dets")); err != nil {
				t.Fatal(err)
			}
			checkVOC(t, kit.Data, want.Classes, want)
		})
	}
}

// TestVOCGoldenInMemory converts the devkit boxes to the backend's 0-based
// convention, goes through Evaluator (which shifts them back) and expects
// the same numbers.
func TestVOCGoldenInMemory(t *testing.T) {
	for _, name := range caseNames {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(casesDir, name)
			var want expectedVOC
			readJSON(t, filepath.Join(dir, "expected_voc.json"), &want)
			kit, err := ReadVOCDevkit(filepath.Join(dir, "voc"), "test", want.Classes)
			if err != nil {
				t.Fatal(err)
			}
			if err := kit.ReadDetections(filepath.Join(dir, "voc_dets")); err != nil {
				t.Fatal(err)
			}
			objs := make([][]Object, len(kit.ImageIDs))
			dets := make([][]Detection, len(kit.ImageIDs))
			for c := range want.Classes {
				for img, os := range kit.Data.objects[c] {
					for _, o := range os {
						b := o.box
						objs[img] = append(objs[img], Object{Box: Box{b[0] - 1, b[1] - 1, b[2], b[3]}, Class: c, Difficult: o.difficult})
					}
				}
				for _, d := range kit.Data.dets[c] {
					b := d.box
					dets[d.image] = append(dets[d.image], Detection{Box: Box{b[0] - 1, b[1] - 1, b[2], b[3]}, Score: d.score, Class: c})
				}
			}
			ev := NewEvaluator(len(want.Classes))
			for img := range objs {
				ev.Add(objs[img], dets[img])
			}
			checkVOC(t, ev.VOCData(), want.Classes, want)
		})
	}
}
