//go:build cuda

package dist

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/fsodgpu/fsodgpu/cuda"
	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// NCCLRanks is the multi-process reducer of the cuda build: one NCCL
// communicator per process (ncclCommInitRank with rank 0's unique id, which
// ForGroup hands out over the Group), so the all-reduce runs on the GPUs
// across all nodes, not through rank 0's host memory.
//
// Within a process the local replicas are summed first, in replica order, on
// replica 0's backend (the leader: AxpyInPlace on its stream; a replica on
// another backend goes through host memory to it, correct but slow: launch
// one process per GPU, as torchrun and srun do). The per-process sums are
// then all-reduced across the ranks, scaled by 1/(local replicas × ranks)
// with one float32 multiply, and every local replica gets its own copy.
//
// Numerics: float32 sums (locally in replica order, then in NCCL's order
// across ranks: ring or tree, chosen by NCCL) where the TCP Group sums in
// float64 in global replica order. Results are not bit-identical to the
// TCP path or to one process running every replica, except where a float32
// sum of the operands is exact (two ranks of one replica each: a+b rounded
// once, then halved exactly, which is what the float64 path rounds to as
// well). Every rank receives the same bits, so replicas stay identical.
//
// A parameter with no gradient on one rank still takes part (with zeros) —
// a collective needs every rank — and one with no gradient on any rank stays
// nil, as with Host: a first small all-reduce counts, per parameter, the
// ranks that have one. Shapes come from SetShapes.
//
// Bounded waits: NCCL blocks while a peer is missing. Each collective (and
// the communicator's creation) runs under a watchdog of Timeout (the
// group's PeerTimeout; FSODGPU_NCCL_TIMEOUT overrides it): when it fires
// the all-reduce fails naming this rank, the communicator is abandoned (not
// destroyed, which would wait as well) and training stops with that error.
type NCCLRanks struct {
	comm        *cuda.NCCL
	lead        *cuda.Backend
	rank, world int
	shapes      [][]int
	Timeout     time.Duration
	broken      atomic.Bool
}

func init() {
	ncclRanks.probe = probeNCCLRanks
	ncclRanks.uniqueID = cuda.NCCLUniqueID
	ncclRanks.open = openNCCLRanks
}

// probeNCCLRanks says why this process cannot take part in a multi-process
// NCCL all-reduce, or nil when it can.
func probeNCCLRanks(bes []backend.Backend) error {
	if len(bes) == 0 {
		return errors.New("no local replicas")
	}
	for r, be := range bes {
		if _, ok := be.(*cuda.Backend); !ok || be == nil {
			name := "nil"
			if be != nil {
				name = be.Name()
			}
			return fmt.Errorf("replica %d is on the %s backend, not CUDA", r, name)
		}
	}
	_, _, err := cuda.NCCLVersion()
	return err
}

func ncclTimeout(g *Group) (time.Duration, error) {
	d := g.PeerTimeout()
	if v := os.Getenv("FSODGPU_NCCL_TIMEOUT"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			return 0, fmt.Errorf("FSODGPU_NCCL_TIMEOUT=%q: want a positive duration such as 2m", v)
		}
	}
	return d, nil
}

func openNCCLRanks(g *Group, bes []backend.Backend, id []byte) (Reducer, string, error) {
	lead := bes[0].(*cuda.Backend)
	timeout, err := ncclTimeout(g)
	if err != nil {
		return nil, "", err
	}
	w := g.World()
	type opened struct {
		comm *cuda.NCCL
		err  error
	}
	done := make(chan opened, 1)
	go func() {
		c, err := cuda.OpenNCCLRank(lead, id, w.Size, w.Rank)
		done <- opened{c, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			return nil, "", o.err
		}
		n := &NCCLRanks{comm: o.comm, lead: lead, rank: w.Rank, world: w.Size, Timeout: timeout}
		return n, fmt.Sprintf("NCCL %s (%s) across %d processes, one communicator each; float32 sums in NCCL's order", o.comm.Version(), o.comm.Library(), w.Size), nil
	case <-time.After(timeout):
		return nil, "", fmt.Errorf("rank %d: ncclCommInitRank did not return within %v (a rank is missing or cannot reach the others)", w.Rank, timeout)
	}
}

func (*NCCLRanks) Name() string { return "nccl" }

