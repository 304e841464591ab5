//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// Parity tests of the backend core and the dense kernels against the CPU
// backend (engine/cpu) on random inputs, with ragged sizes that miss every
// tile and vector width. Ops that round exactly as the CPU does (copies,
// single IEEE operations, the SGD update, sums in the CPU's order) are
// compared bit for bit; the rest by relative L2 error with the tolerance
// stated at each call. These tests need a GPU: cu's package init exits the
// process on a machine without one, so CI only compiles them.

var (
	denseOnce sync.Once
	denseGPU  *Backend
	denseErr  error
)

func denseBackends(t testing.TB) (*Backend, *cpu.CPU) {
	t.Helper()
	denseOnce.Do(func() { denseGPU, denseErr = Open(0) })
	if denseErr != nil {
		t.Skipf("no CUDA device: %v", denseErr)
	}
	return denseGPU, cpu.New()
}

// denseRand returns n uniform values in [lo, hi).
func denseRand(r *rand.Rand, n int, lo, hi float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float32()
	}
	return v
}

// denseInts returns n small integers as floats, so ties are common.
func denseInts(r *rand.Rand, n, k int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.IntN(k))
	}
	return v
}

// pair uploads the same host data to both backends.
func pair(g *Backend, c *cpu.CPU, data []float32, shape ...int) (*backend.Tensor, *backend.Tensor) {
	return g.FromFloat32(data, shape...), c.FromFloat32(data, shape...)
}

func pairI64(g *Backend, c *cpu.CPU, data []int64, shape ...int) (*backend.Tensor, *backend.Tensor) {
	return g.FromInt64(data, shape...), c.FromInt64(data, shape...)
}

// expect compares a CUDA tensor with the CPU result: shapes and dtypes equal,
// int64 values equal, floats bit-equal when tol is 0 (NaN equals NaN, -0
// equals +0) and otherwise within relative L2 error tol with NaN/Inf in the
// same places.
func expect(t *testing.T, what string, g *Backend, got, want *backend.Tensor, tol float64) {
	t.Helper()
	if !backend.SameShape(got.Shape, want.Shape) || got.DType != want.DType {
		t.Fatalf("%s: got %s%v, want %s%v", what, got.DType, got.Shape, want.DType, want.Shape)
	}
	if got.DType == backend.I64 {
		gv, wv := g.ToInt64(got), cpu.I64(want)
		for i := range wv {
			if gv[i] != wv[i] {
				t.Fatalf("%s[%d] = %d, want %d", what, i, gv[i], wv[i])
			}
		}
		return
	}
	gv, wv := g.ToFloat32(got), cpu.F32(want)
	if tol == 0 {
		for i := range wv {
			a, b := gv[i], wv[i]
			if math.Float32bits(a) != math.Float32bits(b) && !(a != a && b != b) && !(a == 0 && b == 0) {
				t.Fatalf("%s[%d] = %v (%#08x), want %v (%#08x)", what, i, a, math.Float32bits(a), b, math.Float32bits(b))
			}
		}
		return
	}
	var num, den float64
	for i := range wv {
		a, b := float64(gv[i]), float64(wv[i])
		if math.IsNaN(a) != math.IsNaN(b) || math.IsInf(a, 0) != math.IsInf(b, 0) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, gv[i], wv[i])
		}
		if math.IsNaN(b) || math.IsInf(b, 0) {
			continue
		}
		num += (a - b) * (a - b)
		den += b * b
	}
	if rel := math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-12); rel > tol {
		t.Fatalf("%s: relative L2 error %.3g > %.3g", what, rel, tol)
	}
}

// mustPanic runs f and returns its panic message, failing if it returns.
func mustPanic(t *testing.T, what string, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("%s did not panic", what)
		}
		msg = fmt.Sprint(r)
	}()
	f()
	return ""
}

