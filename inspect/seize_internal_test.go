//go:build linux && amd64

package inspect

import (
	"strconv"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect/internal/target"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestAttachErrorTracedElsewhere: a process traced by another debugger
// (a Delve server) refuses hangtui's PTRACE_SEIZE with EPERM; the error
// says who traces it, in one line, and the process is left to its tracer,
// running. The precheck (TracerPid) says the same before anything is tried.
func TestAttachErrorTracedElsewhere(t *testing.T) {
	p := fixture.Start(t, fixture.Build(t, fixture.Default), "abba")
	addr, dlv := fixture.StartDlv(t, p.PID, true)
	fixture.WaitDlvRunning(t, addr)
	want := "already traced by PID " + strconv.Itoa(dlv.Process.Pid)
	check := func(how string, err error) {
		t.Helper()
		if KindOf(err) != ErrAlreadyTraced {
			t.Fatalf("%s: %v (kind %q), want %s", how, err, KindOf(err), ErrAlreadyTraced)
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
			t.Errorf("%s: %q: want one line with %q", how, msg, want)
		}
	}
	// The seize itself, past the precheck.
	tgt, err := target.Attach(p.PID)
	if err == nil {
		tgt.Detach()
		t.Fatal("attached to a process Delve traces")
	}
	check("seize", attachError(p.PID, err))
	fixture.AssertNotStopped(t, p.PID)
	_, err = Attach(p.PID)
	check("precheck", err)
	fixture.AssertNotStopped(t, p.PID)
}
