package eval

import (
	"math"
	"testing"
)

func closeTo(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestRescoreMatchBoostsByProbabilityAndOverlap(t *testing.T) {
	primary := []Detection{{Box: Box{0, 0, 10, 10}, Score: 0.4, Class: 2}}
	// IoU of [0,0,10,10] and [0,0,10,8] is 80/100.
	second := []Detection{{Box: Box{0, 0, 10, 8}, Score: 0.5, Class: 2}}
	out, m, err := Rescore(primary, second, RescoreOptions{Alpha: 2, MinIoU: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.4 + 2*0.5*0.8; !closeTo(out[0].Score, want) {
		t.Fatalf("score %v, want %v", out[0].Score, want)
	}
	if m[0].Index != 0 || !closeTo(m[0].IoU, 0.8) {
		t.Fatalf("match %+v, want index 0 IoU 0.8", m[0])
	}
	if out[0].Box != primary[0].Box || out[0].Class != 2 {
		t.Fatalf("box or class changed: %+v", out[0])
	}
	if primary[0].Score != 0.4 {
		t.Fatal("Rescore modified its input")
	}
}

func TestRescoreBelowMinIoUKeepsScore(t *testing.T) {
	primary := []Detection{{Box: Box{0, 0, 10, 10}, Score: 0.4, Class: 0}}
	second := []Detection{{Box: Box{0, 0, 10, 4}, Score: 0.9, Class: 0}} // IoU 0.4
	out, m, err := Rescore(primary, second, DefaultRescoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Score != 0.4 || m[0].Index != -1 {
		t.Fatalf("got score %v match %+v, want 0.4 and no match", out[0].Score, m[0])
	}
	// At exactly the threshold the box matches (>=).
	out, m, _ = Rescore(primary, second, RescoreOptions{Alpha: 1, MinIoU: 0.4})
	if m[0].Index != 0 || !closeTo(out[0].Score, 0.4+0.9*0.4) {
		t.Fatalf("at IoU == MinIoU: score %v match %+v", out[0].Score, m[0])
	}
}

func TestRescoreNoSameClassBox(t *testing.T) {
	primary := []Detection{{Box: Box{0, 0, 10, 10}, Score: 0.3, Class: 1}}
	second := []Detection{{Box: Box{50, 50, 60, 60}, Score: 0.9, Class: 1}} // same class, no overlap
	out, m, err := Rescore(primary, second, DefaultRescoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Score != 0.3 || m[0].Index != -1 {
		t.Fatalf("got %v %+v, want unchanged", out[0].Score, m[0])
	}
}

func TestRescoreIgnoresOtherClassOverlap(t *testing.T) {
	primary := []Detection{{Box: Box{0, 0, 10, 10}, Score: 0.3, Class: 1}}
	second := []Detection{
		{Box: Box{0, 0, 10, 10}, Score: 0.99, Class: 4}, // identical box, other class
		{Box: Box{0, 0, 10, 6}, Score: 0.5, Class: 1},   // IoU 0.6, same class
	}
	out, m, err := Rescore(primary, second, DefaultRescoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	if m[0].Index != 1 || !closeTo(out[0].Score, 0.3+0.5*0.6) {
		t.Fatalf("got %v %+v, want the class-1 box (index 1)", out[0].Score, m[0])
	}
	// With only the other-class box there is no boost.
	out, m, _ = Rescore(primary, second[:1], DefaultRescoreOptions())
	if out[0].Score != 0.3 || m[0].Index != -1 {
		t.Fatalf("other class boosted: %v %+v", out[0].Score, m[0])
	}
}

func TestRescoreTakesLargestIoUNotHighestScore(t *testing.T) {
	primary := []Detection{{Box: Box{0, 0, 10, 10}, Score: 0.2, Class: 0}}
	second := []Detection{
		{Box: Box{0, 0, 10, 6}, Score: 0.95, Class: 0}, // IoU 0.6, high score
		{Box: Box{0, 0, 10, 9}, Score: 0.3, Class: 0},  // IoU 0.9, low score
		{Box: Box{0, 0, 10, 7}, Score: 0.8, Class: 0},  // IoU 0.7
	}
	out, m, err := Rescore(primary, second, DefaultRescoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	if m[0].Index != 1 || !closeTo(out[0].Score, 0.2+0.3*0.9) {
		t.Fatalf("got %v %+v, want the IoU-0.9 box (index 1)", out[0].Score, m[0])
	}
}

func TestRescoreTiesPreferHigherScoreThenFirst(t *testing.T) {
	primary := []Detection{{Box: Box{0, 0, 10, 10}, Score: 0.2, Class: 0}}
	// Both IoU 0.8 (one cut at the bottom, one at the right).
	lo := Detection{Box: Box{0, 0, 10, 8}, Score: 0.3, Class: 0}
	hi := Detection{Box: Box{0, 0, 8, 10}, Score: 0.7, Class: 0}
	for _, order := range [][]Detection{{lo, hi}, {hi, lo}} {
		out, m, err := Rescore(primary, order, DefaultRescoreOptions())
		if err != nil {
			t.Fatal(err)
		}
		if order[m[0].Index].Score != 0.7 || !closeTo(out[0].Score, 0.2+0.7*0.8) {
			t.Fatalf("tie: got %v %+v, want the 0.7 box whatever the order", out[0].Score, m[0])
		}
	}
	// Equal IoU and score: the first one.
	same := []Detection{hi, {Box: Box{0, 0, 10, 8}, Score: 0.7, Class: 0}}
	_, m, _ := Rescore(primary, same, DefaultRescoreOptions())
	if m[0].Index != 0 {
		t.Fatalf("full tie: index %d, want 0", m[0].Index)
	}
}

func TestRescoreEachPrimaryBoxOnItsOwn(t *testing.T) {
	// One second-detector box may confirm several primary boxes (a duplicate
	// gets the boost too: NMS already ran in the primary detector).
	primary := []Detection{
		{Box: Box{0, 0, 10, 10}, Score: 0.5, Class: 0},
		{Box: Box{1, 0, 11, 10}, Score: 0.4, Class: 0},
		{Box: Box{40, 40, 50, 50}, Score: 0.45, Class: 0},
	}
	second := []Detection{{Box: Box{0, 0, 10, 10}, Score: 1, Class: 0}}
	out, m, err := Rescore(primary, second, RescoreOptions{Alpha: 1, MinIoU: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if !closeTo(out[0].Score, 1.5) || !closeTo(out[1].Score, 0.4+9.0/11) || out[2].Score != 0.45 {
		t.Fatalf("scores %v %v %v", out[0].Score, out[1].Score, out[2].Score)
	}
	if m[0].Index != 0 || m[1].Index != 0 || m[2].Index != -1 {
		t.Fatalf("matches %+v", m)
	}
}

func TestRescoreEmptyInputs(t *testing.T) {
	out, m, err := Rescore(nil, []Detection{{Box: Box{0, 0, 1, 1}, Score: 1}}, DefaultRescoreOptions())
	if err != nil || len(out) != 0 || len(m) != 0 {
		t.Fatalf("empty primary: %v %v %v", out, m, err)
	}
	primary := []Detection{{Box: Box{0, 0, 10, 10}, Score: 0.3, Class: 0}}
	out, m, err = Rescore(primary, nil, DefaultRescoreOptions())
	if err != nil || len(out) != 1 || out[0] != primary[0] || m[0].Index != -1 {
		t.Fatalf("empty second: %v %v %v", out, m, err)
	}
	// A degenerate (zero-area) box matches nothing.
	zero := []Detection{{Box: Box{5, 5, 5, 5}, Score: 0.3, Class: 0}}
	out, m, _ = Rescore(zero, zero, DefaultRescoreOptions())
	if out[0].Score != 0.3 || m[0].Index != -1 {
		t.Fatalf("degenerate box: %v %+v", out[0].Score, m[0])
	}
}

func TestRescoreOptionsValidate(t *testing.T) {
	for _, o := range []RescoreOptions{
		{Alpha: -1, MinIoU: 0.5}, {Alpha: math.NaN(), MinIoU: 0.5}, {Alpha: math.Inf(1), MinIoU: 0.5},
		{Alpha: 1, MinIoU: 0}, {Alpha: 1, MinIoU: 1.5}, {Alpha: 1, MinIoU: math.NaN()},
	} {
		if _, _, err := Rescore(nil, nil, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := DefaultRescoreOptions().Validate(); err != nil {
		t.Fatal(err)
	}
}

// The point of rescoring: it reorders boxes, so AP moves. Two images, one
// object each; the primary scores a false positive above a true positive,
// and the second detector confirms only the true positive.
func TestRescoreChangesAP(t *testing.T) {
	objs := [][]Object{{{Box: Box{0, 0, 20, 20}, Class: 0}}, {{Box: Box{0, 0, 20, 20}, Class: 0}}}
	primary := [][]Detection{
		{{Box: Box{60, 60, 80, 80}, Score: 0.9, Class: 0}, {Box: Box{0, 0, 20, 20}, Score: 0.5, Class: 0}},
		{{Box: Box{0, 0, 20, 20}, Score: 0.4, Class: 0}},
	}
	second := [][]Detection{{{Box: Box{1, 1, 20, 20}, Score: 0.8, Class: 0}}, {{Box: Box{0, 0, 19, 20}, Score: 0.8, Class: 0}}}
	ap := func(dets [][]Detection) float64 {
		ev := NewEvaluator(1)
		for i := range objs {
			ev.Add(objs[i], dets[i])
		}
		return ev.VOC(VOCArea).Summary(nil).AP50
	}
	before := ap(primary)
	var after [][]Detection
	for i := range primary {
		r, _, err := Rescore(primary[i], second[i], DefaultRescoreOptions())
		if err != nil {
			t.Fatal(err)
		}
		after = append(after, r)
	}
	got := ap(after)
	if !(got > before) || !closeTo(got, 1) {
		t.Fatalf("AP50 %v -> %v, want a rise to 1", before, got)
	}
}
