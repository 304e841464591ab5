//go:build cuda

package dist

import (
	"errors"
	"fmt"

	"github.com/fsodgpu/fsodgpu/cuda"
	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// NCCL averages gradients on the GPUs with NCCL's all-reduce: no gradient
// goes through host memory when every replica of a device shares that
// device's backend (what engine/train does).
//
// NOTE: run only on the emulator with its stand-in libnccl (make emu-nccl:
// nccl_cuda_test.go with FSODGPU_EMU_DEVICES=2), never on GPUs with NVIDIA's
// NCCL. nccl_cuda_test.go compares it with Host on two GPUs.
//
// Replicas sharing a device (more replicas than GPUs) are summed on that
// device first, in replica order, with AxpyInPlace on the device's backend
// (the first backend given to NewNCCL on that device), then the per-device
// sums are all-reduced across devices (NCCL cannot take two ranks on one
// device: "using the same CUDA device multiple times as different ranks of
// the same communicator is not supported"), and each device scales its sum
// by 1/R (R = number of replicas) with Affine and hands every replica on it
// its own copy. This keeps the many-replicas-per-GPU case on the device
// instead of falling back to Host. A replica on a different *cuda.Backend of
// an already used device (a second stream and pool on the same GPU) cannot
// be read by the device backend's kernels, so its gradient goes through
// host memory to that backend and back: correct, but as slow as Host.
//
// Numerics: float32 sums (device-local in replica order, then in NCCL's
// order across devices) and one float32 multiply by 1/R, where Host sums in
// float64 in replica order. With one replica per device on two devices the
// results are bit-identical to Host's (a float32 sum of two floats is
// correctly rounded, and halving is exact); otherwise they differ by float32
// rounding. Every replica gets the same bits, so replicas stay identical.
type NCCL struct {
	comm    *cuda.NCCL
	leaders []*cuda.Backend // per communicator: the device's backend
	slot    map[int]int     // device index → communicator
}

func init() { ncclOpen = NewNCCL }

// NewNCCL returns an NCCL Reducer for replicas on bes (replica r on bes[r]),
// opening one NCCL communicator per distinct GPU. It fails when a backend is
// not a *cuda.Backend or NCCL cannot be loaded (the error then wraps
// cuda.ErrNoNCCL and says that the host all-reduce will be used): callers
// fall back to Host. The returned Reducer is a *NCCL; Close releases the
// communicators.
func NewNCCL(bes []backend.Backend) (Reducer, error) {
	if len(bes) == 0 {
		return nil, errors.New("dist: NCCL for no backends")
	}
	cbs := make([]*cuda.Backend, len(bes))
	for r, be := range bes {
		cb, ok := be.(*cuda.Backend)
		if !ok || cb == nil {
			name := "nil"
			if be != nil {
				name = be.Name()
			}
			return nil, fmt.Errorf("dist: the NCCL all-reduce needs CUDA backends; replica %d is on %s", r, name)
		}
		cbs[r] = cb
	}
	comm, err := cuda.OpenNCCL(cbs)
	if err != nil {
		return nil, fmt.Errorf("dist: %w", err)
	}
	n := &NCCL{comm: comm, leaders: comm.Backends(), slot: map[int]int{}}
	for k, d := range comm.Devices() {
		n.slot[d] = k
	}
	return n, nil
}

func (*NCCL) Name() string { return "nccl" }

// Version is the loaded NCCL's version.
func (n *NCCL) Version() string { return n.comm.Version() }

// Close destroys the communicators; the Reducer must not be used afterwards.
func (n *NCCL) Close() error { return n.comm.Close() }

// AllReduceMean implements Reducer; see NCCL for how replicas sharing a GPU
// are handled. The gradient tensors passed in are consumed (reused as
// all-reduce buffers or freed), as with Host; on an error they are
// unspecified and the training step has failed.
func (n *NCCL) AllReduceMean(bes []backend.Backend, grads [][]*backend.Tensor) error {
	r := len(grads)
	if r != len(bes) {
		return fmt.Errorf("dist: %d gradient lists for %d backends", r, len(bes))
	}
	if r <= 1 {
		return nil
	}
	params := len(grads[0])
	for k := range grads {
		if len(grads[k]) != params {
			return fmt.Errorf("dist: replica %d has %d gradients, replica 0 has %d", k, len(grads[k]), params)
		}
	}
	// Place the replicas: groups[k] lists, in replica order, the replicas on
	// communicator k's device. A device with no replica still takes part in
	// every all-reduce, with zeros (a collective needs all its ranks).
	cbs := make([]*cuda.Backend, r)
	groups := make([][]int, len(n.leaders))
	for k, be := range bes {
		cb, ok := be.(*cuda.Backend)
		if !ok || cb == nil {
			return fmt.Errorf("dist: NCCL all-reduce: replica %d is not on a CUDA backend", k)
		}
		s, ok := n.slot[cb.Device().Index]
		if !ok {
			return fmt.Errorf("dist: NCCL all-reduce: replica %d is on GPU %d, outside the communicator's GPUs %v", k, cb.Device().Index, n.comm.Devices())
		}
		cbs[k] = cb
		groups[s] = append(groups[s], k)
	}
	// The parameters to reduce (nil everywhere stays nil) and their shapes.
	var keep []int
	shapes := make([][]int, params)
	for i := 0; i < params; i++ {
		// A scalar's shape is nil as well as [], so "seen" is its own flag
		// (testing shapes[i] == nil kept a scalar once per replica, and its
		// buffer was then scaled after being freed: found by the emulator's
		// libnccl stand-in on two emulated devices).
		seen := false
		for k := range grads {
			g := grads[k][i]
			if g == nil {
				continue
			}
			if g.DType != backend.F32 {
				return fmt.Errorf("dist: gradient %d is %s on replica %d", i, g.DType, k)
			}
			if !seen {
				seen, shapes[i] = true, g.Shape
				keep = append(keep, i)
			} else if !backend.SameShape(shapes[i], g.Shape) {
				return fmt.Errorf("dist: gradient %d is %v on replica %d but %v on another", i, g.Shape, k, shapes[i])
			}
		}
	}
	if len(keep) == 0 {
		return nil
	}
	// One buffer per device and parameter holding the device's sum: the
	// first replica's own gradient when it is on the device's backend (no
	// copy), zeros when no replica on the device has one.
	bufs := make([][]*backend.Tensor, len(n.leaders))
	for s, lead := range n.leaders {
		bufs[s] = make([]*backend.Tensor, len(keep))
		for j, i := range keep {
			bufs[s][j] = sumOnLead(lead, groups[s], bes, cbs, grads, i, shapes[i])
		}
	}
	if err := n.comm.AllReduceSum(bufs); err != nil {
		return fmt.Errorf("dist: %w", err)
	}
	// Scale each device's sum into a fresh tensor and give every replica its
	// own copy (a later in-place step on one must not touch another's).
	scale := float32(1 / float64(r))
	for s, lead := range n.leaders {
		for j, i := range keep {
			buf := bufs[s][j]
			mean := lead.Affine(buf, scale, 0)
			given := false
			for _, k := range groups[s] {
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
					grads[k][i] = bes[k].FromFloat32(lead.ToFloat32(mean), shapes[i]...)
				}
			}
			// buf is a replica's old gradient, zeros or a host copy: ours
			// to free. Stream order makes freeing after the queued Affine
			// safe (the pool reuses blocks only on this stream).
			lead.Free(buf)
			if !given {
				lead.Free(mean)
			}
		}
	}
	return nil
}
