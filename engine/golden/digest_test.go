package golden

import (
	"math"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// TestDigestIsBitExact: the same case twice on one backend gives the same
// digest, and a one-ulp change in any output gives another.
func TestDigestIsBitExact(t *testing.T) {
	results, err := RunDir(cpu.New(), "../../testdata/golden", nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := RunDir(cpu.New(), "../../testdata/golden", nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for i, r := range results {
		if r.Digest == "" || r.Digest != again[i].Digest {
			t.Fatalf("%s: digest %q then %q", r.Case, r.Digest, again[i].Digest)
		}
		seen[r.Digest] = r.Case
	}
	if len(seen) < len(results)/2 {
		t.Fatalf("only %d distinct digests over %d cases", len(seen), len(results))
	}
	a := map[string]map[string]hostTensor{"out.": {"y": {shape: []int{2}, f: []float32{1, 2}}}}
	b := map[string]map[string]hostTensor{"out.": {"y": {shape: []int{2}, f: []float32{1, math.Nextafter32(2, 3)}}}}
	if digest(a) == digest(b) {
		t.Fatal("a one-ulp change kept the digest")
	}
}
