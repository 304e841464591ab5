package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// worldEnv is torchrun's environment for rank of a world of 2 on loopback.
func worldEnv(t *testing.T) func(rank int) []string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return func(rank int) []string {
		return []string{"MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port, "WORLD_SIZE=2", fmt.Sprintf("RANK=%d", rank), fmt.Sprintf("LOCAL_RANK=%d", rank)}
	}
}

// TestRanksDivergeFailFast runs two real `fsodgpu train` ranks on loopback
// and makes them diverge three ways; every time every rank must exit within
// a bounded time (here well under a minute) with an error naming the rank
// and the iteration, never hang:
//   - rank 1 SIGKILLed mid-run: rank 0 fails at once ("lost rank 1 while at
//     iteration N of base: its connection closed");
//   - rank 1 SIGTERMed mid-run: both ranks stop at the same iteration, rank
//     0 writes that checkpoint, both print the resume hint, and resuming
//     both ranks ends with final weights bit-identical to one process of
//     two replicas run without interruption;
//   - plans that differ (max_iter 12 vs 10): both fail at iteration 0 naming
//     rank 0's and rank 1's places.
func TestRanksDivergeFailFast(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny plan several times as real processes")
	}
	cache := t.TempDir()
	const iters = 12
	plan := tinyPlan(t, cache, "0", iters, 6)
	long := tinyPlan(t, t.TempDir(), "0", 400, 6)
	args := func(plan, out string) []string {
		return []string{"train", "--config", plan, "--out", out, "--replicas", "1", "--stage", "base", "--rendezvous-timeout", "60s"}
	}

	for _, victim := range []int{1, 0} {
		t.Run(fmt.Sprintf("rank %d killed", victim), func(t *testing.T) {
			env := worldEnv(t)
			out := filepath.Join(t.TempDir(), "run")
			ranks := []*child{nil, startChild(t, env(1), args(long, out)...)}
			ranks[0] = startChild(t, env(0), args(long, out)...)
			survivor := ranks[1-victim]
			if !ranks[victim].waitLine("[base] iter 4/400") {
				t.Fatalf("rank %d did not train:\n%s", victim, ranks[victim].stderr.String())
			}
			ranks[victim].cmd.Process.Kill()
			t0 := time.Now()
			code := survivor.wait(t, time.Minute)
			log := survivor.stderr.String()
			m := regexp.MustCompile(fmt.Sprintf(`rank %d lost rank %d while at iteration \d+ of base .*its connection closed.*`, 1-victim, victim)).FindString(log)
			if code == 0 || m == "" {
				t.Fatalf("rank %d after rank %d was killed: exit %d, want an error naming rank %d and the iteration:\n%s", 1-victim, victim, code, victim, log)
			}
			t.Logf("rank %d exited %d, %v after rank %d was killed: %s", 1-victim, code, time.Since(t0).Round(time.Millisecond), victim, m)
			ranks[victim].wait(t, time.Minute)
		})
	}

	t.Run("sigterm", func(t *testing.T) {
		single := filepath.Join(t.TempDir(), "single")
		runChild(t, nil, "train", "--config", plan, "--out", single, "--replicas", "2", "--stage", "base")

		env := worldEnv(t)
		out := filepath.Join(t.TempDir(), "multi")
		r1 := startChild(t, env(1), args(plan, out)...)
		r0 := startChild(t, env(0), args(plan, out)...)
		if !r1.waitLine("[base] iter 2/12") {
			t.Fatalf("rank 1 did not train:\n%s", r1.stderr.String())
		}
		r1.cmd.Process.Signal(syscall.SIGTERM)
		c1, c0 := r1.wait(t, time.Minute), r0.wait(t, time.Minute)
		l0, l1 := r0.stderr.String(), r1.stderr.String()
		if c1 != 128+int(syscall.SIGTERM) || c0 == 0 {
			t.Fatalf("exit codes %d (rank 0) and %d (rank 1); want non-zero and %d:\n%s\n----\n%s", c0, c1, 128+int(syscall.SIGTERM), l0, l1)
		}
		m0 := regexp.MustCompile(`interrupted by a stop request on rank\(s\) 1 at iteration (\d+); checkpoint (\S+)`).FindStringSubmatch(l0)
		m1 := regexp.MustCompile(`interrupted by terminated at iteration (\d+); checkpoint \(written by rank 0\)`).FindStringSubmatch(l1)
		if m0 == nil || m1 == nil || m0[1] != m1[1] {
			t.Fatalf("want both ranks stopped at the same iteration, rank 0 naming rank 1:\n%s\n----\n%s", l0, l1)
		}
		if _, err := os.Stat(m0[2]); err != nil {
			t.Fatalf("rank 0's checkpoint: %v", err)
		}
		for r, l := range []string{l0, l1} {
			if !strings.Contains(l, "resume with:") {
				t.Fatalf("rank %d printed no resume hint:\n%s", r, l)
			}
		}
		t.Logf("both ranks stopped at iteration %s of %d", m0[1], iters)
		// Resume both ranks, as a launcher restarting the job would.
		env = worldEnv(t)
		res := append(args(plan, out), "--resume")
		r1 = startChild(t, env(1), res...)
		r0log := runChild(t, env(0), res...)
		if code := r1.wait(t, 2*time.Minute); code != 0 {
			t.Fatalf("resumed rank 1: exit %d\n%s", code, r1.stderr.String())
		}
		if !strings.Contains(r0log, "resuming from") {
			t.Fatalf("rank 0 did not resume:\n%s", r0log)
		}
		a, err := os.ReadFile(filepath.Join(single, "base", "model_final.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, "base", "model_final.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("two ranks stopped by SIGTERM on one and resumed differ from one uninterrupted process of two replicas")
		}
	})

	t.Run("plans differ", func(t *testing.T) {
		other := tinyPlan(t, cache, "0", iters-2, 6)
		env := worldEnv(t)
		out := filepath.Join(t.TempDir(), "run")
		r1 := startChild(t, env(1), args(other, out)...)
		r0 := startChild(t, env(0), args(plan, out)...)
		c0, c1 := r0.wait(t, time.Minute), r1.wait(t, time.Minute)
		for r, c := range []*child{r0, r1} {
			log := c.stderr.String()
			if code := []int{c0, c1}[r]; code == 0 || !strings.Contains(log, "the ranks diverged: rank 0 is at iteration 0 of base (max_iter 12") ||
				!strings.Contains(log, "rank 1 at iteration 0 of base (max_iter 10") {
				t.Fatalf("rank %d with a different plan: exit %d, want both places named:\n%s", r, code, log)
			}
			t.Logf("rank %d: %s", r, regexp.MustCompile(`fsodgpu: .*`).FindString(log))
		}
	})
}
