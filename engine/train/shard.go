package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/eval"
)

// Sharding: N processes (a Slurm array, a Kubernetes Indexed Job) share one
// --out. Shard I of N runs the fine-tunes whose index in the plan's job
// order (shots, then seeds, then repeats) is I mod N, so the split is the
// same on every machine; base training runs once, in shard 0 or a separate
// --stage base step, and the other shards wait for base/eval.json.

// ErrJobLocked marks a fine-tune another process is running on the same --out.
var ErrJobLocked = errors.New("running in another process")

// inShard reports whether job index i belongs to shard (of shards).
func inShard(i, shard, shards int) bool { return shards <= 1 || i%shards == shard }

// waitForBase blocks until the base stage's eval.json exists (the base stage
// writes it last, atomically) or the timeout passes.
func waitForBase(baseDir string, timeout time.Duration, stop *Stop, log func(string, ...any)) error {
	path := filepath.Join(baseDir, "eval.json")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	log("waiting up to %v for base training in another process (%s)", timeout, path)
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			log("base training finished: %s", path)
			return nil
		}
		if stop.Requested() {
			return &InterruptedError{Job: "base", Checkpoint: "none (waiting for base training)", Reason: stop.why()}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("base training did not finish within %v: %s does not exist (is shard 0 or the --stage base step running on this --out?)", timeout, path)
		}
		time.Sleep(time.Second)
	}
}

// jobLock is an exclusive flock(2) on a lock file. The kernel drops it when
// the holder exits, however it exits, so a crashed shard never leaves a
// stale lock behind; the file itself stays and says who held it last.
type jobLock struct{ f *os.File }

// tryLock takes the lock at path without waiting; a lock held elsewhere is
// ErrJobLocked with the holder's pid and host.
func tryLock(path string) (*jobLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s held by %s)", ErrJobLocked, path, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	host, _ := os.Hostname()
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("pid %d on %s\n", os.Getpid(), host)), 0)
	return &jobLock{f: f}, nil
}

// lock waits for the lock at path (for steps every shard may reach at
// once, like surgery).
func lock(path string) (*jobLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &jobLock{f: f}, nil
}

// unlock releases the lock; a second call does nothing.
func (l *jobLock) unlock() {
	if l.f == nil {
		return
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}

// treeOutcome is a fine-tune of another shard as the shared --out shows it:
// its results.json when it finished, else Pending.
func treeOutcome(j *Job) JobOutcome {
	o := JobOutcome{Name: j.Name, Shots: j.Info.Shots, Seed: j.Info.Seed, Repeat: j.Info.Repeat, Dir: j.Dir}
	if res, err := eval.ReadJobResults(filepath.Join(j.Dir, "results.json")); err == nil {
		o.Metrics = res.Metrics
	} else {
		o.Pending = true
	}
	return o
}
