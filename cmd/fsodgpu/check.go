package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/golden"
	goldendata "github.com/fsodgpu/fsodgpu/testdata/golden"
)

// defaultGoldenDir is where a source checkout keeps its cases; the same
// cases are embedded in the binary for use anywhere else.
const defaultGoldenDir = "testdata/golden"

func init() {
	register(&cli.Command{
		Name:  "check",
		Usage: "run the golden cases (PyTorch answers) on a backend; on a non-CPU backend also compare it with the CPU backend at training shapes",
		UsageText: "fsodgpu check\n" +
			"   fsodgpu check --backend cuda --device 0\n" +
			"   fsodgpu check --golden DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "backend", Value: "cpu", Usage: "cpu or cuda"},
			&cli.IntFlag{Name: "device", Value: 0, Usage: "GPU index for the cuda backend"},
			precisionFlag("fp32"),
			&cli.StringFlag{Name: "golden", Usage: "directory of *.safetensors cases (default " + defaultGoldenDir +
				" when it exists, else the cases built into the binary)"},
			&cli.StringFlag{Name: "digests", Usage: "write one line per golden case, `name sha256`, of the raw bits of everything the backend computed (compare two runs bit for bit with cmp)"},
			&cli.BoolFlag{Name: "parity", Value: true, Usage: "on a non-CPU backend, also compare with the CPU backend on random inputs at training shapes"},
		},
		Action: checkAction,
	})
}

func checkAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("check takes no arguments, got %q", c.Args().Slice())
	}
	be, err := backend.Open(c.String("backend"), c.Int("device"))
	if err != nil {
		return err
	}
	if _, err := applyPrecision(c.App.Writer, be, c.String("precision")); err != nil {
		return err
	}
	fsys, dir, err := goldenCases(c.String("golden"))
	if err != nil {
		return err
	}
	var parity []golden.ParitySpec
	if c.Bool("parity") && be.Name() != "cpu" {
		parity = golden.TrainingShapes()
	}
	failed, err := runCheck(c.App.Writer, be, fsys, dir, parity, c.String("digests"))
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("check: %d failed on backend %s", failed, be.Name())
	}
	return nil
}

// goldenCases picks the directory to run: the one asked for, else the
// checkout's testdata/golden, else the embedded copy.
func goldenCases(dir string) (fs.FS, string, error) {
	if dir != "" {
		if st, err := os.Stat(dir); err != nil {
			return nil, "", err
		} else if !st.IsDir() {
			return nil, "", fmt.Errorf("--golden %s is not a directory", dir)
		}
		return os.DirFS(dir), dir, nil
	}
	if st, err := os.Stat(defaultGoldenDir); err == nil && st.IsDir() {
		return os.DirFS(defaultGoldenDir), defaultGoldenDir, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	return goldendata.FS, "<built-in>", nil
}

// runCheck prints one line per golden case and, when parity is not empty,
// per parity check against the CPU backend, then a summary; it returns how
// many failed.
func runCheck(w io.Writer, be backend.Backend, fsys fs.FS, dir string, parity []golden.ParitySpec, digests string) (int, error) {
	fmt.Fprintf(w, "golden cases from %s on backend %s\n", dir, be.Name())
	results, err := golden.RunFS(be, fsys, dir, func(r golden.Result) { fmt.Fprintln(w, r) })
	if err != nil {
		return 0, err
	}
	if digests != "" {
		var b strings.Builder
		for _, r := range results {
			fmt.Fprintf(&b, "%s %s\n", r.Case, r.Digest)
		}
		if err := os.WriteFile(digests, []byte(b.String()), 0o644); err != nil {
			return 0, err
		}
	}
	failed := golden.Failed(results)
	fmt.Fprintf(w, "golden: %d passed, %d failed\n", len(results)-failed, failed)
	if len(parity) == 0 {
		return failed, nil
	}
	ref, err := backend.Open("cpu", 0)
	if err != nil {
		return failed, err
	}
	fmt.Fprintf(w, "parity: %s against %s on random inputs\n", be.Name(), ref.Name())
	pr := golden.Parity(be, ref, parity, 1, func(r golden.ParityResult) { fmt.Fprintln(w, r) })
	pf := golden.ParityFailed(pr)
	fmt.Fprintf(w, "parity: %d passed, %d failed\n", len(pr)-pf, pf)
	return failed + pf, nil
}
