package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// ResultsFileName is the file a finished fine-tune job writes in its
// directory; `fsodgpu regress` finds every one below the directories it is
// given.
const ResultsFileName = "results.json"

// Metric names of JobResults.Metrics: all classes, base classes (b) and novel
// classes (n); AP over IoU .50:.95, AP50 and AP75.
var MetricNames = []string{"AP", "AP50", "AP75", "bAP", "bAP50", "bAP75", "nAP", "nAP50", "nAP75"}

// Datasets and protocols a job can report.
var (
	Datasets  = []string{"voc", "coco", "synth"}
	Protocols = []string{"fsod", "gfsod"}
)

// JobResults is results.json: one fine-tune job's test numbers. Metrics are
// in percent (0..100) as papers report them; a metric that was not computed
// is an absent key. COCO has no splits: its jobs write split 0.
type JobResults struct {
	Dataset  string             `json:"dataset"`
	Split    int                `json:"split"`
	Protocol string             `json:"protocol"`
	Shots    int                `json:"shots"`
	Seed     int                `json:"seed"`
	Method   string             `json:"method"`
	Metrics  map[string]float64 `json:"metrics"`
}

// MetricsPercent fills the all/base/novel metrics of JobResults from three
// summaries (fractions), skipping any with no valid class.
func MetricsPercent(all, base, novel Summary) map[string]float64 {
	m := map[string]float64{}
	for _, s := range []struct {
		prefix string
		sum    Summary
	}{{"", all}, {"b", base}, {"n", novel}} {
		if s.sum.NumClasses == 0 {
			continue
		}
		m[s.prefix+"AP"] = 100 * s.sum.AP
		m[s.prefix+"AP50"] = 100 * s.sum.AP50
		m[s.prefix+"AP75"] = 100 * s.sum.AP75
	}
	return m
}

// Validate checks the fields a regression groups and compares by.
func (r *JobResults) Validate() error {
	if !contains(Datasets, r.Dataset) {
		return fmt.Errorf("dataset %q: want one of %v", r.Dataset, Datasets)
	}
	if !contains(Protocols, r.Protocol) {
		return fmt.Errorf("protocol %q: want one of %v", r.Protocol, Protocols)
	}
	if r.Split < 0 {
		return fmt.Errorf("split %d < 0", r.Split)
	}
	if r.Shots <= 0 {
		return fmt.Errorf("shots %d <= 0", r.Shots)
	}
	names := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if v := r.Metrics[k]; math.IsNaN(v) || v < 0 || v > 100 {
			return fmt.Errorf("metric %s = %g: want a percentage in 0..100", k, v)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ReadJobResults reads and validates a results.json.
func ReadJobResults(path string) (*JobResults, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r JobResults
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jsonError(path, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &r, nil
}

// WriteJobResults validates r and writes it to path atomically (temporary
// file, fsync, rename), so a scan never sees half a file.
func WriteJobResults(path string, r *JobResults) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".results-*.json")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(0o644)
	if err == nil {
		_, err = f.Write(append(data, '\n'))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}
