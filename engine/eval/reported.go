package eval

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"gopkg.in/yaml.v3"
)

// Reported is a file of published numbers (configs/reported/*.yaml):
//
//	name: DeFRCN                  # method
//	source: "paper / repository the numbers come from"
//	tables:
//	  - dataset: voc              # voc | coco | synth
//	    protocol: fsod            # fsod (novel-only) | gfsod (base+novel)
//	    metric: nAP50             # one of MetricNames, in percent
//	    seeds: [0]                # split seeds the numbers average over
//	    repeats: 10               # fine-tunes per seed (1 if omitted)
//	    note: "optional free text"
//	    results:
//	      - split: 1              # 0 for COCO
//	        shots: {1: 55.1, 2: 57.4, 3: 61.1, 5: 64.6, 10: 61.5}
//
// Unknown keys are errors, so a misspelt key cannot silently drop numbers.
type Reported struct {
	Name   string          `yaml:"name"`
	Source string          `yaml:"source"`
	Tables []ReportedTable `yaml:"tables"`
}

// ReportedTable is one published table: one dataset, protocol and metric.
type ReportedTable struct {
	Dataset  string          `yaml:"dataset"`
	Protocol string          `yaml:"protocol"`
	Metric   string          `yaml:"metric"`
	Seeds    []int           `yaml:"seeds"`
	Repeats  int             `yaml:"repeats"`
	Note     string          `yaml:"note"`
	Results  []ReportedSplit `yaml:"results"`
}

// ReportedSplit holds a table's numbers for one split, keyed by shots.
type ReportedSplit struct {
	Split int             `yaml:"split"`
	Shots map[int]float64 `yaml:"shots"`
}

// ReportedEntry is one published number.
type ReportedEntry struct {
	Table *ReportedTable
	Value float64
}

// ReadReported reads and validates a reported-numbers YAML file.
func ReadReported(path string) (*Reported, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var r Reported
	if err := dec.Decode(&r); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file", path)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &r, nil
}

func (r *Reported) validate() error {
	if r.Name == "" {
		return errors.New("missing name")
	}
	if r.Source == "" {
		return errors.New("missing source")
	}
	if len(r.Tables) == 0 {
		return errors.New("no tables")
	}
	seen := map[string]bool{}
	for i := range r.Tables {
		t := &r.Tables[i]
		where := fmt.Sprintf("tables[%d] (%s %s)", i, t.Dataset, t.Protocol)
		switch {
		case !contains(Datasets, t.Dataset):
			return fmt.Errorf("%s: dataset %q: want one of %v", where, t.Dataset, Datasets)
		case !contains(Protocols, t.Protocol):
			return fmt.Errorf("%s: protocol %q: want one of %v", where, t.Protocol, Protocols)
		case !contains(MetricNames, t.Metric):
			return fmt.Errorf("%s: metric %q: want one of %v", where, t.Metric, MetricNames)
		case len(t.Seeds) == 0:
			return fmt.Errorf("%s: no seeds", where)
		case t.Repeats < 0:
			return fmt.Errorf("%s: repeats %d < 0", where, t.Repeats)
		case len(t.Results) == 0:
			return fmt.Errorf("%s: no results", where)
		}
		if t.Repeats == 0 {
			t.Repeats = 1
		}
		for _, s := range t.Results {
			if s.Split < 0 {
				return fmt.Errorf("%s: split %d < 0", where, s.Split)
			}
			if len(s.Shots) == 0 {
				return fmt.Errorf("%s: split %d: no shots", where, s.Split)
			}
			for shots, v := range s.Shots {
				if shots <= 0 {
					return fmt.Errorf("%s: split %d: shots %d <= 0", where, s.Split, shots)
				}
				if math.IsNaN(v) || v < 0 || v > 100 {
					return fmt.Errorf("%s: split %d: %d-shot value %g: want a percentage in 0..100", where, s.Split, shots, v)
				}
				key := fmt.Sprintf("%s/%s/%d/%d", t.Dataset, t.Protocol, s.Split, shots)
				if seen[key] {
					return fmt.Errorf("%s: split %d, %d shots listed twice for %s %s", where, s.Split, shots, t.Dataset, t.Protocol)
				}
				seen[key] = true
			}
		}
	}
	return nil
}

// Lookup returns the published number for a group of jobs.
func (r *Reported) Lookup(dataset, protocol string, split, shots int) (ReportedEntry, bool) {
	for i := range r.Tables {
		t := &r.Tables[i]
		if t.Dataset != dataset || t.Protocol != protocol {
			continue
		}
		for _, s := range t.Results {
			if v, ok := s.Shots[shots]; ok && s.Split == split {
				return ReportedEntry{Table: t, Value: v}, true
			}
		}
	}
	return ReportedEntry{}, false
}
