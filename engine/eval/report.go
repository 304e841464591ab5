package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// WriteCOCOSummary prints the 12 numbers in COCOeval.summarize's layout, so
// logs can be compared line by line with pycocotools'.
func WriteCOCOSummary(w io.Writer, stats [12]float64) error {
	rows := [12]struct {
		ap     bool
		iou    string
		area   string
		maxDet int
	}{
		{true, "0.50:0.95", "all", 100},
		{true, "0.50", "all", 100},
		{true, "0.75", "all", 100},
		{true, "0.50:0.95", "small", 100},
		{true, "0.50:0.95", "medium", 100},
		{true, "0.50:0.95", "large", 100},
		{false, "0.50:0.95", "all", 1},
		{false, "0.50:0.95", "all", 10},
		{false, "0.50:0.95", "all", 100},
		{false, "0.50:0.95", "small", 100},
		{false, "0.50:0.95", "medium", 100},
		{false, "0.50:0.95", "large", 100},
	}
	for i, r := range rows {
		title, typ := "Average Precision", "(AP)"
		if !r.ap {
			title, typ = "Average Recall", "(AR)"
		}
		if _, err := fmt.Fprintf(w, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
			title, typ, r.iou, r.area, r.maxDet, stats[i]); err != nil {
			return err
		}
	}
	return nil
}

// COCOReport is the JSON `fsodgpu eval coco --json` writes: the 12 stats and
// per-category AP (IoU .50:.95) keyed by category id, fractions in 0..1 (-1
// where pycocotools gives -1).
type COCOReport struct {
	AP       float64            `json:"AP"`
	AP50     float64            `json:"AP50"`
	AP75     float64            `json:"AP75"`
	APs      float64            `json:"APs"`
	APm      float64            `json:"APm"`
	APl      float64            `json:"APl"`
	AR1      float64            `json:"AR1"`
	AR10     float64            `json:"AR10"`
	AR100    float64            `json:"AR100"`
	ARs      float64            `json:"ARs"`
	ARm      float64            `json:"ARm"`
	ARl      float64            `json:"ARl"`
	PerClass map[string]float64 `json:"per_class"`
}

// NewCOCOReport builds the report of a result over g's categories.
func NewCOCOReport(g *COCOGroundTruth, r *COCOResult) *COCOReport {
	s := r.Stats
	rep := &COCOReport{
		AP: s[0], AP50: s[1], AP75: s[2], APs: s[3], APm: s[4], APl: s[5],
		AR1: s[6], AR10: s[7], AR100: s[8], ARs: s[9], ARm: s[10], ARl: s[11],
		PerClass: map[string]float64{},
	}
	for k, c := range g.Categories {
		rep.PerClass[strconv.Itoa(c.ID)] = r.PerClass[k].AP
	}
	return rep
}

// VOCClassReport is one class of a VOC report; AP is nil when the class has
// no non-difficult object.
type VOCClassReport struct {
	Class string
	AP    *float64
}

// VOCReport is a VOC evaluation over named classes at one IoU threshold or
// averaged over VOCIoUs (detectron2's VOC "AP").
type VOCReport struct {
	Metric VOCMetric
	IoUs   []float64
	// Classes lists the reported classes in the order asked for.
	Classes []VOCClassReport
	// MAP is the mean over classes with an AP; -1 when none has one.
	MAP float64
}

// ParseVOCIoU reads a threshold in [0, 1) or "0.5:0.95" (the mean over
// VOCIoUs).
func ParseVOCIoU(s string) ([]float64, error) {
	if s == "0.5:0.95" || s == "0.50:0.95" {
		return VOCIoUs, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v < 1) {
		return nil, fmt.Errorf("IoU %q: want a threshold in [0, 1) or 0.5:0.95", s)
	}
	return []float64{v}, nil
}

// NewVOCReport evaluates every class of the devkit, averaging AP over ious,
// with the reference devkit's rule: a class with non-difficult ground truth
// counts in the mean, with AP 0 when its result file is empty or absent (a
// novel class the detector never fires on must pull the mean down); a class
// without any (no objects, or only difficult ones) is listed with a nil AP
// and left out of the mean.
func NewVOCReport(k *VOCDevkit, ious []float64, metric VOCMetric) *VOCReport {
	if len(ious) == 0 {
		panic("eval.NewVOCReport: no IoU thresholds")
	}
	rep := &VOCReport{Metric: metric, IoUs: ious, MAP: -1}
	var sum float64
	n := 0
	for c, class := range k.Classes {
		cr := VOCClassReport{Class: class}
		dets := k.Data.sortedDetections(c)
		var ap float64
		ok := false
		for _, iou := range ious {
			var a float64
			a, ok = k.Data.apSorted(c, dets, iou, metric)
			ap += a
		}
		if ok {
			ap /= float64(len(ious))
			cr.AP = &ap
			sum += ap
			n++
		}
		rep.Classes = append(rep.Classes, cr)
	}
	if n > 0 {
		rep.MAP = sum / float64(n)
	}
	return rep
}

// iouLabel is "0.5" for one threshold, "0.5:0.95" for the range.
func (r *VOCReport) iouLabel() string {
	if len(r.IoUs) == 1 {
		return strconv.FormatFloat(r.IoUs[0], 'g', -1, 64)
	}
	return fmt.Sprintf("%g:%g", r.IoUs[0], r.IoUs[len(r.IoUs)-1])
}

// Key is the JSON key of the mean: "mAP50" at IoU 0.5, "mAP75" at 0.75,
// "mAP" over 0.5:0.95.
func (r *VOCReport) Key() string {
	if len(r.IoUs) > 1 {
		return "mAP"
	}
	return "mAP" + strconv.FormatFloat(math.Round(r.IoUs[0]*1e4)/1e2, 'f', -1, 64)
}

// Write prints one line per class and the mean.
func (r *VOCReport) Write(w io.Writer) error {
	label := fmt.Sprintf("AP@%s (%s)", r.iouLabel(), r.Metric)
	for _, c := range r.Classes {
		v := "   null (no non-difficult ground truth)"
		if c.AP != nil {
			v = fmt.Sprintf("%7.4f", *c.AP)
		}
		if _, err := fmt.Fprintf(w, "%-14s %s = %s\n", c.Class, label, v); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%-14s %s = %7.4f\n", "mean", label, r.MAP)
	return err
}

// MarshalJSON writes {"metric", "iou", "<Key>": mean, "per_class": {class: ap or null}}.
func (r *VOCReport) MarshalJSON() ([]byte, error) {
	per := map[string]*float64{}
	for _, c := range r.Classes {
		per[c.Class] = c.AP
	}
	return json.Marshal(map[string]any{
		"metric":    r.Metric.String(),
		"iou":       r.iouLabel(),
		r.Key():     r.MAP,
		"per_class": per,
	})
}

// WriteJSONFile writes v as indented JSON, replacing path atomically so a
// reader never sees half a report.
func WriteJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
