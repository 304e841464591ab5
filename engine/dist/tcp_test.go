package dist

import (
	"fmt"
	"math"
	"math/rand"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// randomGrads is replica r's gradients: parameter 1 is nil on even replicas,
// parameter 2 nil everywhere; values span 2^±60 so that the float64 sum
// order matters.
func randomGrads(be backend.Backend, seed int64) []*backend.Tensor {
	rng := rand.New(rand.NewSource(seed))
	v := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(rng.NormFloat64() * math.Pow(2, float64(rng.Intn(120)-60)))
		}
		return out
	}
	last := v(5)
	// Where the sum order shows even after the float32 rounding: in global
	// replica order 2^60 + 1 - 2^60 is 0 in float64, in another order 1.
	last[0] = [...]float32{1 << 60, 1, -(1 << 60), 0, 0, 0}[seed%6]
	gs := []*backend.Tensor{be.FromFloat32(v(12), 3, 4), nil, nil, be.FromFloat32(last, 5)}
	if seed%2 == 1 {
		gs[1] = be.FromFloat32(v(2), 2, 1)
	}
	return gs
}

// runGroup runs fn on every rank of a world of size on loopback, rank 0 last.
func runGroup(t *testing.T, size int, fn func(g *Group) error) []error {
	t.Helper()
	port := freePort(t)
	errs := make([]error, size)
	var wg sync.WaitGroup
	for r := size - 1; r >= 0; r-- {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			g, err := Connect(World{Rank: r, Size: size, MasterAddr: "127.0.0.1", MasterPort: port}, 10*time.Second)
			if err != nil {
				errs[r] = err
				return
			}
			defer g.Close()
			errs[r] = fn(g)
		}(r)
		if r == 1 {
			time.Sleep(200 * time.Millisecond) // the others retry until rank 0 listens
		}
	}
	wg.Wait()
	return errs
}

// TestGroupMatchesHost: 3 ranks × 2 local replicas over TCP give, on every
// replica, the bit-identical mean Host gives for all 6 replicas in one process.
func TestGroupMatchesHost(t *testing.T) {
	const size, nLocal = 3, 2
	be := cpu.New()
	all := make([][]*backend.Tensor, size*nLocal)
	bes := make([]backend.Backend, size*nLocal)
	for k := range all {
		all[k], bes[k] = randomGrads(be, int64(k)), be
	}
	if err := (Host{}).AllReduceMean(bes, all); err != nil {
		t.Fatal(err)
	}
	got := make([][][]float32, size*nLocal) // [global replica][param]
	var mu sync.Mutex
	errs := runGroup(t, size, func(g *Group) error {
		rank := g.World().Rank
		local := make([][]*backend.Tensor, nLocal)
		lb := make([]backend.Backend, nLocal)
		for r := range local {
			local[r], lb[r] = randomGrads(be, int64(rank*nLocal+r)), be
		}
		for step := 0; step < 2; step++ { // the connections carry several all-reduces
			if step == 1 {
				for r := range local {
					local[r] = randomGrads(be, int64(rank*nLocal+r))
				}
			}
			if err := g.AllReduceMean(lb, local); err != nil {
				return err
			}
		}
		if err := g.Barrier("the end of the test"); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for r, gs := range local {
			row := make([][]float32, len(gs))
			for i, t := range gs {
				if t != nil {
					row[i] = be.ToFloat32(t)
				}
			}
			got[rank*nLocal+r] = row
		}
		return nil
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	for k := range all {
		for i, want := range all[k] {
			if (want == nil) != (got[k][i] == nil) {
				t.Fatalf("replica %d param %d: nil %v, Host nil %v", k, i, got[k][i] == nil, want == nil)
			}
			if want == nil {
				continue
			}
			w := be.ToFloat32(want)
			for j := range w {
				if math.Float32bits(w[j]) != math.Float32bits(got[k][i][j]) {
					t.Fatalf("replica %d param %d [%d]: %g over TCP, %g from Host", k, i, j, got[k][i][j], w[j])
				}
			}
		}
	}
}

// TestGroupMismatchFailsEverywhere: a rank whose gradient shapes differ
// makes the all-reduce fail on every rank, naming the gradient.
func TestGroupMismatchFailsEverywhere(t *testing.T) {
	be := cpu.New()
	errs := runGroup(t, 2, func(g *Group) error {
		shape := []int{2, 2}
		if g.World().Rank == 1 {
			shape = []int{4}
		}
		gs := [][]*backend.Tensor{{be.FromFloat32([]float32{1, 2, 3, 4}, shape...)}}
		return g.AllReduceMean([]backend.Backend{be}, gs)
	})
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "gradient 0") {
			t.Fatalf("rank %d: want an error naming gradient 0, got %v", r, err)
		}
	}
}

