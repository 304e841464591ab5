package data

import (
	"path/filepath"
	"strings"
	"testing"
)

// A PNG header stating 100000 x 100000 pixels (40 GB decoded) in a 100-byte
// file is refused from its header, before any decode allocates it; a cut
// JPEG passes the header check and fails the full decode.
func TestHugeHeaderAndCutScan(t *testing.T) {
	bad := filepath.Join("..", "..", "testdata", "bad", "voc")
	huge := filepath.Join(bad, "image_huge_dimensions", "JPEGImages", "a.jpg")
	if err := CheckHeader(huge); err == nil || !strings.Contains(err.Error(), "100000x100000") {
		t.Errorf("huge header: %v", err)
	}
	if err := CheckImage(huge, 100000, 100000, true); err == nil || !strings.Contains(err.Error(), "a.jpg") {
		t.Errorf("CheckImage on a huge header: %v", err)
	}
	// The decoder every reader uses (training loader, evaluator, detect)
	// refuses it too, without a preflight before it and without allocating
	// the stated 40 GB (the test would run out of memory otherwise).
	if _, err := DecodeFile(huge); err == nil || !strings.Contains(err.Error(), "100000x100000") || !strings.Contains(err.Error(), "a.jpg") {
		t.Errorf("DecodeFile on a huge header: %v", err)
	}
	cut := filepath.Join(bad, "image_cut_scan", "JPEGImages", "a.jpg")
	if err := CheckImage(cut, 32, 24, true); err != nil {
		t.Fatalf("the cut JPEG's header should be intact: %v", err)
	}
	ds := &Dataset{Name: "t", Records: []Record{{ID: "a", File: cut, Width: 32, Height: 24}}}
	if err := DecodeAll(InputConfig{}, LoadOptions{}, ds); err == nil || !strings.Contains(err.Error(), "a.jpg") {
		t.Errorf("DecodeAll on a cut JPEG: %v", err)
	}
	var warned []error
	if err := DecodeAll(InputConfig{}, LoadOptions{SkipBad: true, Warn: func(e error) { warned = append(warned, e) }}, ds); err != nil || len(ds.Records) != 0 || len(warned) != 1 {
		t.Errorf("skip_bad: err %v, %d records left, %d warnings", err, len(ds.Records), len(warned))
	}
}
