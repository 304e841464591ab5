//go:build !cuda

package main

import (
	"fmt"
	"io"
)

func listDevices(w io.Writer) error {
	_, err := fmt.Fprintln(w, "CPU only: this binary was built without CUDA (build with `make` where nvcc is installed)")
	return err
}

func printDeviceSlug(w io.Writer) error {
	_, err := fmt.Fprintln(w, "cpu")
	return err
}

// visibleGPUs is the number of GPUs this process sees: none in the CPU build.
func visibleGPUs() (int, error) { return 0, nil }
