package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hangtui/hangtui/internal/fixture"
)

// tmuxSession runs a command in a detached tmux session of the given size,
// on a private server that is killed when the test ends.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, w, h int, env []string, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("install tmux: the end-to-end test of the TUI runs hangtui inside tmux (apt-get install tmux)")
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("hangtui-test-%d-%d", os.Getpid(), rand.Int64())}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	args := []string{"new-session", "-d", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), "-s", "e2e"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	s.run(append(args, command)...)
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (s *tmuxSession) capture() string { return s.run("capture-pane", "-p", "-t", "e2e") }

func (s *tmuxSession) keys(keys ...string) {
	s.run(append([]string{"send-keys", "-t", "e2e"}, keys...)...)
}

// waitFor polls the screen until every string is on it.
func (s *tmuxSession) waitFor(timeout time.Duration, want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var screen string
	for time.Now().Before(deadline) {
		screen = s.capture()
		ok := true
		for _, w := range want {
			if !strings.Contains(screen, w) {
				ok = false
				break
			}
		}
		if ok {
			return screen
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("after %v the screen lacks %q:\n%s", timeout, want, screen)
	return ""
}

// TestTUIEndToEnd runs the real hangtui binary on the AB-BA fixture in an
// 80x24 tmux window, as an on-call engineer would: the overview shows the
// deadlock, a goroutine of the cycle opens with its stack, q quits, and the
// fixture is left running and untraced.
func TestTUIEndToEnd(t *testing.T) {
	bin := binary(t)
	fx := fixture.Start(t, fixture.Build(t, fixture.Default), "abba")
	state := t.TempDir()
	cmd := fmt.Sprintf("%s %d; echo \"hangtui exited with $?\"; sleep 600", bin, fx.PID)
	s := newTmux(t, 80, 24, []string{"XDG_STATE_HOME=" + state, "TERM=xterm-256color"}, cmd)

	// The deadlock is on the first screen.
	screen := s.waitFor(15*time.Second, "2 goroutines deadlocked in 1 cycle", "FINDINGS", "lock-order", "PID "+strconv.Itoa(fx.PID))
	for i, l := range strings.Split(strings.TrimRight(screen, "\n"), "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line %d is wider than 80 columns: %q", i+1, l)
		}
	}

	// Goroutines pane: the first row is a deadlocked goroutine of the
	// cycle; enter opens it with its stack.
	s.keys("2")
	s.waitFor(5*time.Second, "sort: severity", "DEADLOCKED")
	s.keys("Enter")
	screen = s.waitFor(5*time.Second, "STACK", "main.transfer", "mutex.go:", "waits to lock mutex", "held by g")
	t.Logf("detail:\n%s", screen)

	// Back, the graph, then quit.
	s.keys("Escape")
	s.waitFor(5*time.Second, "sort: severity")
	s.keys("4")
	s.waitFor(5*time.Second, "DEADLOCK CYCLE", "──waits────▶", "back to g")
	s.keys("q")
	s.waitFor(10*time.Second, "hangtui exited with 0")

	fixture.AssertRunning(t, fx.PID)
	if b, err := os.ReadFile(filepath.Join(state, "hangtui", "hangtui.log")); err != nil || !strings.Contains(string(b), "snapshot") {
		t.Errorf("log file: %v\n%s", err, b)
	}
}

// TestTUIFinalizerQueueGrows watches a process whose finalizer goroutine is
// stuck while objects keep being collected: the Finalizers pane names the
// finalizer and what it waits on, the queue grows from refresh to refresh,
// and the stall warning appears.
func TestTUIFinalizerQueueGrows(t *testing.T) {
	bin := binary(t)
	fx := fixture.Start(t, fixture.Build(t, fixture.Default), "finalizer-growing")
	cmd := fmt.Sprintf("%s --interval 1s %d; echo \"hangtui exited with $?\"; sleep 600", bin, fx.PID)
	s := newTmux(t, 100, 30, []string{"XDG_STATE_HOME=" + t.TempDir(), "TERM=xterm-256color"}, cmd)
	s.waitFor(15*time.Second, "FINDINGS", "PID "+strconv.Itoa(fx.PID))
	s.keys("5")
	screen := s.waitFor(10*time.Second, "FINALIZERS AND CLEANUPS", "blocked", "main.(*logBuffer).flushOnCollect",
		"waits to receive from chan main.flushAck", "pending")
	first := pendingOn(t, screen)
	// The dropper adds one every 300ms; the warning needs 5s of stall.
	screen = s.waitFor(30*time.Second, "⚠ stalled: blocked for")
	if last := pendingOn(t, screen); last <= first {
		t.Errorf("queue did not grow: %d pending, then %d\n%s", first, last, screen)
	}
	t.Logf("finalizers pane:\n%s", screen)
	s.keys("q")
	s.waitFor(10*time.Second, "hangtui exited with 0")
	fixture.AssertRunning(t, fx.PID)
}

