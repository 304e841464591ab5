package weights

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// Imported is a backbone under our names, ready to write as safetensors.
type Imported struct {
	Tensors map[string]safetensors.Tensor
	// Skipped lists source keys the detector does not use (classifier,
	// counters, momenta), sorted.
	Skipped []string
}

// Import reads a checkpoint of the given format and renames its backbone
// tensors to ours (res5 under roi_heads when c4); a detectron2-format
// detector (.pkl or .pth) keeps its RPN, box head and predictor too. Caffe2 batch norms carry
// only scale and bias; their running statistics are filled with 0 and 1, as
// detectron2's FrozenBatchNorm2d does when loading them.
func Import(format Format, path string, c4 bool) (*Imported, error) {
	var src map[string]safetensors.Tensor
	var err error
	switch format {
	case Torchvision:
		src, err = ReadPth(path)
	case Detectron2:
		// detectron2 writes .pkl (numpy) and DeFRCN/TFA release .pth files
		// of the same names; try the pickle reader first.
		src, err = ReadPkl(path)
		if err != nil && isZip(path) {
			src, err = ReadPth(path) // its error (truncated archive...) is the one that matters
		} else if err != nil {
			if pth, err2 := ReadPth(path); err2 == nil {
				src, err = pth, nil
			}
		}
	default:
		return nil, fmt.Errorf("weights: format %q (want torchvision or detectron2)", format)
	}
	if err != nil {
		return nil, err
	}
	out := &Imported{Tensors: map[string]safetensors.Tensor{}}
	from := map[string]string{}
	for k, t := range src {
		var name string
		var use bool
		if format == Torchvision {
			name, use, err = TorchvisionKey(k, c4)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
		} else {
			name, use = Detectron2Key(k, c4)
		}
		if !use {
			out.Skipped = append(out.Skipped, k)
			continue
		}
		if prev, dup := from[name]; dup {
			return nil, fmt.Errorf("%s: keys %q and %q both map to %s", path, prev, k, name)
		}
		from[name] = k
		out.Tensors[name] = t
	}
	sort.Strings(out.Skipped)
	if _, ok := out.Tensors["backbone.stem.conv1.weight"]; !ok {
		return nil, fmt.Errorf("%s: no stem convolution (conv1.weight / conv1_w): not a ResNet %s checkpoint", path, format)
	}
	for name, t := range out.Tensors {
		prefix, ok := strings.CutSuffix(name, ".norm.weight")
		if !ok {
			continue
		}
		n := t.Numel()
		if _, ok := out.Tensors[prefix+".norm.running_mean"]; !ok {
			out.Tensors[prefix+".norm.running_mean"] = safetensors.FromFloat32(make([]float32, n), n)
		}
		if _, ok := out.Tensors[prefix+".norm.running_var"]; !ok {
			ones := make([]float32, n)
			for i := range ones {
				ones[i] = 1
			}
			out.Tensors[prefix+".norm.running_var"] = safetensors.FromFloat32(ones, n)
		}
	}
	return out, nil
}

// Write stores the imported tensors as safetensors with the source recorded
// in the metadata.
func (im *Imported) Write(path string, format Format, source string) error {
	return safetensors.Write(path, im.Tensors, map[string]string{"format": string(format), "source": source})
}

// isZip reports whether the file starts with a zip signature.
func isZip(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 2)
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == "PK"
}
