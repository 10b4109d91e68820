package picker

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

func find(t *testing.T, ps []Process, pid int) Process {
	t.Helper()
	for _, p := range ps {
		if p.PID == pid {
			return p
		}
	}
	t.Fatalf("PID %d not listed", pid)
	return Process{}
}

func startCmd(t *testing.T, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = fixture.DieWithParent(syscall.SIGKILL)
	// From a thread of its own: Pdeathsig fires when the starting thread
	// exits, and Delve's ptrace threads do exit.
	release, err := fixture.StartOnOwnThread(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); release() })
	return cmd.Process.Pid
}

// TestScanReal lists real processes: a Go fixture, a stripped build of it,
// a test binary, a program that is not Go, and a fixture already traced.
func TestScanReal(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	stripped := fixture.Build(t, fixture.Stripped)
	testExe := filepath.Join(t.TempDir(), "bank.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testExe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	good := fixture.Start(t, exe, "abba")
	strip := fixture.Start(t, stripped, "abba")
	tst := fixture.Start(t, testExe, "abba")
	traced := fixture.Start(t, exe, "abba")
	sleeper := startCmd(t, "sleep", "60")

	sess, err := inspect.Attach(traced.PID)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	defer sess.Close()

	s := NewScanner()
	all, err := s.Scan(true)
	if err != nil {
		t.Fatal(err)
	}
	if p := find(t, all, good.PID); p.Reason != "" || !strings.HasPrefix(p.GoVersion, "go1.") || p.Threads < 1 || p.RSS <= 0 || p.Test {
		t.Errorf("fixture: %+v", p)
	}
	if p := find(t, all, strip.PID); !strings.Contains(p.Reason, "no debug info") {
		t.Errorf("stripped: reason %q", p.Reason)
	}
	if p := find(t, all, tst.PID); !p.Test || p.Reason != "" {
		t.Errorf("test binary: %+v", p)
	}
	if p := find(t, all, sleeper); p.Go() || p.Reason != "not a Go program" {
		t.Errorf("sleep: %+v", p)
	}
	if p := find(t, all, traced.PID); !strings.Contains(p.Reason, "already traced by PID") {
		t.Errorf("traced: reason %q", p.Reason)
	}
	for _, p := range all {
		if p.PID == os.Getpid() {
			t.Error("the picker lists hangtui itself")
		}
	}

	// Go only: sleep is not listed; a second scan computes CPU over the
	// interval.
	time.Sleep(50 * time.Millisecond)
	gos, err := s.Scan(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range gos {
		if p.PID == sleeper {
			t.Error("Go-only scan lists sleep")
		}
	}
	find(t, gos, good.PID)
}
