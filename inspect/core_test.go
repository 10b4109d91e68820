package inspect_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestCoreFile makes a real core from the AB-BA fixture (GOTRACEBACK=crash)
// and finds the same deadlock in it.
func TestCoreFile(t *testing.T) {
	defer allowCores(t)()
	pattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")

	dir := t.TempDir()
	exe := fixture.Build(t, fixture.Default)
	p := fixture.StartIn(t, exe, dir, []string{"GOTRACEBACK=crash"}, "abba")
	p.Crash(t)
	cores, _ := filepath.Glob(filepath.Join(dir, "core*"))
	if len(cores) == 0 {
		t.Fatalf("no core written in %s (core_pattern %q)", dir, strings.TrimSpace(string(pattern)))
	}

	s, err := inspect.OpenCore(cores[0], exe)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if snap.Target.Source != inspect.SourceCore {
		t.Errorf("source %q", snap.Target.Source)
	}
	checkWaits(t, snap, p.Manifest)
	checkHolders(t, snap, p.Manifest)
	checkVerdicts(t, snap, p.Manifest)
	if len(snap.Cycles) != 1 || snap.Cycles[0].Kind != inspect.CycleLockOrder {
		t.Errorf("cycles %+v, want one lock-order cycle", snap.Cycles)
	}
}

func TestCoreErrors(t *testing.T) {
	t.Parallel()
	exe := fixture.Build(t, fixture.Default)
	_, err := inspect.OpenCore(filepath.Join(t.TempDir(), "nope"), exe)
	wantKind(t, err, inspect.ErrBadCore, "nope")

	junk := filepath.Join(t.TempDir(), "core")
	if err := os.WriteFile(junk, []byte("not a core file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = inspect.OpenCore(junk, exe)
	wantKind(t, err, inspect.ErrBadCore, "--exe")
}
