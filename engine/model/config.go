// Package model is the detector: Faster R-CNN with a ResNet C4 backbone
// (stem..res4 at stride 16), an RPN on res4, and Res5 RoI heads with
// DeFRCN's gradient decoupled layers and the switchable parts of the MFE
// head (SEM, TEM, RC). Everything runs on a backend.Backend through the
// autograd tape; box matching and sampling run on the host.
package model

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/neck"
)

// Config is every knob of the detector. DefaultConfig is DeFRCN's R-101 C4
// (detectron2 v0.3 defaults plus DeFRCN's settings); DemoConfig is a tiny
// detector that trains on two CPU cores.
type Config struct {
	// Arch is the detector architecture: faster_rcnn (the default, also
	// "") or yolov1. The keys below that one architecture does not use are
	// ignored by it.
	Arch string `yaml:"arch,omitempty"`
	// NumClasses is the number of foreground classes (background is extra).
	NumClasses int `yaml:"num_classes"`
	// PixelMean and PixelStd normalise raw pixel values per channel in the
	// order of InputFormat ("BGR" for MSRA/detectron2 weights, "RGB" for
	// torchvision weights, whose mean/std are on 0..255 pixels here).
	PixelMean   [3]float32 `yaml:"pixel_mean"`
	PixelStd    [3]float32 `yaml:"pixel_std"`
	InputFormat string     `yaml:"input_format"`

	Backbone BackboneConfig `yaml:"backbone"`
	RPN      RPNConfig      `yaml:"rpn"`
	ROI      ROIConfig      `yaml:"roi_heads"`
	MFE      MFEConfig      `yaml:"mfe"`
	// Neck is a block of the spatial-pyramid family (engine/neck) on the
	// res4 map that feeds the RPN and the RoI heads; its type "" or "none"
	// (the default) is no neck. c2 defaults to res4's channels.
	Neck neck.Config `yaml:"neck"`
	// YOLO is the yolov1 architecture's settings (YOLOConfig).
	YOLO YOLOConfig `yaml:"yolo"`

	// Freeze lists extra glob patterns of parameter names to freeze
	// (e.g. "roi_heads.res5.*"), on top of Backbone.FreezeAt.
	Freeze []string `yaml:"freeze"`
}

// BackboneConfig is the ResNet.
type BackboneConfig struct {
	// Depth is 18, 34 (basic blocks), 50 or 101 (bottleneck blocks).
	Depth int `yaml:"depth"`
	// Blocks overrides the block counts of res2..res5 that Depth implies
	// (Depth still picks basic or bottleneck blocks): tiny demo networks.
	Blocks []int `yaml:"blocks,omitempty"`
	// StemWidth is the stem's output channels (64 in every standard ResNet);
	// all stage widths scale with it, so 8 gives a 1/8-width network.
	StemWidth int `yaml:"stem_width"`
	// StrideIn1x1 puts a bottleneck's stride in its first 1×1 convolution
	// (MSRA/detectron2 weights) instead of the 3×3 (torchvision weights).
	StrideIn1x1 bool `yaml:"stride_in_1x1"`
	// FreezeAt as detectron2: 0 nothing, 1 stem, 2 stem+res2, 3 +res3, ...
	FreezeAt int `yaml:"freeze_at"`
	// Norm is "frozen_bn" (detectron2's FrozenBatchNorm: for pretrained
	// weights), "affine" (frozen statistics, trainable weight and bias) or
	// "bn" (batch statistics in training, running ones at test and when
	// frozen: for backbones trained from scratch, as in the demo).
	Norm string `yaml:"norm"`
}

// RPNConfig is detectron2's StandardRPNHead + RPN on res4.
type RPNConfig struct {
	AnchorSizes       []float32 `yaml:"anchor_sizes"`
	AnchorRatios      []float32 `yaml:"anchor_ratios"`
	BatchSizePerImage int       `yaml:"batch_size_per_image"`
	PositiveFraction  float32   `yaml:"positive_fraction"`
	FgIoU             float32   `yaml:"fg_iou"`
	BgIoU             float32   `yaml:"bg_iou"`
	NMS               float32   `yaml:"nms"`
	PreNMSTrain       int       `yaml:"pre_nms_topk_train"`
	PostNMSTrain      int       `yaml:"post_nms_topk_train"`
	PreNMSTest        int       `yaml:"pre_nms_topk_test"`
	PostNMSTest       int       `yaml:"post_nms_topk_test"`
	MinSize           float32   `yaml:"min_size"`
	// SmoothL1Beta 0 is the L1 loss (detectron2's default).
	SmoothL1Beta float32    `yaml:"smooth_l1_beta"`
	BoxWeights   [4]float32 `yaml:"bbox_reg_weights"`
	LossWeight   float32    `yaml:"loss_weight"`
	// Decouple enables the RPN's gradient decoupled layer with GDLScale (λ).
	Decouple bool    `yaml:"enable_decouple"`
	GDLScale float32 `yaml:"backward_scale"`
}

