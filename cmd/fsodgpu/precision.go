package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// precisionFlag is --precision for a command that runs a model or kernels.
// def is its default: "" (the backend's default policy: conv TF32 and
// matmul FP32 on tensor cores, FP32 elsewhere) for train and detect, "fp32"
// for check and bench, whose FP32 runs are the bit-exact and comparable ones.
func precisionFlag(def string) cli.Flag {
	usage := "matrix precision of convolutions and GEMMs: fp32, tf32 or bf16 (tf32/bf16 need the cuda backend on compute capability >= 8.0)"
	if def == "" {
		usage += "; default: conv tf32 and matmul fp32 where tensor cores exist (PyTorch's), fp32 elsewhere"
	}
	return &cli.StringFlag{Name: "precision", Value: def, Usage: usage}
}

// applyPrecision sets the --precision flag's policy on be and prints the
// effective policy to w; a bad value or one the backend cannot run is an
// error naming the flag.
func applyPrecision(w io.Writer, be backend.Backend, req string) (backend.MatrixPolicy, error) {
	pol, note, err := backend.ResolvePolicy([]backend.Backend{be}, req)
	if err != nil {
		return pol, fmt.Errorf("--precision: %w", err)
	}
	fmt.Fprintf(w, "precision: %s (%s)\n", pol, note)
	return pol, nil
}