func TestConnectMissingRankTimesOut(t *testing.T) {
	port := freePort(t)
	_, err := Connect(World{Rank: 0, Size: 3, MasterAddr: "127.0.0.1", MasterPort: port}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "rank(s) [1 2] of world size 3 did not join") {
		t.Fatalf("want the missing ranks named, got %v", err)
	}
	_, err = Connect(World{Rank: 1, Size: 2, MasterAddr: "127.0.0.1", MasterPort: port}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "could not join rank 0") {
		t.Fatalf("rank 1 alone: %v", err)
	}
}

// TestStepAgreesOnStop: a stop request on one rank stops every rank at the
// same step, naming the rank that asked.
func TestStepAgreesOnStop(t *testing.T) {
	stops := make([]bool, 3)
	bys := make([]string, 3)
	errs := runGroup(t, 3, func(g *Group) error {
		r := g.World().Rank
		for it := 0; it < 3; it++ {
			stop, by, err := g.Step(fmt.Sprintf("iteration %d", it), r == 2 && it == 1)
			if err != nil {
				return err
			}
			if stop {
				stops[r], bys[r] = it == 1, by
				return nil
			}
		}
		return nil
	})
	for r, err := range errs {
		if err != nil || !stops[r] || bys[r] != "rank(s) 2" {
			t.Fatalf("rank %d: stopped at iteration 1 %v, by %q, err %v", r, stops[r], bys[r], err)
		}
	}
}

// TestStepDivergenceFailsEverywhere: ranks at different iterations, or one
// at a barrier while the other trains, fail on every rank naming both places.
func TestStepDivergenceFailsEverywhere(t *testing.T) {
	errs := runGroup(t, 2, func(g *Group) error {
		if g.World().Rank == 1 {
			return g.Barrier("the end of base training")
		}
		_, _, err := g.Step("iteration 5 of base", false)
		return err
	})
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "rank 0 is at iteration 5 of base, rank 1 at the end of base training") {
			t.Fatalf("rank %d: want the divergence named, got %v", r, err)
		}
	}
}

// TestPeerGoneFailsInBoundedTime: a rank whose peer closes its connection
// fails at once naming it; one whose peer goes silent (no heartbeats)
// fails after PeerTimeout.
func TestPeerGoneFailsInBoundedTime(t *testing.T) {
	port := freePort(t)
	w := World{Size: 2, MasterAddr: "127.0.0.1", MasterPort: port}
	var g0 *Group
	var err0 error
	done := make(chan struct{})
	go func() {
		g0, err0 = Connect(w, 10*time.Second)
		close(done)
	}()
	// A fake rank 1 that joins and then says nothing, not even heartbeats.
	var c net.Conn
	for {
		var err error
		if c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(c, "%s 1 2\n", groupHello)
	<-done
	if err0 != nil {
		t.Fatal(err0)
	}
	defer g0.Close()
	g0.SetPeerTimeout(500 * time.Millisecond)
	t0 := time.Now()
	_, _, err := g0.Step("iteration 3 of base", false)
	if err == nil || !strings.Contains(err.Error(), "rank 0 lost rank 1 while at iteration 3 of base: nothing from it for 500ms") {
		t.Fatalf("silent peer: %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}

	errs := runGroup(t, 2, func(g *Group) error {
		if g.World().Rank == 1 {
			return g.Close() // as a killed process's sockets close
		}
		_, _, err := g.Step("iteration 4 of base", false)
		return err
	})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "rank 0 lost rank 1 while at iteration 4 of base: its connection closed") {
		t.Fatalf("closed peer: %v", errs[0])
	}
	_ = c.Close()
}