// ROIConfig is Res5ROIHeads and the box predictor.
type ROIConfig struct {
	BatchSizePerImage int     `yaml:"batch_size_per_image"`
	PositiveFraction  float32 `yaml:"positive_fraction"`
	IoU               float32 `yaml:"iou_threshold"`
	// PoolerResolution is the RoI-Align output before res5 (whose first
	// block has stride 2): DeFRCN sets 7 (res5 map 4×4), detectron2's C4
	// default is 14 (res5 map 7×7).
	PoolerResolution int `yaml:"pooler_resolution"`
	SamplingRatio    int `yaml:"pooler_sampling_ratio"`
	// PoolerType is detectron2's ROI_BOX_HEAD.POOLER_TYPE: ROIAlignV2
	// (RoI-Align with the half-pixel shift, the default), ROIAlign (without
	// it, aligned false) or ROIPool (Fast R-CNN's RoI max pooling).
	PoolerType   string     `yaml:"pooler_type"`
	BoxWeights   [4]float32 `yaml:"bbox_reg_weights"`
	SmoothL1Beta float32    `yaml:"smooth_l1_beta"`
	// ClsDropout applies DeFRCN's dropout with DropoutRatio to the pooled
	// feature before the classifier (fine-tuning).
	ClsDropout   bool    `yaml:"cls_dropout"`
	DropoutRatio float32 `yaml:"dropout_ratio"`
	// Decouple enables the R-CNN branch's gradient decoupled layer.
	Decouple bool    `yaml:"enable_decouple"`
	GDLScale float32 `yaml:"backward_scale"`
	// FreezeFeat freezes res5 (DeFRCN's ROI_HEADS.FREEZE_FEAT in fine-tuning).
	FreezeFeat bool `yaml:"freeze_feat"`
	// Test-time settings.
	ScoreThresh   float32 `yaml:"score_thresh_test"`
	NMS           float32 `yaml:"nms_thresh_test"`
	DetsPerImage  int     `yaml:"detections_per_image"`
	ClassAgnostic bool    `yaml:"cls_agnostic_bbox_reg"`
}

// MFEConfig switches the parts of the MFE head; all off is DeFRCN.
type MFEConfig struct {
	// SEM: class-agnostic regression first, classification on a second
	// RoI-Align + res5 pass over the refined boxes.
	SEM bool `yaml:"sem"`
	// SEMC adds a classification loss on the raw proposals' features.
	SEMC bool `yaml:"sem_c"`
	// SEMR adds a regression loss on the refined boxes' features (and a
	// second refinement at test time).
	SEMR bool `yaml:"sem_r"`
	// SEMRelabel matches the refined boxes to the gt again for the
	// classification loss (IoU ≥ roi_heads.iou_threshold: that gt's class,
	// else background), as Cascade R-CNN labels its later stages: the MFE
	// paper's "R-CNN as a stronger RPN", whose refined boxes are the
	// classifier's proposals. On by default (it has no effect without SEM).
	// Off, the refined box keeps its proposal's label, so a background
	// proposal that regression moved onto an object is still taught as
	// background (the behaviour before sem_relabel existed).
	SEMRelabel bool `yaml:"sem_relabel"`
	// TEM adds two channel-attention adapters, one per task.
	TEM          bool   `yaml:"tem"`
	TEMReduction int    `yaml:"tem_reduction"`
	TEMPool      string `yaml:"tem_pool"`
	// RC passes the classification feature through two dropout masks and
	// adds Alpha · the symmetric KL between the two logit sets.
	RC        bool    `yaml:"rc"`
	RCDropout float32 `yaml:"rc_dropout"`
	Alpha     float32 `yaml:"alpha"`
}

