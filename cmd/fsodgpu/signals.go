package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fsodgpu/fsodgpu/engine/train"
)

// stopSignals are what schedulers send before taking a machine away:
// SIGTERM (Slurm at the time limit or on preemption, Kubernetes on eviction),
// SIGINT (Ctrl-C) and SIGUSR1 (Slurm's `--signal=USR1@90` warning).
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1}

// signalExitCode is the shell's convention for death by a signal, 128+n, so
// a scheduler (or a wrapper script) sees why the job ended.
func signalExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// catchStopSignals turns the first stop signal into a stop request (the
// running job checkpoints at its current iteration and the command exits
// non-zero with the resume command); a second one exits at once. A signal
// that arrives while no training loop runs exits at once too: finished
// stages and the last checkpoints are already on disk. It returns the
// signal seen (nil until then) and a function that stops catching.
func catchStopSignals(stop *train.Stop, resume string) (got func() os.Signal, release func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, stopSignals...)
	first := make(chan os.Signal, 1)
	go func() {
		s, ok := <-ch
		if !ok {
			return
		}
		first <- s
		if !stop.Training() {
			fmt.Fprintf(os.Stderr, "\nfsodgpu: %v outside a training loop: exiting; completed work is on disk\nresume with:\n  %s\n", s, resume)
			os.Exit(signalExitCode(s))
		}
		fmt.Fprintf(os.Stderr, "\nfsodgpu: %v: writing a checkpoint at the current iteration (send it again to exit at once)\n", s)
		stop.Request(s.String())
		if s2, ok := <-ch; ok {
			fmt.Fprintf(os.Stderr, "fsodgpu: %v again: exiting without a checkpoint\n", s2)
			os.Exit(signalExitCode(s2))
		}
	}()
	var seen os.Signal
	return func() os.Signal {
			select {
			case s := <-first:
				seen = s
			default:
			}
			return seen
		}, func() {
			signal.Stop(ch)
			close(ch)
		}
}

// resumeCommand is this command line with --resume added: the same plan,
// output directory and shard continue where the checkpoint left off.
func resumeCommand(args []string) string {
	out := make([]string, 0, len(args)+1)
	has := false
	for _, a := range args {
		if a == "--resume" || a == "-resume" || strings.HasPrefix(a, "--resume=") {
			has = true
		}
		out = append(out, shellQuote(a))
	}
	if !has {
		out = append(out, "--resume")
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ',' || r == '=' || r == ':' || r == '+' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
