// Package dist averages gradients across the replicas of data-parallel
// training. Each replica holds a full copy of the model on its own backend
// (a GPU, or the CPU shared by in-process replicas), computes the gradients
// of its share of the batch, and after the all-reduce every replica holds
// the same mean gradient, so identical SGD steps keep the copies identical.
//
// Host is the in-process reduction through host memory: it works for every
// backend and is what the CPU backend uses, so the data-parallel logic is
// exercised without GPUs. Its sums run in replica order, so the result does
// not depend on goroutine scheduling.
package dist

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Reducer averages gradients in place across replicas.
type Reducer interface {
	// AllReduceMean replaces grads[r][i] (replica r's gradient of parameter
	// i, on bes[r]) by the mean over r. A nil gradient counts as zero: a
	// parameter that no loss reached on one replica (no foreground RoIs in
	// its images) still gets the others' share, as with DDP. When it is nil
	// on every replica it stays nil.
	AllReduceMean(bes []backend.Backend, grads [][]*backend.Tensor) error
	Name() string
}

// ncclOpen is NewNCCL in the cuda build (nccl_cuda.go), nil otherwise.
var ncclOpen func([]backend.Backend) (Reducer, error)

// For picks the reducer for replicas on bes: NCCL when this build has it and
// the replicas span more than one backend, Host otherwise. The string says
// why, for the log. Close the reducer (io.Closer) when training ends.
func For(bes []backend.Backend) (Reducer, string) {
	distinct := map[backend.Backend]bool{}
	for _, be := range bes {
		distinct[be] = true
	}
	switch {
	case len(distinct) < 2:
		return Host{}, "host all-reduce (replicas share one device)"
	case ncclOpen == nil:
		return Host{}, "host all-reduce (this build has no NCCL support)"
	}
	r, err := ncclOpen(bes)
	if err != nil {
		return Host{}, fmt.Sprintf("host all-reduce (%v)", err)
	}
	return r, "NCCL all-reduce"
}

// Host reduces through host memory.
type Host struct{}

func (Host) Name() string { return "host" }

func (Host) AllReduceMean(bes []backend.Backend, grads [][]*backend.Tensor) error {
	r := len(grads)
	if r != len(bes) {
		return fmt.Errorf("dist: %d gradient lists for %d backends", r, len(bes))
	}
	if r <= 1 {
		return nil
	}
	n := len(grads[0])
	for k := range grads {
		if len(grads[k]) != n {
			return fmt.Errorf("dist: replica %d has %d gradients, replica 0 has %d", k, len(grads[k]), n)
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(n, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = reduceOne(bes, grads, i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// reduceOne averages parameter i's gradient; the sum is in float64 in
// replica order.
func reduceOne(bes []backend.Backend, grads [][]*backend.Tensor, i int) error {
	var shape []int
	var sum []float64
	for k := range grads {
		g := grads[k][i]
		if g == nil {
			continue
		}
		v := bes[k].ToFloat32(g)
		if sum == nil {
			shape, sum = g.Shape, make([]float64, len(v))
		} else if !backend.SameShape(shape, g.Shape) {
			return fmt.Errorf("dist: gradient %d is %v on replica %d but %v on another", i, g.Shape, k, shape)
		}
		for j, x := range v {
			sum[j] += float64(x)
		}
	}
	if sum == nil {
		return nil
	}
	mean := make([]float32, len(sum))
	inv := 1 / float64(len(grads))
	for j, s := range sum {
		mean[j] = float32(s * inv)
	}
	for k := range grads {
		if grads[k][i] != nil {
			bes[k].Free(grads[k][i])
		}
		grads[k][i] = bes[k].FromFloat32(mean, shape...)
	}
	return nil
}

// The multi-process NCCL path, set by nccl_rank_cuda.go in the cuda build
// (nil otherwise): probe says why this process cannot take part (nil when
// it can), uniqueID is ncclGetUniqueId (rank 0 only), open joins the rank
// communicator with rank 0's id.
var ncclRanks struct {
	probe    func(bes []backend.Backend) error
	uniqueID func() ([]byte, error)
	open     func(g *Group, bes []backend.Backend, id []byte) (Reducer, string, error)
}

// ForGroup picks, on every rank of g together, the reducer of a
// multi-process job: NCCL (one communicator per process, rank 0's unique id
// handed to the others over g) when every rank runs CUDA backends and can
// load libnccl, else g itself (TCP through rank 0). The string says which
// and why, for the log; it is the same decision on every rank. An error
// (a rank that could not open its communicator, a lost peer) is returned on
// every rank. FSODGPU_DIST=tcp forces the TCP path.
func ForGroup(g *Group, bes []backend.Backend, job string) (Reducer, string, error) {
	local := "this build has no NCCL support (CPU-only binary)"
	switch {
	case os.Getenv("FSODGPU_DIST") == "tcp":
		local = "FSODGPU_DIST=tcp"
	case ncclRanks.probe != nil:
		local = ""
		if err := ncclRanks.probe(bes); err != nil {
			local = err.Error()
		}
	}
	ans, err := g.Agree("choosing the all-reduce of "+job, local, func(why []string) (string, error) {
		for r, m := range why {
			if m != "" {
				return fmt.Sprintf("tcp rank %d: %s", r, m), nil
			}
		}
		id, err := ncclRanks.uniqueID()
		if err != nil {
			return fmt.Sprintf("tcp rank 0: ncclGetUniqueId: %v", err), nil
		}
		return "nccl " + hex.EncodeToString(id), nil
	})
	if err != nil {
		return nil, "", err
	}
	if why, ok := strings.CutPrefix(ans, "tcp "); ok {
		return g, "TCP through rank 0, sums in float64 in global replica order (no NCCL: " + why + ")", nil
	}
	id, err := hex.DecodeString(strings.TrimPrefix(ans, "nccl "))
	if err != nil {
		return nil, "", fmt.Errorf("dist: rank %d: bad NCCL id from rank 0: %w", g.w.Rank, err)
	}
	red, why, err := ncclRanks.open(g, bes, id)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	_, aerr := g.Agree("opening the NCCL communicator of "+job, msg, func(errs []string) (string, error) {
		for r, m := range errs {
			if m != "" {
				return "", fmt.Errorf("dist: rank %d could not open its NCCL communicator: %s", r, m)
			}
		}
		return "ok", nil
	})
	if aerr != nil {
		if c, ok := red.(io.Closer); ok && err == nil {
			c.Close()
		}
		return nil, "", aerr
	}
	return red, why, nil
}
