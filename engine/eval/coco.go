package eval

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// cocoBox is x,y,w,h as COCO stores it. pycocotools computes intersections
// from x+w and areas from w*h; keeping w and h as given (rather than x2-x1)
// makes those products bit-identical to its own.
type cocoBox [4]float64

type cocoGT struct {
	// id is the annotation id. pycocotools records a match as the matched
	// GT's id and tests it for non-zero, so a GT with id 0 never counts as
	// matched; kept for equality with its numbers.
	id    int64
	box   cocoBox
	area  float64
	crowd bool
	cat   int
}

type cocoDet struct {
	box   cocoBox
	score float64
	cat   int
}

// cocoImage is one image's GT and detections, in file order.
type cocoImage struct {
	gts  []cocoGT
	dets []cocoDet
}

// COCO parameters, pycocotools' defaults for iouType "bbox".
var (
	// cocoIoUs is np.linspace(.5, .95, 10) bit for bit: i*step + start with
	// the last value set to the stop.
	cocoIoUs = linspace(0.5, 0.95, 10)
	// cocoRecalls is np.linspace(0, 1, 101).
	cocoRecalls  = linspace(0, 1, 101)
	cocoMaxDets  = [3]int{1, 10, 100}
	cocoAreaRngs = [4][2]float64{{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}}
)

// Indices into cocoIoUs of the single-threshold summaries.
const (
	iou50 = 0
	iou75 = 5
)

func linspace(start, stop float64, num int) []float64 {
	step := (stop - start) / float64(num-1)
	v := make([]float64, num)
	for i := range v {
		v[i] = float64(i)*step + start
	}
	v[num-1] = stop
	return v
}

// COCOStatNames are the 12 summary numbers in pycocotools' order.
var COCOStatNames = [12]string{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}

// COCOResult is the output of a COCO bbox evaluation.
type COCOResult struct {
	// Stats are COCOeval.stats: AP, AP50, AP75, APs, APm, APl, AR1, AR10,
	// AR100, ARs, ARm, ARl (fractions; -1 where nothing was countable).
	Stats [12]float64
	// PerClass is indexed by class: AP over IoU .50:.95, AP50 and AP75, all
	// at area "all" and maxDets 100.
	PerClass []ClassAP
}

// Summary averages AP, AP50 and AP75 over the given classes (nil: all). For
// every class this equals running COCOeval with catIds set to the subset, as
// TFA and DeFRCN do for their base and novel numbers.
func (r *COCOResult) Summary(classes []int) Summary {
	return summarize("COCOResult", r.PerClass, classes)
}

// cocoEvalImg is evaluateImg's output for one (class, area range, image),
// with detections sorted by score and cut to 100.
type cocoEvalImg struct {
	scores   []float64
	matched  [][]bool // [iou][det]
	ignored  [][]bool // [iou][det]
	gtIgnore []bool
}

