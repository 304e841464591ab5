// Package neck holds the spatial-pyramid family of blocks that descend from
// SPP-net (../shared/NECKS.md): spp_net, spp, sppf, simsppf, aspp, rfb,
// rfb_a, sppcspc, cspsppf and simcspsppf, one block per file. Each is built
// from a Config (the block's type and its constructor arguments) in an
// nn.Store under a name prefix, with NECKS.md's parameter names below it, so
// a block's state dict is a golden case's param.* tensors under that prefix.
//
// Batch norm: every block's BN is an nn.FrozenBatchNorm, so it follows the
// Store's convention, which the detector sets from model.backbone.norm
// (frozen_bn: fixed statistics and affine; affine: trainable weight and
// bias; bn: batch statistics in training). Golden cases use eval-mode BN,
// which is a default Store's frozen BN.
package neck

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/nn"
)

// Types lists the block types in NECKS.md's order.
var Types = []string{"spp_net", "spp", "sppf", "simsppf", "aspp", "rfb", "rfb_a", "sppcspc", "cspsppf", "simcspsppf"}

// Ints is a list of integers that also reads from a single number, so
// `k: 5` (sppf) and `k: [5, 9, 13]` (spp) both parse.
type Ints []int

// UnmarshalYAML accepts a scalar or a sequence of integers.
func (v *Ints) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var x int
		if err := n.Decode(&x); err != nil {
			return err
		}
		*v = Ints{x}
		return nil
	}
	var xs []int
	if err := n.Decode(&xs); err != nil {
		return err
	}
	*v = xs
	return nil
}

// UnmarshalJSON accepts a number or an array of integers.
func (v *Ints) UnmarshalJSON(b []byte) error {
	var x int
	if err := json.Unmarshal(b, &x); err == nil {
		*v = Ints{x}
		return nil
	}
	var xs []int
	if err := json.Unmarshal(b, &xs); err != nil {
		return fmt.Errorf("want an integer or a list of integers, got %s", b)
	}
	*v = xs
	return nil
}

// Config is a block: its type and the constructor arguments NECKS.md lists.
// A zero field takes the block's default (k 5 or [5,9,13], e 0.5, stride 1,
// scale 0.1, visual 1, levels [4,2,1], rates [6,12,18,24], bn_eps 1e-5,
// c2 = c1). In a plan (model.neck) c1 is the backbone's channels; golden
// cases carry it as an attribute.
type Config struct {
	Type   string  `yaml:"type" json:"type"`
	C1     int     `yaml:"-" json:"c1"`
	C2     int     `yaml:"c2,omitempty" json:"c2"`
	K      Ints    `yaml:"k,omitempty" json:"k"`
	E      float64 `yaml:"e,omitempty" json:"e"`
	Levels []int   `yaml:"levels,omitempty" json:"levels"`
	Rates  []int   `yaml:"rates,omitempty" json:"rates"`
	Stride int     `yaml:"stride,omitempty" json:"stride"`
	Scale  float64 `yaml:"scale,omitempty" json:"scale"`
	Visual int     `yaml:"visual,omitempty" json:"visual"`
	BNEps  float64 `yaml:"bn_eps,omitempty" json:"bn_eps"`
	// Freeze freezes the block's weights in the stage that sets it (the
	// fine-tune, typically), as roi_heads.freeze_feat freezes res5.
	Freeze bool `yaml:"freeze,omitempty" json:"-"`
}

// Enabled reports whether a block is configured ("" and "none" are none).
func (c Config) Enabled() bool { return c.Type != "" && c.Type != "none" }

// Clone deep-copies the slices so a stage's overrides never alias the plan's.
func (c Config) Clone() Config {
	c.K, c.Levels, c.Rates = slices.Clone(c.K), slices.Clone(c.Levels), slices.Clone(c.Rates)
	return c
}

// attrs lists the attributes each type takes besides c1 and bn_eps.
var attrs = map[string][]string{
	"spp_net": {"levels"}, "spp": {"c2", "k"}, "sppf": {"c2", "k"}, "simsppf": {"c2", "k"},
	"aspp": {"c2", "rates"}, "rfb": {"c2", "stride", "scale", "visual"}, "rfb_a": {"c2", "stride", "scale"},
	"sppcspc": {"c2", "e", "k"}, "cspsppf": {"c2", "k", "e"}, "simcspsppf": {"c2", "k", "e"},
}

// set lists the attributes of c that are not zero.
func (c Config) set() []string {
	var s []string
	add := func(name string, on bool) {
		if on {
			s = append(s, name)
		}
	}
	add("c2", c.C2 != 0)
	add("k", len(c.K) > 0)
	add("e", c.E != 0)
	add("levels", len(c.Levels) > 0)
	add("rates", len(c.Rates) > 0)
	add("stride", c.Stride != 0)
	add("scale", c.Scale != 0)
	add("visual", c.Visual != 0)
	return s
}

// withDefaults fills the zero attributes with the type's defaults.
func (c Config) withDefaults() Config {
	c = c.Clone()
	if c.C2 == 0 {
		c.C2 = c.C1
	}
	if len(c.K) == 0 {
		switch c.Type {
		case "spp", "sppcspc":
			c.K = Ints{5, 9, 13}
		default:
			c.K = Ints{5}
		}
	}
	if c.E == 0 {
		c.E = 0.5
	}
	if len(c.Levels) == 0 {
		c.Levels = []int{4, 2, 1}
	}
	if len(c.Rates) == 0 {
		c.Rates = []int{6, 12, 18, 24}
	}
	if c.Stride == 0 {
		c.Stride = 1
	}
	if c.Scale == 0 {
		c.Scale = 0.1
	}
	if c.Visual == 0 {
		c.Visual = 1
	}
	if c.BNEps == 0 {
		c.BNEps = 1e-5
	}
	return c
}

