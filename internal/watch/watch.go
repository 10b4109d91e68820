// Package watch runs a command (typically `go test ./...` in CI), passes its
// output through unchanged, and when the command prints nothing for a stall
// period, reports every Go process among its descendants: the full text
// report to stderr and the JSON next to it for CI artifacts. Then it lets
// the command continue, or kills it.
package watch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hangtui/hangtui/inspect"
)

// ExitKilled is the exit code of `hangtui watch --kill` when it reported a
// hang and killed the command (distinct from report's 0-3 and from any
// code `go test` uses).
const ExitKilled = 4

// Options configure Run.
type Options struct {
	// Command and its arguments.
	Command []string
	// Stall is how long the command may print nothing before it is
	// considered hung.
	Stall time.Duration
	// Kill kills the command and its descendants after reporting.
	Kill bool
	// Out is the directory the reports are written to (hangtui-PID.json,
	// hangtui-PID.md, hangtui-PID.pb.gz); "" is the current directory.
	Out string
	// StepSummary is a file the Markdown summaries are appended to
	// (GitHub Actions' $GITHUB_STEP_SUMMARY); "" for none.
	StepSummary string
	// Stdin, Stdout and Stderr are the command's (and hangtui's); the
	// reports go to Stderr.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Snapshot reads one process in this process (tests may set it); nil
	// means a child hangtui process (SnapshotCommand) attaches, reads and
	// detaches: the watching process, the parent of the command, never
	// traces anything.
	Snapshot func(pid int) (*inspect.Snapshot, error)
	// AttachTimeout and SnapshotTimeout bound the attach and, once
	// attached, reading the snapshot (0: DefaultAttachTimeout,
	// DefaultSnapshotTimeout). When one expires hangtui lets go of the
	// process, which keeps running, and says so in one line.
	AttachTimeout, SnapshotTimeout time.Duration

	// snapshotEnv is added to the snapshot child's environment (tests).
	snapshotEnv []string
	// onChild is told the PID of every snapshot child; afterSnapshot is
	// called after each Go process was looked at, before any kill (tests).
	onChild       func(pid int)
	afterSnapshot func(pid int, err error)
}