func TestDenseDevicesAndMemory(t *testing.T) {
	g, _ := denseBackends(t)
	devs, err := Devices()
	if err != nil || len(devs) == 0 {
		t.Fatalf("Devices() = %v, %v", devs, err)
	}
	if d := devs[0]; d.Name == "" || d.TotalMemory <= 0 || d.Major < 7 || d.Multiprocessors <= 0 {
		t.Fatalf("device 0: %+v", d)
	}
	if DriverVersion() < 11000 {
		t.Fatalf("driver version %d", DriverVersion())
	}
	if name := g.DeviceName(); !strings.Contains(name, devs[0].Name) || !strings.Contains(name, "driver") {
		t.Fatalf("DeviceName() = %q", name)
	}

	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 3, 127, 1 << 20} {
		f := denseRand(r, n, -5, 5)
		x := g.FromFloat32(f, n)
		y := g.Clone(x)
		got := g.ToFloat32(y)
		for i := range f {
			if got[i] != f[i] {
				t.Fatalf("round trip n=%d: [%d] = %v, want %v", n, i, got[i], f[i])
			}
		}
		ints := make([]int64, n)
		for i := range ints {
			ints[i] = r.Int64() - math.MaxInt64/2
		}
		gi := g.ToInt64(g.Clone(g.FromInt64(ints, n)))
		for i := range ints {
			if gi[i] != ints[i] {
				t.Fatalf("int64 round trip n=%d: [%d] = %d, want %d", n, i, gi[i], ints[i])
			}
		}
		g.Free(x)
		// The block just freed comes back from the pool; Zeros must clear it.
		z := g.ToFloat32(g.Zeros(backend.F32, n))
		for i, v := range z {
			if v != 0 {
				t.Fatalf("Zeros(%d)[%d] = %v after reuse", n, i, v)
			}
		}
		zi := g.ToInt64(g.Zeros(backend.I64, n))
		for i, v := range zi {
			if v != 0 {
				t.Fatalf("Zeros I64 (%d)[%d] = %v", n, i, v)
			}
		}
	}
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}

	// Pool accounting, on a backend of its own: tensors of the shared one may
	// be finalised (returned to its pool) at any moment.
	own, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	x := own.Zeros(backend.F32, 6, 4)
	v := x.Reshape(4, 6)
	before, _ := own.MemoryStats()
	own.Free(x)
	own.Free(v) // the reshape shares the block: freeing it again is a no-op
	after, cached := own.MemoryStats()
	if before-after != classSize(24*4) || cached != classSize(24*4) {
		t.Fatalf("freeing a tensor and its reshape: in use %d -> %d, cached %d; want one %d-byte block moved",
			before, after, cached, classSize(24*4))
	}
	y := own.Zeros(backend.F32, 20)
	if _, cached := own.MemoryStats(); cached != 0 {
		t.Fatalf("a same-class allocation did not reuse the cached block: %d bytes cached", cached)
	}
	own.Free(y)
	mustPanic(t, "use after Free", func() { own.ToFloat32(x) })
	if err := own.Trim(); err != nil {
		t.Fatal(err)
	}
	if _, cached := own.MemoryStats(); cached != 0 {
		t.Fatalf("after Trim %d bytes are cached", cached)
	}
	mustPanic(t, "a tensor of another backend", func() { own.ToFloat32(g.Zeros(backend.F32, 3)) })
}

func TestDenseOOMIsAnError(t *testing.T) {
	g, _ := denseBackends(t)
	const huge = 1 << 50 // a petabyte: no GPU has it
	msg := ""
	func() {
		defer func() {
			r := recover()
			oom, ok := r.(*OOMError)
			if !ok {
				t.Fatalf("Zeros of %d bytes panicked with %T %v, want *OOMError", huge, r, r)
			}
			msg = oom.Error()
		}()
		g.Zeros(backend.F32, huge/4)
	}()
	if !strings.Contains(msg, "out of memory") || !strings.Contains(msg, "in use") {
		t.Fatalf("OOM message %q does not name the request and the pool usage", msg)
	}
	// The backend still works afterwards.
	if got := g.ToFloat32(g.FromFloat32([]float32{1, 2}, 2)); got[1] != 2 {
		t.Fatalf("after OOM: %v", got)
	}
}

