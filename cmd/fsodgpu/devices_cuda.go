//go:build cuda

package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fsodgpu/fsodgpu/cuda"
)

func listDevices(w io.Writer) error {
	devs, err := cuda.Devices()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "CUDA driver %s, %d GPU(s)\n", cuda.FormatDriverVersion(cuda.DriverVersion()), len(devs))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tNAME\tMEMORY\tCOMPUTE\tSMS")
	for _, d := range devs {
		fmt.Fprintf(tw, "%d\t%s\t%.1f GiB\t%s\t%d\n", d.Index, d.Name, float64(d.TotalMemory)/(1<<30), d.ComputeCapability(), d.Multiprocessors)
	}
	return tw.Flush()
}

func printDeviceSlug(w io.Writer) error {
	devs, err := cuda.Devices()
	if err != nil {
		return err
	}
	slug := "cpu"
	if len(devs) > 0 {
		slug = deviceSlug(devs[0].Name)
	}
	_, err = fmt.Fprintln(w, slug)
	return err
}

// deviceSlug turns a marketing name into one file-name word: the first token
// that contains a digit after the vendor words ("NVIDIA H100 80GB HBM3" →
// "h100", "NVIDIA GeForce RTX 4090" → "rtx4090", "Tesla V100-SXM2-16GB" →
// "v100").
func deviceSlug(name string) string {
	var words []string
	for _, f := range strings.Fields(strings.ToLower(name)) {
		switch f {
		case "nvidia", "tesla", "geforce", "quadro":
			continue
		}
		words = append(words, f)
	}
	for i, f := range words {
		if !strings.ContainsAny(f, "0123456789") {
			continue
		}
		f = strings.SplitN(f, "-", 2)[0]
		if i > 0 && (words[i-1] == "rtx" || words[i-1] == "gtx") {
			f = words[i-1] + f
		}
		return sanitizeSlug(f)
	}
	if len(words) > 0 {
		return sanitizeSlug(words[0])
	}
	return "gpu"
}

func sanitizeSlug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// visibleGPUs is the number of GPUs this process sees (after
// CUDA_VISIBLE_DEVICES).
func visibleGPUs() (int, error) {
	devs, err := cuda.Devices()
	return len(devs), err
}
