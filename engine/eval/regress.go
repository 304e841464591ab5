package eval

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"text/tabwriter"
)

// FindJobResults returns every results.json at or below the given paths
// (job directories, trees of them, or results.json files themselves),
// sorted and without duplicates.
func FindJobResults(roots []string) ([]string, error) {
	seen := map[string]bool{}
	var found []string
	for _, root := range roots {
		st, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if filepath.Base(root) != ResultsFileName {
				return nil, fmt.Errorf("%s: not a directory or a %s", root, ResultsFileName)
			}
			if !seen[filepath.Clean(root)] {
				seen[filepath.Clean(root)] = true
				found = append(found, filepath.Clean(root))
			}
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == ResultsFileName && !seen[path] {
				seen[path] = true
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(found)
	return found, nil
}

// DefaultMetric is the number FSOD papers report: novel AP50 on VOC (and the
// synthetic VOC-layout set), novel AP on COCO.
func DefaultMetric(dataset string) string {
	if dataset == "coco" {
		return "nAP"
	}
	return "nAP50"
}

// RegressGroup is the jobs of one (dataset, split, protocol, shots, method)
// and how their mean compares with the published number.
type RegressGroup struct {
	Dataset  string
	Split    int
	Protocol string
	Shots    int
	Method   string
	Metric   string
	Jobs     []string  // results.json paths
	Values   []float64 // the metric of each job, percent
	Mean     float64
	// CI is the 95% half-width 1.96·s/√n with the sample deviation s
	// (n−1); 0 for one job.
	CI       float64
	Reported *ReportedEntry // nil when the reported file has no entry
	// Diff is Mean − reported; Below is Diff < −tolerance.
	Diff  float64
	Below bool
}

// MeanCI returns the mean and the 95% confidence half-width 1.96·s/√n of
// values, s the sample standard deviation; the half-width is 0 for n = 1.
func MeanCI(values []float64) (mean, ci float64) {
	n := float64(len(values))
	if len(values) == 0 {
		return math.NaN(), 0
	}
	for _, v := range values {
		mean += v
	}
	mean /= n
	if len(values) == 1 {
		return mean, 0
	}
	var ss float64
	for _, v := range values {
		ss += (v - mean) * (v - mean)
	}
	return mean, 1.96 * math.Sqrt(ss/(n-1)) / math.Sqrt(n)
}

// Regress reads every results.json, groups the jobs and compares each
// group's mean of its metric with the reported number. metric overrides the
// table's (or the default) metric when not empty. A job lacking the metric it
// is compared on is an error naming its file.
func Regress(paths []string, rep *Reported, metric string, tolerance float64) ([]*RegressGroup, error) {
	if len(paths) == 0 {
		return nil, errors.New("no " + ResultsFileName + " found")
	}
	if metric != "" && !contains(MetricNames, metric) {
		return nil, fmt.Errorf("metric %q: want one of %v", metric, MetricNames)
	}
	groups := map[string]*RegressGroup{}
	var order []*RegressGroup
	for _, p := range paths {
		r, err := ReadJobResults(p)
		if err != nil {
			return nil, err
		}
		split := r.Split
		if r.Dataset == "coco" {
			split = 0
		}
		key := fmt.Sprintf("%s\x00%d\x00%s\x00%d\x00%s", r.Dataset, split, r.Protocol, r.Shots, r.Method)
		g := groups[key]
		if g == nil {
			g = &RegressGroup{Dataset: r.Dataset, Split: split, Protocol: r.Protocol, Shots: r.Shots, Method: r.Method}
			if e, ok := rep.Lookup(r.Dataset, r.Protocol, split, r.Shots); ok {
				g.Reported = &e
			}
			switch {
			case metric != "":
				g.Metric = metric
			case g.Reported != nil:
				g.Metric = g.Reported.Table.Metric
			default:
				g.Metric = DefaultMetric(r.Dataset)
			}
			groups[key] = g
			order = append(order, g)
		}
		v, ok := r.Metrics[g.Metric]
		if !ok {
			return nil, fmt.Errorf("%s: no metric %s (has %v)", p, g.Metric, sortedKeys(r.Metrics))
		}
		g.Jobs = append(g.Jobs, p)
		g.Values = append(g.Values, v)
	}
	for _, g := range order {
		g.Mean, g.CI = MeanCI(g.Values)
		if g.Reported != nil {
			g.Diff = g.Mean - g.Reported.Value
			g.Below = g.Diff < -tolerance
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.Dataset != b.Dataset {
			return a.Dataset < b.Dataset
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		if a.Split != b.Split {
			return a.Split < b.Split
		}
		if a.Shots != b.Shots {
			return a.Shots < b.Shots
		}
		return a.Method < b.Method
	})
	return order, nil
}

func sortedKeys(m map[string]float64) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// WriteRegressTable prints one row per group: dataset, split, protocol,
// shots, method, metric, n jobs, ours (mean ± CI), reported, difference and
// a verdict.
func WriteRegressTable(w io.Writer, groups []*RegressGroup, tolerance float64) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "dataset\tsplit\tprotocol\tshots\tmethod\tmetric\tn\tours\treported\tdiff\tverdict")
	for _, g := range groups {
		split := strconv.Itoa(g.Split)
		if g.Dataset == "coco" {
			split = "-"
		}
		method := g.Method
		if method == "" {
			method = "-"
		}
		ours := fmt.Sprintf("%.1f ± %.1f", g.Mean, g.CI)
		reported, diff, verdict := "-", "-", "no reported entry"
		if g.Reported != nil {
			reported = fmt.Sprintf("%.1f", g.Reported.Value)
			diff = fmt.Sprintf("%+.1f", g.Diff)
			verdict = "ok"
			if g.Below {
				verdict = fmt.Sprintf("BELOW by more than %g", tolerance)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
			g.Dataset, split, g.Protocol, g.Shots, method, g.Metric, len(g.Jobs), ours, reported, diff, verdict)
	}
	return tw.Flush()
}
