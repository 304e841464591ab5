package train

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Stop carries a stop request (SIGTERM, SIGINT or SIGUSR1 from the command)
// to the running jobs. A job polls it between iterations, so the checkpoint
// it writes is the state before an iteration, exactly like a periodic one,
// and --resume continues bit-identically. A nil *Stop never stops.
type Stop struct {
	requested atomic.Bool
	reason    atomic.Value // string
	training  atomic.Int32 // training loops running now
}

// Request asks every running (and every later) training loop to checkpoint and return.
func (s *Stop) Request(reason string) {
	s.reason.Store(reason)
	s.requested.Store(true)
}

// Requested reports whether Request was called.
func (s *Stop) Requested() bool { return s != nil && s.requested.Load() }

// Training reports whether a training loop is running, i.e. whether a stop
// request will be answered by a checkpoint. Outside one (data loading,
// evaluation, surgery) everything worth keeping is already on disk.
func (s *Stop) Training() bool { return s != nil && s.training.Load() > 0 }

func (s *Stop) enter() {
	if s != nil {
		s.training.Add(1)
	}
}

func (s *Stop) leave() {
	if s != nil {
		s.training.Add(-1)
	}
}

func (s *Stop) why() string {
	if r, ok := s.reason.Load().(string); ok {
		return r
	}
	return "a stop request"
}

// ErrInterrupted marks a job stopped by a Stop request after writing its checkpoint.
var ErrInterrupted = errors.New("interrupted")

// InterruptedError says where an interrupted job left its checkpoint.
type InterruptedError struct {
	Job        string
	Iter       int // the next iteration to run
	Checkpoint string
	Reason     string
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("%s: interrupted by %s at iteration %d; checkpoint %s", e.Job, e.Reason, e.Iter, e.Checkpoint)
}

func (e *InterruptedError) Is(target error) bool { return target == ErrInterrupted }

// saveInterrupted writes the checkpoint of a stopped job (the state before
// iteration it) the way the periodic ones are written, atomically, and
// points last_checkpoint at it.
func (j *Job) saveInterrupted(rep0 *replica, it int) error {
	path, err := j.saveCheckpoint(rep0, it)
	if err != nil {
		return err
	}
	return &InterruptedError{Job: j.Name, Iter: it, Checkpoint: path, Reason: j.Stop.why()}
}
