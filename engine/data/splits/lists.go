// Package splits samples K-shot split files in the formats TFA and DeFRCN
// read (vocsplit/box_{K}shot_{class}_train.txt, cocosplit/full_box_{K}shot_{class}_trainval.json)
// for any shots and seeds, deterministically.
package splits

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParseList parses a list of non-negative integers such as "1,2,3,5,10",
// "0-29" or "0-4,10"; what names the list in errors ("shots", "seeds").
// The result is sorted and without duplicates.
func ParseList(what, s string) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%s %q: empty element", what, s)
		}
		lo, hi := part, part
		if i := strings.Index(part, "-"); i >= 0 {
			lo, hi = part[:i], part[i+1:]
		}
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%s %q: %q is not a non-negative integer", what, s, lo)
		}
		b, err := strconv.Atoi(strings.TrimSpace(hi))
		if err != nil || b < 0 {
			return nil, fmt.Errorf("%s %q: %q is not a non-negative integer", what, s, hi)
		}
		if b < a {
			return nil, fmt.Errorf("%s %q: range %s ends before it starts", what, s, part)
		}
		for v := a; v <= b; v++ {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
