//go:build cuda

package cuda

import (
	"fmt"

	"gorgonia.org/cu"
)

// Time runs fn, which queues work on this backend, between two device events
// and returns the GPU time between them in milliseconds. It waits for the
// work to finish; host-side time spent inside fn that leaves the GPU idle is
// counted too, as it would be in training.
func (be *Backend) Time(fn func()) (ms float64, err error) {
	var start, end cu.Event
	if err := be.g.do(func() error {
		var err error
		if start, err = cu.MakeEvent(cu.DefaultEvent); err != nil {
			return err
		}
		if end, err = cu.MakeEvent(cu.DefaultEvent); err != nil {
			return err
		}
		return start.Record(be.stream)
	}); err != nil {
		return 0, fmt.Errorf("cuda: timing: %w", err)
	}
	fn()
	err = be.g.do(func() error {
		defer cu.DestroyEvent(&start)
		defer cu.DestroyEvent(&end)
		if err := end.Record(be.stream); err != nil {
			return err
		}
		if err := end.Synchronize(); err != nil {
			return err
		}
		ms, err = start.Elapsed(end)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cuda: timing: %w", err)
	}
	return ms, nil
}
