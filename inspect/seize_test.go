//go:build linux && amd64

package inspect_test

import (
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestResumeCycles: 100 snapshots of a process that creates and ends OS
// threads all the time, resumed after each (the live view). Every snapshot
// finds the deadlock beside the churn; while the process runs between
// snapshots nothing of it is traced or stopped (hangtui detaches every
// thread), and it keeps working; at the end nothing is left traced.
func TestResumeCycles(t *testing.T) {
	p := fixture.Start(t, fixture.Build(t, fixture.Default), "thread-churn")
	counter := p.Manifest.Addr(t, "churned")
	s, err := inspect.Attach(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadlocked := append(p.Manifest.Groups["abba.g1"], p.Manifest.Groups["abba.g2"]...)
	var worst time.Duration
	for i := 0; i < 100; i++ {
		snap, err := s.Snapshot()
		if err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		worst = max(worst, snap.Pause)
		gs := map[int64]*inspect.Goroutine{}
		for _, g := range snap.Goroutines {
			gs[g.ID] = g
		}
		for _, id := range deadlocked {
			if g := gs[id]; g == nil || g.Verdict != inspect.VerdictDeadlocked {
				t.Fatalf("snapshot %d: goroutine %d not found deadlocked", i, id)
			}
		}
		if err := s.Resume(); err != nil {
			t.Fatalf("resume %d: %v", i, err)
		}
		if i%10 == 9 {
			fixture.AssertRunning(t, p.PID) // untraced, not stopped
			if tr := fixture.TracedThreads(p.PID); len(tr) > 0 {
				t.Fatalf("resume %d: threads %v traced", i, tr)
			}
			before := fixture.ReadUint64(t, p.PID, counter)
			for end := time.Now().Add(30 * time.Second); fixture.ReadUint64(t, p.PID, counter) == before; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatalf("resume %d: the process makes no progress", i)
				}
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fixture.AssertRunning(t, p.PID)
	if tr := fixture.TracedThreads(p.PID); len(tr) > 0 {
		t.Fatalf("threads %v traced after Close", tr)
	}
	t.Logf("100 snapshots, worst pause %v", worst)
}

// TestCloseWhileRunning: Close of a resumed session (the live view quits
// between refreshes) detaches at once and leaves nothing traced.
func TestCloseWhileRunning(t *testing.T) {
	p := fixture.Start(t, fixture.Build(t, fixture.Default), "thread-churn")
	for i := 0; i < 5; i++ {
		s, err := inspect.Attach(p.PID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Snapshot(); err != nil {
			t.Fatal(err)
		}
		if err := s.Resume(); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			time.Sleep(20 * time.Millisecond)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close %d: %v", i, err)
		}
		fixture.AssertRunning(t, p.PID)
		if tr := fixture.TracedThreads(p.PID); len(tr) > 0 {
			t.Fatalf("close %d: threads %v traced", i, tr)
		}
	}
}
