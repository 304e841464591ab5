package model

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// The predictor keys checkpoint surgery rewrites.
const (
	clsKey = "roi_heads.box_predictor.cls_score"
	boxKey = "roi_heads.box_predictor.bbox_pred"
)

// Surgery methods, as TFA's and DeFRCN's ckpt_surgery.py define them.
const (
	// SurgeryRemove drops the box predictor: the fine-tuned model starts
	// with a freshly initialised one (FSOD, novel classes only).
	SurgeryRemove = "remove"
	// SurgeryRandInit resizes the predictor to the target classes: rows of
	// classes the base model knows are copied by class name (and the
	// background row), the others are drawn from N(0, 0.01) for the
	// classifier and N(0, 0.001) for a class-specific box regressor, biases 0.
	SurgeryRandInit = "randinit"
	// SurgeryCombine is randinit that also copies rows of the novel model's
	// classes from a second checkpoint fine-tuned on them.
	SurgeryCombine = "combine"
)

// surgeons are the surgeries of the architectures other than Faster R-CNN,
// registered by their files.
var surgeons = map[string]func(SurgeryInput) (map[string]*backend.Tensor, error){}

// SurgeryInput names the checkpoints and class lists of a surgery. Class
// lists are in each model's label order (label i is classes[i]).
type SurgeryInput struct {
	// Arch is the model's architecture (Config.Arch; "" is faster_rcnn):
	// it says which layer holds the class outputs.
	Arch         string
	YOLO         YOLOConfig // yolov1: the grid and boxes per cell of the weights
	Method       string
	Base         map[string]*backend.Tensor
	BaseClasses  []string
	Novel        map[string]*backend.Tensor // combine only
	NovelClasses []string                   // combine only
	Target       []string                   // randinit and combine: the new label order
	Seed         uint64
}

// Surgery returns a new state dict: every key of Base, with the predictor
// removed or rebuilt for the target classes. Tensors it does not change
// are shared with Base; new ones live on Base's backend.
func Surgery(in SurgeryInput) (map[string]*backend.Tensor, error) {
	if a := (Config{Arch: in.Arch}).arch(); a != ArchFasterRCNN {
		s, ok := surgeons[a]
		if !ok {
			return nil, fmt.Errorf("surgery: arch %q has no surgery (want one of %v)", in.Arch, knownArchs())
		}
		return s(in)
	}
	out := make(map[string]*backend.Tensor, len(in.Base))
	for k, v := range in.Base {
		out[k] = v
	}
	if in.Method == SurgeryRemove {
		for _, k := range []string{clsKey + ".weight", clsKey + ".bias", boxKey + ".weight", boxKey + ".bias"} {
			delete(out, k)
		}
		return out, nil
	}
	if in.Method != SurgeryRandInit && in.Method != SurgeryCombine {
		return nil, fmt.Errorf("surgery: method %q (want remove, randinit or combine)", in.Method)
	}
	if len(in.Target) == 0 {
		return nil, fmt.Errorf("surgery %s: no target classes", in.Method)
	}
	type source struct {
		sd      map[string]*backend.Tensor
		classes map[string]int
		what    string
	}
	index := func(names []string, what string) (map[string]int, error) {
		m := make(map[string]int, len(names))
		for i, n := range names {
			if _, dup := m[n]; dup {
				return nil, fmt.Errorf("surgery: class %q listed twice in the %s classes", n, what)
			}
			m[n] = i
		}
		return m, nil
	}
	if _, err := index(in.Target, "target"); err != nil {
		return nil, err
	}
	bi, err := index(in.BaseClasses, "base")
	if err != nil {
		return nil, err
	}
	sources := []source{{in.Base, bi, "base"}}
	if in.Method == SurgeryCombine {
		if in.Novel == nil {
			return nil, fmt.Errorf("surgery combine: no novel checkpoint")
		}
		ni, err := index(in.NovelClasses, "novel")
		if err != nil {
			return nil, err
		}
		// The novel model's rows win for its classes.
		sources = append([]source{{in.Novel, ni, "novel"}}, sources...)
	}
	for _, src := range sources {
		w, ok := src.sd[clsKey+".weight"]
		if !ok {
			return nil, fmt.Errorf("surgery: the %s checkpoint has no %s.weight", src.what, clsKey)
		}
		if len(w.Shape) != 2 || w.Shape[0] != len(src.classes)+1 {
			return nil, fmt.Errorf("surgery: %s checkpoint %s.weight is %s, want [%d classes + background, D]",
				src.what, clsKey, backend.ShapeString(w.Shape), len(src.classes))
		}
	}
	k := len(in.Target)
	// Each new row is copied from the first source that knows its class.
	from := func(c string) (map[string]*backend.Tensor, int) {
		for _, src := range sources {
			if i, ok := src.classes[c]; ok {
				return src.sd, i
			}
		}
		return nil, -1
	}
	for _, layer := range []struct {
		key     string
		std     float64
		rowsPer int
		hasBg   bool
	}{
		{key: clsKey, std: 0.01, rowsPer: 1, hasBg: true},
		{key: boxKey, std: 0.001, rowsPer: 4},
	} {
		bw, ok := in.Base[layer.key+".weight"]
		_, okb := in.Base[layer.key+".bias"]
		if !ok || !okb || len(bw.Shape) != 2 {
			return nil, fmt.Errorf("surgery: the base checkpoint lacks %s.weight/.bias", layer.key)
		}
		if layer.key == boxKey && bw.Shape[0] == 4 {
			continue // class-agnostic regression (SEM): nothing per class to move
		}
		d := bw.Shape[1]
		rows := k * layer.rowsPer
		if layer.hasBg {
			rows++
		}
		r := surgeryRand(in.Seed, layer.key)
		w := make([]float32, rows*d)
		for i := range w {
			w[i] = float32(r.NormFloat64() * layer.std)
		}
		b := make([]float32, rows)
		copyRows := func(sd map[string]*backend.Tensor, dst, src, n int) error {
			sw, sb := sd[layer.key+".weight"], sd[layer.key+".bias"]
			if sw == nil || sb == nil || len(sw.Shape) != 2 || sw.Shape[1] != d || src+n > sw.Shape[0] {
				return fmt.Errorf("surgery: %s rows %d..%d not in a compatible checkpoint tensor", layer.key, src, src+n)
			}
			wv, bv := sw.Backend.ToFloat32(sw), sb.Backend.ToFloat32(sb)
			copy(w[dst*d:(dst+n)*d], wv[src*d:(src+n)*d])
			copy(b[dst:dst+n], bv[src:src+n])
			return nil
		}
		for i, c := range in.Target {
			sd, j := from(c)
			if sd == nil {
				continue
			}
			if err := copyRows(sd, i*layer.rowsPer, j*layer.rowsPer, layer.rowsPer); err != nil {
				return nil, err
			}
		}
		if layer.hasBg {
			// Background is the last row, always the base model's.
			if err := copyRows(in.Base, rows-1, bw.Shape[0]-1, 1); err != nil {
				return nil, err
			}
		}
		be := bw.Backend
		out[layer.key+".weight"] = be.FromFloat32(w, rows, d)
		out[layer.key+".bias"] = be.FromFloat32(b, rows)
	}
	return out, nil
}

func surgeryRand(seed uint64, key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}
