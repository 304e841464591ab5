package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const evalCases = "../../testdata/eval-cases"

var evalCaseNames = []string{"case0_perfect", "case1_mixed", "case2_maxdets", "case3_duplicates"}

// runCLI runs the app with args and returns what it printed.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.ErrWriter = &out
	err := app.Run(append([]string{"fsodgpu"}, args...))
	return out.String(), err
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-9 }

func TestEvalCOCOCommand(t *testing.T) {
	names := []string{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}
	for _, name := range evalCaseNames {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(evalCases, name)
			out := filepath.Join(t.TempDir(), "coco.json")
			printed, err := runCLI(t, "eval", "coco", "--gt", filepath.Join(dir, "gt.json"),
				"--results", filepath.Join(dir, "dets.json"), "--json", out)
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Stats         []float64          `json:"stats"`
				PerCategoryAP map[string]float64 `json:"per_category_ap"`
			}
			readJSONFile(t, filepath.Join(dir, "expected_coco.json"), &want)
			var got map[string]any
			readJSONFile(t, out, &got)
			lines := strings.Split(strings.TrimRight(printed, "\n"), "\n")
			if len(lines) != 12 {
				t.Fatalf("printed %d lines, want 12:\n%s", len(lines), printed)
			}
			for i, n := range names {
				v, ok := got[n].(float64)
				if !ok || !closeTo(v, want.Stats[i]) {
					t.Errorf("%s = %v, want %.17g", n, got[n], want.Stats[i])
				}
				// The printed line ends with the value rounded to 3 places.
				if suffix := "= " + strconv.FormatFloat(want.Stats[i], 'f', 3, 64); !strings.HasSuffix(lines[i], suffix) {
					t.Errorf("line %d %q does not end with %q", i, lines[i], suffix)
				}
			}
			if !strings.HasPrefix(lines[0], " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = ") ||
				!strings.HasPrefix(lines[6], " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = ") {
				t.Errorf("layout differs from pycocotools':\n%s", printed)
			}
			per, _ := got["per_class"].(map[string]any)
			if len(per) != len(want.PerCategoryAP) {
				t.Fatalf("per_class has %d entries, want %d", len(per), len(want.PerCategoryAP))
			}
			for id, w := range want.PerCategoryAP {
				if v, ok := per[id].(float64); !ok || !closeTo(v, w) {
					t.Errorf("per_class[%s] = %v, want %.17g", id, per[id], w)
				}
			}
		})
	}
}

func TestEvalVOCCommand(t *testing.T) {
	runs := []struct {
		metric, iou, key, field string
	}{
		{"voc07", "0.5", "mAP50", "50_07"},
		{"area", "0.5", "mAP50", "50_all"},
		{"voc07", "0.75", "mAP75", "75_07"},
		{"area", "0.75", "mAP75", "75_all"},
		{"voc07", "0.5:0.95", "mAP", "50_95_07"},
		{"area", "0.5:0.95", "mAP", "50_95_all"},
	}
	for _, name := range evalCaseNames {
		dir := filepath.Join(evalCases, name)
		var want map[string]any
		readJSONFile(t, filepath.Join(dir, "expected_voc.json"), &want)
		var classes []string
		for _, c := range want["classes"].([]any) {
			classes = append(classes, c.(string))
		}
		for _, r := range runs {
			t.Run(name+"/"+r.metric+"@"+r.iou, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "voc.json")
				printed, err := runCLI(t, "eval", "voc", "--devkit", filepath.Join(dir, "voc"), "--set", "test",
					"--dets", filepath.Join(dir, "voc_dets"), "--metric", r.metric, "--iou", r.iou,
					"--classes", strings.Join(classes, ","), "--json", out)
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(printed, "\n"); n != len(classes)+1 {
					t.Errorf("printed %d lines, want %d:\n%s", n, len(classes)+1, printed)
				}
				var got map[string]any
				readJSONFile(t, out, &got)
				if v, ok := got[r.key].(float64); !ok || !closeTo(v, want["map"+r.field].(float64)) {
					t.Errorf("%s = %v, want %v", r.key, got[r.key], want["map"+r.field])
				}
				per := got["per_class"].(map[string]any)
				wantPer := want["per_class"].(map[string]any)
				for _, c := range classes {
					w := wantPer[c].(map[string]any)["ap"+r.field]
					g, present := per[c]
					if !present {
						t.Errorf("per_class lacks %s", c)
						continue
					}
					if w == nil || g == nil {
						if w != g {
							t.Errorf("per_class[%s] = %v, want %v", c, g, w)
						}
						continue
					}
					if !closeTo(g.(float64), w.(float64)) {
						t.Errorf("per_class[%s] = %v, want %v", c, g, w)
					}
				}
			})
		}
	}
}

