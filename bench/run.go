package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Timer is implemented by backends that time work with device events (CUDA).
// Backends without it are timed with the host clock around fn and a Sync.
type Timer interface {
	Time(fn func()) (ms float64, err error)
}

// Result is one case's timing. The JSON field names are shared with
// bench/torch_bench.py.
type Result struct {
	Name     string  `json:"name"`
	Op       string  `json:"op"`
	Shape    string  `json:"shape"`
	Reps     int     `json:"reps"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	GFLOPS   float64 `json:"gflops,omitempty"`
	GBPS     float64 `json:"gbps,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// Report is the JSON written by `fsodgpu bench kernels --json`.
type Report struct {
	Tool      string `json:"tool"`    // "fsodgpu" or "torch"
	Backend   string `json:"backend"` // cpu, cuda
	Device    string `json:"device"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"go_version,omitempty"`
	Threads   int    `json:"threads"`
	Date      string `json:"date"`
	Sizes     Sizes  `json:"sizes"`
	Timing    string `json:"timing"` // "device events" or "host clock"
	// Precision is the matrix policy the convolutions and GEMMs ran at:
	// ours "conv tf32, matmul fp32" (backend.MatrixPolicy), torch_bench.py's
	// fp32, tf32 (allow_tf32) or bf16 (autocast). Empty in reports from
	// before the key: FP32.
	Precision string   `json:"precision,omitempty"`
	Results   []Result `json:"results"`
}

// Options control a run.
type Options struct {
	Filter   string        // substrings of case names to run, comma-separated (any matches); empty = all
	MinReps  int           // at least this many timed repeats
	MaxReps  int           // at most this many
	MinTime  time.Duration // keep repeating until this much time is spent (within MaxReps)
	Progress func(done, total int, name string)
}

// Run times every selected case on b. A case that panics (an op the backend
// lacks) is recorded with its error and the run goes on.
func Run(b backend.Backend, cases []Case, opt Options) []Result {
	if opt.MinReps < 1 {
		opt.MinReps = 3
	}
	if opt.MaxReps < opt.MinReps {
		opt.MaxReps = max(opt.MinReps, 50)
	}
	var sel []Case
	for _, c := range cases {
		if matchesFilter(c.Name, opt.Filter) {
			sel = append(sel, c)
		}
	}
	var out []Result
	for i, c := range sel {
		if opt.Progress != nil {
			opt.Progress(i, len(sel), c.Name)
		}
		out = append(out, runCase(b, c, opt))
	}
	if opt.Progress != nil {
		opt.Progress(len(sel), len(sel), "")
	}
	return out
}

func runCase(b backend.Backend, c Case, opt Options) (res Result) {
	res = Result{Name: c.Name, Op: c.Op, Shape: c.Shape}
	defer func() {
		if r := recover(); r != nil {
			res.Error = fmt.Sprint(r)
		}
	}()
	run, cleanup := c.Setup(b)
	defer cleanup()
	timeOnce := func() (float64, error) {
		if t, ok := b.(Timer); ok {
			return t.Time(run)
		}
		start := time.Now()
		run()
		err := b.Sync()
		return float64(time.Since(start).Nanoseconds()) / 1e6, err
	}
	// Warm-up: first-call costs (module load, pool growth, page faults) stay out.
	if _, err := timeOnce(); err != nil {
		res.Error = err.Error()
		return res
	}
	var times []float64
	var spent float64
	for len(times) < opt.MaxReps && (len(times) < opt.MinReps || spent < float64(opt.MinTime.Milliseconds())) {
		ms, err := timeOnce()
		if err != nil {
			res.Error = err.Error()
			return res
		}
		times = append(times, ms)
		spent += ms
	}
	sort.Float64s(times)
	res.Reps = len(times)
	res.MinMS = times[0]
	res.MedianMS = times[len(times)/2]
	if len(times)%2 == 0 {
		res.MedianMS = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	if c.Flops > 0 {
		res.GFLOPS = c.Flops / (res.MedianMS * 1e6)
	}
	if c.Bytes > 0 {
		res.GBPS = c.Bytes / (res.MedianMS * 1e6)
	}
	return res
}

// NewReport fills the report header for a run of ours.
func NewReport(backendName, device, commit string, sz Sizes, timing string, results []Result) Report {
	return Report{Tool: "fsodgpu", Backend: backendName, Device: device, Commit: commit,
		GoVersion: runtime.Version(), Threads: runtime.GOMAXPROCS(0),
		Date: time.Now().UTC().Format(time.RFC3339), Sizes: sz, Timing: timing, Results: results}
}

// PrintTable writes one line per result.
func PrintTable(w io.Writer, results []Result) {
	fmt.Fprintf(w, "%-30s %10s %10s %8s %10s  %s\n", "case", "median ms", "GFLOP/s", "TFLOP/s", "GB/s", "shape")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(w, "%-30s %10s %10s %8s %10s  error: %s\n", r.Name, "-", "-", "-", "-", r.Error)
			continue
		}
		tflops := "-"
		if r.GFLOPS > 0 {
			tflops = fmt.Sprintf("%.3f", r.GFLOPS/1000)
		}
		fmt.Fprintf(w, "%-30s %10.3f %10s %8s %10s  %s\n", r.Name, r.MedianMS, rate(r.GFLOPS), tflops, rate(r.GBPS), r.Shape)
	}
}

