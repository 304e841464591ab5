package main

import "github.com/urfave/cli/v2"

func init() {
	register(&cli.Command{
		Name:  "devices",
		Usage: "list the GPUs this binary can use (or say that it is CPU-only)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "short", Usage: "print one lower-case word naming device 0 (e.g. h100, cpu) for file names"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("short") {
				return printDeviceSlug(c.App.Writer)
			}
			return listDevices(c.App.Writer)
		},
	})
}
