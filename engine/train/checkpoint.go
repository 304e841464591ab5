package train

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// Checkpoint tensor names: model parameters under "model.", SGD momentum
// buffers under "optim.momentum.". Metadata keys are below.
const (
	ckptFormat     = "fsodgpu-checkpoint-v1"
	modelPrefix    = "model."
	momentumPrefix = "optim.momentum."
)

// Checkpoint is what a job saves and resumes from.
type Checkpoint struct {
	Iter     int // the next iteration to run
	Seed     uint64
	Job      string
	Model    map[string][]float32
	Shapes   map[string][]int
	Momentum map[string][]float32
}

// payloadHash is the SHA-256 over every tensor's name, shape and bytes in
// name order: it detects a checkpoint that was damaged after it was written.
func payloadHash(tensors map[string]safetensors.Tensor) string {
	names := make([]string, 0, len(tensors))
	for k := range tensors {
		names = append(names, k)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, k := range names {
		t := tensors[k]
		fmt.Fprintf(h, "%s|%s|%v|", k, t.DType, t.Shape)
		h.Write(t.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SaveCheckpoint writes the model (and momentum buffers, if any) atomically.
func SaveCheckpoint(path string, be backend.Backend, params map[string]*backend.Tensor, momentum map[string]*backend.Tensor, iter int, seed uint64, job string) error {
	tensors := map[string]safetensors.Tensor{}
	for name, t := range params {
		tensors[modelPrefix+name] = safetensors.FromFloat32(be.ToFloat32(t), t.Shape...)
	}
	for name, t := range momentum {
		tensors[momentumPrefix+name] = safetensors.FromFloat32(be.ToFloat32(t), t.Shape...)
	}
	meta := map[string]string{
		"format":    ckptFormat,
		"iteration": strconv.Itoa(iter),
		"seed":      strconv.FormatUint(seed, 10),
		"job":       job,
		"sha256":    payloadHash(tensors),
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return safetensors.Write(path, tensors, meta)
}

// saveWeights writes a plain weights file (parameter names, no prefixes).
func saveWeights(path string, be backend.Backend, params map[string]*backend.Tensor, meta map[string]string) error {
	tensors := map[string]safetensors.Tensor{}
	for name, t := range params {
		tensors[name] = safetensors.FromFloat32(be.ToFloat32(t), t.Shape...)
	}
	return safetensors.Write(path, tensors, meta)
}

// LoadCheckpoint reads and verifies a checkpoint written by SaveCheckpoint,
// or a plain safetensors file of model weights (no prefixes, no metadata).
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Model: map[string][]float32{}, Shapes: map[string][]int{}, Momentum: map[string][]float32{}}
	ours := f.Metadata["format"] == ckptFormat
	if ours {
		if want := f.Metadata["sha256"]; want != payloadHash(f.Tensors) {
			return nil, fmt.Errorf("%s: checkpoint is damaged (SHA-256 of its tensors does not match its metadata)", path)
		}
		if c.Iter, err = strconv.Atoi(f.Metadata["iteration"]); err != nil {
			return nil, fmt.Errorf("%s: bad iteration %q in metadata", path, f.Metadata["iteration"])
		}
		c.Seed, _ = strconv.ParseUint(f.Metadata["seed"], 10, 64)
		c.Job = f.Metadata["job"]
	}
	for name, t := range f.Tensors {
		v, err := t.Float32()
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %v", path, name, err)
		}
		switch {
		case ours && strings.HasPrefix(name, momentumPrefix):
			c.Momentum[strings.TrimPrefix(name, momentumPrefix)] = v
		case ours && strings.HasPrefix(name, modelPrefix):
			n := strings.TrimPrefix(name, modelPrefix)
			c.Model[n], c.Shapes[n] = v, t.Shape
		case !ours:
			c.Model[name], c.Shapes[name] = v, t.Shape
		default:
			return nil, fmt.Errorf("%s: unexpected tensor %q in a checkpoint", path, name)
		}
	}
	return c, nil
}

// StateDict uploads the checkpoint's model tensors to a backend.
func (c *Checkpoint) StateDict(be backend.Backend) map[string]*backend.Tensor {
	sd := make(map[string]*backend.Tensor, len(c.Model))
	for name, v := range c.Model {
		sd[name] = be.FromFloat32(v, c.Shapes[name]...)
	}
	return sd
}

// checkpointName is model_0001234.safetensors for the state before iteration 1234.
func checkpointName(iter int) string { return fmt.Sprintf("model_%07d.safetensors", iter) }

// listCheckpoints returns a job's checkpoints, newest first.
func listCheckpoints(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "model_*.safetensors"))
	sort.Sort(sort.Reverse(sort.StringSlice(m)))
	return m
}

// newestValidCheckpoint loads the newest checkpoint that reads back intact;
// a damaged one (a crash mid-copy, a full disk) is reported and skipped so an
// older one still resumes the job.
func newestValidCheckpoint(dir string, warn func(string)) (*Checkpoint, string) {
	for _, p := range listCheckpoints(dir) {
		c, err := LoadCheckpoint(p)
		if err == nil {
			return c, p
		}
		warn(fmt.Sprintf("skipping unreadable checkpoint: %v", err))
	}
	return nil, ""
}
