package train

import (
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/internal/geom"
	"github.com/fsodgpu/fsodgpu/engine/model"
)

// refDet is one detection of either pipeline, in original-image pixels.
type refDet struct {
	box   [4]float32
	score float32
	class int
}

// detMatch pairs the two pipelines' detections of one image greedily by
// score: a pair has the same class, IoU ≥ minIoU and scores within tol.
// It returns the number of pairs and the largest score and box-coordinate
// differences among them.
func detMatch(ref, got []refDet, minIoU, tol float32) (pairs int, dScore, dBox float64) {
	sort.Slice(ref, func(i, j int) bool { return ref[i].score > ref[j].score })
	used := make([]bool, len(got))
	for _, r := range ref {
		best, bi := float32(0), -1
		for j, g := range got {
			if !used[j] && g.class == r.class {
				if v := geom.IoU(r.box, g.box); v > best {
					best, bi = v, j
				}
			}
		}
		if bi < 0 || best < minIoU || math.Abs(float64(r.score-got[bi].score)) > float64(tol) {
			continue
		}
		used[bi] = true
		pairs++
		dScore = max(dScore, math.Abs(float64(r.score-got[bi].score)))
		for k := 0; k < 4; k++ {
			dBox = max(dBox, math.Abs(float64(r.box[k]-got[bi].box[k])))
		}
	}
	return pairs, dScore, dBox
}

// spreadWeights makes a randomly initialised detector decisive and its
// frozen BNs non-trivial, so that detections are well separated in score
// (a comparison of near-ties would test float summation order, not the
// pipeline): random BN statistics and affines, larger output layers.
// The output layers are scaled up (and the background logit moved down) so
// that random weights give many well separated detections.
const clsScale, boxScale, bgShift = 30, 30, 3

func spreadWeights(t *testing.T, det *model.Detector, seed int64) {
	be := det.Backend()
	r := rand.New(rand.NewSource(seed))
	sd := det.StateDict()
	names := make([]string, 0, len(sd))
	for k := range sd {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := be.ToFloat32(sd[k])
		for i := range v {
			switch {
			case strings.HasSuffix(k, ".running_mean"):
				v[i] = float32(r.NormFloat64() * 0.1)
			case strings.HasSuffix(k, ".running_var"):
				v[i] = float32(0.5 + r.Float64())
			case strings.HasSuffix(k, "norm.weight"), strings.HasPrefix(k, "affine_") && strings.HasSuffix(k, ".weight"):
				v[i] = float32(0.8 + 0.4*r.Float64())
			case strings.HasSuffix(k, "norm.bias"), strings.HasPrefix(k, "affine_") && strings.HasSuffix(k, ".bias"):
				v[i] = float32(r.NormFloat64() * 0.05)
			case strings.Contains(k, "cls_score.weight"), strings.Contains(k, "objectness_logits.weight"):
				v[i] *= clsScale
			case strings.Contains(k, "bbox_pred.weight"), strings.Contains(k, "anchor_deltas.weight"):
				v[i] *= boxScale
			}
		}
		if strings.HasSuffix(k, "cls_score.bias") {
			v[len(v)-1] -= bgShift // fewer RoIs called background: more detections to compare
		}
		sd[k] = be.FromFloat32(v, sd[k].Shape...)
	}
	if err := det.LoadStateDict(sd, true); err != nil {
		t.Fatal(err)
	}
}

