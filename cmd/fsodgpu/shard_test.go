package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestShardFromFlags(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		flag   string
		shards int
		env    func(string) string
		i, n   int
		bad    string
	}{
		{"", 0, env(), 0, 1, ""},
		{"2/3", 0, env("SLURM_ARRAY_TASK_ID", "0", "SLURM_ARRAY_TASK_COUNT", "5"), 2, 3, ""}, // the flag wins
		{"", 0, env("SLURM_ARRAY_TASK_ID", "4", "SLURM_ARRAY_TASK_COUNT", "5"), 4, 5, ""},
		{"", 0, env("SLURM_ARRAY_TASK_ID", "3", "SLURM_ARRAY_TASK_MIN", "1", "SLURM_ARRAY_TASK_COUNT", "3"), 2, 3, ""}, // --array=1-3
		{"", 4, env("JOB_COMPLETION_INDEX", "3"), 3, 4, ""},
		{"3/3", 0, env(), 0, 0, "0 <= I < N"},
		{"1", 0, env(), 0, 0, "want I/N"},
		{"", 0, env("SLURM_ARRAY_TASK_ID", "7", "SLURM_ARRAY_TASK_COUNT", "5"), 0, 0, "SLURM_ARRAY_TASK_ID"},
		{"", 2, env("JOB_COMPLETION_INDEX", "2"), 0, 0, "JOB_COMPLETION_INDEX"},
		{"", 3, env(), 0, 0, "which shard"},
	} {
		i, n, _, err := shardFromFlags(c.flag, c.shards, c.env)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("%q shards %d: want an error with %q, got %v", c.flag, c.shards, c.bad, err)
			}
			continue
		}
		if err != nil || i != c.i || n != c.n {
			t.Errorf("%q shards %d: got %d/%d %v, want %d/%d", c.flag, c.shards, i, n, err, c.i, c.n)
		}
	}
}

// TestThreeShardsMatchOneProcess runs a 6-fine-tune plan as 3 shard
// processes on one --out (at once) and checks that base training ran once,
// every fine-tune ran exactly once, and the aggregate over the tree equals
// a single-process run of the same plan.
func TestThreeShardsMatchOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fsodgpu five times on a tiny plan")
	}
	plan := tinyPlan(t, t.TempDir(), "0, 1, 2, 3, 4, 5", 20, 8)
	single := filepath.Join(t.TempDir(), "single")
	runChild(t, nil, "train", "--config", plan, "--out", single) // also writes the synthetic set

	shared := filepath.Join(t.TempDir(), "shared")
	var kids []*child
	for i, env := range [][]string{
		{"SLURM_ARRAY_TASK_ID", "0"}, // shard 0 from a Slurm array's environment
		{"JOB_COMPLETION_INDEX", "1"},
		nil,
	} {
		args := []string{"train", "--config", plan, "--out", shared}
		var e []string
		switch i {
		case 0:
			e = []string{env[0] + "=" + env[1], "SLURM_ARRAY_TASK_COUNT=3"}
		case 1:
			e = []string{env[0] + "=" + env[1]}
			args = append(args, "--shards", "3")
		case 2:
			args = append(args, "--shard", "2/3")
		}
		kids = append(kids, startChild(t, e, args...))
	}
	logs := make([]string, len(kids))
	for i, c := range kids {
		if code := c.wait(t, 5*time.Minute); code != 0 {
			t.Fatalf("shard %d: exit %d\n%s", i, code, c.stderr.String())
		}
		logs[i] = c.stderr.String()
	}
	all := strings.Join(logs, "")
	if n := strings.Count(all, "[base] training base"); n != 1 || !strings.Contains(logs[0], "[base] training base") {
		t.Fatalf("base trained %d times (want once, in shard 0):\n%s", n, all)
	}
	for s := 0; s < 6; s++ {
		name := "[1shot_seed" + string(rune('0'+s)) + "] training finetune"
		if n := strings.Count(all, name); n != 1 {
			t.Fatalf("%q appears %d times over the shards, want 1:\n%s", name, n, all)
		}
		if !strings.Contains(logs[s%3], name) {
			t.Fatalf("%q not in shard %d's log", name, s%3)
		}
	}
	// The aggregate over the whole tree: a plain run on the shared --out
	// trains nothing and reports every job.
	final := runChild(t, nil, "train", "--config", plan, "--out", shared)
	if strings.Contains(final, "training ") {
		t.Fatalf("the aggregate run trained again:\n%s", final)
	}
	a, b := readSummary(t, single), readSummary(t, shared)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("aggregate differs:\nsingle process %v\n3 shards       %v", a, b)
	}
	if rows, _ := a["rows"].([]any); len(rows) != 1 || rows[0].(map[string]any)["jobs"] != 6.0 {
		t.Fatalf("want one row over 6 jobs, got %v", a["rows"])
	}
}

