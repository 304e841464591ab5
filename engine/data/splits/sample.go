package splits

import "github.com/fsodgpu/fsodgpu/engine/data"

// attempts bounds the visiting orders tried for an exact K.
const attempts = 100

// sample picks images for a K-shot split of one class. counts[i] is the
// number of instances of the class in candidate image i. The candidates are
// visited in a random order keyed by (seed, class) and an image is taken
// when its instances fit in what is left of K; if that order strands the
// split short of K (every remaining image would overshoot), further orders
// are tried, as TFA's COCO sampler retries, so splits hold exactly K
// instances whenever the first of up to 100 orders allows it. Failing that,
// the order that overshoots least is used, finishing with the image that
// overshoots least; the K-shot loaders then keep K of its instances (TFA's
// VOC files overshoot the same way). Unlike TFA, which draws every K from
// one random stream so the 10-shot file depends on which smaller K were
// drawn first, the result depends only on (candidates, class, K, seed);
// the first order is shared by all K of a seed, so small splits are mostly
// prefixes of larger ones. Fewer than K instances in all gives every
// candidate.
func sample(counts []int, class string, k, seed int) []int {
	r := data.NewRand(uint64(seed), data.StringKey(class))
	var best []int
	bestOver := -1
	for a := 0; a < attempts; a++ {
		picked, total := greedy(counts, r.Perm(len(counts)), k)
		if total <= k {
			return picked // exact, or every candidate taken
		}
		if bestOver < 0 || total-k < bestOver {
			best, bestOver = picked, total-k
		}
	}
	return best
}

// greedy fills the split visiting candidates in order.
func greedy(counts, order []int, k int) ([]int, int) {
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
	return out, total
}