// TestDetectMatchesDetectron2Reference runs the Predictor (what `fsodgpu
// detect` runs) and testdata/reference/d2_reference.py — a PyTorch pipeline
// written from detectron2's semantics (PIL read, ResizeShortestEdge, C4
// ResNet, RPN, ROIAlignV2, res5 head, per-class NMS) — on the same
// safetensors weights and images, for the DeFRCN head and the MFE head
// (SEM, TEM), and compares the detections.
//
// On lossless copies of the photographs (PIL's decodings of
// testdata/data/jpeg) and on the JPEGs themselves (decoded to PIL's pixels)
// the detections must be the same: decoding, resize, padding, network and
// post-processing are detectron2's; the inputs of earlier runs (input:
// {jpeg: go, resize: float, size_divisibility: 32}) fail that.
func TestDetectMatchesDetectron2Reference(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PyTorch")
	}
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import torch, torchvision, PIL").CombinedOutput(); err != nil {
		t.Skipf("%s lacks torch/torchvision/PIL (%v: %s): apt install python3-torch python3-torchvision python3-pil", py, err, strings.TrimSpace(string(out)))
	}
	fixtures := filepath.Join("..", "..", "testdata", "data", "jpeg")
	jpegs, _ := filepath.Glob(filepath.Join(fixtures, "*.jpg"))
	pngs, _ := filepath.Glob(filepath.Join(fixtures, "*.pil.png"))
	if len(jpegs) == 0 || len(jpegs) != len(pngs) {
		t.Fatalf("want JPEG fixtures and their PNG decodings in %s", fixtures)
	}
	images := append(append([]string{}, pngs...), jpegs...)
	exact := jpegs // every fixture decodes to PIL's pixels
	script := filepath.Join("..", "..", "testdata", "reference", "d2_reference.py")
	old := data.InputConfig{JPEG: "go", Resize: "float", SizeDivisibility: 32}
	for _, head := range []string{"defrcn", "mfe"} {
		t.Run(head, func(t *testing.T) {
			dir := t.TempDir()
			cfg := model.DemoConfig()
			cfg.NumClasses = 3
			cfg.MFE.SEM, cfg.MFE.TEM, cfg.MFE.RC = head == "mfe", head == "mfe", head == "mfe"
			cfg.MFE.SEMR = head == "mfe"
			cfg.ROI.ScoreThresh = 0.05
			be := cpu.New()
			det, err := model.New(be, cfg, 5)
			if err != nil {
				t.Fatal(err)
			}
			spreadWeights(t, det, 5)
			weights := filepath.Join(dir, "model_final.safetensors")
			if err := SaveCheckpoint(weights, be, det.StateDict(), nil, 0, 5, "ref"); err != nil {
				t.Fatal(err)
			}
			stage := StageConfig{TestShortSide: 160, TestMaxSize: 256}
			refCfg, _ := json.Marshal(map[string]any{"model": cfg, "min_size_test": stage.TestShortSide,
				"max_size_test": stage.TestMaxSize, "size_divisibility": 0})
			cfgJSON := filepath.Join(dir, "config.json")
			if err := os.WriteFile(cfgJSON, refCfg, 0o644); err != nil {
				t.Fatal(err)
			}
			outJSON := filepath.Join(dir, "ref.json")
			cmd := exec.Command(py, append([]string{script, weights, cfgJSON, outJSON}, images...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("reference: %v\n%s", err, out)
			}
			var refOut []struct {
				Boxes   [][4]float32 `json:"boxes"`
				Scores  []float32    `json:"scores"`
				Classes []int        `json:"classes"`
			}
			raw, err := os.ReadFile(outJSON)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &refOut); err != nil || len(refOut) != len(images) {
				t.Fatalf("reference output: %v (%d images)", err, len(refOut))
			}
			ref := map[string][]refDet{}
			for i, path := range images {
				for k := range refOut[i].Boxes {
					ref[path] = append(ref[path], refDet{refOut[i].Boxes[k], refOut[i].Scores[k], refOut[i].Classes[k]})
				}
			}
			type result struct {
				pairs, nRef, nGot int
				dScore, dBox      float64
			}
			run := func(in data.InputConfig, set []string, minIoU, tol float32) (r result) {
				y, err := yaml.Marshal(resolvedConfig{Job: "ref", Classes: []string{"a", "b", "c"}, Stage: stage, Model: cfg, Input: in.WithDefaults()})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "config.yaml"), y, 0o644); err != nil {
					t.Fatal(err)
				}
				p, err := LoadPredictor(be, weights, "")
				if err != nil {
					t.Fatal(err)
				}
				idx := map[string]int{"a": 0, "b": 1, "c": 2}
				for _, path := range set {
					img, err := p.DecodeFile(path)
					if err != nil {
						t.Fatal(err)
					}
					dets, err := p.Predict(img)
					if err != nil {
						t.Fatal(err)
					}
					var got []refDet
					for _, d := range dets {
						got = append(got, refDet{d.Box, d.Score, idx[d.Class]})
					}
					n, ds, db := detMatch(append([]refDet(nil), ref[path]...), got, minIoU, tol)
					r.pairs, r.nRef, r.nGot = r.pairs+n, r.nRef+len(ref[path]), r.nGot+len(got)
					r.dScore, r.dBox = max(r.dScore, ds), max(r.dBox, db)
				}
				return r
			}
			report := func(what string, r result) {
				t.Logf("%s, %s: %d of %d reference and %d of our detections paired; max |Δscore| %.2g, max |Δbox| %.2g px",
					head, what, r.pairs, r.nRef, r.nGot, r.dScore, r.dBox)
			}
			// Identical pixels: the same detections
			// (IoU ≥ 0.98, scores within 2e-3; a pair may flip at a threshold
			// from float summation order).
			for _, set := range []struct {
				name  string
				files []string
			}{{"PNG", pngs}, {"JPEG", exact}} {
				now := run(data.InputConfig{}, set.files, 0.98, 2e-3)
				report(set.name+", detectron2 inputs", now)
				if now.nRef < 20 {
					t.Fatalf("only %d reference detections: the comparison would say little", now.nRef)
				}
				if float64(now.pairs) < 0.97*float64(max(now.nRef, now.nGot)) || now.dBox > 0.05 {
					t.Errorf("%s: detections differ from the detectron2-style reference", set.name)
				}
				before := run(old, set.files, 0.98, 2e-3)
				report(set.name+", earlier inputs (go/float/32)", before)
				if before.pairs >= now.pairs {
					t.Errorf("%s: the earlier inputs agree as well as detectron2's: the comparison does not see the input pipeline", set.name)
				}
			}
		})
	}
}