// evaluateCOCO follows COCOeval.evaluate, accumulate and summarize.
func evaluateCOCO(imgs []cocoImage, numCats int) *COCOResult {
	T, R, A, M := len(cocoIoUs), len(cocoRecalls), len(cocoAreaRngs), len(cocoMaxDets)
	maxDet := cocoMaxDets[M-1]
	// precision[t][r][k][a][m] and recall[t][k][a][m], -1 where undefined.
	precision := make([]float64, T*R*numCats*A*M)
	recall := make([]float64, T*numCats*A*M)
	for i := range precision {
		precision[i] = -1
	}
	for i := range recall {
		recall[i] = -1
	}
	pIdx := func(t, r, k, a, m int) int { return (((t*R+r)*numCats+k)*A+a)*M + m }
	rIdx := func(t, k, a, m int) int { return ((t*numCats+k)*A+a)*M + m }

	// Group by class, then image in image order, keeping file order within
	// an image, as _prepare does. Only (class, image) pairs with GT or
	// detections are kept: the others are None in evaluateImg.
	type pair struct {
		img  int
		gts  []cocoGT
		dets []cocoDet
	}
	byClass := make([][]pair, numCats)
	for i, im := range imgs {
		for _, g := range im.gts {
			ps := byClass[g.cat]
			if len(ps) == 0 || ps[len(ps)-1].img != i {
				ps = append(ps, pair{img: i})
			}
			ps[len(ps)-1].gts = append(ps[len(ps)-1].gts, g)
			byClass[g.cat] = ps
		}
		for _, d := range im.dets {
			ps := byClass[d.cat]
			if len(ps) == 0 || ps[len(ps)-1].img != i {
				ps = append(ps, pair{img: i})
			}
			ps[len(ps)-1].dets = append(ps[len(ps)-1].dets, d)
			byClass[d.cat] = ps
		}
	}

	for k, pairs := range byClass {
		evals := make([][]*cocoEvalImg, A) // [area][pair]
		for a := range evals {
			evals[a] = make([]*cocoEvalImg, len(pairs))
		}
		for i, p := range pairs {
			dts := sortDetsByScore(p.dets)
			if len(dts) > maxDet {
				dts = dts[:maxDet]
			}
			ious := cocoIoU(dts, p.gts)
			scores := make([]float64, len(dts))
			for d := range dts {
				scores[d] = dts[d].score
			}
			for a := range A {
				evals[a][i] = cocoEvaluateImg(p.gts, dts, scores, ious, cocoAreaRngs[a])
			}
		}
		for a := range A {
			for m, md := range cocoMaxDets {
				cocoAccumulate(evals[a], md, func(t int, rec float64, q []float64) {
					recall[rIdx(t, k, a, m)] = rec
					for r := range R {
						precision[pIdx(t, r, k, a, m)] = q[r]
					}
				})
			}
		}
	}

	res := &COCOResult{PerClass: make([]ClassAP, numCats)}
	meanP := func(ts []int, ks []int, a, m int) float64 {
		var sum float64
		n := 0
		for _, t := range ts {
			for r := range R {
				for _, k := range ks {
					if v := precision[pIdx(t, r, k, a, m)]; v > -1 {
						sum += v
						n++
					}
				}
			}
		}
		if n == 0 {
			return -1
		}
		return sum / float64(n)
	}
	meanR := func(a, m int) float64 {
		var sum float64
		n := 0
		for t := range T {
			for k := range numCats {
				if v := recall[rIdx(t, k, a, m)]; v > -1 {
					sum += v
					n++
				}
			}
		}
		if n == 0 {
			return -1
		}
		return sum / float64(n)
	}
	allT := make([]int, T)
	for t := range allT {
		allT[t] = t
	}
	allK := make([]int, numCats)
	for k := range allK {
		allK[k] = k
	}
	last := M - 1
	res.Stats = [12]float64{
		meanP(allT, allK, 0, last),
		meanP([]int{iou50}, allK, 0, last),
		meanP([]int{iou75}, allK, 0, last),
		meanP(allT, allK, 1, last),
		meanP(allT, allK, 2, last),
		meanP(allT, allK, 3, last),
		meanR(0, 0),
		meanR(0, 1),
		meanR(0, 2),
		meanR(1, last),
		meanR(2, last),
		meanR(3, last),
	}
	for k := range numCats {
		ks := []int{k}
		pc := ClassAP{
			AP:   meanP(allT, ks, 0, last),
			AP50: meanP([]int{iou50}, ks, 0, last),
			AP75: meanP([]int{iou75}, ks, 0, last),
		}
		pc.Valid = pc.AP > -1
		for _, p := range byClass[k] {
			for _, g := range p.gts {
				if !g.crowd {
					pc.NumGT++
				}
			}
		}
		res.PerClass[k] = pc
	}
	return res
}