func readSummary(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRendezvousTwoProcesses: two fsodgpu processes launched with torchrun's
// variables on loopback agree on the world and on rank 0's id; a rank
// whose peer never comes times out with a message naming it.
func TestRendezvousTwoProcesses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	env := func(rank string) []string {
		return []string{"MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port, "WORLD_SIZE=2", "RANK=" + rank, "LOCAL_RANK=" + rank}
	}
	var outs [2]bytes.Buffer
	var cmds [2]*exec.Cmd
	for r := range cmds {
		cmds[r] = exec.Command(os.Args[0], "rendezvous", "--timeout", "20s")
		cmds[r].Env = append(append(os.Environ(), "FSODGPU_TEST_AS_MAIN=1"), env(fmt.Sprint(r))...)
		cmds[r].Stdout, cmds[r].Stderr = &outs[r], &outs[r]
		if err := cmds[r].Start(); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]string, 2)
	for r, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("rank %d: %v\n%s", r, err, outs[r].String())
		}
		line := outs[r].String()
		if !strings.Contains(line, fmt.Sprintf("rank %d of 2 (local rank %d, torchrun)", r, r)) {
			t.Fatalf("rank %d printed %q", r, line)
		}
		_, ids[r], _ = strings.Cut(line, "id sha256 ")
	}
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("the ranks disagree on the id: %q vs %q", ids[0], ids[1])
	}

	lone := exec.Command(os.Args[0], "rendezvous", "--timeout", "1s")
	lone.Env = append(append(os.Environ(), "FSODGPU_TEST_AS_MAIN=1"), env("0")...)
	out, err := lone.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "rank(s) [1] of world size 2 did not join") {
		t.Fatalf("rank 0 without its peer: want a timeout naming rank 1, got %v:\n%s", err, out)
	}
}

// TestTrainTwoProcessesMatchTwoReplicas launches `fsodgpu train` as two
// torchrun-style ranks of one replica each and checks that their base
// training gives the same final weights, bit for bit, as one process with
// two replicas, and that rank 0 alone without its peer fails naming rank 1.
func TestTrainTwoProcessesMatchTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny plan three times")
	}
	cache := t.TempDir()
	plan := tinyPlan(t, cache, "0", 8, 6)
	single := filepath.Join(t.TempDir(), "single")
	runChild(t, nil, "train", "--config", plan, "--out", single, "--replicas", "2", "--stage", "base")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	env := func(rank string) []string {
		return []string{"MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port, "WORLD_SIZE=2", "RANK=" + rank, "LOCAL_RANK=" + rank}
	}
	multi := filepath.Join(t.TempDir(), "multi")
	args := []string{"train", "--config", plan, "--out", multi, "--replicas", "1", "--stage", "base", "--rendezvous-timeout", "60s"}
	r1 := startChild(t, env("1"), args...)
	log0 := runChild(t, env("0"), args...)
	if code := r1.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("rank 1: exit %d\n%s", code, r1.stderr.String())
	}
	if !strings.Contains(log0, "rank 0 of 2 processes, tcp all-reduce: TCP through rank 0") {
		t.Fatalf("rank 0 did not train across the processes:\n%s", log0)
	}
	if !strings.Contains(r1.stderr.String(), "rank 1 of 2: base training done") {
		t.Fatalf("rank 1 did not stop after base training:\n%s", r1.stderr.String())
	}
	a, err := os.ReadFile(filepath.Join(single, "base", "model_final.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(multi, "base", "model_final.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two processes of one replica each differ from one process of two replicas")
	}

	lone := startChild(t, env("0"), "train", "--config", plan, "--out", t.TempDir(), "--rendezvous-timeout", "1s")
	if code := lone.wait(t, time.Minute); code == 0 || !strings.Contains(lone.stderr.String(), "rank(s) [1] of world size 2 did not join") {
		t.Fatalf("rank 0 without its peer: exit %d, want a timeout naming rank 1:\n%s", code, lone.stderr.String())
	}
}
