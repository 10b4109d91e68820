package inspect_test

import (
	"fmt"
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

// globalScenarios are the hangs through package variables (issue 15) and
// their negatives.
var globalScenarios = []string{
	"global-pool-finalizer", "global-chan-lock", "global-waitgroup", "global-cond", "global-chan-returned",
	"global-ticker", "global-iface-waker", "global-reflect-waker", "global-http-handler",
}

// codeProven are the scenarios whose code verdicts the source analysis
// proves; in the others it must claim nothing the fixture does not intend.
var codeProven = map[string]bool{
	"global-pool-finalizer": true, "global-chan-lock": true, "global-waitgroup": true, "global-cond": true,
	"global-chan-returned": true, "finalizer-lock": true, "chan-lock-cycle": true,
}

// checkSoundCode: nothing is called stuck that the fixture does not intend
// with the source analysis.
func checkSoundCode(t *testing.T, snap *inspect.Snapshot, m *fixture.Manifest) {
	t.Helper()
	for _, g := range snap.Goroutines {
		want := m.CodeVerdict(g.ID)
		if g.Verdict.Stuck() && want != "deadlocked" && want != "leaked" {
			t.Errorf("goroutine %d (%s) called %s with the source, fixture intends %q: %s", g.ID, g.WaitReason, g.Verdict, want, g.Why)
		}
	}
}

func TestCodeProofs(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	for _, sc := range append(append([]string{}, globalScenarios...), waitScenarios...) {
		t.Run(sc, func(t *testing.T) {
			p := fixture.Start(t, exe, sc)
			snap := codeSnapshotOf(t, p)
			checkSoundCode(t, snap, p.Manifest)
			if !codeProven[sc] {
				return
			}
			gs, _ := index(snap)
			for id := range p.Manifest.CodeVerdicts {
				var gid int64
				fmt.Sscan(id, &gid)
				want := p.Manifest.CodeVerdict(gid)
				if g := gs[gid]; g != nil && (want == "deadlocked" || want == "leaked") && !g.Verdict.Stuck() {
					t.Errorf("goroutine %d (%s): verdict %s, want %s", gid, g.WaitReason, g.Verdict, want)
				}
			}
		})
	}
}