func TestDenseClassSize(t *testing.T) {
	denseBackends(t)
	for _, c := range []struct{ n, want int64 }{
		{1, 512}, {512, 512}, {513, 640}, {1024, 1024}, {1025, 1280}, {1 << 20, 1 << 20}, {(1 << 20) + 1, 1<<20 + 1<<18},
	} {
		if got := classSize(c.n); got != c.want {
			t.Errorf("classSize(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	for n := int64(1); n < 1<<24; n = n*3 + 7 {
		if s := classSize(n); s < n || float64(s) > 1.25*float64(n)+512 {
			t.Fatalf("classSize(%d) = %d wastes more than 25%%", n, s)
		}
	}
}

func TestDenseLaunchErrorsNameTheKernel(t *testing.T) {
	g, _ := denseBackends(t)
	msg := mustPanic(t, "unknown kernel", func() {
		g.launch("no_such_forward_kernel", [3]int{1, 1, 1}, [3]int{32, 1, 1}, 0)
	})
	if !strings.Contains(msg, "no_such_forward_kernel") {
		t.Fatalf("panic %q does not name the kernel", msg)
	}
	x := g.Zeros(backend.F32, 4)
	msg = mustPanic(t, "oversized block", func() {
		g.launch("fill_forward_kernel", [3]int{1, 1, 1}, [3]int{4096, 1, 1}, 0, x, 4, 1.0)
	})
	if !strings.Contains(msg, "fill_forward_kernel") {
		t.Fatalf("panic %q does not name the kernel", msg)
	}
	if err := g.Sync(); err != nil {
		t.Fatalf("a rejected launch poisoned the stream: %v", err)
	}
}

func TestDenseTime(t *testing.T) {
	g, _ := denseBackends(t)
	a := g.Zeros(backend.F32, 512, 512)
	ms, err := g.Time(func() { g.MatMul(a, a, false, false) })
	if err != nil || ms <= 0 || ms > 10_000 {
		t.Fatalf("Time = %v ms, %v", ms, err)
	}
}

func TestDenseBinary(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(2, 2))
	shapes := [][2][]int{
		{{1000003}, {1000003}},
		{{3, 1, 5}, {4, 5}},
		{{2, 3, 4, 5}, {3, 1, 1}},
		{{7}, {}},
		{{}, {2, 9}},
		{{16, 1, 33, 1}, {1, 8, 1, 31}},
		{{2, 1, 3, 1, 5, 1, 2}, {2, 4, 1, 6, 5, 3, 1}},
	}
	for _, s := range shapes {
		a := denseRand(r, backend.Numel(s[0]), -3, 3)
		b := denseRand(r, backend.Numel(s[1]), 0.5, 3)
		ga, ca := pair(g, c, a, s[0]...)
		gb, cb := pair(g, c, b, s[1]...)
		for op := backend.Add; op <= backend.Minimum; op++ {
			expect(t, fmt.Sprintf("Binary %d %v %v", op, s[0], s[1]), g, g.Binary(op, ga, gb), c.Binary(op, ca, cb), 0)
		}
	}
	nan := float32(math.NaN())
	ga, ca := pair(g, c, []float32{nan, 1, 2, nan}, 4)
	gb, cb := pair(g, c, []float32{0, nan, 3, 5}, 4)
	expect(t, "Maximum NaN", g, g.Binary(backend.Maximum, ga, gb), c.Binary(backend.Maximum, ca, cb), 0)
	expect(t, "Minimum NaN", g, g.Binary(backend.Minimum, ga, gb), c.Binary(backend.Minimum, ca, cb), 0)
	mustPanic(t, "Binary of unbroadcastable shapes", func() { g.Binary(backend.Add, g.Zeros(backend.F32, 3), g.Zeros(backend.F32, 4)) })
}

func TestDenseUnary(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{1, 257, 100003} {
		x := denseRand(r, n, -6, 6)
		pos := denseRand(r, n, 0.01, 9)
		for op := backend.Neg; op <= backend.Tanh; op++ {
			data := x
			if op == backend.Log || op == backend.Sqrt {
				data = pos
			}
			gx, cx := pair(g, c, data, n)
			gy, cy := g.Unary(op, gx), c.Unary(op, cx)
			// expf/logf/tanhf are within 2 ulp; the CPU rounds float64 results.
			expect(t, fmt.Sprintf("Unary %d n=%d", op, n), g, gy, cy, 1e-6)
			dy := denseRand(r, n, -1, 1)
			gd, cd := pair(g, c, dy, n)
			expect(t, fmt.Sprintf("UnaryBackward %d", op), g, g.UnaryBackward(op, gx, gy, gd), c.UnaryBackward(op, cx, cy, cd), 1e-6)
			if op != backend.Log && op != backend.Abs {
				expect(t, fmt.Sprintf("UnaryBackward %d, y recomputed", op), g, g.UnaryBackward(op, gx, nil, gd), c.UnaryBackward(op, cx, nil, cd), 1e-6)
			}
		}
	}
	nan := float32(math.NaN())
	gx, cx := pair(g, c, []float32{nan, -1, 0, 2}, 4)
	expect(t, "ReLU passes NaN", g, g.Unary(backend.ReLU, gx), c.Unary(backend.ReLU, cx), 0)
}

func TestDenseAffineAxpyFillWhere(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(4, 4))
	// Ragged in both dimensions; n is derived from the shape so the host
	// data always fills the tensor (a mismatch panics and aborts the binary).
	rows, cols := 7, 10001
	n := rows * cols
	x := denseRand(r, n, -2, 2)
	gx, cx := pair(g, c, x, rows, cols)
	// nvcc fuses alpha*x+beta into one rounding; the CPU rounds twice.
	expect(t, "Affine", g, g.Affine(gx, 1.7, -0.3), c.Affine(cx, 1.7, -0.3), 1e-6)

	y := denseRand(r, n, -2, 2)
	gy, cy := pair(g, c, y, rows, cols)
	g.AxpyInPlace(gy, -0.5, gx)
	c.AxpyInPlace(cy, -0.5, cx)
	expect(t, "AxpyInPlace", g, gy, cy, 1e-6)

	g.Fill(gy, 3.25)
	c.Fill(cy, 3.25)
	expect(t, "Fill", g, gy, cy, 0)
	gi, ci := pairI64(g, c, make([]int64, 13), 13)
	g.Fill(gi, -7)
	c.Fill(ci, -7)
	expect(t, "Fill I64", g, gi, ci, 0)

	cond := denseInts(r, n, 2)
	gc, cc := pair(g, c, cond, rows, cols)
	expect(t, "Where", g, g.Where(gc, gx, gy), c.Where(cc, cx, cy), 0)
	condI := make([]int64, n)
	for i := range condI {
		condI[i] = int64(r.IntN(3)) - 1
	}
	gci, cci := pairI64(g, c, condI, rows, cols)
	expect(t, "Where I64", g, g.Where(gci, gx, gy), c.Where(cci, cx, cy), 0)
}

