package splits

import "testing"

func TestSample(t *testing.T) {
	sum := func(counts, idx []int) int {
		s := 0
		for _, i := range idx {
			s += counts[i]
		}
		return s
	}
	mixed := []int{3, 1, 2, 1, 4, 2, 1, 3}
	for k := 1; k <= 10; k++ {
		for seed := 0; seed < 20; seed++ {
			if got := sum(mixed, sample(mixed, "c", k, seed)); got != k {
				t.Fatalf("K=%d seed %d: %d instances", k, seed, got)
			}
		}
	}
	// Only pairs: an odd K overshoots by one image's worth, no more.
	pairs := []int{2, 2, 2, 2}
	if got := sum(pairs, sample(pairs, "c", 3, 0)); got != 4 {
		t.Fatalf("pairs, K=3: %d instances", got)
	}
	// Too few instances: every image.
	if got := sample([]int{1, 2}, "c", 10, 0); len(got) != 2 {
		t.Fatalf("too few: %v", got)
	}
	a, b := sample(mixed, "c", 5, 1), sample(mixed, "c", 5, 1)
	if len(a) != len(b) {
		t.Fatal("not deterministic")
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("not deterministic")
		}
	}
}
