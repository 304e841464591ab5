package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/train"
)

// TestMain lets the tests start this test binary as the fsodgpu command: a
// real child process that receives real signals, without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("FSODGPU_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tinyPlan is a plan that trains in seconds: a width-4 ResNet-18 C4 on a
// 64 px synthetic set, base training, randinit surgery and 1-shot fine-tunes.
func tinyPlan(t *testing.T, cache string, seeds string, baseIters, ftIters int) string {
	return sizedPlan(t, cache, seeds, baseIters, ftIters, 64)
}

// sizedPlan is tinyPlan trained at short side px.
func sizedPlan(t *testing.T, cache string, seeds string, baseIters, ftIters, px int) string {
	t.Helper()
	plan := fmt.Sprintf(`name: tiny
method: mfe
dataset: {kind: synth, root: %s, synth_images: 60, synth_test_images: 8, synth_size: 64, synth_seed: 1, max_test_images: 4}
model:
  num_classes: 15
  pixel_mean: [127.5, 127.5, 127.5]
  pixel_std: [64, 64, 64]
  input_format: RGB
  backbone: {depth: 18, stem_width: 4, stride_in_1x1: false, freeze_at: 0}
  rpn: {anchor_sizes: [16, 32, 64], batch_size_per_image: 32, pre_nms_topk_train: 200, post_nms_topk_train: 50, pre_nms_topk_test: 100, post_nms_topk_test: 20}
  roi_heads: {batch_size_per_image: 16, pooler_resolution: 4, cls_agnostic_bbox_reg: true}
  mfe: {sem: true, tem: true, tem_reduction: 4, rc: true, rc_dropout: 0.2, alpha: 1}
base:
  max_iter: %d
  base_lr: 0.01
  steps: [%d]
  ims_per_batch: 2
  min_size_train: [%d]
  max_size_train: %d
  min_size_test: 64
  max_size_test: 128
  checkpoint_period: 7
  log_period: 2
surgery: {method: randinit}
finetune:
  protocol: gfsod
  shots: [1]
  seeds: [%s]
  repeats: 1
  stage:
    base_lr: 0.01
    ims_per_batch: 2
    min_size_train: [64]
    max_size_train: 128
    min_size_test: 64
    max_size_test: 128
    checkpoint_period: 7
    log_period: 2
  schedules:
    1: {max_iter: %d, steps: [%d]}
eval: {metric: voc07}
`, cache, baseIters, baseIters-5, px, 2*px, seeds, ftIters, ftIters-5)
	path := filepath.Join(t.TempDir(), "tiny.yaml")
	if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// child is a running `fsodgpu` (this test binary in main mode).
type child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	lines  chan string // stderr, line by line, closed at EOF
	done   chan error
}

func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...), lines: make(chan string, 1024), done: make(chan error, 1)}
	c.cmd.Env = append(append(os.Environ(), "FSODGPU_TEST_AS_MAIN=1"), env...)
	c.cmd.Stdout = io.Discard
	pr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			c.stderr.WriteString(sc.Text() + "\n")
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
		close(c.lines)
		c.done <- c.cmd.Wait()
	}()
	return c
}

// waitLine returns once a stderr line contains want (false at EOF).
func (c *child) waitLine(want string) bool {
	for l := range c.lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// wait drains stderr and returns the exit code (-1 on a timeout).
func (c *child) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	go func() {
		for range c.lines {
		}
	}()
	select {
	case err := <-c.done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit):
		c.cmd.Process.Kill()
		t.Fatalf("child did not finish within %v:\n%s", limit, c.stderr.String())
		return -1
	}
}

// runChild runs fsodgpu to completion and fails unless it exits 0.
func runChild(t *testing.T, env []string, args ...string) string {
	t.Helper()
	c := startChild(t, env, args...)
	if code := c.wait(t, 5*time.Minute); code != 0 {
		t.Fatalf("fsodgpu %s: exit %d\n%s", strings.Join(args, " "), code, c.stderr.String())
	}
	return c.stderr.String()
}