func TestDenseChannelAffineAndSGD(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(5, 5))
	shape := []int{3, 67, 9, 11}
	x := denseRand(r, backend.Numel(shape), -3, 3)
	gx, cx := pair(g, c, x, shape...)
	gs, cs := pair(g, c, denseRand(r, 67, 0.5, 2), 67)
	gb, cb := pair(g, c, denseRand(r, 67, -1, 1), 67)
	expect(t, "ChannelAffine", g, g.ChannelAffine(gx, gs, gb), c.ChannelAffine(cx, cs, cb), 1e-6)
	expect(t, "ChannelAffine no shift", g, g.ChannelAffine(gx, gs, nil), c.ChannelAffine(cx, cs, nil), 0)

	n := 100003
	p, grad := denseRand(r, n, -1, 1), denseRand(r, n, -1, 1)
	gp, cp := pair(g, c, p, n)
	gbuf, cbuf := g.Zeros(backend.F32, n), c.Zeros(backend.F32, n)
	for step := 0; step < 3; step++ {
		gg, cg := pair(g, c, grad, n)
		g.SGDStep(gp, gg, gbuf, 0.02, 0.9, 5e-5)
		c.SGDStep(cp, cg, cbuf, 0.02, 0.9, 5e-5)
	}
	// The update avoids fused multiply-adds on both sides: bit-identical.
	expect(t, "SGDStep param", g, gp, cp, 0)
	expect(t, "SGDStep buf", g, gbuf, cbuf, 0)
	gg, cg := pair(g, c, grad, n)
	g.SGDStep(gp, gg, nil, 0.01, 0, 0)
	c.SGDStep(cp, cg, nil, 0.01, 0, 0)
	expect(t, "SGDStep without momentum", g, gp, cp, 0)
}

func TestDenseSum(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(6, 6))
	cases := []struct {
		shape []int
		axes  []int
	}{
		{[]int{5, 7}, []int{1}},
		{[]int{5, 7}, []int{0}},
		{[]int{5, 7}, nil},
		{[]int{4, 3, 33, 9}, []int{0, 2, 3}}, // bias gradient: interleaved axes
		{[]int{4, 3, 33, 9}, []int{1}},
		{[]int{4, 3, 33, 9}, []int{-1, -2}},
		{[]int{2, 1, 3}, []int{1}},
		{[]int{3, 100000}, []int{1}},  // long rows: chunked, two passes
		{[]int{100001, 3}, []int{0}},  // long middle axis: chunked, two passes
		{[]int{1 << 20}, nil},         // one long row
		{[]int{6, 5000, 7}, []int{1}}, // middle axis, B > 1
		{[]int{3, 0, 4}, []int{1}},    // empty reduced axis: zeros
	}
	for _, cs := range cases {
		x := denseRand(r, backend.Numel(cs.shape), -1, 1)
		gx, cx := pair(g, c, x, cs.shape...)
		for _, keep := range []bool{false, true} {
			what := fmt.Sprintf("Sum %v axes %v keep %v", cs.shape, cs.axes, keep)
			// Float32 tree sums against the CPU's float64 accumulation.
			expect(t, what, g, g.Sum(gx, cs.axes, keep), c.Sum(cx, cs.axes, keep), 1e-5)
		}
	}
	// SumTo: the backward of broadcasting.
	for _, s := range [][2][]int{
		{{4, 3, 5}, {3, 1}},
		{{4, 3, 5}, {5}},
		{{4, 3, 5}, {4, 1, 5}},
		{{4, 3, 5}, {}},
		{{2, 64, 17, 13}, {1, 64, 1, 1}},
	} {
		x := denseRand(r, backend.Numel(s[0]), -1, 1)
		gx, cx := pair(g, c, x, s[0]...)
		expect(t, fmt.Sprintf("SumTo %v -> %v", s[0], s[1]), g, g.SumTo(gx, s[1]), c.SumTo(cx, s[1]), 1e-5)
	}
	// Same input, same result, bit for bit.
	x := denseRand(r, 3<<20, -1, 1)
	gx := g.FromFloat32(x, 3, 1<<20)
	first := g.ToFloat32(g.Sum(gx, []int{1}, false))
	for i := 0; i < 3; i++ {
		again := g.ToFloat32(g.Sum(gx, []int{1}, false))
		for j := range first {
			if math.Float32bits(again[j]) != math.Float32bits(first[j]) {
				t.Fatalf("Sum is not deterministic: %v then %v", first, again)
			}
		}
	}
}

