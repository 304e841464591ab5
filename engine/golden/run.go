package golden

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// TensorResult is the comparison of one out.*, grad_in.* or grad_param.* tensor.
type TensorResult struct {
	Name   string  // the full name, e.g. grad_in.x
	RelErr float64 // ‖got − want‖ / max(‖want‖, 1e-12); 0 or 1 for I64
	Err    string  // set when the tensor is missing, misshapen, or not finite
}

// Result is the outcome of one case on one backend.
type Result struct {
	Case, Op, Backend string
	Worst             float64 // worst relative error over the compared tensors
	WorstTensor       string
	Tol               float64
	GradTol           float64 // the gradients' tolerance where it differs from Tol (precision.go), else 0
	// Rounding is, at a reduced precision, the worst relative error of the
	// CPU backend computing the case with its operands rounded so
	// (roundingErrors); 0 at FP32 and for ops without matrix products.
	Rounding float64
	Pass     bool
	Err      string // why the case failed other than by tolerance
	Time     time.Duration
	Tensors  []TensorResult
	// Digest is the SHA-256 of every output and gradient the backend
	// produced (names and raw bits, in name order): equal digests mean
	// bit-identical results, e.g. under two emulator thread schedules.
	Digest string
}

// String is the report line: status, case, op, backend, worst error, time.
func (r Result) String() string {
	status := "PASS"
	if !r.Pass {
		status = "FAIL"
	}
	tol := fmt.Sprintf("%.0e", r.Tol)
	if r.GradTol != 0 {
		tol += fmt.Sprintf(", grads %.0e", r.GradTol)
	}
	if r.Rounding != 0 {
		tol += fmt.Sprintf(", rounding %.1e", r.Rounding)
	}
	line := fmt.Sprintf("%s %-34s %-17s %-4s rel err %.2e (tol %s) %-12s %9s", status, r.Case, r.Op, r.Backend,
		r.Worst, tol, r.WorstTensor, r.Time.Round(time.Microsecond))
	if r.Err != "" {
		line += "  " + r.Err
	}
	return line
}

// hostTensor is a result read back from a backend.
type hostTensor struct {
	shape []int
	dtype backend.DType
	f     []float32
	i     []int64
}

// execute runs c on b and reads its outputs and gradients back to the host.
// Panics inside the backend (an op not implemented yet, a shape it rejects)
// and case errors become err, so one bad case never stops a run.
func execute(b backend.Backend, c *Case) (outs, grads, pgrads map[string]hostTensor, took time.Duration, err error) {
	fn, ok := lookup(c.Op)
	if !ok {
		return nil, nil, nil, 0, fmt.Errorf("%s: unknown op %q (known: %s)", c.Path, c.Op, strings.Join(Ops(), ", "))
	}
	call := newCall(b, c)
	defer func() {
		if r := recover(); r != nil {
			if ce, ok := r.(*CaseError); ok {
				err = ce
			} else {
				err = fmt.Errorf("panic: %v", r)
			}
		}
	}()
	defer call.release()
	start := time.Now()
	fn(call)
	if err := b.Sync(); err != nil {
		return nil, nil, nil, 0, fmt.Errorf("%s: %v", b.Name(), err)
	}
	took = time.Since(start)
	return download(b, call.outs), download(b, call.grads), download(b, call.pgrads), took, nil
}

func download(b backend.Backend, ts map[string]*backend.Tensor) map[string]hostTensor {
	out := make(map[string]hostTensor, len(ts))
	for name, t := range ts {
		if t == nil {
			continue
		}
		h := hostTensor{shape: slices.Clone(t.Shape), dtype: t.DType}
		if t.DType == backend.BFloat16 {
			// BF16 storage (the CUDA backend's RoI features under bf16) is
			// a float answer: compared widened, at the precision's tolerance.
			h.dtype = backend.F32
		}
		if t.DType == backend.I64 {
			h.i = b.ToInt64(t)
		} else {
			h.f = b.ToFloat32(t)
		}
		out[name] = h
	}
	return out
}

// Run executes case c on b and compares it with the stored answers.
func Run(b backend.Backend, c *Case) Result {
	// A backend computing matrix products in TF32 or BF16 is held to that
	// precision's tolerance on the ops that run them (precision.go).
	pol := backend.PolicyOf(b)
	r := Result{Case: c.Name, Op: c.Op, Backend: b.Name(), Tol: PrecisionTol(c.Op, c.Tol, pol)}
	gradTol := GradTol(c.Op, c.Tol, pol)
	if outErr, gradErr, ok := roundingErrors(c, pol); ok {
		r.Rounding = max(outErr, gradErr)
		r.Tol = max(r.Tol, min(roundingMargin*outErr, roundingCap))
		gradTol = max(gradTol, min(roundingMargin*gradErr, roundingCap))
	}
	if gradTol != r.Tol {
		r.GradTol = gradTol
	}
	outs, grads, pgrads, took, err := execute(b, c)
	r.Time = took
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Digest = digest(map[string]map[string]hostTensor{"out.": outs, "grad_in.": grads, "grad_param.": pgrads})
	for _, prefix := range []string{"out.", "grad_in.", "grad_param."} {
		got := outs
		switch prefix {
		case "grad_in.":
			got = grads
		case "grad_param.":
			got = pgrads
		}
		for _, name := range c.names(prefix) {
			h, ok := got[name]
			r.Tensors = append(r.Tensors, compareTensor(prefix+name, c.Tensors[prefix+name], h, ok))
		}
	}
	r.Worst, r.WorstTensor, r.Err = summarize(r.Tensors)
	r.Pass = r.Err == ""
	for _, t := range r.Tensors {
		tol := r.Tol
		if !strings.HasPrefix(t.Name, "out.") {
			tol = gradTol
		}
		// NaN never passes: compareFloats gives +Inf and an error for it.
		if !(t.RelErr <= tol) {
			r.Pass = false
		}
	}
	return r
}