func rate(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// WriteReport writes the report as indented JSON, creating parent directories.
func WriteReport(path string, r Report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// ReadReport reads a report written by us or by torch_bench.py.
func ReadReport(path string) (Report, error) {
	var r Report
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%s: not a benchmark report: %v", path, err)
	}
	if len(r.Results) == 0 {
		return r, fmt.Errorf("%s: no results", path)
	}
	return r, nil
}

// Comparison is one case present in both reports.
type Comparison struct {
	Name      string
	OursMS    float64
	TheirsMS  float64
	Speedup   float64 // theirs / ours: > 1 means we are faster
	OursErr   string
	TheirsErr string
}

// Compare pairs the cases of two reports by name, in ours' order.
func Compare(ours, theirs Report) []Comparison {
	byName := map[string]Result{}
	for _, r := range theirs.Results {
		byName[r.Name] = r
	}
	var out []Comparison
	for _, o := range ours.Results {
		t, ok := byName[o.Name]
		if !ok {
			continue
		}
		c := Comparison{Name: o.Name, OursMS: o.MedianMS, TheirsMS: t.MedianMS, OursErr: o.Error, TheirsErr: t.Error}
		if o.Error == "" && t.Error == "" && o.MedianMS > 0 {
			c.Speedup = t.MedianMS / o.MedianMS
		}
		out = append(out, c)
	}
	return out
}

// PrintComparison writes the side-by-side table.
func PrintComparison(w io.Writer, ours, theirs Report, cmp []Comparison) {
	fmt.Fprintf(w, "ours:   %s %s on %s (%s, %d threads, precision %s)\n", ours.Tool, ours.Backend, ours.Device, ours.Date, ours.Threads, precisionOf(ours))
	fmt.Fprintf(w, "theirs: %s %s on %s (%s, %d threads, precision %s)\n", theirs.Tool, theirs.Backend, theirs.Device, theirs.Date, theirs.Threads, precisionOf(theirs))
	fmt.Fprintf(w, "%-30s %12s %12s %10s\n", "case", "ours ms", "theirs ms", "speedup")
	for _, c := range cmp {
		if c.Speedup == 0 {
			fmt.Fprintf(w, "%-30s %12s %12s %10s  %s\n", c.Name, "-", "-", "-", strings.TrimSpace(c.OursErr+" "+c.TheirsErr))
			continue
		}
		fmt.Fprintf(w, "%-30s %12.3f %12.3f %9.2fx\n", c.Name, c.OursMS, c.TheirsMS, c.Speedup)
	}
}

// Names lists the case names of a suite (for --list).
func Names(cases []Case) []string {
	var n []string
	for _, c := range cases {
		n = append(n, c.Name)
	}
	return slices.Clip(n)
}

// precisionOf names a report's precision; reports without one are FP32.
func precisionOf(r Report) string {
	if r.Precision == "" {
		return "fp32"
	}
	return r.Precision
}

// matchesFilter: an empty filter takes every case, else a case whose name
// contains one of the comma-separated parts (conv.,gemm. is the matrix
// products, which is what a precision changes).
func matchesFilter(name, filter string) bool {
	if filter == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		if f != "" && strings.Contains(name, f) {
			return true
		}
	}
	return false
}
