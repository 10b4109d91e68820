package inspect_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestGcoreFile: a core written by gdb's gcore from the running AB-BA
// fixture (which keeps running) is read through Delve's core backend with
// the full analysis, and the deadlock is found with its evidence.
func TestGcoreFile(t *testing.T) {
	t.Parallel()
	gcore, err := exec.LookPath("gcore")
	if err != nil {
		t.Fatal("install gdb (apt-get install gdb): this test writes a core with gcore")
	}
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "abba")
	prefix := filepath.Join(t.TempDir(), "core")
	if out, err := exec.Command(gcore, "-o", prefix, strconv.Itoa(p.PID)).CombinedOutput(); err != nil {
		t.Fatalf("gcore: %v\n%s", err, out)
	}
	fixture.AssertRunning(t, p.PID)
	core := prefix + "." + strconv.Itoa(p.PID)

	s, err := inspect.OpenCore(core, exe)
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