// TestEvalVOCDefaultClasses checks the default class list: without
// --classes or classes.txt it is every class of the annotations and the
// result files, VOC's or not; a class with ground truth but no result file
// scores 0 and counts in the mean; one without non-difficult ground truth is
// listed as null and left out. (The old default, the 20 VOC classes, dropped
// truck, which has ground truth and no file, and gave a higher mAP.)
func TestEvalVOCDefaultClasses(t *testing.T) {
	dir := filepath.Join(evalCases, "case1_mixed")
	dets := t.TempDir()
	for _, c := range []string{"person", "dog", "chair", "toothbrush"} {
		data, err := os.ReadFile(filepath.Join(dir, "voc_dets", "comp4_det_test_"+c+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dets, "comp4_det_test_"+c+".txt"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "voc.json")
	if _, err := runCLI(t, "eval", "voc", "--devkit", filepath.Join(dir, "voc"), "--dets", dets, "--json", out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		MAP50    float64             `json:"mAP50"`
		PerClass map[string]*float64 `json:"per_class"`
	}
	readJSONFile(t, out, &got)
	var want struct {
		PerClass map[string]map[string]*float64 `json:"per_class"`
	}
	readJSONFile(t, filepath.Join(dir, "expected_voc.json"), &want)
	wantKeys := []string{"bottle", "car", "chair", "dog", "person", "toothbrush", "truck"}
	if len(got.PerClass) != len(wantKeys) {
		t.Fatalf("per_class = %v, want keys %v", got.PerClass, wantKeys)
	}
	var sum float64
	n := 0
	for _, c := range wantKeys {
		ap, present := got.PerClass[c]
		if !present {
			t.Fatalf("per_class lacks %s", c)
		}
		if c == "toothbrush" { // only crowd/difficult ground truth
			if ap != nil {
				t.Errorf("toothbrush = %v, want null", *ap)
			}
			continue
		}
		if ap == nil {
			t.Fatalf("%s: null", c)
		}
		w := 0.0
		if c != "car" && c != "bottle" && c != "truck" { // no result file: AP 0
			w = *want.PerClass[c]["ap50_07"]
		}
		if !closeTo(*ap, w) {
			t.Errorf("%s = %v, want %v", c, *ap, w)
		}
		sum += w
		n++
	}
	if !closeTo(got.MAP50, sum/float64(n)) {
		t.Errorf("mAP50 = %v, want %v over %d classes", got.MAP50, sum/float64(n), n)
	}
}

// TestEvalVOCClassCounting is a hand-built case where the old rule gave the
// higher mAP: "circle" is found perfectly, "square" has ground truth and an
// empty result file, "star" has ground truth and no file, "moon" has only a
// difficult object and "comet" nothing. The reference devkit gives circle 1,
// square and star 0 (counted), moon and comet null (listed, not counted):
// mAP 1/3. The old code (default: VOC's 20 classes) found none of them; with
// --classes it left comet out of the JSON.
func TestEvalVOCClassCounting(t *testing.T) {
	root := t.TempDir()
	devkit := filepath.Join(root, "VOC2007")
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	obj := func(name string, difficult int, x int) string {
		return fmt.Sprintf("<object><name>%s</name><difficult>%d</difficult><bndbox><xmin>%d</xmin><ymin>10</ymin><xmax>%d</xmax><ymax>40</ymax></bndbox></object>", name, difficult, x, x+30)
	}
	write(filepath.Join(devkit, "ImageSets", "Main", "test.txt"), "a\nb\n")
	write(filepath.Join(devkit, "Annotations", "a.xml"), "<annotation>"+obj("circle", 0, 10)+obj("square", 0, 60)+"</annotation>")
	write(filepath.Join(devkit, "Annotations", "b.xml"), "<annotation>"+obj("star", 0, 10)+obj("moon", 1, 60)+"</annotation>")
	dets := filepath.Join(root, "dets")
	write(filepath.Join(dets, "comp4_det_test_circle.txt"), "a 0.9 10 10 40 40\n")
	write(filepath.Join(dets, "comp4_det_test_square.txt"), "")
	check := func(name string, args []string, want []string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "voc.json")
		printed, err := runCLI(t, append([]string{"eval", "voc", "--devkit", devkit, "--dets", dets, "--json", out}, args...)...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got struct {
			MAP50    float64             `json:"mAP50"`
			PerClass map[string]*float64 `json:"per_class"`
		}
		readJSONFile(t, out, &got)
		if !closeTo(got.MAP50, 1.0/3) {
			t.Errorf("%s: mAP50 = %v, want 1/3\n%s", name, got.MAP50, printed)
		}
		wantAP := map[string]float64{"circle": 1, "square": 0, "star": 0}
		if len(got.PerClass) != len(want) {
			t.Errorf("%s: per_class %v, want the classes %v", name, got.PerClass, want)
		}
		for _, c := range want {
			ap, present := got.PerClass[c]
			w, counted := wantAP[c]
			switch {
			case !present:
				t.Errorf("%s: per_class lacks %s", name, c)
			case !counted && ap != nil:
				t.Errorf("%s: %s = %v, want null", name, c, *ap)
			case counted && (ap == nil || !closeTo(*ap, w)):
				t.Errorf("%s: %s = %v, want %v", name, c, ap, w)
			}
		}
	}
	// Discovered from the annotations and the result files.
	check("discovered", nil, []string{"circle", "moon", "square", "star"})
	check("--classes", []string{"--classes", "circle,square,star,moon,comet"}, []string{"circle", "square", "star", "moon", "comet"})
	write(filepath.Join(root, "classes.txt"), "comet\ncircle\nsquare\nstar\nmoon\n")
	check("classes.txt", nil, []string{"comet", "circle", "square", "star", "moon"})
}

func TestEvalCommandErrors(t *testing.T) {
	dir := filepath.Join(evalCases, "case1_mixed")
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"image_id": 380717, "category_id": 77, "bbox": [1,2,3,4], "score": 0.5}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"eval", "coco", "--gt", filepath.Join(dir, "gt.json"), "--results", bad}, "bad.json: result 0: unknown category_id 77"},
		{[]string{"eval", "coco", "--gt", filepath.Join(tmp, "none.json"), "--results", bad}, "none.json"},
		{[]string{"eval", "voc", "--devkit", filepath.Join(dir, "voc"), "--dets", tmp, "--metric", "12point"}, "--metric"},
		{[]string{"eval", "voc", "--devkit", filepath.Join(dir, "voc"), "--dets", tmp, "--iou", "1.5"}, "--iou"},
		{[]string{"eval", "voc", "--devkit", filepath.Join(dir, "voc"), "--dets", tmp, "--classes", "person"}, "no comp4_det_test_<class>.txt file"},
		{[]string{"eval", "voc", "--devkit", filepath.Join(dir, "voc"), "--dets", filepath.Join(dir, "voc_dets"), "--set", "val"}, "val.txt"},
		{[]string{"eval", "voc", "--devkit", filepath.Join(dir, "voc"), "--dets", filepath.Join(tmp, "nowhere")}, "nowhere"},
	}
	for _, c := range cases {
		_, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}