// DefaultConfig is DeFRCN's base-training detector (REFERENCE.md): R-101 C4,
// FREEZE_AT 3, MSRA weights (BGR, stride in 1×1), GDL λ 0 (RPN) and 0.75
// (R-CNN), no MFE parts, 15 classes (VOC base).
func DefaultConfig() Config {
	return Config{
		NumClasses:  15,
		PixelMean:   [3]float32{103.530, 116.280, 123.675},
		PixelStd:    [3]float32{1, 1, 1},
		InputFormat: "BGR",
		Backbone:    BackboneConfig{Depth: 101, StemWidth: 64, StrideIn1x1: true, FreezeAt: 3},
		RPN: RPNConfig{
			AnchorSizes: []float32{32, 64, 128, 256, 512}, AnchorRatios: []float32{0.5, 1, 2},
			BatchSizePerImage: 256, PositiveFraction: 0.5, FgIoU: 0.7, BgIoU: 0.3, NMS: 0.7,
			PreNMSTrain: 12000, PostNMSTrain: 2000, PreNMSTest: 6000, PostNMSTest: 1000,
			BoxWeights: [4]float32{1, 1, 1, 1}, LossWeight: 1, Decouple: true, GDLScale: 0,
		},
		ROI: ROIConfig{
			BatchSizePerImage: 512, PositiveFraction: 0.25, IoU: 0.5,
			PoolerResolution: 7, SamplingRatio: 0, PoolerType: "ROIAlignV2", BoxWeights: [4]float32{10, 10, 5, 5},
			DropoutRatio: 0.8, Decouple: true, GDLScale: 0.75,
			ScoreThresh: 0.05, NMS: 0.5, DetsPerImage: 100,
		},
		MFE:  MFEConfig{SEMRelabel: true, TEMReduction: 16, TEMPool: "max", RCDropout: 0.5, Alpha: 1},
		YOLO: DefaultYOLOConfig(),
	}
}

// MFEDefaultConfig is DefaultConfig with every MFE part on (SEM, TEM, RC).
func MFEDefaultConfig() Config {
	c := DefaultConfig()
	c.MFE.SEM, c.MFE.TEM, c.MFE.RC = true, true, true
	return c
}

