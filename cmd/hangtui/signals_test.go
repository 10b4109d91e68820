package main

import (
	"bufio"
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
)

var (
	buildOnce sync.Once
	hangtui   string
	buildErr  error
)

// binary builds the real hangtui command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hangtui-bin-")
		if err != nil {
			buildErr = err
			return
		}
		hangtui = filepath.Join(dir, "hangtui")
		out, err := exec.Command("go", "build", "-o", hangtui, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building hangtui: %v", buildErr)
	}
	return hangtui
}

// attachedHangtui runs `hangtui report PID` holding the target attached
// (at "attach": before the snapshot; at "snapshot": in the middle of it),
// and returns once it is attached (the target is in a tracing stop).
func attachedHangtui(t *testing.T, pid int, at string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary(t), "report", strconv.Itoa(pid))
	cmd.Env = append(os.Environ(), "HANGTUI_TEST_HOLD=60s", "HANGTUI_TEST_HOLD_AT="+at)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	line, _ := bufio.NewReader(stderr).ReadString('\n')
	if !strings.Contains(line, "attached") {
		t.Fatalf("hangtui did not attach: %q", line)
	}
	if st, _ := fixture.State(pid); st != "t" {
		t.Fatalf("target state %q while attached, want t (tracing stop)", st)
	}
	go func() { _, _ = bufio.NewReader(stderr).WriteTo(discard{}) }()
	return cmd
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestSignalsDetach: Ctrl-C, SIGTERM, SIGHUP (a dropped SSH session) and
// SIGQUIT end hangtui, which detaches first: the target keeps running.
// SIGKILL cannot be caught, and the kernel resumes the target itself. Each
// signal arrives once right after the attach and once in the middle of a
// snapshot (the goroutines read, the analysis not yet done), where the
// detach has to wait for the snapshot or hangtui exits and lets the kernel
// detach.
func TestSignalsDetach(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	for _, at := range []string{"attach", "snapshot"} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGKILL} {
			t.Run(at+"/"+sig.String(), func(t *testing.T) {
				p := fixture.Start(t, exe, "abba")
				cmd := attachedHangtui(t, p.PID, at)
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case <-done:
				case <-time.After(15 * time.Second):
					t.Fatalf("hangtui did not exit after %v", sig)
				}
				if sig != syscall.SIGKILL && cmd.ProcessState.ExitCode() == 0 {
					t.Errorf("exit code 0 after %v", sig)
				}
				fixture.AssertRunning(t, p.PID)
			})
		}
	}
}

// TestKillWhileStopped: hangtui SIGKILLed while the target is stopped
// (after the attach, and in the middle of the snapshot), with a target that
// creates and ends OS threads all the time. hangtui's stop queues no
// SIGSTOP (PTRACE_SEIZE + PTRACE_INTERRUPT), so when the kernel detaches a
// dead tracer's tracees every thread simply runs on: nothing is left
// stopped or traced, and the target goes on working.
func TestKillWhileStopped(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	for _, at := range []string{"attach", "snapshot"} {
		t.Run(at, func(t *testing.T) {
			p := fixture.Start(t, exe, "thread-churn")
			counter := p.Manifest.Addr(t, "churned")
			cmd := attachedHangtui(t, p.PID, at)
			if tr := fixture.TracedThreads(p.PID); len(tr) == 0 {
				t.Fatal("no thread traced while hangtui holds the target")
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			fixture.AssertRunning(t, p.PID)
			if tr := fixture.TracedThreads(p.PID); len(tr) > 0 {
				t.Fatalf("threads %v still traced after hangtui died", tr)
			}
			before := fixture.ReadUint64(t, p.PID, counter)
			for end := time.Now().Add(30 * time.Second); fixture.ReadUint64(t, p.PID, counter) == before; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatal("the target makes no progress after hangtui died")
				}
			}
		})
	}
}

// TestSignalDuringRemoteRead: SIGTERM while `hangtui report --connect` has
// the target halted to read it (2,000 goroutines take seconds over RPC):
// hangtui continues the target before it exits.
func TestSignalDuringRemoteRead(t *testing.T) {
	p := fixture.Start(t, fixture.Build(t, fixture.Default), "many", "-n", "2000")
	addr, _ := fixture.StartDlv(t, p.PID, true)
	// The server listens before its own --continue: wait for it, or the
	// target stopped by dlv's attach would be taken for hangtui's halt.
	fixture.WaitDlvRunning(t, addr)
	for end := time.Now().Add(60 * time.Second); !threadsRun(p.PID); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the server did not continue the target")
		}
	}
	cmd := exec.Command(binary(t), "report", "--connect", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	halted := false
	for !halted {
		select {
		case <-done:
			t.Fatal("hangtui finished before the target was seen halted")
		default:
		}
		halted = !threadsRun(p.PID)
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("hangtui did not exit after SIGTERM")
	}
	if cmd.ProcessState.ExitCode() == 0 {
		t.Error("exit code 0 after SIGTERM")
	}
	fixture.AssertNotStopped(t, p.PID) // continued; still traced by dlv
}

// threadsRun says no thread of pid is in a (tracing) stop.
func threadsRun(pid int) bool {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/stat")
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && (s[i+2] == 'T' || s[i+2] == 't') {
			return false
		}
	}
	return len(tasks) > 0
}
