package splits

import "github.com/fsodgpu/fsodgpu/engine/data"

// sample picks images for a K-shot split of one class. counts[i] is the
// number of instances of the class in candidate image i. The candidates are
// visited in a permutation keyed by (seed, class) and an image is taken when
// its instances fit in what is left of K, so most splits hold exactly K
// instances, as TFA's COCO sampler ensures. When no remaining image fits
// (every one would overshoot), the one that overshoots least is taken and
// the K-shot loader later keeps K of its instances (TFA's VOC files
// overshoot the same way). Unlike TFA, which draws every K from one random
// stream so the 10-shot file depends on which smaller K were drawn first,
// the result here depends only on (candidates, class, K, seed); all K of a
// seed share the visiting order, so small splits are mostly prefixes of
// larger ones. Fewer than K instances in all gives every candidate.
func sample(counts []int, class string, k, seed int) []int {
	order := data.NewRand(uint64(seed), data.StringKey(class)).Perm(len(counts))
	taken := make([]bool, len(counts))
	var out []int
	total := 0
	for total < k {
		pick := -1
		for _, i := range order {
			if !taken[i] && counts[i] <= k-total {
				pick = i
				break
			}
		}
		if pick < 0 {
			for _, i := range order {
				if !taken[i] && (pick < 0 || counts[i] < counts[pick]) {
					pick = i
				}
			}
		}
		if pick < 0 {
			break
		}
		taken[pick] = true
		out = append(out, pick)
		total += counts[pick]
	}
	return out
}