// orderByScore returns the indices 0..n-1 ordered by decreasing score, ties
// in index order: the order a stable sort gives (numpy's mergesort on -score
// in pycocotools), at the cost of an unstable O(n log n) sort.
func orderByScore(n int, score func(i int) float64) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if sa, sb := score(a), score(b); sa != sb {
			if sa > sb {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	return idx
}

// sortDetsByScore returns dts ordered by decreasing score, ties in the order
// given.
func sortDetsByScore(dts []cocoDet) []cocoDet {
	s := make([]cocoDet, len(dts))
	for i, j := range orderByScore(len(dts), func(i int) float64 { return dts[i].score }) {
		s[i] = dts[j]
	}
	return s
}

// cocoIoU is maskUtils.iou for boxes: ious[d][g]; for a crowd GT the union is
// the detection's area alone (intersection over the detection's area).
func cocoIoU(dts []cocoDet, gts []cocoGT) [][]float64 {
	ious := make([][]float64, len(dts))
	for i, d := range dts {
		ious[i] = make([]float64, len(gts))
		da := d.box[2] * d.box[3]
		for j, g := range gts {
			w := math.Min(d.box[0]+d.box[2], g.box[0]+g.box[2]) - math.Max(d.box[0], g.box[0])
			if w <= 0 {
				continue
			}
			h := math.Min(d.box[1]+d.box[3], g.box[1]+g.box[3]) - math.Max(d.box[1], g.box[1])
			if h <= 0 {
				continue
			}
			inter := w * h
			u := da + g.box[2]*g.box[3] - inter
			if g.crowd {
				u = da
			}
			ious[i][j] = inter / u
		}
	}
	return ious
}

// cocoEvaluateImg follows COCOeval.evaluateImg for one class, image and area
// range. dts are sorted by score and cut to maxDets, scores are theirs;
// ious[d][g] is over the GT in file order.
func cocoEvaluateImg(gts []cocoGT, dts []cocoDet, scores []float64, ious [][]float64, rng [2]float64) *cocoEvalImg {
	T, D := len(cocoIoUs), len(dts)
	// GT outside the area range or crowd are "ignore"; they go last (stable).
	order := make([]int, 0, len(gts))
	gtIg := make([]bool, len(gts))
	for pass := range 2 {
		for j, g := range gts {
			if ig := g.crowd || g.area < rng[0] || g.area > rng[1]; ig == (pass == 1) {
				gtIg[len(order)] = ig
				order = append(order, j)
			}
		}
	}
	flags := make([]bool, 2*T*D)
	e := &cocoEvalImg{scores: scores, matched: make([][]bool, T), ignored: make([][]bool, T), gtIgnore: gtIg}
	gtMatched := make([]bool, len(gts))
	for t, thr := range cocoIoUs {
		matched, dtIg := flags[2*t*D:(2*t+1)*D], flags[(2*t+1)*D:(2*t+2)*D]
		clear(gtMatched)
		for d := range dts {
			best := math.Min(thr, 1-1e-10)
			m := -1
			for gi, j := range order {
				if gtMatched[gi] && !gts[j].crowd {
					continue
				}
				// Once matched to a regular GT, stop at the first ignored one.
				if m > -1 && !gtIg[m] && gtIg[gi] {
					break
				}
				if ious[d][j] < best {
					continue
				}
				best = ious[d][j]
				m = gi
			}
			if m == -1 {
				continue
			}
			dtIg[d] = gtIg[m]
			matched[d] = gts[order[m]].id != 0
			gtMatched[m] = true
		}
		for d := range dts {
			if area := dts[d].box[2] * dts[d].box[3]; !matched[d] && (area < rng[0] || area > rng[1]) {
				dtIg[d] = true
			}
		}
		e.matched[t], e.ignored[t] = matched, dtIg
	}
	return e
}

// cocoAccumulate follows COCOeval.accumulate for one class, area range and
// maxDets over the per-image evaluations of the images with GT or detections
// of the class, in image order. It calls set once per IoU threshold with the
// recall and the 101 interpolated precisions, or not at all when the class
// has no countable GT here.
func cocoAccumulate(evals []*cocoEvalImg, maxDet int, set func(t int, recall float64, q []float64)) {
	var scores []float64
	npig := 0
	for _, e := range evals {
		n := min(len(e.scores), maxDet)
		scores = append(scores, e.scores[:n]...)
		for _, ig := range e.gtIgnore {
			if !ig {
				npig++
			}
		}
	}
	if len(evals) == 0 || npig == 0 {
		return
	}
	inds := orderByScore(len(scores), func(i int) float64 { return scores[i] })
	nd := len(scores)
	q := make([]float64, len(cocoRecalls))
	rc := make([]float64, nd)
	pr := make([]float64, nd)
	matched := make([]bool, nd)
	ignored := make([]bool, nd)
	for t := range cocoIoUs {
		off := 0
		for _, e := range evals {
			n := min(len(e.scores), maxDet)
			copy(matched[off:], e.matched[t][:n])
			copy(ignored[off:], e.ignored[t][:n])
			off += n
		}
		var tp, fp float64
		for i, d := range inds {
			if !ignored[d] {
				if matched[d] {
					tp++
				} else {
					fp++
				}
			}
			rc[i] = tp / float64(npig)
			pr[i] = tp / (fp + tp + 0x1p-52)
		}
		rec := 0.0
		if nd > 0 {
			rec = rc[nd-1]
		}
		// Precision envelope: the best precision at this recall or beyond.
		for i := nd - 1; i > 0; i-- {
			if pr[i] > pr[i-1] {
				pr[i-1] = pr[i]
			}
		}
		clear(q)
		i := 0
		for ri, thr := range cocoRecalls {
			for i < nd && rc[i] < thr {
				i++
			}
			if i == nd {
				break
			}
			q[ri] = pr[i]
		}
		set(t, rec, q)
	}
}

// The summaries index the threshold table directly; fail loudly at start-up
// if a change to it moved .5 or .75.
func init() {
	if cocoIoUs[iou50] != 0.5 || cocoIoUs[iou75] != 0.75 {
		panic(fmt.Sprintf("eval: COCO IoU thresholds %v do not hold .5 and .75 at %d and %d", cocoIoUs, iou50, iou75))
	}
}
