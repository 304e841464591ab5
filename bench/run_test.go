package bench

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

func TestCaseNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Cases(GPUSizes()) {
		if seen[c.Name] {
			t.Fatalf("duplicate case %q", c.Name)
		}
		seen[c.Name] = true
		if c.Flops == 0 && c.Bytes == 0 {
			t.Errorf("%s reports neither FLOPs nor bytes", c.Name)
		}
	}
}

func TestRunRecordsPanicsAndTimes(t *testing.T) {
	b := cpu.New()
	cases := []Case{
		{Name: "ok", Op: "fill", Bytes: 4096, Setup: func(b backend.Backend) (func(), func()) {
			x := b.Zeros(backend.F32, 1024)
			return func() { b.Free(b.Clone(x)) }, func() {}
		}},
		{Name: "boom", Op: "x", Flops: 1, Setup: func(b backend.Backend) (func(), func()) {
			return func() { panic("cpu: X not implemented") }, func() {}
		}},
	}
	res := Run(b, cases, Options{MinReps: 2, MaxReps: 4})
	if len(res) != 2 {
		t.Fatalf("%d results, want 2", len(res))
	}
	if res[0].Error != "" || res[0].Reps < 2 || res[0].MedianMS <= 0 || res[0].GBPS <= 0 {
		t.Fatalf("ok case: %+v", res[0])
	}
	if !strings.Contains(res[1].Error, "not implemented") {
		t.Fatalf("panic not recorded: %+v", res[1])
	}
}

func TestCompareAndRoundTrip(t *testing.T) {
	ours := NewReport("cpu", "test", "abc", CPUSizes(), "host clock", []Result{{Name: "a", MedianMS: 2}, {Name: "b", MedianMS: 1}, {Name: "c", Error: "x"}})
	theirs := Report{Tool: "torch", Results: []Result{{Name: "a", MedianMS: 4}, {Name: "c", MedianMS: 1}}}
	p := filepath.Join(t.TempDir(), "r.json")
	if err := WriteReport(p, ours); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(p)
	if err != nil {
		t.Fatal(err)
	}
	cmp := Compare(back, theirs)
	if len(cmp) != 2 || cmp[0].Name != "a" || cmp[0].Speedup != 2 || cmp[1].Speedup != 0 {
		t.Fatalf("compare: %+v", cmp)
	}
	if _, err := ReadReport(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing report read without error")
	}
}

func TestFilter(t *testing.T) {
	for _, c := range []struct {
		name, filter string
		want         bool
	}{
		{"conv.res4_3x3.fwd", "", true},
		{"conv.res4_3x3.fwd", "conv.", true},
		{"gemm.1024", "conv.,gemm.", true},
		{"roi_align.fwd", "conv.,gemm.", false},
		{"roi_align.fwd", ",", false},
	} {
		if got := matchesFilter(c.name, c.filter); got != c.want {
			t.Errorf("%s with filter %q: %v", c.name, c.filter, got)
		}
	}
}
