package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/eval"
	"github.com/fsodgpu/fsodgpu/engine/model"
)

// Evaluate runs the detector over the test set and returns AP, AP50, AP75
// for all classes and, where given, the base (bAP*) and novel (nAP*)
// subsets, in percent. metric voc07/area uses the VOC evaluator (its AP is
// the mean over IoU .50:.05:.95), coco the COCO evaluator. Images are read
// as training reads them (input).
func Evaluate(det model.Model, test *data.Dataset, st *StageConfig, input data.InputConfig, base, novel []int, metric string, quiet bool, log io.Writer) (map[string]float64, error) {
	res, _, err := evaluate(det, test, st, input, base, novel, metric, quiet, log)
	return res, err
}

// evalInputs keeps what the evaluator saw, for the error analysis: the
// objects of each evaluated image and every detection, in original pixels.
type evalInputs struct {
	objects  [][]eval.Object
	dets     []eval.ImageDetection
	perImage [][]eval.Detection // the detections of objects[i]'s image
	records  []int              // the test set's record of objects[i]
}

func evaluate(det model.Model, test *data.Dataset, st *StageConfig, input data.InputConfig, base, novel []int, metric string, quiet bool, log io.Writer) (map[string]float64, *evalInputs, error) {
	start := time.Now()
	kept, err := predictTestSet(det, test, st.TestShortSide, st.TestMaxSize, input, quiet)
	if err != nil {
		return nil, nil, err
	}
	res := summarize(kept, len(test.Classes), base, novel, metric)
	if log == nil {
		log = os.Stderr
	}
	fmt.Fprintf(log, "evaluated %d images in %.1fs (%s): AP50 %.2f  bAP50 %s  nAP50 %s\n", len(kept.objects),
		time.Since(start).Seconds(), metric, res["AP50"], fmtOpt(res, "bAP50"), fmtOpt(res, "nAP50"))
	return res, kept, nil
}

// predictTestSet runs the detector over every test image, resized to short
// side short (at most maxSize) as the test loader does, and keeps the
// objects and detections of each image in original pixels.
func predictTestSet(det model.Model, test *data.Dataset, short, maxSize int, input data.InputConfig, quiet bool) (*evalInputs, error) {
	cfg := det.Config()
	be := det.Params()[0].Value.Backend
	loader, err := data.NewTestLoader(test, data.LoaderConfig{
		BatchSize: 1, ShortSides: []int{short}, MaxSize: maxSize, RGB: cfg.InputFormat == "RGB",
		Input: input,
	})
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	var bar *progressbar.ProgressBar
	if !quiet {
		bar = progressbar.NewOptions(len(test.Records), progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("evaluating"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("img"), progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(25))
	}
	kept := &evalInputs{}
	for {
		b, err := loader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		in := toInput(be, b)
		in.Boxes, in.Classes = nil, nil
		out, err := det.Forward(in, 0, false)
		be.Free(in.Images)
		if err != nil {
			return nil, err
		}
		for i, it := range b.Items {
			rec := &test.Records[it.Record]
			objs := make([]eval.Object, len(rec.Boxes))
			for k, bx := range rec.Boxes {
				objs[k] = eval.Object{Box: eval.Box{float64(bx[0]), float64(bx[1]), float64(bx[2]), float64(bx[3])}, Class: rec.Classes[k]}
				if rec.Difficult != nil {
					objs[k].Difficult = rec.Difficult[k]
				}
				if rec.Crowd != nil {
					objs[k].Crowd = rec.Crowd[k]
				}
			}
			d := out.Detections[i]
			dets := make([]eval.Detection, len(d.Boxes))
			for k, bx := range d.Boxes {
				// Back to the original image's pixels.
				dets[k] = eval.Detection{Box: eval.Box{
					float64(bx[0] / it.ScaleX), float64(bx[1] / it.ScaleY),
					float64(bx[2] / it.ScaleX), float64(bx[3] / it.ScaleY)},
					Score: float64(d.Scores[k]), Class: int(d.Classes[k])}
			}
			kept.add(it.Record, objs, dets)
		}
		if bar != nil {
			_ = bar.Add(len(b.Items))
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	return kept, nil
}

// add keeps one evaluated image.
func (k *evalInputs) add(record int, objs []eval.Object, dets []eval.Detection) {
	for _, d := range dets {
		k.dets = append(k.dets, eval.ImageDetection{Image: len(k.objects), Detection: d})
	}
	k.records = append(k.records, record)
	k.objects = append(k.objects, objs)
	k.perImage = append(k.perImage, dets)
}

// summarize scores kept with the plan's metric: AP, AP50, AP75 over every
// class and, where given, the base (b*) and novel (n*) subsets, in percent.
func summarize(kept *evalInputs, numClasses int, base, novel []int, metric string) map[string]float64 {
	ev := eval.NewEvaluator(numClasses)
	for i := range kept.objects {
		ev.Add(kept.objects[i], kept.perImage[i])
	}
	var summary func([]int) eval.Summary
	switch metric {
	case "coco":
		summary = ev.COCO().Summary
	case "area":
		summary = ev.VOC(eval.VOCArea).Summary
	default:
		summary = ev.VOC(eval.VOC07).Summary
	}
	res := map[string]float64{}
	put := func(prefix string, s eval.Summary) {
		if s.NumClasses == 0 {
			return
		}
		res[prefix+"AP"], res[prefix+"AP50"], res[prefix+"AP75"] = 100*s.AP, 100*s.AP50, 100*s.AP75
	}
	put("", summary(nil))
	if len(base) > 0 {
		put("b", summary(base))
	}
	if len(novel) > 0 {
		put("n", summary(novel))
	}
	return res
}

func fmtOpt(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprintf("%.2f", v)
	}
	return "-"
}