func TestDenseMaxSoftmax(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(7, 7))
	for _, cs := range []struct {
		shape []int
		axis  int
	}{
		{[]int{37, 21}, 1}, {[]int{37, 21}, 0}, {[]int{3, 1000, 5}, 1}, {[]int{2, 3, 4}, -1}, {[]int{9, 1}, 1}, {[]int{5, 3000}, 1},
	} {
		// Small integers: many ties, which must resolve to the first index.
		x := denseInts(r, backend.Numel(cs.shape), 5)
		gx, cx := pair(g, c, x, cs.shape...)
		gv, gi := g.Max(gx, cs.axis)
		cv, ci := c.Max(cx, cs.axis)
		expect(t, fmt.Sprintf("Max values %v axis %d", cs.shape, cs.axis), g, gv, cv, 0)
		expect(t, fmt.Sprintf("Max indices %v axis %d", cs.shape, cs.axis), g, gi, ci, 0)
	}
	nan := float32(math.NaN())
	for _, row := range [][]float32{{1, nan, 3, nan}, {nan, 2, 2, 1}, {1, 4, 4, 2}} {
		gx, cx := pair(g, c, row, 1, 4)
		gv, gi := g.Max(gx, 1)
		cv, ci := c.Max(cx, 1)
		expect(t, fmt.Sprintf("Max %v", row), g, gv, cv, 0)
		expect(t, fmt.Sprintf("Max index %v", row), g, gi, ci, 0)
		gx, cx = pair(g, c, row, 4, 1)
		gv, gi = g.Max(gx, 0)
		cv, ci = c.Max(cx, 0)
		expect(t, fmt.Sprintf("Max column %v", row), g, gv, cv, 0)
		expect(t, fmt.Sprintf("Max column index %v", row), g, gi, ci, 0)
	}
	for _, shape := range [][]int{{8192, 21}, {7, 1}, {3, 4, 1000}, {2, 5000}} {
		x := denseRand(r, backend.Numel(shape), -20, 20)
		gx, cx := pair(g, c, x, shape...)
		expect(t, fmt.Sprintf("Softmax %v", shape), g, g.Softmax(gx), c.Softmax(cx), 1e-6)
		expect(t, fmt.Sprintf("LogSoftmax %v", shape), g, g.LogSoftmax(gx), c.LogSoftmax(cx), 1e-6)
	}
}

