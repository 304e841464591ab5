package train

import (
	"bytes"
	"strings"
	"testing"
)

func TestLogLine(t *testing.T) {
	l := logLine(99, 2400, 1.5, map[string]float32{"loss_cls": 0.5, "loss_box_reg": 1}, 0.02, 0.25, 0.001)
	for _, want := range []string{"iter 100/2400", "eta 0:09:35", "4.00 it/s", "total_loss 1.5000", "loss_box_reg=1 loss_cls=0.5", "lr 0.02", "data 0.001s"} {
		if !strings.Contains(l, want) {
			t.Errorf("%q lacks %q", l, want)
		}
	}
	if strings.ContainsRune(l, '\r') {
		t.Errorf("carriage return in a log line: %q", l)
	}
}

// TestAggregateOneSeedAndPending: one seed prints "(n=1)" rather than a
// "± 0.00" that would read as a tight interval; pending jobs of other
// shards stay out of the table and are counted below it.
func TestAggregateOneSeedAndPending(t *testing.T) {
	var b bytes.Buffer
	rows := Aggregate(&b, []JobOutcome{
		{Shots: 1, Metrics: map[string]float64{"AP50": 40}},
		{Shots: 5, Metrics: map[string]float64{"AP50": 50}},
		{Shots: 5, Metrics: map[string]float64{"AP50": 54}},
		{Shots: 5, Pending: true},
	})
	out := b.String()
	if !strings.Contains(out, "40.00 (n=1)") || !strings.Contains(out, "52.00 ± ") || strings.Contains(out, "40.00 ±") {
		t.Fatalf("table:\n%s", out)
	}
	if !strings.Contains(out, "1 fine-tune(s) of other shards") || len(rows) != 2 || rows[1].Jobs != 2 {
		t.Fatalf("pending job counted wrongly: %+v\n%s", rows, out)
	}
}