// pendingOn reads "queue    N pending" off the finalizers pane.
func pendingOn(t *testing.T, screen string) int {
	t.Helper()
	for _, l := range strings.Split(screen, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "queue" && f[2] == "pending" {
			n, err := strconv.Atoi(f[1])
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("no queue line on the screen:\n%s", screen)
	return 0
}

// TestTUIConnect runs `hangtui --connect` against a real `dlv attach
// --headless --accept-multiclient --continue` server on the AB-BA fixture
// in an 80x24 window: the deadlock and the degraded note are shown, the
// view refreshes by itself (the status bar says "no change" once there is
// a previous snapshot) and on r, q quits, and the target is left running.
func TestTUIConnect(t *testing.T) {
	bin := binary(t)
	fx := fixture.Start(t, fixture.Build(t, fixture.Default), "abba")
	addr, _ := fixture.StartDlv(t, fx.PID, true)
	state := t.TempDir()
	cmd := fmt.Sprintf("%s --interval 1s --connect %s; echo \"hangtui exited with $?\"; sleep 600", bin, addr)
	s := newTmux(t, 80, 24, []string{"XDG_STATE_HOME=" + state, "TERM=xterm-256color"}, cmd)

	screen := s.waitFor(30*time.Second, "2 goroutines deadlocked in 1 cycle", "lock-order", "PID "+strconv.Itoa(fx.PID), "degraded: via Delve")
	for i, l := range strings.Split(strings.TrimRight(screen, "\n"), "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line %d is wider than 80 columns: %q", i+1, l)
		}
	}
	// Refreshed without a key; the degraded note stays on the status bar.
	// The next refresh waits 9× the last pause (the live view keeps the
	// target paused at most 10% of the time), and a Delve server's pause
	// takes seconds under CPU load: allow for it.
	screen = s.waitFor(120*time.Second, "no change", "● live", "degraded: via Delve")
	t.Logf("after a refresh:\n%s", screen)
	fixture.AssertNotStopped(t, fx.PID)

	logPath := filepath.Join(state, "hangtui", "hangtui.log")
	snapshots := func() int {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), "msg=snapshot ")
	}
	before := snapshots()
	s.keys("r")
	for end := time.Now().Add(30 * time.Second); snapshots() <= before; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no snapshot after r (%d before)", before)
		}
	}
	s.waitFor(10*time.Second, "2 goroutines deadlocked in 1 cycle", "degraded: via Delve")

	s.keys("q")
	s.waitFor(15*time.Second, "hangtui exited with 0")
	fixture.AssertNotStopped(t, fx.PID) // running, traced by dlv
	if b, err := os.ReadFile(logPath); err != nil || strings.Contains(string(b), "level=ERROR") {
		t.Errorf("log file: %v\n%s", err, b)
	}
}

// TestTUIDumpStdin: `cat dump.txt | hangtui --dump -` reads the dump from
// stdin and takes its keys from the terminal.
func TestTUIDumpStdin(t *testing.T) {
	bin := binary(t)
	path := abbaDump(t)
	cmd := fmt.Sprintf("cat %s | %s --dump -; echo \"hangtui exited with $?\"; sleep 600", path, bin)
	s := newTmux(t, 80, 24, []string{"XDG_STATE_HOME=" + t.TempDir(), "TERM=xterm-256color"}, cmd)
	s.waitFor(15*time.Second, "2 goroutines deadlocked in 1 cycle", "lock-order", "dump")
	s.keys("2") // keys reach it: the goroutines pane
	s.waitFor(5*time.Second, "sort: severity", "DEADLOCKED")
	s.keys("q")
	s.waitFor(10*time.Second, "hangtui exited with 0")
}

// TestTUIContention watches the contention fixture in the Top pane: the
// ranking appears and updates while the snapshots go on, the hot lock is
// first with its waiting and holding sites, enter opens it, and the
// fixture is left running and untraced.
func TestTUIContention(t *testing.T) {
	bin := binary(t)
	fx := fixture.Start(t, fixture.Build(t, fixture.Default), "contention")
	state := t.TempDir()
	cmd := fmt.Sprintf("%s %d; echo \"hangtui exited with $?\"; sleep 600", bin, fx.PID)
	s := newTmux(t, 100, 30, []string{"XDG_STATE_HOME=" + state, "TERM=xterm-256color"}, cmd)
	s.waitFor(20*time.Second, "PID "+strconv.Itoa(fx.PID))
	s.keys("6")
	screen := s.waitFor(20*time.Second, "CONTENTION", "samples (", "main.hotStore.mu (sync.Mutex)", "waiting", "main.(*hotStore).put")
	first := samplesOn(t, screen)
	// The ranking updates between snapshots (the next one is seconds
	// away: the first snapshot's pause stretches the interval).
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		screen = s.capture()
		if samplesOn(t, screen) >= first+10 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the ranking did not update: %d samples, then %d\n%s", first, samplesOn(t, screen), screen)
		}
	}
	// The hot lock ranks first, with its holder.
	screen = s.waitFor(20*time.Second, "holding")
	if i, j := strings.Index(screen, "main.hotStore.mu"), strings.Index(screen, "main.slowJobs"); i < 0 || (j >= 0 && j < i) {
		t.Errorf("the hot lock is not first:\n%s", screen)
	}
	s.keys("Enter")
	screen = s.waitFor(10*time.Second, "HOLDING", "WAITING", "now: ")
	t.Logf("top pane, hot lock:\n%s", screen)
	s.keys("q")
	s.waitFor(10*time.Second, "hangtui exited with 0")
	fixture.AssertRunning(t, fx.PID)
	if fixture.Tracer(fx.PID) != 0 {
		t.Error("the fixture is still traced")
	}
}

// samplesOn reads "N samples (" off the Top pane.
func samplesOn(t *testing.T, screen string) int {
	t.Helper()
	i := strings.Index(screen, " samples (")
	if i < 0 {
		t.Fatalf("no sample count on screen:\n%s", screen)
	}
	j := strings.LastIndexAny(screen[:i], " \n") + 1
	n, err := strconv.Atoi(screen[j:i])
	if err != nil {
		t.Fatalf("sample count %q: %v", screen[j:i], err)
	}
	return n
}