func TestDenseShapeOps(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(8, 8))
	shape := []int{3, 5, 7, 2}
	x := denseRand(r, backend.Numel(shape), -1, 1)
	gx, cx := pair(g, c, x, shape...)
	ints := make([]int64, backend.Numel(shape))
	for i := range ints {
		ints[i] = r.Int64N(1000)
	}
	gxi, cxi := pairI64(g, c, ints, shape...)
	for _, perm := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {0, 2, 3, 1}, {1, 0, 2, 3}, {0, 1, 3, 2}} {
		expect(t, fmt.Sprintf("Permute %v", perm), g, g.Permute(gx, perm...), c.Permute(cx, perm...), 0)
		expect(t, fmt.Sprintf("Permute I64 %v", perm), g, g.Permute(gxi, perm...), c.Permute(cxi, perm...), 0)
	}
	big := denseRand(r, 2*3*4*5*6*7*2, -1, 1)
	gb, cb := pair(g, c, big, 2, 3, 4, 5, 6, 7, 2)
	expect(t, "Permute 7-d", g, g.Permute(gb, 6, 4, 2, 0, 1, 3, 5), c.Permute(cb, 6, 4, 2, 0, 1, 3, 5), 0)

	for axis := -4; axis < 4; axis++ {
		other := append([]int(nil), shape...)
		ax := axis
		if ax < 0 {
			ax += 4
		}
		other[ax] = 3
		y := denseRand(r, backend.Numel(other), -1, 1)
		gy, cy := pair(g, c, y, other...)
		expect(t, fmt.Sprintf("Concat axis %d", axis), g, g.Concat(axis, gx, gy, gx), c.Concat(axis, cx, cy, cx), 0)
		n := shape[ax]
		for _, se := range [][2]int{{0, n}, {1, n - 1}, {n - 1, n}, {2, 2}} {
			gs, cs := g.Slice(gx, axis, se[0], se[1]), c.Slice(cx, axis, se[0], se[1])
			expect(t, fmt.Sprintf("Slice axis %d [%d:%d]", axis, se[0], se[1]), g, gs, cs, 0)
			expect(t, fmt.Sprintf("SliceBackward axis %d at %d", axis, se[0]), g,
				g.SliceBackward(gs, shape, axis, se[0]), c.SliceBackward(cs, shape, axis, se[0]), 0)
		}
		expect(t, fmt.Sprintf("Slice I64 axis %d", axis), g, g.Slice(gxi, axis, 1, 2), c.Slice(cxi, axis, 1, 2), 0)
	}
	gci, cci := pairI64(g, c, []int64{1, 2}, 2)
	gcj, ccj := pairI64(g, c, []int64{3}, 1)
	expect(t, "Concat I64", g, g.Concat(0, gci, gcj), c.Concat(0, cci, ccj), 0)

	rows, w, n := 1000, 37, 4096
	src := denseRand(r, rows*w, -1, 1)
	gs, cs := pair(g, c, src, rows, w)
	idx := make([]int64, n)
	for i := range idx {
		idx[i] = r.Int64N(int64(rows))
	}
	gIdx, cIdx := pairI64(g, c, idx, n)
	expect(t, "Gather", g, g.Gather(gs, gIdx), c.Gather(cs, cIdx), 0)
	srcI := make([]int64, rows*3)
	for i := range srcI {
		srcI[i] = r.Int64()
	}
	gsi, csi := pairI64(g, c, srcI, rows, 3)
	expect(t, "Gather I64", g, g.Gather(gsi, gIdx), c.Gather(csi, cIdx), 0)

	// ScatterAdd with many duplicates sums in the CPU's order: bit-identical.
	upd := denseRand(r, n*w, -1, 1)
	gu, cu := pair(g, c, upd, n, w)
	expect(t, "ScatterAdd", g, g.ScatterAdd(gu, gIdx, rows), c.ScatterAdd(cu, cIdx, rows), 0)
	few := make([]int64, n)
	for i := range few {
		few[i] = r.Int64N(3)
	}
	gf, cf := pairI64(g, c, few, n)
	expect(t, "ScatterAdd into 3 rows", g, g.ScatterAdd(gu, gf, 3), c.ScatterAdd(cu, cf, 3), 0)
	uniq := r.Perm(n)
	u64 := make([]int64, n)
	for i, v := range uniq {
		u64[i] = int64(v)
	}
	gq, cq := pairI64(g, c, u64, n)
	expect(t, "ScatterAdd of a permutation", g, g.ScatterAdd(gu, gq, n+5), c.ScatterAdd(cu, cq, n+5), 0)
	g1, c1 := pair(g, c, []float32{1, 2, 3}, 3)
	gi1, ci1 := pairI64(g, c, []int64{2, 2, 0}, 3)
	expect(t, "ScatterAdd 1-D", g, g.ScatterAdd(g1, gi1, 4), c.ScatterAdd(c1, ci1, 4), 0)
}

// matmulShapes are (m, n, k) with ragged edges, the float4 paths, one-element
// extremes and shapes that take split-K.
var matmulShapes = [][3]int{
	{1, 1, 1}, {3, 5, 7}, {128, 128, 8}, {129, 130, 131}, {256, 64, 128}, {64, 1000, 3},
	{37, 21, 2048}, {512, 4, 1024}, {1, 300, 77}, {300, 1, 77}, {200, 160, 9}, {16, 16, 20000},
}

func TestDenseMatMul(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(9, 9))
	for _, s := range matmulShapes {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				as, bs := matmulOperandShapes(m, n, k, ta, tb)
				ga, ca := pair(g, c, denseRand(r, m*k, -1, 1), as...)
				gb, cb := pair(g, c, denseRand(r, k*n, -1, 1), bs...)
				// Different summation orders: error grows like sqrt(k)·eps.
				tol := 2e-6 * math.Sqrt(float64(k))
				expect(t, fmt.Sprintf("MatMul %dx%dx%d transA %v transB %v", m, n, k, ta, tb), g,
					g.MatMul(ga, gb, ta, tb), c.MatMul(ca, cb, ta, tb), tol)
			}
		}
	}
	// Split-K partials are added in a fixed order: repeatable bit for bit.
	a := g.FromFloat32(denseRand(r, 37*4096, -1, 1), 37, 4096)
	b := g.FromFloat32(denseRand(r, 4096*21, -1, 1), 4096, 21)
	first := g.ToFloat32(g.MatMul(a, b, false, false))
	again := g.ToFloat32(g.MatMul(a, b, false, false))
	for i := range first {
		if math.Float32bits(first[i]) != math.Float32bits(again[i]) {
			t.Fatalf("split-K MatMul not deterministic at %d: %v vs %v", i, first[i], again[i])
		}
	}
	mustPanic(t, "MatMul inner mismatch", func() { g.MatMul(g.Zeros(backend.F32, 2, 3), g.Zeros(backend.F32, 4, 2), false, false) })
}

