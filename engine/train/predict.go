package train

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/model"
)

// Predictor runs a trained detector on single images.
type Predictor struct {
	Det     model.Model
	Classes []string
	Short   int // test short side
	MaxSize int
	Input   data.InputConfig // as the job read its images (config.yaml's input:)
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
	return &Predictor{Det: det, Classes: rc.Classes, Short: rc.Stage.TestShortSide, MaxSize: rc.Stage.TestMaxSize, Input: rc.Input}, nil
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