// digest hashes the tensors by prefixed name, in sorted order.
func digest(sets map[string]map[string]hostTensor) string {
	var names []string
	all := map[string]hostTensor{}
	for prefix, ts := range sets {
		for n, t := range ts {
			names = append(names, prefix+n)
			all[prefix+n] = t
		}
	}
	slices.Sort(names)
	h := sha256.New()
	var b [8]byte
	for _, n := range names {
		t := all[n]
		fmt.Fprintf(h, "%s %v %d\n", n, t.shape, t.dtype)
		for _, v := range t.f {
			binary.LittleEndian.PutUint32(b[:4], math.Float32bits(v))
			h.Write(b[:4])
		}
		for _, v := range t.i {
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// summarize returns the worst relative error over ts, the tensor it is in,
// and the first error found.
func summarize(ts []TensorResult) (worst float64, where, firstErr string) {
	for _, t := range ts {
		if t.RelErr > worst || where == "" {
			worst, where = t.RelErr, t.Name
		}
		if t.Err != "" && firstErr == "" {
			firstErr = t.Name + ": " + t.Err
		}
	}
	return worst, where, firstErr
}

// compareTensor checks got against the stored want (see compareHost).
func compareTensor(name string, want safetensors.Tensor, got hostTensor, ok bool) TensorResult {
	w := hostTensor{shape: want.Shape, dtype: backend.F32}
	if want.DType == safetensors.I64 {
		w.dtype = backend.I64
		w.i, _ = want.Int64()
	} else {
		w.f, _ = want.Float32()
	}
	return compareHost(name, w, got, ok)
}

// compareHost checks got against want: same shape, same dtype, finite,
// relative L2 error for floats, equality for integers.
func compareHost(name string, want, got hostTensor, ok bool) TensorResult {
	tr := TensorResult{Name: name}
	switch {
	case !ok:
		tr.Err, tr.RelErr = "the op did not produce it", math.Inf(1)
	case !slices.Equal(got.shape, want.shape):
		tr.Err = fmt.Sprintf("shape %s, want %s", backend.ShapeString(got.shape), backend.ShapeString(want.shape))
		tr.RelErr = math.Inf(1)
	case got.dtype != want.dtype:
		tr.Err, tr.RelErr = fmt.Sprintf("dtype %s, want %s", got.dtype, want.dtype), math.Inf(1)
	case want.dtype == backend.I64:
		tr.RelErr, tr.Err = compareInts(got.i, want.i)
	default:
		tr.RelErr, tr.Err = compareFloats(got.f, want.f)
	}
	return tr
}

func compareInts(got, want []int64) (float64, string) {
	bad, first := 0, -1
	for i := range want {
		if got[i] != want[i] {
			if first < 0 {
				first = i
			}
			bad++
		}
	}
	if bad == 0 {
		return 0, ""
	}
	return 1, fmt.Sprintf("%d of %d values differ, first at %d: got %d, want %d", bad, len(want), first, got[first], want[first])
}

// compareFloats returns the relative L2 error of got against want, or an
// explanation when either holds NaN or Inf.
func compareFloats(got, want []float32) (float64, string) {
	var diff, norm float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1), fmt.Sprintf("non-finite value %g at %d", g, i)
		}
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return math.Inf(1), fmt.Sprintf("the expected tensor holds %g at %d (a broken case)", w, i)
		}
		diff += (g - w) * (g - w)
		norm += w * w
	}
	return math.Sqrt(diff) / max(math.Sqrt(norm), 1e-12), ""
}

// RunFS runs every *.safetensors case at the top of fsys, in name order, on b.
// dir is the directory fsys stands for, used to name files in messages. A
// file that does not load is a failed result, not an error; each, if not
// nil, sees every result as soon as it is known. The error is for a
// directory that cannot be listed or holds no cases.
func RunFS(b backend.Backend, fsys fs.FS, dir string, each func(Result)) ([]Result, error) {
	names, err := fs.Glob(fsys, "*.safetensors")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no *.safetensors golden cases", dir)
	}
	var results []Result
	for _, name := range names {
		var r Result
		p := path.Join(dir, name)
		data, err := fs.ReadFile(fsys, name)
		if err == nil {
			var c *Case
			if c, err = Load(p, data); err == nil {
				r = Run(b, c)
			}
		}
		if err != nil {
			r = Result{Case: strings.TrimSuffix(name, ".safetensors"), Op: "?", Backend: b.Name(), Err: err.Error()}
		}
		if each != nil {
			each(r)
		}
		results = append(results, r)
	}
	return results, nil
}

// RunDir runs every case in directory dir on b (see RunFS).
func RunDir(b backend.Backend, dir string, each func(Result)) ([]Result, error) {
	return RunFS(b, os.DirFS(dir), dir, each)
}

// Failed counts the results that did not pass.
func Failed(results []Result) int {
	n := 0
	for _, r := range results {
		if !r.Pass {
			n++
		}
	}
	return n
}
