package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/internal/safety"
	"golang.org/x/sys/unix"
)

// source is what to inspect, from the command line.
type source struct {
	pid       int
	core, exe string
	// dump is a text goroutine dump file, "-" for standard input; src is
	// where to find its source files when their recorded paths do not exist.
	dump, src string
	// connect is HOST:PORT of a Delve server (dlv --headless --accept-multiclient).
	connect string
	// noCode turns the source analysis off (live processes and cores);
	// codeBudget bounds it.
	noCode     bool
	codeBudget time.Duration
	// maxPause bounds how long a snapshot keeps a live process stopped
	// (Session.SetPauseBudget); 0 or less: no bound.
	maxPause time.Duration
}

func (s *source) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.core, "core", "", "core file to read (with --exe)")
	fs.StringVar(&s.exe, "exe", "", "executable that produced the core")
	fs.StringVar(&s.dump, "dump", "", "text goroutine dump to read (SIGQUIT, go test -timeout, pprof debug=2); - for stdin")
	fs.StringVar(&s.connect, "connect", "", "HOST:PORT of a Delve server (dlv --headless --accept-multiclient) to read the target through")
	fs.StringVar(&s.src, "src", "", "the program's source directory (default: for a process or core, where the binary was built; for --dump or --connect, the current directory)")
	fs.BoolVar(&s.noCode, "no-code", os.Getenv("HANGTUI_NO_CODE") != "", "do not analyse the program's source (proofs through package variables)")
	fs.DurationVar(&s.codeBudget, "code-budget", inspect.DefaultCodeBudget, "how long the source analysis may take; past it, verdicts are what memory proves")
	fs.DurationVar(&s.maxPause, "max-pause", inspect.DefaultPauseBudget, "how long a snapshot may keep a live process stopped: past it the leak proof's heap walk stops and nothing is called leaked (0: no bound)")
}

// startCode starts the source analysis of a process or core session,
// unless turned off.
func (s *source) startCode(sess *inspect.Session) {
	if s.noCode {
		return
	}
	sess.StartCodeAnalysis(inspect.CodeOptions{Dir: s.src, Budget: s.codeBudget})
}

// parse reads the positional PID and checks the combination.
func (s *source) parse(fs *flag.FlagSet) (ok bool, msg string) {
	switch {
	case s.connect != "":
		if s.dump != "" || s.core != "" || s.exe != "" || fs.NArg() != 0 {
			return false, "--connect reads through a Delve server alone: no PID, --core, --exe or --dump with it"
		}
		return true, ""
	case s.dump != "":
		if s.core != "" || s.exe != "" || fs.NArg() != 0 {
			return false, "--dump reads a dump file alone: no PID, --core or --exe with it"
		}
		return true, ""
	case s.core != "" || s.exe != "":
		if s.core == "" || s.exe == "" {
			return false, "--core and --exe go together"
		}
		if fs.NArg() != 0 {
			return false, "give either a PID or --core/--exe, not both"
		}
		return true, ""
	case fs.NArg() != 1:
		return false, "expected one PID"
	}
	pid, err := strconv.Atoi(fs.Arg(0))
	if err != nil || pid <= 0 {
		return false, "not a PID: " + fs.Arg(0)
	}
	s.pid = pid
	return true, ""
}

// open attaches or opens the core, registering the detach with safety so
// that a signal or a panic still lets go of the target.
func (s *source) open() (*inspect.Session, func(), error) {
	var sess *inspect.Session
	var err error
	if s.core != "" {
		sess, err = inspect.OpenCore(s.core, s.exe)
	} else {
		sess, err = inspect.Attach(s.pid)
	}
	if err != nil {
		return nil, nil, err
	}
	if s.maxPause > 0 {
		sess.SetPauseBudget(s.maxPause)
	} else {
		sess.SetPauseBudget(-1)
	}
	unregister := safety.OnExit(func() { _ = sess.Close() })
	return sess, func() { _ = sess.Close(); unregister() }, nil
}

// snapshotOnce opens the source, reads one snapshot and lets go at once.
func (s *source) snapshotOnce() (*inspect.Snapshot, error) {
	if s.dump != "" {
		return readDump(s.dump, s.src)
	}
	if s.connect != "" {
		r, err := inspect.Connect(s.connect, inspect.RemoteOptions{SourceRoot: s.src})
		if err != nil {
			return nil, err
		}
		// A signal in the middle of the read: continue the target first.
		defer safety.OnExit(func() { _ = r.Close() })()
		return r.Snapshot()
	}
	sess, closeFn, err := s.open()
	if err != nil {
		return nil, err
	}
	s.startCode(sess)
	holdForTests(sess)
	snap, err := sess.Snapshot()
	closeFn()
	if err == nil {
		sess.Explain(snap) // the target runs again: source work is off the pause
		waitCode(sess, snap)
	}
	return snap, err
}

