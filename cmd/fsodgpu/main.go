// Command fsodgpu trains and evaluates few-shot object detectors (Faster
// R-CNN with the MFE head) on the CPU or on NVIDIA GPUs.
//
// Each subcommand lives in its own file and adds itself to the app in init
// with register, so commands can be added without touching this file.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/urfave/cli/v2"
)

var commands []*cli.Command

// register adds a subcommand; called from each command file's init.
func register(c *cli.Command) { commands = append(commands, c) }

// version is set by the Makefile with -ldflags.
var version = "dev"

func newApp() *cli.App {
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
	return &cli.App{
		Name:     "fsodgpu",
		Usage:    "few-shot object detection (Faster R-CNN + MFE) on CPU and CUDA",
		Version:  version,
		Commands: commands,
		// `fsodgpu` with no command behaves like `fsodgpu train`: the demo.
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unknown command %q (see fsodgpu help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
}

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "fsodgpu:", err)
		os.Exit(1)
	}
}
