package model

import (
	"fmt"
	"sort"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// Architectures Config.Arch names.
const (
	ArchFasterRCNN = "faster_rcnn" // the default ("" means this)
)

// Model is what training, evaluation, surgery and detect need of a detector,
// whatever its architecture: the methods train and detect already called on
// the Faster R-CNN Detector. Forward takes the same Input and returns the
// same Output (losses, or Detections in input pixels) for every architecture.
type Model interface {
	Backend() backend.Backend
	Config() Config
	Params() []*nn.Param
	Freeze(patterns ...string) (int, error)
	ZeroGrad()
	StateDict() map[string]*backend.Tensor
	LoadStateDict(sd map[string]*backend.Tensor, strict bool) error
	// SetReplica gives data-parallel replica r its own sampling and dropout
	// streams (replica 0 keeps the single-process ones).
	SetReplica(r int, seed uint64)
	Forward(in Input, iter int, train bool) (*Output, error)
}

var _ Model = (*Detector)(nil)

// builders maps each architecture to its constructor; an architecture's
// file registers itself, so this one names none but the default.
// (registered in init: Validate reads the map and New calls Validate).
var builders = map[string]func(be backend.Backend, cfg Config, seed uint64) (Model, error){}

func init() {
	builders[ArchFasterRCNN] = func(be backend.Backend, cfg Config, seed uint64) (Model, error) { return New(be, cfg, seed) }
}

// arch is cfg's architecture with the default filled in.
func (c Config) arch() string {
	if c.Arch == "" {
		return ArchFasterRCNN
	}
	return c.Arch
}

func knownArchs() []string {
	names := make([]string, 0, len(builders))
	for k := range builders {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Build makes the detector cfg.Arch names with seeded random init.
func Build(be backend.Backend, cfg Config, seed uint64) (Model, error) {
	b, ok := builders[cfg.arch()]
	if !ok {
		return nil, fmt.Errorf("model config: arch %q (want one of %v)", cfg.Arch, knownArchs())
	}
	return b(be, cfg, seed)
}
