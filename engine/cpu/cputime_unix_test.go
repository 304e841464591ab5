//go:build unix

package cpu

import (
	"syscall"
	"time"
)

// cpuTime is the process's user and system CPU time. Other jobs share the
// 2-core development machine; CPU time per op (all threads together) moves
// far less with their load than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