// DemoConfig is a tiny R-18-shaped detector of width 8 for 64..256-pixel
// images: it trains in minutes on two CPU cores.
func DemoConfig() Config {
	c := DefaultConfig()
	c.NumClasses = 15
	c.PixelMean = [3]float32{127.5, 127.5, 127.5}
	c.PixelStd = [3]float32{64, 64, 64}
	c.InputFormat = "RGB"
	c.Backbone = BackboneConfig{Depth: 18, StemWidth: 8, StrideIn1x1: false, FreezeAt: 0}
	c.RPN.AnchorSizes = []float32{16, 32, 64, 128}
	c.RPN.BatchSizePerImage = 64
	c.RPN.PreNMSTrain, c.RPN.PostNMSTrain = 600, 100
	c.RPN.PreNMSTest, c.RPN.PostNMSTest = 300, 50
	c.ROI.BatchSizePerImage = 32
	c.ROI.PoolerResolution = 7
	c.ROI.GDLScale = 0.75
	c.MFE.TEMReduction = 4
	return c
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	if _, ok := builders[c.arch()]; !ok {
		return fmt.Errorf("model config: arch %q (want one of %v)", c.Arch, knownArchs())
	}
	switch {
	case c.NumClasses < 1:
		return fmt.Errorf("model config: num_classes %d < 1", c.NumClasses)
	case c.Backbone.Depth != 18 && c.Backbone.Depth != 34 && c.Backbone.Depth != 50 && c.Backbone.Depth != 101:
		return fmt.Errorf("model config: backbone.depth %d (want 18, 34, 50 or 101)", c.Backbone.Depth)
	case len(c.Backbone.Blocks) != 0 && len(c.Backbone.Blocks) != 4:
		return fmt.Errorf("model config: backbone.blocks has %d entries, want 4 (res2..res5)", len(c.Backbone.Blocks))
	case c.Backbone.StemWidth < 1:
		return fmt.Errorf("model config: backbone.stem_width %d < 1", c.Backbone.StemWidth)
	case c.Backbone.Norm != "" && c.Backbone.Norm != "frozen_bn" && c.Backbone.Norm != "affine" && c.Backbone.Norm != "bn":
		return fmt.Errorf("model config: backbone.norm %q (want frozen_bn, affine or bn)", c.Backbone.Norm)
	case c.Backbone.FreezeAt < 0 || c.Backbone.FreezeAt > 5:
		return fmt.Errorf("model config: backbone.freeze_at %d not in 0..5", c.Backbone.FreezeAt)
	case len(c.RPN.AnchorSizes) == 0 || len(c.RPN.AnchorRatios) == 0:
		return fmt.Errorf("model config: rpn.anchor_sizes and rpn.anchor_ratios must be non-empty")
	case c.RPN.BatchSizePerImage < 1 || c.ROI.BatchSizePerImage < 1:
		return fmt.Errorf("model config: rpn/roi_heads batch_size_per_image must be ≥ 1")
	case c.RPN.PositiveFraction <= 0 || c.RPN.PositiveFraction > 1 || c.ROI.PositiveFraction <= 0 || c.ROI.PositiveFraction > 1:
		return fmt.Errorf("model config: positive_fraction must be in (0,1]")
	case c.RPN.BgIoU > c.RPN.FgIoU:
		return fmt.Errorf("model config: rpn.bg_iou %g > rpn.fg_iou %g", c.RPN.BgIoU, c.RPN.FgIoU)
	case c.ROI.PoolerResolution < 1:
		return fmt.Errorf("model config: roi_heads.pooler_resolution %d < 1", c.ROI.PoolerResolution)
	case c.ROI.ClsDropout && (c.ROI.DropoutRatio < 0 || c.ROI.DropoutRatio >= 1):
		return fmt.Errorf("model config: roi_heads.dropout_ratio %g not in [0,1)", c.ROI.DropoutRatio)
	case c.MFE.RC && (c.MFE.RCDropout <= 0 || c.MFE.RCDropout >= 1):
		return fmt.Errorf("model config: mfe.rc_dropout %g not in (0,1): RC needs two different masks", c.MFE.RCDropout)
	case (c.MFE.SEMC || c.MFE.SEMR) && !c.MFE.SEM:
		return fmt.Errorf("model config: mfe.sem_c / mfe.sem_r need mfe.sem")
	case c.ROI.PoolerType != "" && c.ROI.PoolerType != "ROIAlignV2" && c.ROI.PoolerType != "ROIAlign" && c.ROI.PoolerType != "ROIPool":
		return fmt.Errorf("model config: roi_heads.pooler_type %q (want ROIAlignV2, ROIAlign or ROIPool)", c.ROI.PoolerType)
	case c.MFE.TEM && (c.MFE.TEMReduction < 1 || (c.MFE.TEMPool != "max" && c.MFE.TEMPool != "avg")):
		return fmt.Errorf("model config: mfe.tem_reduction %d / tem_pool %q (want ≥ 1 and max|avg)", c.MFE.TEMReduction, c.MFE.TEMPool)
	case c.InputFormat != "RGB" && c.InputFormat != "BGR":
		return fmt.Errorf("model config: input_format %q (want RGB or BGR)", c.InputFormat)
	}
	for i, s := range c.PixelStd {
		if s <= 0 {
			return fmt.Errorf("model config: pixel_std[%d] = %g must be > 0", i, s)
		}
	}
	return c.validateNeck()
}

// res4Channels is the channel count of the map the neck sits on.
func (c Config) res4Channels() int {
	if c.Backbone.Depth >= 50 {
		return 4 * (c.Backbone.StemWidth << 2)
	}
	return c.Backbone.StemWidth << 2
}

// validateNeck checks model.neck against the res4 map it would sit on: the
// RPN's anchors and the RoI pooler assume stride 16, so the block must keep
// the map's size, and it must give a map (spp_net gives a vector).
func (c Config) validateNeck() error {
	if !c.Neck.Enabled() {
		return nil
	}
	if err := c.Neck.Validate(c.res4Channels()); err != nil {
		return fmt.Errorf("model config: neck: %v", err)
	}
	switch {
	case c.Neck.Type == "spp_net":
		return fmt.Errorf("model config: neck: spp_net pools a map into a fixed-length vector; the RPN and RoI heads need a map (use sppf, spp, ... here)")
	case c.Neck.Stride > 1:
		return fmt.Errorf("model config: neck: stride %d would change res4's stride 16 that the anchors and the RoI pooler assume; use stride 1", c.Neck.Stride)
	}
	return nil
}
