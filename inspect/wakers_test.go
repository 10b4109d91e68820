package inspect_test

import (
	"os"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/internal/fixture"
)

// codeBudget is generous: the analysis is shared by every test of the
// binary (loaded once), and CI machines are slow.
const codeBudget = 15 * time.Minute

// codeSnapshotOf is snapshotOf with the source analysis: started at
// attach, applied after the detach.
func codeSnapshotOf(t *testing.T, p *fixture.Process) *inspect.Snapshot {
	t.Helper()
	s, err := inspect.Attach(p.PID)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	s.StartCodeAnalysis(inspect.CodeOptions{Dir: fixture.SourceDir(), Budget: codeBudget})
	snap, err := s.Snapshot()
	if cerr := s.Close(); cerr != nil {
		t.Errorf("close: %v", cerr)
	}
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	fixture.AssertRunning(t, p.PID)
	s.ProveFromCode(snap, true)
	if snap.Code == nil || snap.Code.State != inspect.CodeReady {
		t.Fatalf("source analysis not ready: %+v", snap.Code)
	}
	return snap
}

func TestCodeDebug(t *testing.T) {
	sc := os.Getenv("HANGTUI_CODE_SCENARIO")
	if sc == "" {
		t.Skip("HANGTUI_CODE_SCENARIO not set")
	}
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, sc)
	snap := codeSnapshotOf(t, p)
	t.Logf("code: %+v", snap.Code)
	_ = report.WriteText(os.Stderr, snap)
}
