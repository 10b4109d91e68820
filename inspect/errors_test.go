package inspect_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

func wantKind(t *testing.T, err error, kind inspect.ErrorKind, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", kind)
	}
	if got := inspect.KindOf(err); got != kind {
		t.Fatalf("error kind %q (%v), want %q", got, err, kind)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

func TestErrorNoProcess(t *testing.T) {
	t.Parallel()
	_, err := inspect.Attach(4_000_000)
	wantKind(t, err, inspect.ErrNoProcess, "4000000")
}

func TestErrorNotGo(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	_, err := inspect.Attach(cmd.Process.Pid)
	wantKind(t, err, inspect.ErrNotGo, "not a Go program")
	fixture.AssertRunning(t, cmd.Process.Pid)
}

func TestErrorNoDebugInfo(t *testing.T) {
	exe := fixture.Build(t, fixture.Stripped)
	p := fixture.Start(t, exe, "mutex")
	_, err := inspect.Attach(p.PID)
	wantKind(t, err, inspect.ErrNoDebugInfo, "-s -w")
	fixture.AssertRunning(t, p.PID)
}

func TestErrorAlreadyTraced(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "mutex")
	first, err := inspect.Attach(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = inspect.Attach(p.PID)
	wantKind(t, err, inspect.ErrAlreadyTraced, "already traced by PID "+strconv.Itoa(os.Getpid()))
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	fixture.AssertRunning(t, p.PID)
}

func TestErrorProcessExitsDuringSnapshot(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "mutex")
	s, err := inspect.Attach(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Wait until the kernel has reaped the threads' memory.
	for i := 0; i < 100; i++ {
		if st, _ := fixture.State(p.PID); st == "Z" || st == "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = s.Snapshot()
	wantKind(t, err, inspect.ErrProcessGone, "exited")
}

// TestErrorPtraceDenied runs the attach as an unprivileged user against a
// process owned by root: the kernel refuses, and the error says why.
func TestErrorPtraceDenied(t *testing.T) {
	if os.Getenv("HANGTUI_ATTACH_AS_CHILD") != "" {
		pid, _ := strconv.Atoi(os.Getenv("HANGTUI_ATTACH_AS_CHILD"))
		_, err := inspect.Attach(pid)
		os.Stdout.WriteString(string(inspect.KindOf(err)) + "\n" + err.Error() + "\n")
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "mutex")
	// Copy the test binary somewhere the unprivileged user may run it.
	dir, err := os.MkdirTemp("", "hangtui-ptrace-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(dir, "inspect.test")
	in, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(self, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(out, in)
	in.Close()
	out.Close()
	cmd := exec.Command(self, "-test.run=^TestErrorPtraceDenied$")
	cmd.Env = append(os.Environ(), "HANGTUI_ATTACH_AS_CHILD="+strconv.Itoa(p.PID))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, buf.String())
	}
	lines := strings.SplitN(buf.String(), "\n", 3)
	if lines[0] != string(inspect.ErrPtraceDenied) {
		t.Fatalf("child got %q", buf.String())
	}
	if !strings.Contains(lines[1], "uid 0") || !strings.Contains(lines[1], "root") {
		t.Errorf("message does not explain the uid mismatch: %q", lines[1])
	}
	fixture.AssertRunning(t, p.PID)
}
