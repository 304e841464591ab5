package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/weights"
)

func init() {
	register(&cli.Command{
		Name:  "weights",
		Usage: "convert pre-trained backbones to fsodgpu's parameter names",
		Subcommands: []*cli.Command{{
			Name:      "import",
			Usage:     "read a torchvision ResNet .pth or an MSRA/detectron2 .pkl and write safetensors under our names",
			ArgsUsage: "IN",
			UsageText: "fsodgpu weights import --from torchvision resnet101-63fe2227.pth --out R-101-tv.safetensors\n" +
				"   fsodgpu weights import --from detectron2 R-101.pkl --out R-101.safetensors",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "from", Required: true, Usage: "torchvision (.pth) or detectron2 (.pkl or .pth with MSRA/Caffe2 or detectron2/DeFRCN names; a whole detector keeps its heads)"},
				&cli.StringFlag{Name: "out", Usage: "output .safetensors path (required; may also follow IN)"},
				&cli.BoolFlag{Name: "c4", Value: true, Usage: "put res5 under roi_heads.res5 (the C4 detector's box head)"},
			},
			Action: weightsImport,
		}},
	})
}

func weightsImport(c *cli.Context) error {
	// urfave/cli stops at the first argument, so "IN --out OUT" arrives as
	// three arguments; accept it as the documented form.
	args, out := c.Args().Slice(), c.String("out")
	if len(args) == 3 && (args[1] == "--out" || args[1] == "-out") && out == "" {
		args, out = args[:1], args[2]
	} else if len(args) == 2 && strings.HasPrefix(args[1], "--out=") && out == "" {
		args, out = args[:1], strings.TrimPrefix(args[1], "--out=")
	}
	if len(args) != 1 {
		return fmt.Errorf("weights import takes one checkpoint path, got %q", args)
	}
	if out == "" {
		return fmt.Errorf("weights import: --out OUT.safetensors is required")
	}
	in := args[0]
	format := weights.Format(c.String("from"))
	im, err := weights.Import(format, in, c.Bool("c4"))
	if err != nil {
		return err
	}
	if err := im.Write(out, format, filepath.Base(in)); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s: %d tensors written to %s (%d source keys not used: %v)\n",
		in, len(im.Tensors), out, len(im.Skipped), im.Skipped)
	return nil
}
