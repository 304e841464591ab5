package train

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/eval"
	"github.com/fsodgpu/fsodgpu/engine/model"
)

// Predictor runs a trained detector on single images.
type Predictor struct {
	Det     model.Model
	Classes []string
	Short   int // test short side
	MaxSize int
	Input   data.InputConfig // as the job read its images (config.yaml's input:)
	// Kind, Info and ConfigPath say which job the model comes from (the
	// config.yaml that described it), for the checks of `eval model`.
	Job        string
	Kind       string
	Info       JobInfo
	ConfigPath string
}

// Detection is one box in the original image's pixels.
type Detection struct {
	Box   [4]float32
	Score float32
	Class string
}

// LoadPredictor builds the detector described by a job's config.yaml (by
// default the one beside the weights) and loads the weights.
func LoadPredictor(be backend.Backend, weights, configPath string) (*Predictor, error) {
	if configPath == "" {
		configPath = filepath.Join(filepath.Dir(weights), "config.yaml")
	}
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return nil, fmt.Errorf("%v (a job's config.yaml describes the model: pass --config)", err)
	}
	var rc resolvedConfig
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rc); err != nil {
		return nil, fmt.Errorf("%s: %s", configPath, cleanYAMLError(err))
	}
	if len(rc.Classes) != rc.Model.NumClasses {
		return nil, fmt.Errorf("%s: %d class names for a %d-class model", configPath, len(rc.Classes), rc.Model.NumClasses)
	}
	det, err := model.Build(be, rc.Model, rc.Seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	ck, err := LoadCheckpoint(weights)
	if err != nil {
		return nil, err
	}
	if err := det.LoadStateDict(ck.StateDict(be), true); err != nil {
		return nil, fmt.Errorf("%s: %w", weights, err)
	}
	if err := rc.Input.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	return &Predictor{Det: det, Classes: rc.Classes, Short: rc.Stage.TestShortSide, MaxSize: rc.Stage.TestMaxSize, Input: rc.Input,
		Job: rc.Job, Kind: rc.Kind, Info: rc.Info, ConfigPath: configPath}, nil
}

// DecodeFile reads an image as the job's loader did.
func (p *Predictor) DecodeFile(path string) (*data.Image, error) { return p.Input.DecodeFile(path) }

// Predict detects objects in one image (decoded with DecodeFile), resized
// and padded as the evaluator's test loader does.
func (p *Predictor) Predict(img *data.Image) ([]Detection, error) {
	cfg := p.Det.Config()
	w, h := data.ResizeShape(img.W, img.H, p.Short, p.MaxSize)
	r := p.Input.ResizeImage(img, w, h)
	pix, ph, pw := data.Pack([]*data.Image{r}, cfg.InputFormat == "RGB", p.Input.SizeDivisibility)
	be := p.Det.Params()[0].Value.Backend
	in := model.Input{Images: be.FromFloat32(pix, 1, 3, ph, pw), Sizes: [][2]int{{h, w}}}
	out, err := p.Det.Forward(in, 0, false)
	be.Free(in.Images)
	if err != nil {
		return nil, err
	}
	sx, sy := float32(w)/float32(img.W), float32(h)/float32(img.H)
	d := out.Detections[0]
	res := make([]Detection, len(d.Boxes))
	for i, b := range d.Boxes {
		res[i] = Detection{Box: [4]float32{b[0] / sx, b[1] / sy, b[2] / sx, b[3] / sy}, Score: d.Scores[i], Class: p.Classes[d.Classes[i]]}
	}
	return res, nil
}

// SameClasses checks that a second model (rescoring the first) has the first
// one's class list: the same names in the same order, so a class index means
// one class in both.
func SameClasses(first, second *Predictor) error {
	a, b := first.Classes, second.Classes
	for i := 0; i < max(len(a), len(b)); i++ {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			at := func(l []string) string {
				if i < len(l) {
					return fmt.Sprintf("%q", l[i])
				}
				return "nothing"
			}
			return fmt.Errorf("the two models' classes differ: %s has %d (class %d %s), %s has %d (class %d %s); rescoring needs the same class list",
				first.ConfigPath, len(a), i, at(a), second.ConfigPath, len(b), i, at(b))
		}
	}
	return nil
}

// Rescore rescores dets (of one image, from p) with second's detections of
// the same image by eval.Rescore; the class lists must agree (SameClasses).
func Rescore(p *Predictor, dets, second []Detection, opt eval.RescoreOptions) ([]Detection, error) {
	idx := data.ClassIndex(p.Classes)
	conv := func(ds []Detection) ([]eval.Detection, error) {
		out := make([]eval.Detection, len(ds))
		for i, d := range ds {
			c, ok := idx[d.Class]
			if !ok {
				return nil, fmt.Errorf("rescore: class %q is not one of the model's", d.Class)
			}
			out[i] = eval.Detection{Box: eval.Box{float64(d.Box[0]), float64(d.Box[1]), float64(d.Box[2]), float64(d.Box[3])}, Score: float64(d.Score), Class: c}
		}
		return out, nil
	}
	a, err := conv(dets)
	if err != nil {
		return nil, err
	}
	b, err := conv(second)
	if err != nil {
		return nil, err
	}
	r, _, err := eval.Rescore(a, b, opt)
	if err != nil {
		return nil, err
	}
	out := make([]Detection, len(dets))
	for i, d := range dets {
		out[i] = d
		out[i].Score = float32(r[i].Score)
	}
	return out, nil
}