// convCases cover the ResNet shapes (stem 7×7/2, 3×3, strided 3×3, 1×1 and
// strided 1×1), dilation, asymmetric strides and padding, and sizes that are
// not multiples of the 128-wide tiles.
var convCases = []struct {
	x, w []int
	p    backend.Conv2dParams
}{
	{[]int{2, 3, 37, 29}, []int{64, 3, 7, 7}, backend.Conv2dParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3, DilationH: 1, DilationW: 1}},
	{[]int{2, 64, 15, 17}, []int{64, 64, 3, 3}, backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}},
	{[]int{1, 130, 16, 13}, []int{129, 130, 3, 3}, backend.Conv2dParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}},
	{[]int{3, 256, 9, 11}, []int{64, 256, 1, 1}, backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 0, PadW: 0, DilationH: 1, DilationW: 1}},
	{[]int{2, 64, 14, 14}, []int{256, 64, 1, 1}, backend.Conv2dParams{StrideH: 2, StrideW: 2, PadH: 0, PadW: 0, DilationH: 1, DilationW: 1}},
	{[]int{1, 5, 12, 10}, []int{7, 5, 3, 3}, backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilationH: 2, DilationW: 2}},
	{[]int{2, 3, 11, 8}, []int{5, 3, 3, 2}, backend.Conv2dParams{StrideH: 3, StrideW: 1, PadH: 0, PadW: 1, DilationH: 1, DilationW: 2}},
	{[]int{1, 1, 1, 1}, []int{1, 1, 1, 1}, backend.Conv2dParams{StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1}},
}

func TestDenseConv2d(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(10, 10))
	for _, cs := range convCases {
		what := fmt.Sprintf("x %v w %v %+v", cs.x, cs.w, cs.p)
		gx, cx := pair(g, c, denseRand(r, backend.Numel(cs.x), -1, 1), cs.x...)
		gw, cw := pair(g, c, denseRand(r, backend.Numel(cs.w), -1, 1), cs.w...)
		gb, cb := pair(g, c, denseRand(r, cs.w[0], -1, 1), cs.w[0])
		crs := cs.w[1] * cs.w[2] * cs.w[3]
		tol := 2e-6 * math.Sqrt(float64(crs))
		gy, cy := g.Conv2d(gx, gw, gb, cs.p), c.Conv2d(cx, cw, cb, cs.p)
		expect(t, "Conv2d "+what, g, gy, cy, tol)
		expect(t, "Conv2d no bias "+what, g, g.Conv2d(gx, gw, nil, cs.p), c.Conv2d(cx, cw, nil, cs.p), tol)

		gdy, cdy := pair(g, c, denseRand(r, backend.Numel(cy.Shape), -1, 1), cy.Shape...)
		gdx, gdw, gdb := g.Conv2dBackward(gx, gw, gdy, cs.p, true, true)
		cdx, cdw, cdb := c.Conv2dBackward(cx, cw, cdy, cs.p, true, true)
		taps := cs.w[0] * cs.w[2] * cs.w[3]
		pix := cy.Shape[0] * cy.Shape[2] * cy.Shape[3]
		expect(t, "Conv2dBackward dx "+what, g, gdx, cdx, 2e-6*math.Sqrt(float64(taps)))
		expect(t, "Conv2dBackward dw "+what, g, gdw, cdw, 2e-6*math.Sqrt(float64(pix)))
		expect(t, "Conv2dBackward db "+what, g, gdb, cdb, 2e-6*math.Sqrt(float64(pix)))
		ndx, ndw, ndb := g.Conv2dBackward(gx, gw, gdy, cs.p, false, false)
		if ndx != nil || ndb != nil {
			t.Fatalf("Conv2dBackward without dx and bias returned dx %v db %v", ndx, ndb)
		}
		expect(t, "Conv2dBackward dw only "+what, g, ndw, cdw, 2e-6*math.Sqrt(float64(pix)))
	}
}

