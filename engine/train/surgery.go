package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/model"
)

// Surgery turns a base model's weights file (trained on baseClasses) into
// the starting point of a fine-tune on newClasses with model.Surgery
// (randinit: predictor rows copied by class name, new rows random; remove:
// predictor dropped), and writes it as a plain weights file. It runs on the
// CPU backend: it is a one-off copy of a few tensors. mc is the model's
// config: its architecture says where the class rows are.
func Surgery(in, out, method string, mc model.Config, baseClasses, newClasses []string, seed uint64) error {
	ck, err := LoadCheckpoint(in)
	if err != nil {
		return err
	}
	be := cpu.New()
	sd, err := model.Surgery(model.SurgeryInput{Arch: mc.Arch, YOLO: mc.YOLO, Method: method, Base: ck.StateDict(be), BaseClasses: baseClasses,
		Target: newClasses, Seed: seed})
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return saveWeights(out, be, sd, map[string]string{"surgery": method, "source": in, "classes": strings.Join(newClasses, ",")})
}
