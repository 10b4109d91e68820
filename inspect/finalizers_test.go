package inspect_test

import (
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// finalizerScenarios describe their finalizer machinery in the manifest.
var finalizerScenarios = []string{
	"finalizer-lock", "finalizer-chan", "finalizer-cycle", "finalizer-growing",
	"cleanup-blocked", "healthy-finalizers",
}

// TestFinalizers reads the finalizer goroutine, the finalizer queue and the
// cleanups of each scenario, on every supported Go release: the state, the
// finalizer being run and its object type, the queue by function, the
// blocked cleanup, and exactly the findings intended (none for the healthy
// program with heavy churn).
func TestFinalizers(t *testing.T) {
	versions := []string{""}
	if !testing.Short() {
		versions = append(versions, goVersions...)
	}
	for _, v := range versions {
		name := v
		if name == "" {
			name = "local"
		}
		t.Run(name, func(t *testing.T) {
			exe := fixture.Build(t, fixture.Variant{Name: name, Toolchain: v})
			for _, sc := range finalizerScenarios {
				t.Run(sc, func(t *testing.T) {
					if sc == "cleanup-blocked" && v != "" && olderThan(v, 24) {
						t.Skip("runtime.AddCleanup is new in Go 1.24")
					}
					p := fixture.Start(t, exe, sc)
					checkFinalizers(t, snapshotOf(t, p), p.Manifest)
				})
			}
		})
	}
}

func checkFinalizers(t *testing.T, snap *inspect.Snapshot, m *fixture.Manifest) {
	t.Helper()
	want := m.Finalizer
	f := snap.Finalizers
	if f == nil {
		t.Fatalf("no finalizer state; warnings %q", snap.Warnings)
	}
	for _, w := range snap.Warnings {
		t.Errorf("warning: %s", w)
	}
	if want.Goroutine != 0 && f.Goroutine != want.Goroutine {
		t.Errorf("finalizer goroutine %d, want %d", f.Goroutine, want.Goroutine)
	}
	switch want.State {
	case "healthy":
		if f.State != inspect.FinalizerIdle && f.State != inspect.FinalizerRunning {
			t.Errorf("finalizer state %s, want idle or running", f.State)
		}
	default:
		if string(f.State) != want.State {
			t.Errorf("finalizer state %s, want %s", f.State, want.State)
		}
	}
	if want.Func != "" {
		switch {
		case f.Running == nil:
			t.Errorf("running finalizer not found, want %s", want.Func)
		case f.Running.Func != want.Func:
			t.Errorf("running %s, want %s", f.Running.Func, want.Func)
		case want.Type != "" && f.Running.Type != want.Type:
			t.Errorf("running on a %q, want %q", f.Running.Type, want.Type)
		case f.Running.File == "" || f.Running.Line == 0:
			t.Errorf("running finalizer has no source line: %+v", f.Running)
		}
	}
	if f.State == inspect.FinalizerBlocked && len(f.BlockedOn) == 0 && want.Func != "" {
		gs, _ := index(snap)
		if g := gs[f.Goroutine]; g != nil && len(g.Waits) > 0 {
			t.Errorf("blocked_on not linked: goroutine waits on %v", g.Waits)
		}
	}
	if want.Pending >= 0 {
		if f.Pending != want.Pending {
			t.Errorf("pending finalizers %d, want %d (%+v)", f.Pending, want.Pending, f.PendingByFunc)
		}
		if want.PendingFunc != "" && (len(f.PendingByFunc) != 1 || f.PendingByFunc[0].Func != want.PendingFunc) {
			t.Errorf("pending by func %+v, want all %s", f.PendingByFunc, want.PendingFunc)
		}
	}
	// The counters exist from Go 1.25 on, and only there.
	if hasCounts := !olderThan(m.Go, 25); f.HasCounts != hasCounts {
		t.Errorf("%s: finalizer counters present = %v", m.Go, f.HasCounts)
	}
	if f.HasCounts && f.Executed > f.Queued {
		t.Errorf("executed %d > queued %d", f.Executed, f.Queued)
	}
	c := f.Cleanups
	switch {
	case olderThan(m.Go, 24):
		if c != nil {
			t.Errorf("%s has no AddCleanup, got cleanups %+v", m.Go, c)
		}
	case c == nil:
		t.Errorf("%s: cleanups not read", m.Go)
	default:
		if c.OnFinalizerGoroutine != olderThan(m.Go, 25) {
			t.Errorf("%s: cleanups on the finalizer goroutine = %v", m.Go, c.OnFinalizerGoroutine)
		}
		if want.CleanupsPending >= 0 && c.Pending != want.CleanupsPending {
			t.Errorf("pending cleanups %d, want %d (%+v)", c.Pending, want.CleanupsPending, c.PendingByFunc)
		}
		if want.CleanupBlocked != 0 && (len(c.Blocked) != 1 || c.Blocked[0] != want.CleanupBlocked) {
			t.Errorf("blocked cleanup goroutines %v, want [%d]", c.Blocked, want.CleanupBlocked)
		}
	}
	var kinds []string
	for _, fd := range snap.Findings {
		if fd.Kind != inspect.FindingFinalizerBlocked && fd.Kind != inspect.FindingCleanupBlocked {
			continue
		}
		kinds = append(kinds, string(fd.Kind))
		if string(fd.Kind) == want.Finding {
			sev := map[inspect.Severity]string{inspect.SeverityError: "error", inspect.SeverityWarning: "warning"}[fd.Severity]
			if sev != want.Severity {
				t.Errorf("%s finding is %s, want %s: %s", fd.Kind, sev, want.Severity, fd.Title)
			}
		}
	}
	switch {
	case want.Finding == "" && len(kinds) > 0:
		t.Errorf("healthy: findings %v", kinds)
	case want.Finding != "" && (len(kinds) != 1 || kinds[0] != want.Finding):
		t.Errorf("findings %v, want [%s]", kinds, want.Finding)
	}
}

// olderThan reports whether "go1.N..." is older than go1.minor.
func olderThan(goVersion string, minor int) bool {
	var n int
	for _, c := range goVersion[len("go1."):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n < minor
}

// TestFinalizerChurnLive snapshots a program with heavy finalizer and
// cleanup churn several times while it runs: never a finding, and the
// executed counters move (Go 1.25+).
func TestFinalizerChurnLive(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "healthy-finalizers")
	s, err := inspect.Attach(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var first, last uint64
	for i := 0; i < 5; i++ {
		snap, err := s.Snapshot()
		if err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		checkFinalizers(t, snap, p.Manifest)
		for _, g := range snap.Goroutines {
			if g.Verdict.Stuck() {
				t.Errorf("healthy program: goroutine %d called %s", g.ID, g.Verdict)
			}
		}
		if i == 0 {
			first = snap.Finalizers.Executed
		}
		last = snap.Finalizers.Executed
		if err := s.Resume(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if last <= first {
		t.Errorf("executed finalizers did not move: %d then %d", first, last)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fixture.AssertRunning(t, p.PID)
}
