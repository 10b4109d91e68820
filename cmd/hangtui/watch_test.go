package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hangtui/hangtui/internal/fixture"
	"github.com/hangtui/hangtui/internal/watch"
)

// watchRuns is how many times TestWatchHungCommand runs each case:
// HANGTUI_WATCH_RUNS, 3 by default.
func watchRuns(t *testing.T) int {
	t.Helper()
	if s := os.Getenv("HANGTUI_WATCH_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("HANGTUI_WATCH_RUNS=%q", s)
		}
		return n
	}
	return 3
}

// TestWatchHungCommand: issue 18, with the real binary. `hangtui watch
// --stall 2s [--kill] -- FIXTURE abba` (the hung program is hangtui's own
// child) and the same under a shell (a grandchild, as under go test), each
// HANGTUI_WATCH_RUNS times: the report comes (it used to hang in the
// attach with the target in a tracing stop), without --kill the target is
// left running and untraced, the exit code is right, and neither the target
// nor a snapshot process is left behind.
func TestWatchHungCommand(t *testing.T) {
	bin := binary(t)
	exe := fixture.Build(t, fixture.Default)
	n := watchRuns(t)
	for _, grandchild := range []bool{false, true} {
		for _, kill := range []bool{false, true} {
			name := map[bool]string{false: "child", true: "grandchild"}[grandchild] + fmt.Sprintf("/kill=%v", kill)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				for i := range n {
					watchBinaryOnce(t, bin, exe, grandchild, kill, i)
				}
			})
		}
	}
}

func watchBinaryOnce(t *testing.T, bin, exe string, grandchild, kill bool, run int) {
	t.Helper()
	out := t.TempDir()
	args := []string{"watch", "--stall", "2s", "--out", out}
	if kill {
		args = append(args, "--kill")
	}
	args = append(args, "--")
	if grandchild {
		args = append(args, "sh", "-c", exe+" abba -timeout 1h; exit 7")
	} else {
		args = append(args, exe, "abba", "-timeout", "1h")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = withoutStepSummary(os.Environ())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	var mu sync.Mutex
	var stderr strings.Builder
	reported := make(chan struct{})
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		sc := bufio.NewScanner(stderrPipe)
		once := sync.OnceFunc(func() { close(reported) })
		for sc.Scan() {
			mu.Lock()
			stderr.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "JSON report written to") {
				once()
			}
		}
	}()
	errText := func() string { mu.Lock(); defer mu.Unlock(); return stderr.String() }
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var m fixture.Manifest
	if err != nil || json.Unmarshal([]byte(line), &m) != nil || m.PID == 0 {
		t.Fatalf("run %d: no manifest from the fixture: %q %v", run, line, err)
	}
	pid = m.PID
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	select {
	case <-reported:
	case <-time.After(90 * time.Second):
		st, _ := fixture.State(pid)
		t.Fatalf("run %d: no report after 90s; target state %s, tracer %d\n%s", run, st, fixture.Tracer(pid), errText())
	}
	if !kill {
		fixture.AssertRunning(t, pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	exited := make(chan struct{})
	go func() { <-stderrDone; _ = cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("run %d: hangtui did not exit\n%s", run, errText())
	}
	want := 128 + int(syscall.SIGKILL)
	switch {
	case kill:
		want = watch.ExitKilled
	case grandchild:
		want = 7
	}
	if code := cmd.ProcessState.ExitCode(); code != want {
		t.Errorf("run %d: exit code %d, want %d\n%s", run, code, want, errText())
	}
	if !strings.Contains(errText(), "Deadlock: 2 goroutines wait for each other's locks (lock-order)") {
		t.Errorf("run %d: no deadlock in the report:\n%s", run, errText())
	}
	if files, _ := filepath.Glob(filepath.Join(out, fmt.Sprintf("hangtui-%d.json", pid))); len(files) != 1 {
		t.Errorf("run %d: no hangtui-%d.json", run, pid)
	}
	// Killed with the shell, an orphaned grandchild is a zombie until init
	// reaps it.
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := fixture.State(pid)
		if err != nil {
			break
		}
		if time.Now().After(end) {
			t.Errorf("run %d: fixture %d left behind (state %s)", run, pid, st)
			break
		}
	}
	if left := snapshotProcesses(pid); len(left) > 0 {
		t.Errorf("run %d: snapshot processes left behind: %v", run, left)
	}
}

// snapshotProcesses lists the `hangtui __watch-snapshot ... PID` processes
// for target.
func snapshotProcesses(target int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) >= 4 && args[1] == watch.SnapshotCommand && args[3] == strconv.Itoa(target) {
			out = append(out, p)
		}
	}
	return out
}

// withoutStepSummary is env without GITHUB_STEP_SUMMARY: tests run inside a
// GitHub Actions job must not write to the job's own summary.
func withoutStepSummary(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GITHUB_STEP_SUMMARY=") {
			out = append(out, kv)
		}
	}
	return out
}
