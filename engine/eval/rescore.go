package eval

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/internal/geom"
)

// Rescoring one detector's boxes with a second detector's, after the YOLO
// paper's combination of Fast R-CNN with YOLO (section 4.2: "for every
// bounding box that R-CNN predicts we check to see if YOLO predicts a similar
// box. If it does, we give that prediction a boost based on the probability
// predicted by YOLO and the overlap between the two boxes").
//
// The formula: for a primary box b of class c and score s, let y be the
// second detector's box of class c with the largest IoU(b, y) (ties: the
// higher score p_y; then the first). Then
//
//	s' = s + Alpha · p_y · IoU(b, y)   when IoU(b, y) >= MinIoU
//	s' = s                             otherwise (no box of class c overlaps enough)
//
// Only scores change; boxes, classes and order are kept. A boost that every
// box got alike would leave AP unchanged; this one depends on whether the
// second detector agrees with a box, so it reorders boxes of one class across
// images and within an image. Scores may exceed 1 (at most 1 + Alpha when
// both inputs are probabilities).

// Defaults of RescoreOptions.
const (
	DefaultRescoreAlpha  = 1.0
	DefaultRescoreMinIoU = 0.5
)

// RescoreOptions are the formula's two constants.
type RescoreOptions struct {
	Alpha  float64 // weight of the boost (>= 0)
	MinIoU float64 // the least IoU with a same-class box that earns a boost (0 < MinIoU <= 1)
}

// DefaultRescoreOptions is α = 1, τ = 0.5: the boost is the second
// detector's probability times the overlap, and only a box that the VOC
// criterion would call the same object counts as agreement.
func DefaultRescoreOptions() RescoreOptions {
	return RescoreOptions{Alpha: DefaultRescoreAlpha, MinIoU: DefaultRescoreMinIoU}
}

// Validate rejects options the formula has no meaning for.
func (o RescoreOptions) Validate() error {
	if math.IsNaN(o.Alpha) || math.IsInf(o.Alpha, 0) || o.Alpha < 0 {
		return fmt.Errorf("rescore alpha %v: want a finite number >= 0", o.Alpha)
	}
	// MinIoU 0 would boost from boxes that do not touch b at all (IoU 0
	// gives a zero boost, but "matched" would then mean nothing).
	if math.IsNaN(o.MinIoU) || o.MinIoU <= 0 || o.MinIoU > 1 {
		return fmt.Errorf("rescore min IoU %v: want 0 < IoU <= 1", o.MinIoU)
	}
	return nil
}

// RescoreMatch says which second-detector box rescored a primary box.
type RescoreMatch struct {
	Index int     // into the second detector's list; -1 when no box matched
	IoU   float64 // with that box (0 when none)
}

// Rescore returns primary's detections (of one image) with scores rescored
// from second's detections of the same image, and for each which box of
// second matched. Neither input is modified. Detections with a NaN score in
// second are ignored.
func Rescore(primary, second []Detection, opt RescoreOptions) ([]Detection, []RescoreMatch, error) {
	if err := opt.Validate(); err != nil {
		return nil, nil, err
	}
	out := make([]Detection, len(primary))
	match := make([]RescoreMatch, len(primary))
	for i, b := range primary {
		out[i] = b
		best, bestIoU, bestScore := -1, 0.0, 0.0
		for j, y := range second {
			if y.Class != b.Class || math.IsNaN(y.Score) {
				continue
			}
			iou := geom.IoU(b.Box, y.Box)
			if iou <= 0 {
				continue
			}
			if best < 0 || iou > bestIoU || iou == bestIoU && y.Score > bestScore {
				best, bestIoU, bestScore = j, iou, y.Score
			}
		}
		if best < 0 || bestIoU < opt.MinIoU {
			match[i] = RescoreMatch{Index: -1}
			continue
		}
		match[i] = RescoreMatch{Index: best, IoU: bestIoU}
		out[i].Score = b.Score + opt.Alpha*bestScore*bestIoU
	}
	return out, match, nil
}