// Validate reports the first problem with c for input channels c1 (c.C1 is
// ignored), before anything is built: an unknown type, an attribute the type
// does not take, or sizes that leave a branch without channels.
func (c Config) Validate(c1 int) error {
	allowed, ok := attrs[c.Type]
	if !ok {
		return fmt.Errorf("type %q (want one of %s, or none)", c.Type, strings.Join(Types, ", "))
	}
	for _, a := range c.set() {
		if !slices.Contains(allowed, a) {
			return fmt.Errorf("%s takes %s; %s does not apply", c.Type, strings.Join(allowed, ", "), a)
		}
	}
	c.C1 = c1
	c = c.withDefaults()
	switch {
	case c1 < 1:
		return fmt.Errorf("%s: c1 %d < 1", c.Type, c1)
	case c.C2 < 0:
		return fmt.Errorf("%s: c2 %d < 0", c.Type, c.C2)
	case c.Stride < 1 || c.Visual < 1 || c.BNEps < 0:
		return fmt.Errorf("%s: stride %d, visual %d must be ≥ 1 and bn_eps %g ≥ 0", c.Type, c.Stride, c.Visual, c.BNEps)
	}
	for _, k := range c.K {
		if k < 1 || k%2 == 0 {
			return fmt.Errorf("%s: pooling kernel %d must be odd and ≥ 1 (stride 1, padding k//2 keeps the map's size only then)", c.Type, k)
		}
	}
	switch c.Type {
	case "spp_net":
		for _, l := range c.Levels {
			if l < 1 {
				return fmt.Errorf("spp_net: level %d < 1", l)
			}
		}
	case "spp", "sppf", "simsppf":
		if c1/2 < 1 {
			return fmt.Errorf("%s: c1 %d gives c_ = c1//2 = 0", c.Type, c1)
		}
		if c.Type != "spp" && len(c.K) != 1 {
			return fmt.Errorf("%s: k is one kernel size, got %v", c.Type, c.K)
		}
	case "aspp":
		for _, r := range c.Rates {
			if r < 1 {
				return fmt.Errorf("aspp: rate %d < 1", r)
			}
		}
	case "rfb":
		if c1/8/2 < 1 {
			return fmt.Errorf("rfb: c1 %d < 16 leaves a branch without channels (i = c1//8, (i//2)·3)", c1)
		}
	case "rfb_a":
		if c1/4/4 < 1 {
			return fmt.Errorf("rfb_a: c1 %d < 16 leaves a branch without channels (i = c1//4, (i//4)·3)", c1)
		}
	case "sppcspc":
		if int(2*float64(c.C2)*c.E) < 1 {
			return fmt.Errorf("sppcspc: c_ = int(2·c2·e) = int(2·%d·%g) < 1", c.C2, c.E)
		}
	case "cspsppf", "simcspsppf":
		if int(float64(c.C2)*c.E) < 1 {
			return fmt.Errorf("%s: c_ = int(c2·e) = int(%d·%g) < 1", c.Type, c.C2, c.E)
		}
		if len(c.K) != 1 {
			return fmt.Errorf("%s: k is one kernel size, got %v", c.Type, c.K)
		}
	}
	if c.C2 < 1 && c.Type != "spp_net" {
		return fmt.Errorf("%s: c2 %d < 1", c.Type, c.C2)
	}
	return nil
}

// Block is a built neck.
type Block interface {
	// Forward maps x [N,C1,H,W] to the block's output: a map [N,C2,H',W']
	// for every type but spp_net, whose output is a vector [N, C1·Σl²].
	Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var
	// OutChannels is C2 (spp_net: the vector's length C1·Σl²).
	OutChannels() int
	// Stride is the block's spatial stride (1, or rfb/rfb_a's stride; 0 for
	// spp_net, which has no map).
	Stride() int
}

// New builds the block c on c1 input channels in s, its parameters named
// prefix + "." + NECKS.md's names (just NECKS.md's names when prefix is "").
func New(s *nn.Store, prefix string, c Config, c1 int) (Block, error) {
	if err := c.Validate(c1); err != nil {
		return nil, err
	}
	c.C1 = c1
	c = c.withDefaults()
	eps := float32(c.BNEps)
	switch c.Type {
	case "spp_net":
		return NewSPPNet(c.Levels, c1), nil
	case "spp":
		return newSPP(s, prefix, c1, c.C2, c.K, eps), nil
	case "sppf":
		return newSPPF(s, prefix, c1, c.C2, c.K[0], actSiLU, eps), nil
	case "simsppf":
		return newSPPF(s, prefix, c1, c.C2, c.K[0], actReLU, eps), nil
	case "aspp":
		return newASPP(s, prefix, c1, c.C2, c.Rates), nil
	case "rfb":
		return newRFB(s, prefix, c1, c.C2, c.Stride, float32(c.Scale), c.Visual, eps), nil
	case "rfb_a":
		return newRFBA(s, prefix, c1, c.C2, c.Stride, float32(c.Scale), eps), nil
	case "sppcspc":
		return newSPPCSPC(s, prefix, c1, c.C2, c.E, c.K, eps), nil
	case "cspsppf":
		return newCSPSPPF(s, prefix, c1, c.C2, c.K[0], c.E, actSiLU, eps), nil
	case "simcspsppf":
		return newCSPSPPF(s, prefix, c1, c.C2, c.K[0], c.E, actReLU, eps), nil
	}
	panic("neck: type " + c.Type + " validated but not built") // Validate knows every type New builds
}

// join names a sub-module: prefix.name, or name when prefix is empty.
func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
