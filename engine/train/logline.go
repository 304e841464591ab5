package train

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// stderrIsTerminal is computed once: progress bars redraw with carriage
// returns, which a redirected log (a Slurm or Kubernetes log file) would keep
// as megabytes of frames, so they are drawn only on a terminal.
var stderrIsTerminal = sync.OnceValue(func() bool { return term.IsTerminal(int(os.Stderr.Fd())) })

// bars reports whether the job draws progress bars (training and evaluation)
// instead of writing one log line per log_period.
func (j *Job) bars() bool { return !j.Quiet && stderrIsTerminal() }

// logLine is the periodic training log line, in detectron2's order: the
// iteration, the ETA, the speed, the total and every loss term, the
// learning rate and the data-loading time. secPerIt is the mean over the
// window since the previous line, which the ETA extrapolates.
func logLine(it, maxIter int, total float32, losses map[string]float32, lr float32, secPerIt, dataSec float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "iter %d/%d  eta %s  ", it+1, maxIter, formatETA(float64(maxIter-it-1)*secPerIt))
	if secPerIt > 0 {
		fmt.Fprintf(&b, "%.2f it/s  ", 1/secPerIt)
	}
	fmt.Fprintf(&b, "total_loss %.4f  %s  lr %.5g  data %.3fs", total, formatLosses(losses), lr, dataSec)
	return b.String()
}

// formatETA is h:mm:ss.
func formatETA(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	s := int(d.Seconds()) % 60
	return fmt.Sprintf("%d:%02d:%02d", h, m, s)
}
