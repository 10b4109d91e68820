package watch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/internal/safety"
)

// Why snapshots are taken by a child process.
//
// `hangtui watch` starts the command, so a hung Go program run directly
// (`hangtui watch -- ./pkg.test`) is its own child. Attaching to one's own
// child from the same process races the kernel's ptrace stops: Go's
// cmd.Wait on the command (waitid on its pidfd, WEXITED only) is reported
// the tracing stop too, because the tracer is in the real parent's thread
// group, and consumes it; Delve then waits for that stop forever with the
// target in a tracing stop. So the watching process never traces anything:
// each snapshot is taken by `hangtui __watch-snapshot`, a re-executed
// hangtui that is not the target's parent. It also gives every attach a
// deadline that always works: killing the tracer makes the kernel detach
// and let the target run, even when Delve is stuck inside a wait.

// SnapshotCommand is the hidden subcommand of the hangtui binary that takes
// one snapshot for watch: `hangtui __watch-snapshot JSONPATH PID
// [SUMMARY]`. It writes the JSON report to JSONPATH, the Markdown summary
// and the pprof profile next to it (.md, .pb.gz), appends the Markdown to
// the file SUMMARY when given, prints the text report on its stdout, and tells
// the watcher how far it got on file descriptor 3 (one JSON object a line).
// Binaries that run watch (hangtui, this package's tests) must dispatch it
// to SnapshotMain.
const SnapshotCommand = "__watch-snapshot"

// Default deadlines of a snapshot child.
const (
	// DefaultAttachTimeout bounds the attach (the target is stopped from
	// its start).
	DefaultAttachTimeout = 30 * time.Second
	// DefaultSnapshotTimeout bounds reading the snapshot once attached
	// (the target stays stopped until it ends).
	DefaultSnapshotTimeout = 5 * time.Minute
	// renderTimeout bounds writing the reports after the detach.
	renderTimeout = 5 * time.Minute
	// termGrace is how long a child given SIGTERM (which detaches it
	// properly when it is not stuck inside Delve) has before SIGKILL.
	termGrace = 3 * time.Second
)

// childMsg is one line on the snapshot child's status descriptor.
type childMsg struct {
	// Phase is "attached" (the target is stopped) or "detached" (it runs
	// again).
	Phase string `json:"phase,omitempty"`
	// Done is set on the last message of a child that wrote its reports;
	// JSONErr, MarkdownErr, PprofErr and SummaryErr say why a file could
	// not be written.
	Done        bool   `json:"done,omitempty"`
	JSONErr     string `json:"json_err,omitempty"`
	MarkdownErr string `json:"markdown_err,omitempty"`
	PprofErr    string `json:"pprof_err,omitempty"`
	SummaryErr  string `json:"summary_err,omitempty"`
	// Err and Kind are the error that ended the child (Kind is the
	// inspect.ErrorKind).
	Err  string `json:"err,omitempty"`
	Kind string `json:"kind,omitempty"`
}

