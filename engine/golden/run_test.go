package golden_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/golden"
	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

func init() {
	golden.Register("test_panic", func(c *golden.Call) { panic("test: kaboom") })
	// test_no_grad runs relu's forward but never its backward.
	golden.Register("test_no_grad", func(c *golden.Call) { c.Out("y", c.B.Unary(backend.ReLU, c.In("x"))) })
}

func writeCase(t *testing.T, dir, name string, meta map[string]string, tensors map[string]safetensors.Tensor) string {
	t.Helper()
	p := filepath.Join(dir, name+".safetensors")
	if err := safetensors.Write(p, tensors, meta); err != nil {
		t.Fatal(err)
	}
	return p
}

// reluCase is a relu case computed by hand.
func reluCase() (map[string]string, map[string]safetensors.Tensor) {
	x := []float32{-1, 2, -3, 4, 0.5, -0.25}
	dy := []float32{1, 2, 3, 4, 5, 6}
	y, dx := make([]float32, len(x)), make([]float32, len(x))
	for i, v := range x {
		if v > 0 {
			y[i], dx[i] = v, dy[i]
		}
	}
	return map[string]string{"op": "relu", "attrs": "{}", "tol": "1e-6"}, map[string]safetensors.Tensor{
		"in.x":       safetensors.FromFloat32(x, 2, 3),
		"out.y":      safetensors.FromFloat32(y, 2, 3),
		"grad_out.y": safetensors.FromFloat32(dy, 2, 3),
		"grad_in.x":  safetensors.FromFloat32(dx, 2, 3),
	}
}

func runOne(t *testing.T, b backend.Backend, path string) golden.Result {
	t.Helper()
	c, err := golden.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return golden.Run(b, c)
}