// waitCode applies the source analysis to a one-shot snapshot once the
// target is let go, waiting for it (at most its budget); on a terminal it
// says so on stderr while it waits.
func waitCode(sess *inspect.Session, snap *inspect.Snapshot) {
	done := sess.CodeDone()
	if done == nil {
		return
	}
	select {
	case <-done:
	default:
		if isTerminal(os.Stderr) {
			st := sess.CodeStatus()
			fmt.Fprintf(os.Stderr, "hangtui: analysing the program's source (%s; --no-code skips it)…\n", st.Phase)
		}
	}
	sess.ProveFromCode(snap, true)
}

func runReport(args []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON (schema hangtui.report/v1); same as --format json")
	format := fs.String("format", "text", "text, json, markdown (a summary for CI pages), pprof (a goroutine profile), dot (Graphviz) or mermaid")
	var src source
	src.flags(fs)
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if ok, msg := src.parse(fs); !ok {
		return usageError("%s", msg)
	}
	if *asJSON {
		if *format != "text" && *format != "json" {
			return usageError("--json and --format %s contradict each other", *format)
		}
		*format = "json"
	}
	if !validFormat(*format) {
		return usageError("unknown --format %q: use %s", *format, formatNames)
	}
	if binaryFormat(*format) && isTerminal(os.Stdout) {
		return usageError("--format %s writes a binary file: redirect it (hangtui report --format %s ... > hang.pb.gz)", *format, *format)
	}
	t0 := time.Now()
	snap, err := src.snapshotOnce()
	if err != nil {
		return fail(err)
	}
	stamp("after the snapshot", t0)
	if reclaim(snap) {
		stamp("collected", t0)
	}
	defer stamp("written", t0)
	return printFormat(os.Stdout, snap, *format)
}

// reclaim collects what the snapshot's reading left behind before the
// report is encoded, when the snapshot is large. At 100,000 goroutines the
// read leaves about 120 MB of garbage beside 60 MB of snapshot, and the
// collector's goal is still set by the 185 MB live during the read: without
// this, the encoder's allocations grow the heap past its peak (30-60 MB of
// resident memory) instead of reusing those pages. The target already runs
// again; the collection costs tens of milliseconds of the report, none of
// the pause. The pages stay with the process (returning them and faulting
// them in again would cost more).
func reclaim(snap *inspect.Snapshot) bool {
	if len(snap.Goroutines) < reclaimAbove {
		return false
	}
	runtime.GC()
	return true
}

// reclaimAbove is the snapshot size from which reclaim collects.
const reclaimAbove = 20_000

// stamp prints how long since t0 with HANGTUI_TIMINGS set.
func stamp(what string, t0 time.Time) {
	if os.Getenv("HANGTUI_TIMINGS") != "" {
		fmt.Fprintf(os.Stderr, "hangtui: %-15s %v since the snapshot began\n", what, time.Since(t0).Round(time.Microsecond))
	}
}

func printReport(w io.Writer, snap *inspect.Snapshot, asJSON bool) int {
	var err error
	if asJSON {
		if isTerminal(w) {
			err = report.WriteJSONIndent(w, snap)
		} else {
			err = report.WriteJSON(w, snap)
		}
	} else {
		err = report.WriteText(w, snap)
	}
	if err != nil {
		return fail(err)
	}
	return report.ExitCode(snap)
}

// isTerminal reports whether w is a terminal (JSON is indented only there).
// A character device is not enough: /dev/null is one, and indenting a
// large report costs seconds.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	_, err = unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	return err == nil
}

// holdForTests keeps the target attached for a while when
// HANGTUI_TEST_HOLD is set, so that tests can signal or kill hangtui in the
// middle of a session and check the target survives. With
// HANGTUI_TEST_HOLD_AT=snapshot it holds inside the snapshot instead, once
// the goroutines have been read (a test hook: progress callbacks must not
// block otherwise).
func holdForTests(sess *inspect.Session) {
	d, err := time.ParseDuration(os.Getenv("HANGTUI_TEST_HOLD"))
	if err != nil || d <= 0 {
		return
	}
	if os.Getenv("HANGTUI_TEST_HOLD_AT") != "snapshot" {
		fmt.Fprintln(os.Stderr, "hangtui: attached (test hold)")
		time.Sleep(d)
		return
	}
	first, held := "", false
	sess.OnProgress(func(p inspect.Progress) {
		if first == "" {
			first = p.Phase
		}
		if held || p.Phase == first {
			return
		}
		held = true
		fmt.Fprintf(os.Stderr, "hangtui: attached, in the snapshot after %q (test hold)\n", first)
		time.Sleep(d)
	})
}