// interruptAt starts fsodgpu, sends SIGTERM once a stderr line contains
// marker, checks that it checkpoints, prints the resume command and exits
// 128+15, and returns that resume command's arguments.
func interruptAt(t *testing.T, marker string, args ...string) []string {
	t.Helper()
	c := startChild(t, nil, args...)
	if !c.waitLine(marker) {
		c.wait(t, time.Minute)
		t.Fatalf("no %q line before exit:\n%s", marker, c.stderr.String())
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t, 2*time.Minute); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit code %d after SIGTERM, want %d:\n%s", code, 128+int(syscall.SIGTERM), c.stderr.String())
	}
	log := c.stderr.String()
	if !strings.Contains(log, "interrupted by terminated at iteration") {
		t.Fatalf("no interrupted-checkpoint message:\n%s", log)
	}
	_, after, ok := strings.Cut(log, "resume with:\n")
	if !ok {
		t.Fatalf("no resume command:\n%s", log)
	}
	resume := strings.Fields(strings.SplitN(after, "\n", 2)[0])
	if len(resume) < 2 || resume[0] != os.Args[0] || resume[len(resume)-1] != "--resume" {
		t.Fatalf("resume command %q: want this binary's arguments plus --resume", resume)
	}
	return resume[1:]
}

// TestSignalCheckpointResume sends SIGTERM to a real fsodgpu process in base
// training, resumes it with the printed command, sends SIGTERM again in the
// fine-tune, resumes again, and compares the final weights of both stages
// with an uninterrupted run: they must be bit-identical.
func TestSignalCheckpointResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fsodgpu four times on a tiny plan")
	}
	cache := t.TempDir()
	plan := tinyPlan(t, cache, "0", 40, 30)
	full := filepath.Join(t.TempDir(), "full")
	runChild(t, nil, "train", "--config", plan, "--out", full)

	out := filepath.Join(t.TempDir(), "killed")
	resume := interruptAt(t, "[base] iter 4/40", "train", "--config", plan, "--out", out)
	if _, err := os.Stat(filepath.Join(out, "base", "model_final.safetensors")); err == nil {
		t.Fatal("base training finished despite SIGTERM")
	}
	resume2 := interruptAt(t, "[1shot_seed0] iter 4/30", resume...)
	if !strings.Contains(strings.Join(resume2, " "), "--resume") {
		t.Fatalf("second resume command lost --resume: %q", resume2)
	}
	log := runChild(t, nil, resume2...)
	if !strings.Contains(log, "resuming from") {
		t.Fatalf("the last run did not resume:\n%s", log)
	}
	for _, rel := range []string{"base/model_final.safetensors", "finetune/1shot_seed0/model_final.safetensors"} {
		a, err := train.LoadCheckpoint(filepath.Join(full, rel))
		if err != nil {
			t.Fatal(err)
		}
		b, err := train.LoadCheckpoint(filepath.Join(out, rel))
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Model) != len(b.Model) || len(a.Model) == 0 {
			t.Fatalf("%s: %d vs %d tensors", rel, len(a.Model), len(b.Model))
		}
		for name, va := range a.Model {
			vb := b.Model[name]
			if len(va) != len(vb) {
				t.Fatalf("%s %s: %d vs %d values", rel, name, len(va), len(vb))
			}
			for i := range va {
				if va[i] != vb[i] {
					t.Fatalf("%s %s[%d]: uninterrupted %v, interrupted twice and resumed %v", rel, name, i, va[i], vb[i])
				}
			}
		}
	}
}

// TestSecondSignalExitsAtOnce: two SIGTERMs in a row exit without waiting
// for the checkpoint.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fsodgpu on a tiny plan")
	}
	// Large images make an iteration last long enough (about a second)
	// that the second signal lands before the first one's checkpoint.
	plan := sizedPlan(t, t.TempDir(), "0", 400, 10, 384)
	c := startChild(t, nil, "train", "--config", plan, "--out", filepath.Join(t.TempDir(), "run"))
	if !c.waitLine("[base] iter 2/400") {
		c.wait(t, time.Minute)
		t.Fatalf("no iteration line:\n%s", c.stderr.String())
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	if !c.waitLine("send it again") {
		c.wait(t, time.Minute)
		t.Fatalf("no stop message:\n%s", c.stderr.String())
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(t, time.Minute); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit code %d, want %d:\n%s", code, 128+int(syscall.SIGTERM), c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "again: exiting without a checkpoint") {
		t.Fatalf("the second signal did not exit at once:\n%s", c.stderr.String())
	}
}