// SnapshotMain runs the hidden snapshot subcommand (see SnapshotCommand)
// and returns its exit code.
func SnapshotMain(args []string) int {
	if len(args) != 2 && len(args) != 3 {
		fmt.Fprintf(os.Stderr, "hangtui %s: want JSONPATH PID [SUMMARY] (hangtui watch runs this)\n", SnapshotCommand)
		return report.ExitUsage
	}
	path, summary := args[0], ""
	if len(args) == 3 {
		summary = args[2]
	}
	pid, err := strconv.Atoi(args[1])
	if err != nil || pid <= 0 {
		fmt.Fprintf(os.Stderr, "hangtui %s: not a PID: %s\n", SnapshotCommand, args[1])
		return report.ExitUsage
	}
	status := os.NewFile(3, "watch-status")
	if status == nil {
		fmt.Fprintf(os.Stderr, "hangtui %s: no status descriptor (hangtui watch runs this)\n", SnapshotCommand)
		return report.ExitUsage
	}
	send := func(m childMsg) {
		b, _ := json.Marshal(m)
		_, _ = status.Write(append(b, '\n'))
	}
	fail := func(err error) int {
		send(childMsg{Err: err.Error(), Kind: string(inspect.KindOf(err))})
		return report.ExitError
	}
	s, err := inspect.Attach(pid)
	if err != nil {
		return fail(err)
	}
	unregister := safety.OnExit(func() { _ = s.Close() })
	testHold()
	send(childMsg{Phase: "attached"})
	snap, err := s.Snapshot()
	_ = s.Close()
	unregister()
	if err == nil {
		s.Explain(snap)
	}
	send(childMsg{Phase: "detached"})
	if err != nil {
		return fail(err)
	}
	res := render(path, summary, snap)
	done := childMsg{Done: true, JSONErr: errText(res.jsonErr), MarkdownErr: errText(res.mdErr),
		PprofErr: errText(res.pprofErr), SummaryErr: errText(res.summaryErr)}
	_, _ = os.Stdout.Write(res.text)
	send(done)
	return 0
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func textErr(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

// testHold lets tests hold the child attached, with the target stopped, so
// that the watcher's attach deadline expires: HANGTUI_WATCH_TEST_HOLD=attached
// holds it (SIGTERM still detaches it, as it would a child stuck anywhere
// but inside Delve); =attached-ignore-term also ignores SIGTERM, so that
// only SIGKILL ends it (a child stuck inside Delve's wait, where the kernel
// detaches when the tracer dies).
func testHold() {
	switch os.Getenv("HANGTUI_WATCH_TEST_HOLD") {
	case "attached":
	case "attached-ignore-term":
		signal.Ignore(syscall.SIGTERM)
	default:
		return
	}
	time.Sleep(time.Hour)
}

// snapshotChild takes a snapshot of pid in a child hangtui process, which
// writes the reports next to path (the JSON report's), appends the
// Markdown to the step summary, and returns the text report. Every phase
// has a deadline; when one expires the child is ended (the kernel detaches
// a dead tracer's tracees), the target is made to run again if it was left
// in a job-control stop, and the error says so in one line.
func (w *watcher) snapshotChild(pid int, path string) (*snapshotResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the hangtui executable to take the snapshot: %w", err)
	}
	stateBefore, _ := procState(pid)
	args := []string{SnapshotCommand, path, strconv.Itoa(pid)}
	if w.opts.StepSummary != "" {
		args = append(args, w.opts.StepSummary)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = childEnv(w.opts.snapshotEnv)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 64 << 10}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{statusW}
	// The child is killed with hangtui (SIGKILL on a dead tracer: the
	// kernel detaches and the target runs).
	cmd.SysProcAttr = childAttr()
	exited, err := startOwnThread(cmd)
	statusW.Close()
	if err != nil {
		statusR.Close()
		return nil, fmt.Errorf("cannot start the snapshot process: %w", err)
	}
	if w.opts.onChild != nil {
		w.opts.onChild(cmd.Process.Pid)
	}
	// A signal to hangtui: the child detaches on SIGTERM (its own closer),
	// or the kernel does when Pdeathsig kills it.
	unregister := safety.OnExit(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(1500 * time.Millisecond):
		}
	})
	defer unregister()

	msgs := make(chan childMsg, 8)
	go func() {
		defer close(msgs)
		defer statusR.Close()
		sc := bufio.NewScanner(statusR)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var m childMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				msgs <- m
			}
		}
	}()

	phase, limit := "attaching", w.opts.AttachTimeout
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var last *childMsg
	for msgs != nil {
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				break
			}
			switch {
			case m.Phase == "attached":
				phase, limit = "reading the snapshot", w.opts.SnapshotTimeout
				timer.Reset(limit)
			case m.Phase == "detached":
				phase, limit = "writing the report", renderTimeout
				timer.Reset(limit)
			case m.Done || m.Err != "":
				last = &m
			}
		case <-timer.C:
			endChild(cmd, exited)
			return nil, fmt.Errorf("%s did not finish in %v; hangtui gave up and let go of it: %s",
				phase, limit, letRun(pid, stateBefore))
		}
	}
	waitErr := <-exited
	switch {
	case last == nil:
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if msg != "" {
			msg = ": " + msg
		}
		return nil, fmt.Errorf("the snapshot process ended without a report (%v)%s; %s", waitErr, msg, letRun(pid, stateBefore))
	case last.Err != "":
		// Msg is the whole text, so the error reads exactly as inspect's.
		return nil, &inspect.Error{Kind: inspect.ErrorKind(last.Kind), Msg: last.Err}
	}
	if stderr.Len() > 0 {
		// Diagnostics the child printed (HANGTUI_TIMINGS).
		w.mu.Lock()
		_, _ = w.opts.Stderr.Write(stderr.Bytes())
		w.mu.Unlock()
	}
	return &snapshotResult{text: stdout.Bytes(), files: filesFor(path), summary: w.opts.StepSummary,
		jsonErr: textErr(last.JSONErr), mdErr: textErr(last.MarkdownErr), pprofErr: textErr(last.PprofErr),
		summaryErr: textErr(last.SummaryErr)}, nil
}

// childEnv is hangtui's environment for a snapshot child, without the CPU
// profile (the watcher writes that file) and with extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HANGTUI_CPUPROFILE=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startOwnThread starts cmd from an OS thread that lives until cmd has
// ended (Pdeathsig fires when the thread that started the child exits, and
// Go ends locked threads), and returns a channel that receives cmd.Wait's
// result.
func startOwnThread(cmd *exec.Cmd) (<-chan error, error) {
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	return exited, <-started
}

// endChild asks a snapshot child to detach and exit (SIGTERM), then kills
// it if it has not exited after termGrace, and waits for it.
func endChild(cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(termGrace):
	}
	_ = cmd.Process.Kill()
	<-exited
}

// letRun makes sure pid runs after its tracer has gone and says how it is
// left. The kernel detaches a dead tracer's tracees and lets them run, but
// a stop signal of the attach that had not been taken yet can leave the
// process in a job-control stop (T): it is continued, unless it was
// stopped before hangtui looked.
func letRun(pid int, before string) string {
	var st string
	for i := 0; i < 100; i++ {
		var err error
		if st, err = procState(pid); err != nil {
			return "it has exited"
		}
		stopped := st == "T" || st == "t" || threadStopped(pid)
		if !stopped {
			return "it keeps running"
		}
		if st != "t" && before != "T" && before != "t" && tracerOf(pid) == 0 {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if t := tracerOf(pid); t != 0 {
		return fmt.Sprintf("it is still stopped (state %s, traced by PID %d)", st, t)
	}
	return fmt.Sprintf("it is still stopped (state %s)", st)
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

var _ io.Writer = (*limitedBuffer)(nil)