func TestDenseConvFilterGradDeterministic(t *testing.T) {
	g, _ := denseBackends(t)
	r := rand.New(rand.NewPCG(11, 11))
	// res4-like: few filter tiles, a long pixel reduction, so split-K is used.
	xs, ws := []int{4, 256, 19, 23}, []int{256, 256, 3, 3}
	p := backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}
	x := g.FromFloat32(denseRand(r, backend.Numel(xs), -1, 1), xs...)
	w := g.FromFloat32(denseRand(r, backend.Numel(ws), -1, 1), ws...)
	dy := g.FromFloat32(denseRand(r, 4*256*19*23, -1, 1), 4, 256, 19, 23)
	_, dw1, _ := g.Conv2dBackward(x, w, dy, p, false, false)
	_, dw2, _ := g.Conv2dBackward(x, w, dy, p, false, false)
	expectSameBits(t, "conv filter gradient run twice", g.ToFloat32(dw1), g.ToFloat32(dw2))
}

func TestDensePoolResize(t *testing.T) {
	g, c := denseBackends(t)
	r := rand.New(rand.NewPCG(12, 12))
	for _, cs := range []struct {
		x []int
		p backend.PoolParams
	}{
		{[]int{2, 3, 17, 23}, backend.PoolParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
		{[]int{1, 4, 8, 9}, backend.PoolParams{KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2}},
		{[]int{1, 2, 40, 70}, backend.PoolParams{KernelH: 3, KernelW: 2, StrideH: 1, StrideW: 1, PadH: 1}},
	} {
		// Integer values: ties everywhere, and overlapping windows sharing
		// one maximum, so the backward's grouping is exercised.
		x := denseInts(r, backend.Numel(cs.x), 4)
		gx, cx := pair(g, c, x, cs.x...)
		gy, ga := g.MaxPool2d(gx, cs.p)
		cy, ca := c.MaxPool2d(cx, cs.p)
		what := fmt.Sprintf("MaxPool2d %v %+v", cs.x, cs.p)
		expect(t, what, g, gy, cy, 0)
		expect(t, what+" argmax", g, ga, ca, 0)
		gdy, cdy := pair(g, c, denseRand(r, backend.Numel(cy.Shape), -1, 1), cy.Shape...)
		expect(t, what+" backward", g, g.MaxPool2dBackward(gdy, ga, cs.x), c.MaxPool2dBackward(cdy, ca, cs.x), 0)
	}
	for _, cs := range []struct {
		x      []int
		oh, ow int
	}{
		{[]int{2, 3, 10, 13}, 23, 31}, {[]int{1, 2, 40, 30}, 7, 11}, {[]int{1, 1, 1, 1}, 3, 2}, {[]int{1, 3, 5, 5}, 5, 5},
	} {
		gx, cx := pair(g, c, denseRand(r, backend.Numel(cs.x), -1, 1), cs.x...)
		expect(t, fmt.Sprintf("ResizeBilinear %v to %dx%d", cs.x, cs.oh, cs.ow), g,
			g.ResizeBilinear(gx, cs.oh, cs.ow), c.ResizeBilinear(cx, cs.oh, cs.ow), 1e-6)
	}
}

// BenchmarkDenseMatMul reports TFLOP/s of the SGEMM on square problems.
func BenchmarkDenseMatMul(b *testing.B) {
	g, _ := denseBackends(b)
	for _, n := range []int{1024, 4096} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x := g.Zeros(backend.F32, n, n)
			y := g.Zeros(backend.F32, n, n)
			var total float64
			for i := 0; i < b.N; i++ {
				ms, err := g.Time(func() { g.Free(g.MatMul(x, y, false, false)) })
				if err != nil {
					b.Fatal(err)
				}
				total += ms
			}
			b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/(total*1e-3)/1e12, "TFLOP/s")
		})
	}
}

// BenchmarkDenseConv times a res4 3×3 convolution of a 16-image batch
// (R-101 C4 at 800×1333: 50×84 at stride 16), forward and both gradients.
func BenchmarkDenseConv(b *testing.B) {
	g, _ := denseBackends(b)
	xs, ws := []int{16, 256, 50, 84}, []int{256, 256, 3, 3}
	p := backend.Conv2dParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1}
	x, w := g.Zeros(backend.F32, xs...), g.Zeros(backend.F32, ws...)
	dy := g.Zeros(backend.F32, 16, 256, 50, 84)
	flops := 2 * float64(16*256*50*84) * float64(256*9)
	for _, pass := range []string{"forward", "backward"} {
		b.Run(pass, func(b *testing.B) {
			var total float64
			for i := 0; i < b.N; i++ {
				ms, err := g.Time(func() {
					if pass == "forward" {
						g.Free(g.Conv2d(x, w, nil, p))
						return
					}
					dx, dw, _ := g.Conv2dBackward(x, w, dy, p, true, false)
					g.Free(dx)
					g.Free(dw)
				})
				if err != nil {
					b.Fatal(err)
				}
				total += ms
			}
			f := flops
			if pass == "backward" {
				f *= 2
			}
			b.ReportMetric(f*float64(b.N)/(total*1e-3)/1e12, "TFLOP/s")
		})
	}
}