// SetShapes gives the shape of every parameter's gradient (the trainable
// parameters, in the order AllReduceMean receives them): a rank with no
// local gradient for one still sends zeros of that shape.
func (n *NCCLRanks) SetShapes(shapes [][]int) { n.shapes = shapes }

// Close destroys the communicator, unless a collective timed out (then it is
// abandoned: destroying it would wait for the peer too).
func (n *NCCLRanks) Close() error {
	if n.broken.Load() {
		return nil
	}
	return n.comm.Close()
}

// allReduce runs one AllReduceSum and waits for it on the device, under the watchdog.
func (n *NCCLRanks) allReduce(bufs []*backend.Tensor, what string) error {
	if n.broken.Load() {
		return errors.New("dist: the NCCL communicator failed earlier")
	}
	done := make(chan error, 1)
	go func() {
		err := n.comm.AllReduceSum([][]*backend.Tensor{bufs})
		if err == nil {
			err = n.lead.Sync()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			n.broken.Store(true)
			return fmt.Errorf("dist: rank %d: NCCL all-reduce of %s: %w", n.rank, what, err)
		}
		return nil
	case <-time.After(n.Timeout):
		n.broken.Store(true)
		return fmt.Errorf("dist: rank %d: the NCCL all-reduce of %s did not finish within %v (FSODGPU_NCCL_TIMEOUT): a rank died or stopped inside it", n.rank, what, n.Timeout)
	}
}

// AllReduceMean implements Reducer across every rank's local replicas.
func (n *NCCLRanks) AllReduceMean(bes []backend.Backend, grads [][]*backend.Tensor) error {
	nLocal := len(grads)
	if nLocal != len(bes) || nLocal == 0 {
		return fmt.Errorf("dist: %d gradient lists for %d backends", nLocal, len(bes))
	}
	params := len(grads[0])
	if len(n.shapes) != params {
		return fmt.Errorf("dist: NCCL all-reduce of %d gradients with %d shapes set (SetShapes)", params, len(n.shapes))
	}
	cbs := make([]*cuda.Backend, nLocal)
	for k, be := range bes {
		cb, ok := be.(*cuda.Backend)
		if !ok || cb == nil {
			return fmt.Errorf("dist: NCCL all-reduce: replica %d is not on a CUDA backend", k)
		}
		if len(grads[k]) != params {
			return fmt.Errorf("dist: replica %d has %d gradients, replica 0 has %d", k, len(grads[k]), params)
		}
		cbs[k] = cb
	}
	if params == 0 {
		return nil
	}
	lead := n.lead
	// Which parameters have a gradient on some rank.
	have := make([]float32, params)
	for i := 0; i < params; i++ {
		for k := range grads {
			g := grads[k][i]
			if g == nil {
				continue
			}
			if g.DType != backend.F32 || !backend.SameShape(g.Shape, n.shapes[i]) {
				return fmt.Errorf("dist: gradient %d is %s %v on replica %d, want F32 %v", i, g.DType, g.Shape, k, n.shapes[i])
			}
			have[i] = 1
		}
	}
	cnt := lead.FromFloat32(have, params)
	if err := n.allReduce([]*backend.Tensor{cnt}, "the gradient presence"); err != nil {
		return err
	}
	have = lead.ToFloat32(cnt)
	lead.Free(cnt)
	var keep []int
	for i, h := range have {
		if h > 0 {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	// This process's sum of each kept parameter, on the leader.
	bufs := make([]*backend.Tensor, len(keep))
	all := make([]int, len(grads))
	for k := range all {
		all[k] = k
	}
	for j, i := range keep {
		bufs[j] = sumOnLead(lead, all, bes, cbs, grads, i, n.shapes[i])
	}
	if err := n.allReduce(bufs, fmt.Sprintf("%d gradients", len(keep))); err != nil {
		return err
	}
	scale := float32(1 / float64(nLocal*n.world))
	for j, i := range keep {
		buf := bufs[j]
		mean := lead.Affine(buf, scale, 0)
		given := false
		for k := range grads {
			if old := grads[k][i]; old != nil && old != buf {
				bes[k].Free(old)
			}
			switch {
			case cbs[k] == lead && !given:
				grads[k][i] = mean
				given = true
			case cbs[k] == lead:
				grads[k][i] = lead.Clone(mean)
			default:
				grads[k][i] = bes[k].FromFloat32(lead.ToFloat32(mean), n.shapes[i]...)
			}
		}
		lead.Free(buf)
		if !given {
			lead.Free(mean)
		}
	}
	return nil
}
