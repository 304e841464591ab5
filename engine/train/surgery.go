package train

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// The predictor's tensors, as engine/model names them. The classifier has
// one row per class plus the background row last (detectron2's layout); the
// box regressor 4 rows per class, or 4 in all when class-agnostic (SEM).
const (
	clsWeight = "roi_heads.box_predictor.cls_score.weight"
	clsBias   = "roi_heads.box_predictor.cls_score.bias"
	boxWeight = "roi_heads.box_predictor.bbox_pred.weight"
	boxBias   = "roi_heads.box_predictor.bbox_pred.bias"
)

// Surgery turns a base model (trained on baseClasses) into the starting
// point of a fine-tune on newClasses, as TFA's and DeFRCN's ckpt_surgery do:
//
//   - randinit: new predictor rows ~ N(0, 0.01) (classifier) and N(0, 0.001)
//     (regressor) with zero bias; rows of classes the base model knows are
//     copied by class name, and so is the background row. G-FSOD.
//   - remove: the predictor is dropped; the fine-tune initialises it at
//     random. FSOD.
//
// Every other tensor is copied. The output is a plain weights file.
func Surgery(in, out, method string, baseClasses, newClasses []string, seed uint64) error {
	ck, err := LoadCheckpoint(in)
	if err != nil {
		return err
	}
	tensors := map[string]safetensors.Tensor{}
	for name, v := range ck.Model {
		tensors[name] = safetensors.FromFloat32(v, ck.Shapes[name]...)
	}
	switch method {
	case "remove":
		for _, k := range []string{clsWeight, clsBias, boxWeight, boxBias} {
			delete(tensors, k)
		}
	case "randinit":
		if err := randinit(ck, tensors, baseClasses, newClasses, seed); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
	default:
		return fmt.Errorf("unknown surgery %q (want randinit or remove)", method)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return safetensors.Write(out, tensors, map[string]string{
		"surgery": method, "source": in, "classes": strings.Join(newClasses, ","),
	})
}

func randinit(ck *Checkpoint, tensors map[string]safetensors.Tensor, baseClasses, newClasses []string, seed uint64) error {
	for _, k := range []string{clsWeight, clsBias, boxWeight, boxBias} {
		if _, ok := ck.Model[k]; !ok {
			return fmt.Errorf("no %s: not a detector checkpoint", k)
		}
	}
	sh := ck.Shapes[clsWeight]
	if sh[0] != len(baseClasses)+1 {
		return fmt.Errorf("%s has %d rows; the base classes need %d (%d classes + background)", clsWeight, sh[0], len(baseClasses)+1, len(baseClasses))
	}
	d := sh[1]
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	oldIdx := data.ClassIndex(baseClasses)
	nNew, nOld := len(newClasses), len(baseClasses)

	// Classifier: rows 0..nNew-1 for the classes, nNew for background.
	w := normal(r, (nNew+1)*d, 0.01)
	b := make([]float32, nNew+1)
	ow, ob := ck.Model[clsWeight], ck.Model[clsBias]
	copyRow := func(dst, src []float32, di, si, width int) {
		copy(dst[di*width:(di+1)*width], src[si*width:(si+1)*width])
	}
	for i, c := range newClasses {
		if j, ok := oldIdx[c]; ok {
			copyRow(w, ow, i, j, d)
			b[i] = ob[j]
		}
	}
	copyRow(w, ow, nNew, nOld, d)
	b[nNew] = ob[nOld]
	tensors[clsWeight] = safetensors.FromFloat32(w, nNew+1, d)
	tensors[clsBias] = safetensors.FromFloat32(b, nNew+1)

	// Regressor: class-agnostic ones are kept as they are.
	bs := ck.Shapes[boxWeight]
	if bs[0] == 4 {
		return nil
	}
	if bs[0] != 4*nOld {
		return fmt.Errorf("%s has %d rows; want 4 or %d", boxWeight, bs[0], 4*nOld)
	}
	bw := normal(r, 4*nNew*d, 0.001)
	bb := make([]float32, 4*nNew)
	obw, obb := ck.Model[boxWeight], ck.Model[boxBias]
	for i, c := range newClasses {
		if j, ok := oldIdx[c]; ok {
			for k := 0; k < 4; k++ {
				copyRow(bw, obw, 4*i+k, 4*j+k, d)
				bb[4*i+k] = obb[4*j+k]
			}
		}
	}
	tensors[boxWeight] = safetensors.FromFloat32(bw, 4*nNew, d)
	tensors[boxBias] = safetensors.FromFloat32(bb, 4*nNew)
	return nil
}

func normal(r *rand.Rand, n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	return v
}
