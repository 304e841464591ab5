package train

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/dist"
)

// TestTwoRanksMatchOneProcess: two ranks joined over TCP on loopback, one
// replica each, train the tiny base stage to the bit-identical final weights
// of one process running both replicas; only rank 0 writes files, in the
// directory both share.
func TestTwoRanksMatchOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny detector twice")
	}
	root := synthRoot(t, 100, 1)
	const iters = 4
	single := tinyJob(t, root, filepath.Join(t.TempDir(), "single"), iters)
	single.Stage.ImagesPerBatch, single.Stage.Replicas = 4, 2
	if _, err := single.Run(); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	shared := filepath.Join(t.TempDir(), "multi")
	jobs := make([]*Job, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for rank := range jobs {
		j := tinyJob(t, root, shared, iters)
		j.Stage.ImagesPerBatch, j.Stage.Replicas = 4, 1
		jobs[rank] = j
		wg.Add(1)
		go func(rank int) {
			defer wg.Done()
			g, err := dist.Connect(dist.World{Rank: rank, Size: 2, MasterAddr: "127.0.0.1", MasterPort: port}, 20*time.Second)
			if err != nil {
				errs[rank] = err
				return
			}
			defer g.Close()
			j.Group = g
			_, errs[rank] = j.Run()
		}(rank)
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	sameFinalWeights(t, single.FinalWeights(), jobs[0].FinalWeights())
	if log := jobs[0].Log.(*bytes.Buffer).String(); !strings.Contains(log, "over 2 data-parallel replicas (1 per process, rank 0 of 2 processes, tcp all-reduce: TCP through rank 0") {
		t.Fatalf("rank 0's log does not say multi-process: %s", log)
	}
	// Rank 1 wrote nothing: the metrics have each iteration once (rank 0's),
	// and its log has no evaluation.
	rows, err := ReadMetrics(filepath.Join(shared, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, r := range rows {
		if r.Eval == nil {
			seen[r.Iter]++
		}
	}
	for it := 0; it < iters; it++ {
		if seen[it] != 1 {
			t.Fatalf("metrics.json has iteration %d %d times", it, seen[it])
		}
	}
	if _, err := os.Stat(filepath.Join(shared, "eval.json")); err != nil {
		t.Fatalf("rank 0 did not evaluate: %v", err)
	}
}
