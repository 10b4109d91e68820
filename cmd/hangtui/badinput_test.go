package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hangtui/hangtui/internal/fixture"
)

// runHangtui runs the real binary without a terminal and returns its exit
// code, stdout and stderr.
func runHangtui(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// wantOneLineError: exit 1, nothing on stdout, one line on stderr that
// names the problem and says what to do.
func wantOneLineError(t *testing.T, code int, stdout, stderr string, words ...string) {
	t.Helper()
	if code != 1 {
		t.Errorf("exit code %d, want 1; stderr %q", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout not empty: %q", stdout)
	}
	if n := strings.Count(stderr, "\n"); n != 1 || !strings.HasPrefix(stderr, "hangtui: ") {
		t.Errorf("stderr is not one 'hangtui: ' line: %q", stderr)
	}
	for _, w := range words {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not mention %q", stderr, w)
		}
	}
}

// TestBadInputCLI: each bad input ends `hangtui report` with exit 1 and
// one actionable line, and leaves the target running. (The engine's tests
// in inspect/ cover each case in depth; this is what the user sees.)
func TestBadInputCLI(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)

	t.Run("no-process", func(t *testing.T) {
		code, out, errs := runHangtui(t, "report", "4000000")
		wantOneLineError(t, code, out, errs, "no process with PID 4000000", "hangtui with no arguments")
	})
	t.Run("not-go", func(t *testing.T) {
		sleep := exec.Command("sleep", "60")
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
		code, out, errs := runHangtui(t, "report", strconv.Itoa(sleep.Process.Pid))
		wantOneLineError(t, code, out, errs, "not a Go program")
		fixture.AssertRunning(t, sleep.Process.Pid)
	})
	t.Run("stripped", func(t *testing.T) {
		p := fixture.Start(t, fixture.Build(t, fixture.Stripped), "mutex")
		code, out, errs := runHangtui(t, "report", strconv.Itoa(p.PID))
		wantOneLineError(t, code, out, errs, "without debug info", "-s -w")
		fixture.AssertRunning(t, p.PID)
	})
	t.Run("already-traced", func(t *testing.T) {
		p := fixture.Start(t, exe, "mutex")
		first := attachedHangtui(t, p.PID, "attach")
		code, out, errs := runHangtui(t, "report", strconv.Itoa(p.PID))
		wantOneLineError(t, code, out, errs, "already traced by PID "+strconv.Itoa(first.Process.Pid), "detach that debugger")
		_ = first.Process.Signal(os.Interrupt)
		_ = first.Wait()
		fixture.AssertRunning(t, p.PID)
	})
	t.Run("exits-mid-snapshot", func(t *testing.T) {
		// hangtui holds in the middle of the snapshot; the target dies.
		p := fixture.Start(t, exe, "abba")
		cmd := exec.Command(binary(t), "report", strconv.Itoa(p.PID))
		cmd.Env = append(os.Environ(), "HANGTUI_TEST_HOLD=2s", "HANGTUI_TEST_HOLD_AT=snapshot")
		var out bytes.Buffer
		cmd.Stdout = &out
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stderr)
		if line, _ := r.ReadString('\n'); !strings.Contains(line, "in the snapshot") {
			t.Fatalf("hangtui did not hold in the snapshot: %q", line)
		}
		if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(r)
		_ = cmd.Wait()
		wantOneLineError(t, cmd.ProcessState.ExitCode(), out.String(), string(rest), "exited while it was being read")
	})
	t.Run("not-a-core", func(t *testing.T) {
		junk := filepath.Join(t.TempDir(), "core")
		if err := os.WriteFile(junk, bytes.Repeat([]byte{0xde, 0xad}, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runHangtui(t, "report", "--core", junk, "--exe", exe)
		wantOneLineError(t, code, out, errs, "not a core file", "--core")
	})
	t.Run("core-exe-swapped", func(t *testing.T) {
		code, out, errs := runHangtui(t, "report", "--core", exe, "--exe", exe)
		wantOneLineError(t, code, out, errs, "not a core file", "--exe")
	})
	t.Run("picker-without-terminal", func(t *testing.T) {
		code, out, errs := runHangtui(t)
		wantOneLineError(t, code, out, errs, "needs a terminal", "hangtui report PID")
	})
}

// TestNoTerminal: the live view without a terminal says so on stderr and
// prints the text report instead, with report's exit code; `hangtui
// report` needs no terminal at all.
func TestNoTerminal(t *testing.T) {
	p := fixture.Start(t, fixture.Build(t, fixture.Default), "abba")
	code, out, errs := runHangtui(t, strconv.Itoa(p.PID))
	if code != 3 || !strings.Contains(out, "deadlocked") {
		t.Errorf("hangtui PID | cat: exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errs, "not a terminal") || strings.Count(errs, "\n") != 1 {
		t.Errorf("stderr does not say there is no terminal: %q", errs)
	}
	fixture.AssertRunning(t, p.PID)

	code, out, errs = runHangtui(t, "report", strconv.Itoa(p.PID))
	if code != 3 || !strings.Contains(out, "deadlocked") || errs != "" {
		t.Errorf("report without a terminal: exit %d, stderr %q, stdout %q", code, errs, out)
	}
	fixture.AssertRunning(t, p.PID)
}

// TestTerminalTooSmall: in a terminal below the minimum size the live view
// says how big it must be (and still quits with q); once the terminal
// grows, the view appears. The target is never left stopped.
func TestTerminalTooSmall(t *testing.T) {
	bin := binary(t)
	fx := fixture.Start(t, fixture.Build(t, fixture.Default), "abba")
	state := t.TempDir()
	cmd := fmt.Sprintf("%s %d; echo \"hangtui exited with $?\"; sleep 600", bin, fx.PID)
	s := newTmux(t, 50, 12, []string{"XDG_STATE_HOME=" + state, "TERM=xterm-256color"}, cmd)
	s.waitFor(15*time.Second, "terminal too small (need 60x15)", "now 50x12", "q quits")
	fixture.AssertNotStopped(t, fx.PID)

	s.run("resize-window", "-t", "e2e", "-x", "80", "-y", "24")
	s.waitFor(15*time.Second, "2 goroutines deadlocked in 1 cycle", "FINDINGS")
	s.run("resize-window", "-t", "e2e", "-x", "40", "-y", "10")
	s.waitFor(5*time.Second, "terminal too small")
	s.keys("q")
	s.waitFor(10*time.Second, "hangtui exited with 0")
	fixture.AssertRunning(t, fx.PID)
}
