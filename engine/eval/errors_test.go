package eval

import (
	"bytes"
	"strings"
	"testing"
)

// analyse runs the analysis on one image's objects and detections.
func analyse(t *testing.T, objs []Object, dets []Detection, numClasses int, group []string) *ErrorAnalysis {
	t.Helper()
	flat := make([]ImageDetection, len(dets))
	for i, d := range dets {
		flat[i] = ImageDetection{Image: 0, Detection: d}
	}
	a, err := AnalyzeErrors([][]Object{objs}, flat, numClasses, group)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wantKinds(t *testing.T, a *ErrorAnalysis, want ...ErrorKind) {
	t.Helper()
	if len(a.Kinds) != len(want) {
		t.Fatalf("%d kinds, want %d", len(a.Kinds), len(want))
	}
	for i := range want {
		if a.Kinds[i] != want[i] {
			t.Errorf("detection %d: %s, want %s", i, kindName(a.Kinds[i]), kindName(want[i]))
		}
	}
}

func kindName(k ErrorKind) string {
	if k < 0 {
		return "not analysed"
	}
	return k.String()
}

// Class 0 and 1 are similar (one group); class 2 is in no group.
var group3 = []string{"animal", "animal", ""}

func TestErrorEveryCategory(t *testing.T) {
	objs := []Object{
		{Box: Box{0, 0, 10, 10}, Class: 0},    // 0: the correct and duplicate target
		{Box: Box{100, 0, 110, 10}, Class: 0}, // 1: localised badly
		{Box: Box{200, 0, 210, 10}, Class: 1}, // 2: similar class
		{Box: Box{300, 0, 310, 10}, Class: 2}, // 3: other class
		{Box: Box{400, 0, 410, 10}, Class: 0}, // 4: never found
		{Box: Box{500, 0, 510, 10}, Class: 0}, // 5: never found
	}
	dets := []Detection{
		{Box: Box{0, 0, 10, 10}, Score: 0.9, Class: 0},       // correct
		{Box: Box{0, 0, 10, 9}, Score: 0.8, Class: 0},        // duplicate: IoU 0.9 with a matched object
		{Box: Box{100, 0, 110, 3}, Score: 0.7, Class: 0},     // IoU 0.3
		{Box: Box{200, 0, 210, 10}, Score: 0.6, Class: 0},    // on a class-1 object
		{Box: Box{300, 0, 310, 10}, Score: 0.5, Class: 0},    // on a class-2 object
		{Box: Box{1000, 0, 1010, 10}, Score: 0.4, Class: 0},  // nothing there
		{Box: Box{1000, 50, 1010, 60}, Score: 0.3, Class: 0}, // beyond the top N = 4... of class 0
	}
	a := analyse(t, objs, dets, 3, group3)
	// Class 0 has 4 objects, so only its top 4 detections are analysed.
	wantKinds(t, a, Correct, Localization, Localization, Similar, -1, -1, -1)
	if a.PerClass[0] != (ErrorCounts{N: 4, Correct: 1, Localization: 2, Similar: 1}) {
		t.Fatalf("class 0: %+v", a.PerClass[0])
	}
	// The same with a larger N: six class-0 objects take all seven
	// detections but one.
	objs = append(objs, Object{Box: Box{600, 0, 610, 10}, Class: 0}, Object{Box: Box{700, 0, 710, 10}, Class: 0})
	a = analyse(t, objs, dets, 3, group3)
	wantKinds(t, a, Correct, Localization, Localization, Similar, Other, Background, -1)
	want := ErrorCounts{N: 6, Correct: 1, Localization: 2, Similar: 1, Other: 1, Background: 1}
	if a.PerClass[0] != want || a.Overall != want {
		t.Fatalf("class 0 %+v, overall %+v, want %+v", a.PerClass[0], a.Overall, want)
	}
}

func TestErrorThresholdsAreInclusive(t *testing.T) {
	objs := []Object{{Box: Box{0, 0, 10, 10}, Class: 0}, {Box: Box{50, 0, 60, 10}, Class: 0},
		{Box: Box{100, 0, 110, 10}, Class: 0}, {Box: Box{200, 0, 210, 10}, Class: 1}, {Box: Box{300, 0, 310, 10}, Class: 2}}
	dets := []Detection{
		{Box: Box{0, 0, 10, 5}, Score: 0.9, Class: 0},      // IoU exactly 0.5: correct
		{Box: Box{50, 0, 60, 1}, Score: 0.8, Class: 0},     // IoU exactly 0.1: localization
		{Box: Box{100, 0, 110, 0.9}, Score: 0.7, Class: 0}, // IoU 0.09: below every threshold
	}
	a := analyse(t, objs, dets, 3, group3)
	wantKinds(t, a, Correct, Localization, Background)
	// Similar and Other need 0.1 too.
	dets = []Detection{
		{Box: Box{200, 0, 210, 1}, Score: 0.9, Class: 0},   // 0.1 with the similar object
		{Box: Box{300, 0, 310, 1}, Score: 0.8, Class: 0},   // 0.1 with the other object
		{Box: Box{300, 0, 310, 0.9}, Score: 0.7, Class: 0}, // 0.09
	}
	wantKinds(t, analyse(t, objs, dets, 3, group3), Similar, Other, Background)
}

func TestErrorPrecedence(t *testing.T) {
	// One detection overlapping its own class weakly (0.2), a similar object
	// and an other object fully: its own class wins (Localization).
	objs := []Object{{Box: Box{0, 0, 10, 10}, Class: 0}, {Box: Box{0, 0, 10, 2}, Class: 0},
		{Box: Box{20, 0, 30, 10}, Class: 1}, {Box: Box{20, 0, 30, 10}, Class: 2}}
	dets := []Detection{
		{Box: Box{0, 0, 10, 2}, Score: 0.9, Class: 0},   // correct (object 1, IoU 1; object 0 only 0.2)
		{Box: Box{20, 0, 30, 10}, Score: 0.8, Class: 0}, // similar beats other
	}
	a := analyse(t, objs, dets, 3, group3)
	wantKinds(t, a, Correct, Similar)
	if a.hit[1] != 1 {
		t.Fatalf("the similar detection should record class 1, got %d", a.hit[1])
	}
	// Without a grouping the same detection is Other.
	wantKinds(t, analyse(t, objs, dets, 3, nil), Correct, Other)
}

func TestErrorMatchesLargestIoUThenNext(t *testing.T) {
	// Two same-class objects both ≥ 0.5 with each detection: the first
	// detection takes the better one (B), the second gets A although B is
	// better for it too.
	objs := []Object{{Box: Box{0, 0, 10, 10}, Class: 0}, {Box: Box{1, 0, 11, 10}, Class: 0}}
	dets := []Detection{{Box: Box{1, 0, 11, 10}, Score: 0.9, Class: 0}, {Box: Box{1, 0, 11, 10}, Score: 0.8, Class: 0}}
	wantKinds(t, analyse(t, objs, dets, 1, nil), Correct, Correct)
	// Equal IoU with two unmatched objects: either way both are correct.
	objs = []Object{{Box: Box{0, 0, 10, 10}, Class: 0}, {Box: Box{0, 0, 10, 10}, Class: 0}}
	dets = []Detection{{Box: Box{0, 0, 10, 10}, Score: 0.9, Class: 0}, {Box: Box{0, 0, 10, 10}, Score: 0.9, Class: 0},
		{Box: Box{0, 0, 10, 10}, Score: 0.9, Class: 0}}
	wantKinds(t, analyse(t, objs, dets, 1, nil), Correct, Correct, -1)
}

func TestErrorScoreTiesKeepInputOrder(t *testing.T) {
	objs := [][]Object{{{Box: Box{0, 0, 10, 10}, Class: 0}}, {}}
	onObj := ImageDetection{Image: 0, Detection: Detection{Box: Box{0, 0, 10, 10}, Score: 0.5, Class: 0}}
	// The same box, but in image 1 which has no object there.
	elsewhere := ImageDetection{Image: 1, Detection: Detection{Box: Box{0, 0, 10, 10}, Score: 0.5, Class: 0}}
	for _, tc := range []struct {
		dets []ImageDetection
		want []ErrorKind
	}{
		{[]ImageDetection{onObj, elsewhere}, []ErrorKind{Correct, -1}},
		// The file lists image 1's detection first: it takes the only slot
		// although its image comes later.
		{[]ImageDetection{elsewhere, onObj}, []ErrorKind{Background, -1}},
	} {
		a, err := AnalyzeErrors(objs, tc.dets, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantKinds(t, a, tc.want...)
	}
	// A higher score still comes first whatever the order.
	hi := onObj
	hi.Score = 0.6
	a, err := AnalyzeErrors(objs, []ImageDetection{elsewhere, hi}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantKinds(t, a, -1, Correct)
}

func TestErrorOnlyOwnImage(t *testing.T) {
	// The object sits in image 0; a detection at the same place in image 1
	// is Background.
	objs := [][]Object{{{Box: Box{0, 0, 10, 10}, Class: 0}, {Box: Box{50, 0, 60, 10}, Class: 0}}, {}}
	dets := []ImageDetection{
		{Image: 1, Detection: Detection{Box: Box{0, 0, 10, 10}, Score: 0.9, Class: 0}},
		{Image: 0, Detection: Detection{Box: Box{0, 0, 10, 10}, Score: 0.8, Class: 0}},
	}
	a, err := AnalyzeErrors(objs, dets, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantKinds(t, a, Background, Correct)
}

func TestErrorCrowdIgnored(t *testing.T) {
	objs := []Object{{Box: Box{0, 0, 10, 10}, Class: 0}, {Box: Box{50, 0, 90, 40}, Class: 0, Crowd: true},
		{Box: Box{200, 0, 210, 10}, Class: 1, Difficult: true}}
	dets := []Detection{
		{Box: Box{50, 0, 90, 40}, Score: 0.9, Class: 0},   // on the crowd region: judged without it
		{Box: Box{0, 0, 10, 10}, Score: 0.8, Class: 0},    // beyond N = 1 (the crowd does not count)
		{Box: Box{200, 0, 210, 10}, Score: 0.9, Class: 1}, // class 1 has no countable object: N = 0
	}
	a := analyse(t, objs, dets, 2, nil)
	wantKinds(t, a, Background, -1, -1)
	if a.PerClass[1].N != 0 {
		t.Fatalf("class 1: %+v", a.PerClass[1])
	}
}

func TestErrorSplitConfusionAndReport(t *testing.T) {
	// Classes 0, 1 base, 2 novel; 1 and 2 similar.
	group := []string{"", "g", "g"}
	objs := []Object{{Box: Box{0, 0, 10, 10}, Class: 0}, {Box: Box{50, 0, 60, 10}, Class: 1}, {Box: Box{100, 0, 110, 10}, Class: 2}}
	dets := []Detection{
		{Box: Box{50, 0, 60, 10}, Score: 0.9, Class: 2},   // novel on base (similar)
		{Box: Box{100, 0, 110, 10}, Score: 0.9, Class: 0}, // base on novel (other)
		{Box: Box{50, 0, 60, 10}, Score: 0.9, Class: 1},   // correct
	}
	flat := make([]ImageDetection, len(dets))
	for i, d := range dets {
		flat[i] = ImageDetection{Detection: d}
	}
	a, err := AnalyzeErrors([][]Object{objs}, flat, 3, group)
	if err != nil {
		t.Fatal(err)
	}
	a.SetSplit(flat, []int{0, 1}, []int{2})
	wantKinds(t, a, Similar, Other, Correct)
	if *a.Confusion != (BaseNovelConfusion{NovelOnBase: 1, BaseOnNovel: 1}) {
		t.Fatalf("confusion %+v", *a.Confusion)
	}
	if *a.Base != (ErrorCounts{N: 2, Correct: 1, Other: 1}) || *a.Novel != (ErrorCounts{N: 1, Similar: 1}) {
		t.Fatalf("base %+v novel %+v", *a.Base, *a.Novel)
	}
	r := a.Report([]string{"1", "5", "9"})
	if r.PerClass["9"] != (ErrorCounts{N: 1, Similar: 1}) || len(r.PerClass) != 3 {
		t.Fatalf("per_class %+v", r.PerClass)
	}
	var buf bytes.Buffer
	if err := a.WriteTable(&buf, []string{"a", "b", "c"}, map[int]bool{2: true}); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, "c*") || !strings.Contains(s, "novel detections on base objects: 1") {
		t.Fatalf("table:\n%s", s)
	}
}

func TestErrorBadInput(t *testing.T) {
	if _, err := AnalyzeErrors([][]Object{{{Class: 3}}}, nil, 2, nil); err == nil {
		t.Fatal("an object class out of range must be an error")
	}
	if _, err := AnalyzeErrors([][]Object{{}}, []ImageDetection{{Image: 1}}, 2, nil); err == nil {
		t.Fatal("a detection of an unknown image must be an error")
	}
}

func TestVOCGroups(t *testing.T) {
	g := GroupsByName([]string{"cat", "dog", "car", "Dining Table", "sofa", "person", "bottle", "widget"}, VOCSimilarGroups)
	if g[0] != g[1] || g[0] == g[2] || g[3] != g[4] || g[5] != g[6] || g[7] != "" {
		t.Fatalf("groups %q", g)
	}
}
