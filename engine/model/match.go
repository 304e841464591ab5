package model

import (
	"math/rand/v2"
)

// Box labels of the matcher and the samplers.
const (
	labelIgnore = -1
	labelBg     = 0
	labelFg     = 1
)

// match assigns each of m predictions (columns of iou, a row-major [g,m]
// matrix) the gt of highest IoU and a label: fg at IoU ≥ fg, bg below bg,
// ignore between (detectron2's Matcher with thresholds [bg, fg]). With
// lowQuality, every prediction whose IoU with some gt equals that gt's best
// IoU (when > 0) becomes fg too, so every gt gets at least one match.
func match(iou []float32, g, m int, fg, bg float32, lowQuality bool) (gtIdx []int, label []int8) {
	gtIdx = make([]int, m)
	label = make([]int8, m)
	if g == 0 {
		return gtIdx, label // all background
	}
	best := make([]float32, m)
	for j := 0; j < m; j++ {
		bi, bv := 0, iou[j]
		for i := 1; i < g; i++ {
			// Strictly greater: ties go to the lower gt index, as torch.max.
			if v := iou[i*m+j]; v > bv {
				bi, bv = i, v
			}
		}
		gtIdx[j], best[j] = bi, bv
		switch {
		case bv >= fg:
			label[j] = labelFg
		case bv < bg:
			label[j] = labelBg
		default:
			label[j] = labelIgnore
		}
	}
	if lowQuality {
		for i := 0; i < g; i++ {
			row := iou[i*m : (i+1)*m]
			var mx float32
			for _, v := range row {
				mx = max(mx, v)
			}
			if mx == 0 {
				continue
			}
			for j, v := range row {
				if v == mx {
					label[j] = labelFg
				}
			}
		}
	}
	return gtIdx, label
}

// sample picks at most n labelled predictions, at most frac·n of them fg,
// the rest bg, uniformly at random (detectron2's subsample_labels). It
// returns the chosen fg and bg indices in the random order drawn.
func sample(label []int8, n int, frac float32, r *rand.Rand) (fg, bg []int) {
	for j, l := range label {
		switch l {
		case labelFg:
			fg = append(fg, j)
		case labelBg:
			bg = append(bg, j)
		}
	}
	nFg := min(int(float32(n)*frac), len(fg))
	nBg := min(n-nFg, len(bg))
	pick := func(idx []int, k int) []int {
		perm := r.Perm(len(idx))
		out := make([]int, k)
		for i := range out {
			out[i] = idx[perm[i]]
		}
		return out
	}
	return pick(fg, nFg), pick(bg, nBg)
}

// stepRand is the seeded stream for one purpose at one iteration: a resumed
// run draws the same samples as an uninterrupted one.
func stepRand(seed uint64, iter int, purpose uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed^(purpose*0x9E3779B97F4A7C15), uint64(iter)))
}
