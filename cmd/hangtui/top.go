package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/internal/safety"
)

// runTop is `hangtui top`: attach once for names, detach, then sample the
// running process's waits for --duration and print the ranking.
func runTop(args []string) int {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	duration := fs.Duration("duration", 10*time.Second, "how long to sample")
	interval := fs.Duration("interval", 100*time.Millisecond, "time between samples")
	asJSON := fs.Bool("json", false, "print JSON (schema hangtui.contention/v1); same as --format json")
	format := fs.String("format", "text", "text, json or pprof (a contention profile for go tool pprof)")
	out := fs.String("o", "", "write to this file instead of standard output")
	top := fs.Int("top", 20, "text: show this many resources (0: all)")
	noStop := fs.Bool("no-stop", false, "never stop the target, not even once to name its locks (heap locks unnamed, holders only from deferred unlocks)")
	// Flags may come after the PID too.
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return usageError("top: %v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *asJSON {
		if *format != "text" && *format != "json" {
			return usageError("top: --json and --format %s contradict each other", *format)
		}
		*format = "json"
	}
	switch {
	case *format != "text" && *format != "json" && *format != "pprof":
		return usageError("top: unknown --format %q: use text, json or pprof", *format)
	case len(pos) != 1:
		return usageError("top: expected one PID (hangtui top [--duration 10s] [--interval 100ms] [--json | --format pprof] PID)")
	case *duration <= 0:
		return usageError("top: --duration must be positive, e.g. 30s")
	case *interval < time.Millisecond || *interval > *duration:
		return usageError("top: --interval must be between 1ms and --duration, e.g. 100ms")
	}
	pid, err := strconv.Atoi(pos[0])
	if err != nil || pid <= 0 {
		return usageError("top: not a PID: %s", pos[0])
	}
	w := io.Writer(os.Stdout)
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		w = f
	} else if *format == "pprof" && isTerminal(os.Stdout) {
		return usageError("top: a pprof profile is binary: use -o FILE or redirect it (> top.pb.gz)")
	}

	// Samples allocate little that lives; collect less often (the
	// collector was a tenth of the sampling CPU).
	debug.SetGCPercent(400)
	var cs *inspect.ContentionSampler
	if *noStop {
		cs, err = inspect.OpenSampler(pid, inspect.SamplerOptions{Interval: *interval})
		if cs != nil {
			cs.Start(0)
		}
	} else {
		cs, err = startSampler(pid, *interval)
	}
	if err != nil {
		return fail(err)
	}
	// Ctrl-C (or SIGTERM) stops sampling early: the ranking so far is
	// printed before hangtui exits. Nothing is attached any more.
	stop := make(chan struct{})
	printed := make(chan struct{})
	var stopOnce sync.Once
	unregister := safety.OnExit(func() {
		stopOnce.Do(func() { close(stop) })
		select {
		case <-printed:
		case <-time.After(1500 * time.Millisecond):
		}
	})
	defer unregister()
	sampleErr := sampleLoop(cs, *duration, *interval, stop)
	cs.Finish()
	prof := cs.Profile()
	code := report.ExitOK
	switch *format {
	case "json":
		err = report.WriteContentionJSON(w, prof, *out == "" && isTerminal(os.Stdout))
	case "pprof":
		err = report.WriteContentionPprof(w, prof)
	default:
		err = report.WriteContentionText(w, prof, *top)
	}
	close(printed)
	if err != nil {
		return fail(err)
	}
	if sampleErr != nil {
		fmt.Fprintf(os.Stderr, "hangtui: %v (the ranking above covers the time before)\n", sampleErr)
		code = report.ExitError
	}
	return code
}

// startSampler attaches to pid, takes one snapshot (it names the locks and
// channels, and says which Conds exist), prepares the sampler and detaches.
// The target is stopped only meanwhile; the time is the profile's Paused.
func startSampler(pid int, interval time.Duration) (*inspect.ContentionSampler, error) {
	src := source{pid: pid}
	sess, closeFn, err := src.open()
	if err != nil {
		return nil, err
	}
	snap, err := sess.Snapshot()
	if err != nil {
		closeFn()
		return nil, err
	}
	cs, err := sess.NewSampler(snap, inspect.SamplerOptions{Interval: interval})
	t0 := time.Now()
	closeFn()
	if err != nil {
		return nil, err
	}
	cs.Start(snap.Pause + time.Since(t0))
	return cs, nil
}

// sampleLoop samples every interval until duration has passed, stop is
// closed or the process exits.
func sampleLoop(cs *inspect.ContentionSampler, duration, interval time.Duration, stop <-chan struct{}) error {
	end := time.Now().Add(duration)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := cs.Sample(); err != nil {
			return err // the process has exited
		}
		if !time.Now().Before(end) {
			return nil
		}
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
	}
}
