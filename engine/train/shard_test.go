package train

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJobLock: a held lock turns a second taker away naming the holder, and
// is free again once released (as when the holder exits: flock locks belong
// to the open file, which the kernel closes).
func TestJobLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "finetune", "1shot_seed0", ".lock")
	a, err := tryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tryLock(path); !errors.Is(err, ErrJobLocked) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("second tryLock: want ErrJobLocked naming the holder, got %v", err)
	}
	a.unlock()
	a.unlock() // idempotent
	b, err := tryLock(path)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	b.unlock()
}

func TestInShardPartitions(t *testing.T) {
	for n := 1; n <= 4; n++ {
		for i := 0; i < 10; i++ {
			owners := 0
			for s := 0; s < n; s++ {
				if inShard(i, s, n) {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("job %d has %d owners among %d shards", i, owners, n)
			}
		}
	}
}

func TestWaitForBaseTimesOut(t *testing.T) {
	err := waitForBase(t.TempDir(), 10*time.Millisecond, nil, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "did not finish within") || !strings.Contains(err.Error(), "eval.json") {
		t.Fatalf("want a timeout naming eval.json, got %v", err)
	}
}
