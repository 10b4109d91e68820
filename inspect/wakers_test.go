package inspect_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/detail"
	"github.com/hangtui/hangtui/ui/keys"
	"github.com/hangtui/hangtui/ui/theme"
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
	"chan-no-peer": true, "select": true, "finalizer-chan": true, "source-lock": true, "rwmutex-readers": true,
}

// negatives are the scenarios whose waiter must stay blocked with the
// source analysis, and why: "" means the analysis ran and found a waker
// that can still run (not a blocker); otherwise what NotProven must say.
var negatives = map[string]string{
	"global-ticker": "", "global-iface-waker": "", "global-http-handler": "",
	"global-reflect-waker": "reflect",
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
	if testing.Short() {
		t.Skip("loads and analyses the fixture's 191 packages (tens of seconds, minutes under -race)")
	}
	exe := fixture.Build(t, fixture.Default)
	for _, sc := range append(append([]string{}, globalScenarios...), waitScenarios...) {
		t.Run(sc, func(t *testing.T) {
			p := fixture.Start(t, exe, sc)
			snap := codeSnapshotOf(t, p)
			// As settledSnapshot: a goroutine still settling leaves
			// proofs out (the sound side); look again, up to twice.
			for try := 1; try <= 2 && codeProven[sc] && missingCodeProof(snap, p.Manifest); try++ {
				checkSoundCode(t, snap, p.Manifest)
				t.Logf("proven verdicts not all reached yet (%+v); live goroutines: %s; looking again (%d)", snap.Code, liveSummary(snap), try)
				time.Sleep(300 * time.Millisecond)
				snap = codeSnapshotOf(t, p)
			}
			checkSoundCode(t, snap, p.Manifest)
			if why, ok := negatives[sc]; ok {
				for _, id := range p.Manifest.Groups["waiter"] {
					if g, _ := index(snap); g[id] == nil || g[id].Verdict != inspect.VerdictBlocked {
						t.Errorf("waiter %d: %+v, want blocked", id, g[id])
					}
				}
				if why == "" && snap.Code.NotProven != "" {
					t.Errorf("the analysis proved nothing (%s): the waker's reachability was not what kept it blocked", snap.Code.NotProven)
				}
				if why != "" && !strings.Contains(snap.Code.NotProven, why) {
					t.Errorf("not proven: %q, want it to name %q", snap.Code.NotProven, why)
				}
			}
			if !codeProven[sc] {
				return
			}
			checkCycles(t, snap, p.Manifest)
			if w, ok := wantWaker[sc]; ok {
				checkWakerShown(t, snap, w)
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

// checkCycles: every cycle the fixture set up is found.
func checkCycles(t *testing.T, snap *inspect.Snapshot, m *fixture.Manifest) {
	t.Helper()
	for _, want := range m.Cycles {
		ok := false
		for _, c := range snap.Cycles {
			got := append([]int64{}, c.Goroutines...)
			w := append([]int64{}, want...)
			sortIDs(got)
			sortIDs(w)
			if fmt.Sprint(got) == fmt.Sprint(w) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("cycle %v not found; cycles %+v", want, snap.Cycles)
		}
	}
}

// wakerWant is a waking site a proven scenario's findings must name.
type wakerWant struct {
	fn, op    string
	finalizer bool
}

var wantWaker = map[string]wakerWant{
	"global-pool-finalizer": {"main.(*cursor).release", "send", true},
	"global-chan-lock":      {"main.readEntry", "receive", false},
	"global-waitgroup":      {"main.flushLoop", "Done", false},
	"global-cond":           {"main.loadConfig", "Broadcast", false},
	"global-chan-returned":  {"main.produceOnce", "send", false},
}

// checkWakerShown: the waking site is in a finding (Wakers and Details),
// in the text report, in the JSON report (findings[].wakers) and in the
// TUI's detail of the goroutine waiting on it.
func checkWakerShown(t *testing.T, snap *inspect.Snapshot, w wakerWant) {
	t.Helper()
	var site *inspect.WakerSite
	for _, f := range snap.Findings {
		for i, ws := range f.Wakers {
			if ws.Func == w.fn && ws.Op == w.op {
				site = &f.Wakers[i]
				if !strings.Contains(strings.Join(f.Details, "\n"), inspect.ShortFunc(w.fn)) {
					t.Errorf("finding %q: details do not name %s", f.Title, w.fn)
				}
			}
		}
	}
	if site == nil {
		t.Fatalf("no finding names the waker %s (%s); findings: %+v", w.fn, w.op, snap.Findings)
	}
	if w.finalizer && !site.Finalizer {
		t.Errorf("waker %s: not marked as run only by the finalizer goroutine: %+v", w.fn, site)
	}
	if site.Why == "" || site.Line == 0 || site.Code == "" {
		t.Errorf("waker %+v: no line, code or reason", site)
	}
	var text bytes.Buffer
	if err := report.WriteText(&text, snap); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "could wake it: `"+site.Code+"`") {
		t.Errorf("text report does not show the waker %q:\n%s", site.Code, text.String())
	}
	var js bytes.Buffer
	if err := report.WriteJSON(&js, snap); err != nil {
		t.Fatal(err)
	}
	var doc report.Doc
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range doc.Findings {
		for _, ws := range f.Wakers {
			if ws.Func == w.fn && ws.Op == w.op && ws.Line == site.Line && ws.Why != "" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("JSON findings[].wakers does not have %s (%s)", w.fn, w.op)
	}
	if doc.Code == nil || doc.Code.State != "ready" || doc.Code.Proven == 0 {
		t.Errorf("JSON code: %+v", doc.Code)
	}
	// The TUI: the detail of a goroutine waiting on the resource.
	var waiter int64
	for _, g := range snap.Goroutines {
		for _, wt := range g.Waits {
			if wt.Resource == site.Resource {
				waiter = g.ID
			}
		}
	}
	km := keys.Default()
	ctx := uictx.New(theme.New(true), &km)
	ctx.Width, ctx.Height = 160, 60
	ctx.Data = uictx.Build(snap, nil)
	v := detail.New(ctx)
	v.SetSize(160, 58)
	v.Refresh()
	v.Show(waiter)
	out := ansi.Strip(v.View())
	if !strings.Contains(out, "could be woken by "+site.Code) {
		t.Errorf("the TUI's detail of goroutine %d does not show the waker %q:\n%s", waiter, site.Code, out)
	}
}

// missingCodeProof: a goroutine the fixture intends stuck with the source
// analysis is not.
func missingCodeProof(snap *inspect.Snapshot, m *fixture.Manifest) bool {
	gs, _ := index(snap)
	for _, g := range gs {
		want := m.CodeVerdict(g.ID)
		if (want == "deadlocked" || want == "leaked") && !g.Verdict.Stuck() {
			return true
		}
	}
	return false
}

// liveSummary lists the goroutines that are not idle, parked or stuck.
func liveSummary(snap *inspect.Snapshot) string {
	var parts []string
	for _, g := range snap.Goroutines {
		if g.Verdict == inspect.VerdictIdle || g.Verdict.Stuck() || g.Verdict == inspect.VerdictBlocked {
			continue
		}
		fn := ""
		if g.TopUser >= 0 {
			fn = g.Frames[g.TopUser].Func
		} else if len(g.Frames) > 0 {
			fn = g.Frames[0].Func
		}
		parts = append(parts, fmt.Sprintf("%d %s %s", g.ID, g.Verdict, fn))
	}
	return strings.Join(parts, "; ")
}