// Run runs the command and returns the exit code for hangtui: the
// command's own, or ExitKilled when it reported a hang and killed it.
func Run(opts Options) (int, error) {
	if len(opts.Command) == 0 {
		return 0, errors.New("no command to watch")
	}
	if opts.Stall <= 0 {
		opts.Stall = 10 * time.Minute
	}
	if opts.AttachTimeout <= 0 {
		opts.AttachTimeout = DefaultAttachTimeout
	}
	if opts.SnapshotTimeout <= 0 {
		opts.SnapshotTimeout = DefaultSnapshotTimeout
	}
	w := &watcher{opts: opts, last: time.Now(), reported: map[int]bool{}}
	cmd := exec.Command(opts.Command[0], opts.Command[1:]...)
	cmd.Stdin = opts.Stdin
	cmd.Stdout = w.track(opts.Stdout)
	cmd.Stderr = w.track(opts.Stderr)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("cannot start %s: %w", opts.Command[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(min(opts.Stall/4, time.Second))
	defer tick.Stop()
	killed := false
	for {
		select {
		case err := <-done:
			if killed {
				return ExitKilled, nil
			}
			return exitCode(err), nil
		case <-tick.C:
			if killed || w.quietFor() < opts.Stall {
				continue
			}
			n := w.reportHung(cmd.Process.Pid)
			w.touch() // the next report only after another stall period
			if n > 0 && opts.Kill {
				w.logf("killing %s and its %d descendant(s)", opts.Command[0], len(descendants(cmd.Process.Pid)))
				killTree(cmd.Process.Pid)
				killed = true
			}
		}
	}
}

type watcher struct {
	opts     Options
	mu       sync.Mutex
	last     time.Time
	reported map[int]bool
	// capture, when non-nil, also receives all output (quitDump).
	capture *bytes.Buffer
}

// track wraps an output so that every write counts as progress.
func (w *watcher) track(out io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		w.touch()
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.capture != nil && w.capture.Len() < maxCapture {
			w.capture.Write(p)
		}
		return out.Write(p)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (w *watcher) touch() {
	w.mu.Lock()
	w.last = time.Now()
	w.mu.Unlock()
}

// outputSince reports whether the command printed anything after t.
func (w *watcher) outputSince(t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last.After(t)
}

func (w *watcher) quietFor() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Since(w.last)
}

func (w *watcher) logf(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.opts.Stderr, "hangtui watch: "+format+"\n", a...)
}

// reportHung reports every Go process below root that has not been
// reported yet, and returns how many were reported.
func (w *watcher) reportHung(root int) int {
	pids := append([]int{root}, descendants(root)...)
	w.logf("no output for %v; looking at %d process(es) under PID %d", w.opts.Stall.Round(time.Second), len(pids), root)
	n := 0
	for _, pid := range pids {
		if w.reported[pid] {
			continue
		}
		exe, ok, why := goProcess(pid)
		w.reported[pid] = true
		if !ok {
			if exe != "" {
				w.logf("PID %d (%s): skipped, %s", pid, filepath.Base(exe), why)
			}
			continue
		}
		res, err := w.snapshot(pid)
		if inspect.KindOf(err) == inspect.ErrNoDebugInfo {
			// `go test` builds its test binaries without debug info.
			// With --kill the process is about to die anyway: its own
			// goroutine dump (SIGQUIT) is read instead.
			if !w.opts.Kill {
				w.logf("PID %d (%s): no debug info (go test strips test binaries); with --kill, hangtui reads its SIGQUIT goroutine dump instead", pid, exe)
				w.after(pid, err)
				continue
			}
			var snap *inspect.Snapshot
			if snap, err = w.quitDump(pid); err == nil {
				res = render(w.jsonPath(pid), w.opts.StepSummary, snap)
			}
		}
		w.after(pid, err)
		if err != nil {
			w.logf("PID %d (%s): %v", pid, exe, err)
			continue
		}
		n++
		w.write(pid, exe, res)
	}
	return n
}

func (w *watcher) after(pid int, err error) {
	if w.opts.afterSnapshot != nil {
		w.opts.afterSnapshot(pid, err)
	}
}

func (w *watcher) jsonPath(pid int) string {
	return filepath.Join(w.opts.Out, fmt.Sprintf("hangtui-%d.json", pid))
}

// snapshot takes a snapshot of pid and writes its reports: in a child
// process (snapshotChild), or with Options.Snapshot.
func (w *watcher) snapshot(pid int) (*snapshotResult, error) {
	if w.opts.Snapshot == nil {
		return w.snapshotChild(pid, w.jsonPath(pid))
	}
	snap, err := w.opts.Snapshot(pid)
	if err != nil {
		return nil, err
	}
	return render(w.jsonPath(pid), w.opts.StepSummary, snap), nil
}

func (w *watcher) write(pid int, exe string, res *snapshotResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.opts.Stderr, "\n===== hangtui watch: report of PID %d (%s) =====\n", pid, exe)
	_, _ = w.opts.Stderr.Write(res.text)
	for _, l := range res.written() {
		fmt.Fprintf(w.opts.Stderr, "hangtui watch: %s\n", l)
	}
	fmt.Fprintf(w.opts.Stderr, "===== end of report of PID %d =====\n\n", pid)
}

// killTree kills root and every process below it, children first so that
// no parent restarts them.
func killTree(root int) {
	pids := descendants(root)
	for i := len(pids) - 1; i >= 0; i-- {
		_ = syscall.Kill(pids[i], syscall.SIGKILL)
	}
	_ = syscall.Kill(root, syscall.SIGKILL)
}

// exitCode is the command's exit status as a shell reports it.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// maxCapture bounds the output kept while waiting for a goroutine dump.
const maxCapture = 1 << 30

// quitDump sends SIGQUIT to pid, which makes the Go runtime print every
// goroutine's stack and exit, collects what the command prints until the
// process is gone and its output has settled, and reads the dump from it.
func (w *watcher) quitDump(pid int) (*inspect.Snapshot, error) {
	w.mu.Lock()
	w.capture = &bytes.Buffer{}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.capture = nil
		w.mu.Unlock()
	}()
	w.logf("PID %d has no debug info: asking it for its goroutine dump (SIGQUIT)", pid)
	sent := time.Now()
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		return nil, fmt.Errorf("SIGQUIT: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && syscall.Kill(pid, 0) == nil {
		time.Sleep(50 * time.Millisecond)
	}
	// The dump passes through the parent (go test) before it reaches us,
	// which on a busy machine can take a while after the process is gone:
	// wait for output that came after the SIGQUIT, then for a quiet moment.
	for settle := time.Now().Add(30 * time.Second); time.Now().Before(settle) && (!w.outputSince(sent) || w.quietFor() < time.Second); {
		time.Sleep(50 * time.Millisecond)
	}
	w.mu.Lock()
	text := w.capture.Bytes()
	w.mu.Unlock()
	return inspect.ReadDump(bytes.NewReader(text), inspect.DumpOptions{Name: fmt.Sprintf("goroutine dump of PID %d", pid)})
}
