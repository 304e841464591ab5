package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// Metrics is one logged iteration in metrics.json (one JSON object per line,
// as detectron2's JSONWriter writes them).
type Metrics struct {
	Iter      int                `json:"iteration"`
	Losses    map[string]float32 `json:"losses"`
	TotalLoss float32            `json:"total_loss"`
	LR        float32            `json:"lr"`
	Time      float64            `json:"time"`      // seconds per iteration, averaged since the last log
	DataTime  float64            `json:"data_time"` // seconds per iteration waiting for data
	MemoryMB  float64            `json:"memory_mb"` // host heap in use (CPU) or device pool (GPU)
	// Eval rows carry the evaluation instead of losses.
	Eval map[string]float64 `json:"eval,omitempty"`
}

// MetricsWriter appends lines to metrics.json. On resume it first drops the
// lines after the checkpoint's iteration, so the file reads as one run.
type MetricsWriter struct {
	f *os.File
	w *bufio.Writer
}

// OpenMetrics opens path for appending, keeping only rows with iteration < keepBefore
// (all rows when keepBefore < 0).
func OpenMetrics(path string, keepBefore int) (*MetricsWriter, error) {
	if keepBefore >= 0 {
		rows, err := ReadMetrics(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		var kept []Metrics
		for _, r := range rows {
			if r.Iter < keepBefore {
				kept = append(kept, r)
			}
		}
		if err := writeMetricsFile(path, kept); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &MetricsWriter{f: f, w: bufio.NewWriter(f)}, nil
}

func writeMetricsFile(path string, rows []Metrics) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Write appends one row and flushes it, so a killed job keeps its log.
func (m *MetricsWriter) Write(r Metrics) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	m.w.Write(append(data, '\n'))
	return m.w.Flush()
}

// Close closes the file.
func (m *MetricsWriter) Close() error { return m.f.Close() }

// ReadMetrics reads every row of a metrics.json file.
func ReadMetrics(path string) ([]Metrics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []Metrics
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; s.Scan(); line++ {
		if len(s.Bytes()) == 0 {
			continue
		}
		var r Metrics
		if err := json.Unmarshal(s.Bytes(), &r); err != nil {
			return rows, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		rows = append(rows, r)
	}
	return rows, s.Err()
}