func TestHandWrittenCase(t *testing.T) {
	dir := t.TempDir()
	meta, ts := reluCase()
	writeCase(t, dir, "relu_by_hand", meta, ts)
	var seen []golden.Result
	results, err := golden.RunDir(cpu.New(), dir, func(r golden.Result) { seen = append(seen, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || len(seen) != 1 {
		t.Fatalf("%d results, %d reported, want 1", len(results), len(seen))
	}
	r := results[0]
	if !r.Pass || r.Case != "relu_by_hand" || r.Op != "relu" || r.Backend != "cpu" || len(r.Tensors) != 2 {
		t.Errorf("got %+v", r)
	}
	if !strings.HasPrefix(r.String(), "PASS relu_by_hand") {
		t.Errorf("report line %q", r)
	}
	if golden.Failed(results) != 0 {
		t.Error("Failed counts a passing case")
	}
}

func TestWrongValuesFail(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"out.y", "grad_in.x"} {
		meta, ts := reluCase()
		v, _ := ts[name].Float32()
		v[1] *= 1.01
		ts[name] = safetensors.FromFloat32(v, 2, 3)
		r := runOne(t, cpu.New(), writeCase(t, dir, "bad", meta, ts))
		if r.Pass || r.WorstTensor != name || r.Worst < 1e-3 {
			t.Errorf("%s corrupted: got %s", name, r)
		}
	}
}

// TestCorruptedShippedCase scales a real conv2d case's expected output by
// 1.001: a relative error of 1e-3, ten times the case's tolerance.
func TestCorruptedShippedCase(t *testing.T) {
	f, err := safetensors.Read(filepath.Join(shippedDir, "conv2d_3x3_pad1.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	y, _ := f.Tensors["out.y"].Float32()
	for i := range y {
		y[i] *= 1.001
	}
	f.Tensors["out.y"] = safetensors.FromFloat32(y, f.Tensors["out.y"].Shape...)
	r := runOne(t, cpu.New(), writeCase(t, t.TempDir(), "conv2d_corrupt", f.Metadata, f.Tensors))
	if r.Pass || r.WorstTensor != "out.y" || math.Abs(r.Worst-1e-3) > 1e-4 {
		t.Errorf("got %s, want a failure with relative error 1e-3 in out.y", r)
	}
	if !strings.HasPrefix(r.String(), "FAIL conv2d_corrupt") {
		t.Errorf("report line %q", r)
	}
}

func TestIntegerMismatchFails(t *testing.T) {
	f, err := safetensors.Read(filepath.Join(shippedDir, "nms_random_3class.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	keep, _ := f.Tensors["out.keep"].Int64()
	keep[0], keep[1] = keep[1], keep[0]
	f.Tensors["out.keep"] = safetensors.FromInt64(keep, len(keep))
	r := runOne(t, cpu.New(), writeCase(t, t.TempDir(), "nms_swapped", f.Metadata, f.Tensors))
	if r.Pass || !strings.Contains(r.Err, "2 of") {
		t.Errorf("got %s, want 2 differing values", r)
	}
	// A keep list of the wrong length is a shape failure.
	f.Tensors["out.keep"] = safetensors.FromInt64(keep[1:], len(keep)-1)
	r = runOne(t, cpu.New(), writeCase(t, t.TempDir(), "nms_short", f.Metadata, f.Tensors))
	if r.Pass || !strings.Contains(r.Err, "shape") {
		t.Errorf("got %s, want a shape failure", r)
	}
}

// nanReLU is the CPU backend with a ReLU that leaks NaN.
type nanReLU struct{ backend.Backend }

func (n nanReLU) Unary(op backend.UnaryOp, x *backend.Tensor) *backend.Tensor {
	v := n.ToFloat32(x)
	v[0] = float32(math.NaN())
	return n.FromFloat32(v, x.Shape...)
}

func TestNonFiniteFails(t *testing.T) {
	meta, ts := reluCase()
	r := runOne(t, nanReLU{cpu.New()}, writeCase(t, t.TempDir(), "relu", meta, ts))
	if r.Pass || !strings.Contains(r.Err, "non-finite") {
		t.Errorf("got %s, want a non-finite failure", r)
	}
}

func TestUnknownOpFails(t *testing.T) {
	meta, ts := reluCase()
	meta["op"] = "no_such_op"
	r := runOne(t, cpu.New(), writeCase(t, t.TempDir(), "unknown", meta, ts))
	if r.Pass || !strings.Contains(r.Err, `unknown op "no_such_op"`) {
		t.Errorf("got %s, want an unknown-op failure", r)
	}
}

func TestBrokenCasesFail(t *testing.T) {
	dir := t.TempDir()
	meta, ts := reluCase()
	delete(ts, "in.x")
	r := runOne(t, cpu.New(), writeCase(t, dir, "no_input", meta, ts))
	if r.Pass || !strings.Contains(r.Err, "no_input.safetensors") || !strings.Contains(r.Err, `"in.x"`) {
		t.Errorf("missing input: %s", r)
	}

	meta, ts = reluCase()
	meta["op"] = "test_no_grad"
	r = runOne(t, cpu.New(), writeCase(t, dir, "no_grad", meta, ts))
	if r.Pass || !strings.Contains(r.Err, "grad_in.x: the op did not produce it") {
		t.Errorf("missing gradient: %s", r)
	}

	meta, ts = reluCase()
	meta["op"] = "max_pool2d"
	meta["attrs"] = `{"kernel":[2,2],"stride":[2],"padding":[0,0]}`
	r = runOne(t, cpu.New(), writeCase(t, dir, "bad_attr", meta, ts))
	if r.Pass || !strings.Contains(r.Err, `attribute "stride"`) {
		t.Errorf("malformed attribute: %s", r)
	}
}

// TestPanicsAreFailures checks that a panicking op (what the CPU stubs did
// before the ops landed) fails its case and the run goes on.
func TestPanicsAreFailures(t *testing.T) {
	dir := t.TempDir()
	meta, ts := reluCase()
	writeCase(t, dir, "b_relu", meta, ts)
	meta["op"] = "test_panic"
	writeCase(t, dir, "a_panics", meta, ts)
	results, err := golden.RunDir(cpu.New(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Pass || !strings.Contains(results[0].Err, "panic: test: kaboom") || !results[1].Pass {
		t.Errorf("got %v", results)
	}
	if golden.Failed(results) != 1 {
		t.Errorf("Failed = %d, want 1", golden.Failed(results))
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	meta, ts := reluCase()
	cases := map[string]func(m map[string]string, ts map[string]safetensors.Tensor){
		"no_op":      func(m map[string]string, _ map[string]safetensors.Tensor) { delete(m, "op") },
		"no_tol":     func(m map[string]string, _ map[string]safetensors.Tensor) { delete(m, "tol") },
		"bad_tol":    func(m map[string]string, _ map[string]safetensors.Tensor) { m["tol"] = "tight" },
		"bad_attrs":  func(m map[string]string, _ map[string]safetensors.Tensor) { m["attrs"] = "[1]" },
		"bad_prefix": func(_ map[string]string, ts map[string]safetensors.Tensor) { ts["weird.x"] = ts["in.x"] },
		"no_prefix":  func(_ map[string]string, ts map[string]safetensors.Tensor) { ts["x"] = ts["in.x"] },
		"nothing_to_compare": func(_ map[string]string, ts map[string]safetensors.Tensor) {
			delete(ts, "out.y")
			delete(ts, "grad_in.x")
		},
		"f16_output": func(_ map[string]string, ts map[string]safetensors.Tensor) {
			ts["out.y"] = safetensors.Tensor{DType: safetensors.F16, Shape: []int{2, 3}, Data: make([]byte, 12)}
		},
	}
	for name, breakIt := range cases {
		m := map[string]string{}
		for k, v := range meta {
			m[k] = v
		}
		tc := map[string]safetensors.Tensor{}
		for k, v := range ts {
			tc[k] = v
		}
		breakIt(m, tc)
		p := writeCase(t, dir, name, m, tc)
		if _, err := golden.LoadFile(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming %s", name, err, p)
		}
	}
	// RunDir turns each unloadable file into a failed result and goes on.
	os.WriteFile(filepath.Join(dir, "truncated.safetensors"), []byte{1, 2}, 0o644)
	writeCase(t, dir, "zz_good", meta, ts)
	results, err := golden.RunDir(cpu.New(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(cases)+2 || golden.Failed(results) != len(cases)+1 || !results[len(results)-1].Pass {
		for _, r := range results {
			t.Log(r)
		}
		t.Errorf("%d results with %d failures, want %d with %d", len(results), golden.Failed(results), len(cases)+2, len(cases)+1)
	}
	if _, err := golden.RunDir(cpu.New(), t.TempDir(), nil); err == nil {
		t.Error("an empty directory is not an error")
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering relu twice did not panic")
		}
	}()
	golden.Register("relu", func(*golden.Call) {})
}

// TestF64InputsConvert: inputs stored as F64 (someone else's generator) are
// converted to float32 on upload and the case runs normally.
func TestF64InputsConvert(t *testing.T) {
	meta, ts := reluCase()
	x, _ := ts["in.x"].Float32()
	raw := make([]byte, 8*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(float64(v)))
	}
	ts["in.x"] = safetensors.Tensor{DType: safetensors.F64, Shape: []int{2, 3}, Data: raw}
	if r := runOne(t, cpu.New(), writeCase(t, t.TempDir(), "relu_f64", meta, ts)); !r.Pass {
		t.Errorf("F64 input: %s", r)
	}
}
