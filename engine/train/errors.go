package train

import (
	"fmt"
	"path/filepath"

	"github.com/fsodgpu/fsodgpu/engine/eval"
	"github.com/fsodgpu/fsodgpu/engine/viz"
)

// writeErrors runs the error analysis on a fine-tune's evaluation and writes
// errors.json (counts; per_class keyed by class name, as the training sets
// carry names, not category ids) and errors.png in the job directory.
// Similar classes follow the built-in VOC grouping by name; classes it does
// not name have no similar class.
func (j *Job) writeErrors(in *evalInputs) error {
	names := j.Test.Classes
	a, err := eval.AnalyzeErrors(in.objects, in.dets, len(names), eval.GroupsByName(names, eval.VOCSimilarGroups))
	if err != nil {
		return fmt.Errorf("%s: error analysis: %v", j.Dir, err)
	}
	novel := map[int]bool{}
	if len(j.Novel) > 0 {
		a.SetSplit(in.dets, j.Base, j.Novel)
		for _, c := range j.Novel {
			novel[c] = true
		}
	}
	if err := eval.WriteJSONFile(filepath.Join(j.Dir, "errors.json"), a.Report(names)); err != nil {
		return err
	}
	img, err := viz.ErrorChart(a, names, novel, "error analysis: "+j.Name)
	if err != nil {
		return err
	}
	if err := viz.WritePNG(filepath.Join(j.Dir, "errors.png"), img); err != nil {
		return err
	}
	f := a.Overall.Fractions()
	j.logf("error analysis of the top-N detections (errors.json, errors.png): correct %.3f  localization %.3f  similar %.3f  other %.3f  background %.3f",
		f[0], f[1], f[2], f[3], f[4])
	return nil
}
