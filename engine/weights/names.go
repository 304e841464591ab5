// Package weights imports pre-trained backbones into fsodgpu's parameter
// names: torchvision ResNet checkpoints (.pth, PyTorch's zip + pickle
// format) and MSRA/Caffe2 or detectron2 pickles (.pkl of numpy arrays), and
// writes them as safetensors.
//
// Our names are detectron2's: backbone.stem.conv1.weight,
// backbone.stem.conv1.norm.{weight,bias,running_mean,running_var},
// backbone.res<S>.<B>.conv<K>.weight and .norm.*, backbone.res<S>.<B>.shortcut.*,
// with res5 under roi_heads.res5 in the C4 detector.
package weights

import (
	"fmt"
	"regexp"
	"strings"
)

// Format names where a checkpoint comes from.
type Format string

const (
	Torchvision Format = "torchvision"
	Detectron2  Format = "detectron2" // MSRA/Caffe2 names or detectron2 names
)

var (
	tvStem  = regexp.MustCompile(`^(conv1|bn1)\.(weight|bias|running_mean|running_var)$`)
	tvBlock = regexp.MustCompile(`^layer([1-4])\.(\d+)\.(conv[1-3]|bn[1-3]|downsample\.[01])\.(weight|bias|running_mean|running_var)$`)
	c2Stem  = regexp.MustCompile(`^(conv1_w|res_conv1_bn_(s|b|rm|riv))$`)
	c2Block = regexp.MustCompile(`^res([2-5])_(\d+)_branch(1|2a|2b|2c)(_w|_bn_s|_bn_b|_bn_rm|_bn_riv)$`)
	d2Name  = regexp.MustCompile(`^(backbone\.)?(stem|res[2-5])\.`)
)

// stagePrefix is where res<stage> lives: under roi_heads in the C4 detector
// for res5, under backbone otherwise.
func stagePrefix(stage int, c4 bool) string {
	if c4 && stage == 5 {
		return "roi_heads.res5"
	}
	return fmt.Sprintf("backbone.res%d", stage)
}

// TorchvisionKey maps a torchvision ResNet state_dict key to our name. It
// returns ok false for keys the detector does not use (fc.*,
// num_batches_tracked) and an error for a key it does not recognise.
func TorchvisionKey(key string, c4 bool) (string, bool, error) {
	if strings.HasPrefix(key, "fc.") || strings.HasSuffix(key, "num_batches_tracked") {
		return "", false, nil
	}
	if m := tvStem.FindStringSubmatch(key); m != nil {
		if m[1] == "conv1" {
			if m[2] != "weight" {
				return "", false, fmt.Errorf("torchvision key %q: the stem convolution has no %s", key, m[2])
			}
			return "backbone.stem.conv1.weight", true, nil
		}
		return "backbone.stem.conv1.norm." + m[2], true, nil
	}
	m := tvBlock.FindStringSubmatch(key)
	if m == nil {
		return "", false, fmt.Errorf("torchvision key %q is not a ResNet stem, layer1..4 or fc key", key)
	}
	stage := int(m[1][0]-'0') + 1
	prefix := fmt.Sprintf("%s.%s", stagePrefix(stage, c4), m[2])
	part, field := m[3], m[4]
	switch {
	case strings.HasPrefix(part, "conv") && field == "weight":
		return prefix + "." + part + ".weight", true, nil
	case strings.HasPrefix(part, "bn"):
		return prefix + ".conv" + part[2:] + ".norm." + field, true, nil
	case part == "downsample.0" && field == "weight":
		return prefix + ".shortcut.weight", true, nil
	case part == "downsample.1":
		return prefix + ".shortcut.norm." + field, true, nil
	}
	return "", false, fmt.Errorf("torchvision key %q: unexpected %s on a convolution", key, field)
}

var c2Branch = map[string]string{"1": "shortcut", "2a": "conv1", "2b": "conv2", "2c": "conv3"}
var c2Field = map[string]string{"_w": ".weight", "_bn_s": ".norm.weight", "_bn_b": ".norm.bias",
	"_bn_rm": ".norm.running_mean", "_bn_riv": ".norm.running_var"}

// Detectron2Key maps an MSRA/Caffe2 blob name (res2_0_branch2a_w, conv1_w,
// res_conv1_bn_s), as detectron2's c2 conversion reads them, or a
// detectron2 name (res2.0.conv1.weight, backbone.stem.conv1.norm.bias), to
// our name. A whole detectron2/DeFRCN detector's head keys
// (proposal_generator.*, roi_heads.res5.*, roi_heads.box_predictor.*,
// affine_rpn.*, affine_rcnn.*) are our names already and pass through, so
// a published DeFRCN model imports complete. ok is false for everything
// else (fc1000_*, *_momentum, pixel_mean, bookkeeping); it errors on
// nothing, since such files carry arbitrary extras.
func Detectron2Key(key string, c4 bool) (string, bool) {
	if m := c2Stem.FindStringSubmatch(key); m != nil {
		if m[1] == "conv1_w" {
			return "backbone.stem.conv1.weight", true
		}
		return "backbone.stem.conv1" + c2Field["_bn_"+m[2]], true
	}
	if m := c2Block.FindStringSubmatch(key); m != nil {
		stage := int(m[1][0] - '0')
		return fmt.Sprintf("%s.%s.%s%s", stagePrefix(stage, c4), m[2], c2Branch[m[3]], c2Field[m[4]]), true
	}
	for _, head := range []string{"proposal_generator.", "roi_heads.box_predictor.", "affine_rpn.", "affine_rcnn."} {
		if strings.HasPrefix(key, head) {
			return key, true // a detectron2/DeFRCN detector's heads: our names already
		}
	}
	if rest, ok := strings.CutPrefix(key, "roi_heads.res5."); ok {
		return stagePrefix(5, c4) + "." + rest, true // a detectron2 C4 model's box head
	}
	if m := d2Name.FindStringSubmatch(key); m != nil {
		rest := strings.TrimPrefix(key, m[1])
		if c4 && strings.HasPrefix(rest, "res5.") {
			return "roi_heads." + rest, true
		}
		return "backbone." + rest, true
	}
	return "", false
}
