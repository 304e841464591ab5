package dist

import (
	"bytes"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestExpandNodeList(t *testing.T) {
	for in, want := range map[string][]string{
		"node07":                  {"node07"},
		"node[01-04,07]":          {"node01", "node02", "node03", "node04", "node07"},
		"gpu[9-11],login1":        {"gpu9", "gpu10", "gpu11", "login1"},
		"r[1-2]-n[08-09]":         {"r1-n08", "r1-n09", "r2-n08", "r2-n09"},
		"a[1],b[002-003].cluster": {"a1", "b002.cluster", "b003.cluster"},
	} {
		got, err := ExpandNodeList(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "node[01-", "node]1[", "node[4-2]", "node[a-b]"} {
		if _, err := ExpandNodeList(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestWorldFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	w, ok, err := WorldFromEnv(env("MASTER_ADDR", "10.0.0.1", "MASTER_PORT", "29400", "WORLD_SIZE", "8", "RANK", "5", "LOCAL_RANK", "1"))
	if !ok || err != nil || w != (World{Rank: 5, Size: 8, LocalRank: 1, MasterAddr: "10.0.0.1", MasterPort: 29400, From: "torchrun"}) {
		t.Errorf("torchrun: %+v %v %v", w, ok, err)
	}
	w, ok, err = WorldFromEnv(env("SLURM_PROCID", "3", "SLURM_NTASKS", "4", "SLURM_LOCALID", "1", "SLURM_JOB_NODELIST", "gpu[03-04]"))
	if !ok || err != nil || w != (World{Rank: 3, Size: 4, LocalRank: 1, MasterAddr: "gpu03", MasterPort: DefaultMasterPort, From: "slurm"}) {
		t.Errorf("slurm: %+v %v %v", w, ok, err)
	}
	if _, ok, err := WorldFromEnv(env()); ok || err != nil {
		t.Errorf("no launcher: ok %v err %v", ok, err)
	}
	for _, bad := range []func(string) string{
		env("WORLD_SIZE", "2", "RANK", "2", "MASTER_ADDR", "h"),
		env("WORLD_SIZE", "2", "RANK", "0"),
		env("WORLD_SIZE", "two", "RANK", "0", "MASTER_ADDR", "h"),
		env("SLURM_NTASKS", "2", "SLURM_PROCID", "0", "SLURM_JOB_NODELIST", "n[1-"),
		env("WORLD_SIZE", "2", "RANK", "0", "MASTER_ADDR", "h", "MASTER_PORT", "70000"),
	} {
		if _, _, err := WorldFromEnv(bad); err == nil {
			t.Errorf("want an error")
		}
	}
}

// freePort is a loopback port nobody listens on (for a moment).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRendezvousAgrees: three ranks on loopback (started in an order where
// the others dial before rank 0 listens) all return rank 0's id.
func TestRendezvousAgrees(t *testing.T) {
	port := freePort(t)
	id := bytes.Repeat([]byte{0xab, 0x01}, 64) // NCCL's ids are 128 bytes
	ids := make([][]byte, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for _, r := range []int{2, 1, 0} {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			ids[r], errs[r] = Rendezvous(World{Rank: r, Size: 3, MasterAddr: "127.0.0.1", MasterPort: port},
				func() ([]byte, error) { return id, nil }, 10*time.Second)
		}(r)
		if r == 1 {
			time.Sleep(300 * time.Millisecond) // ranks 1 and 2 retry until rank 0 listens
		}
	}
	wg.Wait()
	for r := range ids {
		if errs[r] != nil || !bytes.Equal(ids[r], id) {
			t.Fatalf("rank %d: id %x err %v", r, ids[r], errs[r])
		}
	}
}

func TestRendezvousMissingPeerTimesOut(t *testing.T) {
	port := freePort(t)
	t0 := time.Now()
	_, err := Rendezvous(World{Rank: 0, Size: 3, MasterAddr: "127.0.0.1", MasterPort: port},
		func() ([]byte, error) { return []byte{1}, nil }, 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "rank(s) [1 2] of world size 3 did not join") {
		t.Fatalf("rank 0 alone: want a timeout naming the missing ranks, got %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	_, err = Rendezvous(World{Rank: 1, Size: 2, MasterAddr: "127.0.0.1", MasterPort: port}, nil, 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("could not reach rank 0 at 127.0.0.1:%d", port)) {
		t.Fatalf("rank 1 alone: want a timeout naming the master, got %v", err)
	}
}

func TestRendezvousWorldMismatch(t *testing.T) {
	port := freePort(t)
	var err0, err1 error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, err0 = Rendezvous(World{Rank: 0, Size: 2, MasterAddr: "127.0.0.1", MasterPort: port},
			func() ([]byte, error) { return []byte{1}, nil }, 5*time.Second)
	}()
	go func() {
		defer wg.Done()
		_, err1 = Rendezvous(World{Rank: 1, Size: 3, MasterAddr: "127.0.0.1", MasterPort: port}, nil, 5*time.Second)
	}()
	wg.Wait()
	if err0 == nil || !strings.Contains(err0.Error(), "world size 3, rank 0 has 2") || err1 == nil || !strings.Contains(err1.Error(), "refused") {
		t.Fatalf("want both sides to name the mismatch: %v / %v", err0, err1)
	}
}
