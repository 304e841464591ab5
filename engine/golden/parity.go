package golden

import (
	"fmt"
	"math/rand"
	"sort"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// ParitySpec is one op at one set of shapes. Make draws the case's inputs,
// attributes and upstream gradients from rng; its out.* and grad_in.* are
// left empty, since the reference backend supplies the answers.
type ParitySpec struct {
	Name string
	Op   string // the op Make's cases run
	Tol  float64
	Make func(rng *rand.Rand) *Case
}

// ParityResult compares one spec on a backend under test with a reference.
type ParityResult struct {
	Name, Op          string
	Test, Ref         string // backend names
	Worst             float64
	WorstTensor       string
	Tol               float64
	Pass              bool
	Err               string
	TestTime, RefTime time.Duration
	Tensors           []TensorResult
}

// String is the report line for one parity check.
func (r ParityResult) String() string {
	status := "PASS"
	if !r.Pass {
		status = "FAIL"
	}
	line := fmt.Sprintf("%s %-34s %-17s %s vs %s rel err %.2e (tol %.0e) %-12s %s %9s, %s %9s", status, r.Name, r.Op,
		r.Test, r.Ref, r.Worst, r.Tol, r.WorstTensor, r.Test, r.TestTime.Round(time.Microsecond),
		r.Ref, r.RefTime.Round(time.Microsecond))
	if r.Err != "" {
		line += "  " + r.Err
	}
	return line
}

// Parity runs every spec on test and on ref with the same random inputs
// (seeded by seed and the spec's position) and compares test's outputs and
// gradients with ref's, tensor by tensor, as Run compares with a golden case.
// each, if not nil, sees every result as soon as it is known.
func Parity(test, ref backend.Backend, specs []ParitySpec, seed int64, each func(ParityResult)) []ParityResult {
	var results []ParityResult
	for i, s := range specs {
		c := s.Make(rand.New(rand.NewSource(seed + int64(i))))
		// The reference is FP32; the tested backend's matrix policy sets the
		// tolerance of the ops with matrix products (precision.go).
		c.Tol = PrecisionTol(s.Op, s.Tol, backend.PolicyOf(test))
		if c.Op != s.Op {
			panic(fmt.Sprintf("golden: parity spec %s (op %s) made a %s case", s.Name, s.Op, c.Op))
		}
		r := ParityResult{Name: s.Name, Op: s.Op, Test: test.Name(), Ref: ref.Name(), Tol: c.Tol}
		wantOut, wantGrad, wantPGrad, refTime, err := execute(ref, c)
		r.RefTime = refTime
		if err != nil {
			r.Err = ref.Name() + " (reference): " + err.Error()
		} else {
			var gotOut, gotGrad, gotPGrad map[string]hostTensor
			gotOut, gotGrad, gotPGrad, r.TestTime, err = execute(test, c)
			if err != nil {
				r.Err = test.Name() + ": " + err.Error()
			} else {
				r.Tensors = append(compareAll("out.", wantOut, gotOut), compareAll("grad_in.", wantGrad, gotGrad)...)
				r.Tensors = append(r.Tensors, compareAll("grad_param.", wantPGrad, gotPGrad)...)
				r.Worst, r.WorstTensor, r.Err = summarize(r.Tensors)
				r.Pass = r.Err == "" && r.Worst <= r.Tol
			}
		}
		if each != nil {
			each(r)
		}
		results = append(results, r)
	}
	return results
}

// compareAll compares every tensor either side produced.
func compareAll(prefix string, want, got map[string]hostTensor) []TensorResult {
	var names []string
	for n := range want {
		names = append(names, n)
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []TensorResult
	for _, n := range names {
		w, inRef := want[n]
		g, inTest := got[n]
		if !inRef {
			out = append(out, TensorResult{Name: prefix + n, Err: "the reference backend did not produce it"})
			continue
		}
		out = append(out, compareHost(prefix+n, w, g, inTest))
	}
	return out
}

// ParityFailed counts the parity results that did not pass.
func ParityFailed(results []ParityResult) int {
	n := 0
	for _, r := range results {
		if !r.Pass {
			n++
		}
	}
	return n
}
