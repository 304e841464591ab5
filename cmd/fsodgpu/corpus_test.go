package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/configs"
	"github.com/fsodgpu/fsodgpu/engine/train"
)

// cliEnv makes the test binary act as the fsodgpu command (TestMain in
// signal_test.go), so the corpus runs the real CLI in a child process: a
// panic or an exit code there is seen as a user would see it.
const cliEnv = "FSODGPU_TEST_AS_MAIN"

const badCorpus = "../../testdata/bad"

// maxRSS bounds the child's peak memory: every corpus file is under 100 KB,
// many state sizes of 2^62 or 40 GB; a reader that believed them would blow
// far past this (the Go runtime and the CLI's packages need about 30 MB).
const maxRSS = 400 << 20

// TestBadInputCorpus runs every case of testdata/bad/cases.json (written by
// testdata/bad/make_bad.py) through the real CLI: each must exit non-zero
// with an error naming the file and the problem, without a panic, within
// maxRSS.
func TestBadInputCorpus(t *testing.T) {
	var manifest struct {
		Cases []struct {
			Name string
			Args []string
			Want []string
		}
	}
	readJSONFile(t, filepath.Join(badCorpus, "cases.json"), &manifest)
	if len(manifest.Cases) < 50 {
		t.Fatalf("%d cases in the corpus manifest", len(manifest.Cases))
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	demoConfig := writeDemoJobConfig(t)
	for _, c := range manifest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			tmp := t.TempDir()
			args := make([]string, len(c.Args))
			for i, a := range c.Args {
				a = strings.ReplaceAll(a, "$TMP", tmp)
				args[i] = strings.ReplaceAll(a, "$DEMO_CONFIG", demoConfig)
			}
			cmd := exec.Command(self, args...)
			cmd.Dir = badCorpus
			cmd.Env = append(os.Environ(), cliEnv+"=1", "GOTRACEBACK=all")
			out, err := cmd.CombinedOutput()
			text := string(out)
			ee, ok := err.(*exec.ExitError)
			if err == nil || !ok {
				t.Fatalf("fsodgpu %s: exit %v, want a non-zero exit; output:\n%s", strings.Join(args, " "), err, text)
			}
			if strings.Contains(text, "panic:") || strings.Contains(text, "goroutine ") || ee.ExitCode() != 1 {
				t.Fatalf("fsodgpu %s: exit %d with a crash, want an error:\n%s", strings.Join(args, " "), ee.ExitCode(), text)
			}
			for _, w := range c.Want {
				if !strings.Contains(text, w) {
					t.Errorf("fsodgpu %s: output lacks %q:\n%s", strings.Join(args, " "), w, text)
				}
			}
			if ru, ok := ee.SysUsage().(*syscall.Rusage); ok && ru.Maxrss*1024 > maxRSS {
				t.Errorf("fsodgpu %s: peak memory %d MiB > %d MiB", strings.Join(args, " "), ru.Maxrss>>10, maxRSS>>20)
			}
		})
	}
}

// writeDemoJobConfig writes a job config.yaml for the demo's base model (the
// corpus's detect cases need a model to load the bad weights into).
func writeDemoJobConfig(t *testing.T) string {
	t.Helper()
	p, err := train.ParsePlan(configs.Demo)
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.StageModel(&p.Base)
	if err != nil {
		t.Fatal(err)
	}
	m.NumClasses = 1
	raw, err := yaml.Marshal(map[string]any{"classes": []string{"car"}, "seed": 0, "model": m})
	if err != nil {
		t.Fatal(err)
	}
	path, err := filepath.Abs(filepath.Join(t.TempDir(), "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
