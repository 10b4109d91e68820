package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hangtui/hangtui/inspect"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixtures = []struct {
	name  string
	snap  func() *inspect.Snapshot
	stuck bool
}{
	{"deadlock", deadlockSnapshot, true},
	{"workers", workersSnapshot, false},
	{"healthy", healthySnapshot, false},
	{"leak", leakOnlySnapshot, true},
}

func render(t *testing.T, s *inspect.Snapshot) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteText(&b, s); err != nil {
		t.Fatalf("WriteText: %v", err)
	}
	return b.String()
}

func TestTextGolden(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			got := render(t, fx.snap())
			path := filepath.Join("testdata", fx.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("text report differs from %s (go test -update rewrites it):\n--- got ---\n%s", path, got)
			}
		})
	}
}

// checkLines fails for a line wider than Width columns, trailing blanks or
// tabs.
func checkLines(t *testing.T, out string) {
	t.Helper()
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if n := utf8.RuneCountInString(l); n > Width {
			t.Errorf("line %d is %d columns wide: %q", i+1, n, l)
		}
		if strings.TrimRight(l, " ") != l || strings.Contains(l, "\t") {
			t.Errorf("line %d has trailing blanks or tabs: %q", i+1, l)
		}
	}
}

func TestTextShape(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			checkLines(t, render(t, fx.snap()))
		})
	}
}

func TestTextWideNames(t *testing.T) {
	t.Parallel()
	s := deadlockSnapshot()
	s.Target.Exe = "/very/long/path/to/some/deployment/directory/that/goes/on/and/on/releases/2026-11-22/bin/bankd"
	g := s.Goroutines[1]
	g.Frames[7].Func = "github.com/some-organisation/with-a-long-name/internal/platform/ledger/v2.(*Ledger[go.shape.struct { Name string; Amount int64 }]).TransferBetweenAccountsWithRetries.func3.1"
	g.Frames[7].File = "/home/dev/bank/internal/platform/ledger/v2/transfers/with/a/deep/directory/structure/transfer.go"
	g.Why = strings.Repeat("a very long explanation ", 20)
	s.Warnings = append(s.Warnings, strings.Repeat("x", 150))
	out := render(t, s)
	checkLines(t, out)
	if !strings.Contains(out, "(*Ledger[...]).TransferBetweenAccountsWithRetries.func3.1") {
		t.Errorf("type arguments not elided:\n%s", out)
	}
	if !strings.Contains(out, "bankd)") {
		t.Errorf("executable name lost from the header:\n%s", out)
	}
}

// reversed returns a copy of s with every list in reverse order.
func reversed(s *inspect.Snapshot) *inspect.Snapshot {
	c := *s
	rev := func(n int, swap func(i, j int)) {
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			swap(i, j)
		}
	}
	c.Goroutines = append([]*inspect.Goroutine(nil), s.Goroutines...)
	rev(len(c.Goroutines), func(i, j int) { c.Goroutines[i], c.Goroutines[j] = c.Goroutines[j], c.Goroutines[i] })
	c.Resources = append([]*inspect.Resource(nil), s.Resources...)
	rev(len(c.Resources), func(i, j int) { c.Resources[i], c.Resources[j] = c.Resources[j], c.Resources[i] })
	c.Findings = append([]inspect.Finding(nil), s.Findings...)
	rev(len(c.Findings), func(i, j int) { c.Findings[i], c.Findings[j] = c.Findings[j], c.Findings[i] })
	c.Cycles = append([]inspect.Cycle(nil), s.Cycles...)
	rev(len(c.Cycles), func(i, j int) { c.Cycles[i], c.Cycles[j] = c.Cycles[j], c.Cycles[i] })
	c.Warnings = append([]string(nil), s.Warnings...)
	rev(len(c.Warnings), func(i, j int) { c.Warnings[i], c.Warnings[j] = c.Warnings[j], c.Warnings[i] })
	return &c
}

func TestTextDeterministic(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			a := render(t, fx.snap())
			if b := render(t, reversed(fx.snap())); a != b {
				t.Errorf("output depends on input order:\n--- sorted input ---\n%s\n--- reversed input ---\n%s", a, b)
			}
		})
	}
}

func TestTextWorkersOneLine(t *testing.T) {
	t.Parallel()
	out := render(t, workersSnapshot())
	if n := strings.Count(out, "×10000 goroutines"); n != 1 {
		t.Errorf("10000 identical workers printed in %d group lines, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "… (9992 more)") || !strings.Contains(out, "waiting 4m–12m") {
		t.Errorf("worker group lacks the capped id list or the wait range:\n%s", out)
	}
	if !strings.Contains(out, "8 runtime goroutines idle: GC worker (idle) ×4,") {
		t.Errorf("idle runtime goroutines not collapsed:\n%s", out)
	}
	if !strings.Contains(out, "cleanup goroutine") {
		t.Errorf("blocked cleanup goroutine not shown:\n%s", out)
	}
	if len(out) > 20000 {
		t.Errorf("report of 10000 workers is %d bytes; grouping failed?", len(out))
	}
}

func TestTextEmpty(t *testing.T) {
	t.Parallel()
	out := render(t, &inspect.Snapshot{})
	want := "hangtui report\n\n0 goroutines\nNothing is provably stuck.\n"
	if out != want {
		t.Errorf("empty snapshot:\n%q\nwant\n%q", out, want)
	}
	// Partly filled data must not panic.
	render(t, &inspect.Snapshot{
		Goroutines: []*inspect.Goroutine{nil, {ID: 3, TopUser: 7}, {ID: 4, Frames: []inspect.Frame{{}}}},
		Resources:  []*inspect.Resource{nil, {ID: "x"}, {ID: "mutex:0x1", Kind: inspect.KindMutex, Mutex: &inspect.MutexState{Locked: true}}},
		Cycles:     []inspect.Cycle{{}, {Goroutines: []int64{3, 4}}},
		Findings:   []inspect.Finding{{Goroutines: []int64{3, 99}}},
	})
	if err := WriteText(&bytes.Buffer{}, nil); err == nil {
		t.Error("WriteText(nil) did not fail")
	}
}

func TestGroupGoroutines(t *testing.T) {
	t.Parallel()
	s := workersSnapshot()
	groups := GroupGoroutines(s.Goroutines)
	if len(groups) == 0 || len(groups[0].Goroutines) != 10000 {
		t.Fatalf("first group has %d goroutines, want the 10000 workers", len(groups[0].Goroutines))
	}
	if g := groups[0]; g.Representative.ID != 100 || g.Goroutines[9999].ID != 10099 || g.Key.WaitReason != "chan receive" {
		t.Errorf("worker group: representative %d, last %d, key %+v", g.Representative.ID, g.Goroutines[9999].ID, g.Key)
	}
	// Same stack, different verdict: two groups; stuck first.
	d := deadlockSnapshot()
	a, b := *d.Goroutines[1], *d.Goroutines[1]
	a.ID, b.ID = 50, 51
	b.Verdict = inspect.VerdictBlocked
	c := b
	c.ID = 52
	gs := GroupGoroutines([]*inspect.Goroutine{&c, &b, nil, &a})
	if len(gs) != 2 || !gs[0].Stuck() || gs[0].Representative.ID != 50 || len(gs[1].Goroutines) != 2 {
		t.Errorf("groups: %+v", gs)
	}
	if ids := gs[1].IDs(); len(ids) != 2 || ids[0] != 51 || ids[1] != 52 {
		t.Errorf("IDs() = %v", ids)
	}
	// A different line splits the group.
	c.Frames = append([]inspect.Frame(nil), c.Frames...)
	c.Frames[7].Line++
	if n := len(GroupGoroutines([]*inspect.Goroutine{&b, &c})); n != 2 {
		t.Errorf("different lines: %d groups, want 2", n)
	}
}

func TestHeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		snap *inspect.Snapshot
		want string
	}{
		{deadlockSnapshot(), "3 goroutines deadlocked in 1 cycle · 1 leaked · 15 goroutines"},
		{workersSnapshot(), "nothing stuck · 10011 blocked · 10022 goroutines"},
		{healthySnapshot(), "nothing stuck · 9 goroutines"},
		{leakOnlySnapshot(), "1 goroutine leaked · 10 goroutines"},
		{&inspect.Snapshot{}, "nothing stuck · 0 goroutines"},
		{nil, ""},
	} {
		if got := Headline(tc.snap); got != tc.want {
			t.Errorf("Headline = %q, want %q", got, tc.want)
		}
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			s := fx.snap()
			var b, ind bytes.Buffer
			if err := WriteJSON(&b, s); err != nil {
				t.Fatalf("WriteJSON: %v", err)
			}
			if err := WriteJSONIndent(&ind, s); err != nil {
				t.Fatalf("WriteJSON indented: %v", err)
			}
			if !json.Valid(b.Bytes()) || !json.Valid(ind.Bytes()) {
				t.Fatalf("invalid JSON:\n%s", b.String())
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, ind.Bytes()); err != nil || compact.String() != strings.TrimSpace(b.String()) {
				t.Errorf("indented and compact JSON differ (%v)", err)
			}
			var doc struct {
				Schema  string `json:"schema"`
				Summary struct {
					Goroutines int `json:"goroutines"`
					Stuck      int `json:"stuck"`
				} `json:"summary"`
				Goroutines []json.RawMessage `json:"goroutines"`
			}
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Schema != "hangtui.report/v1" {
				t.Errorf("schema = %q", doc.Schema)
			}
			if doc.Summary.Goroutines != len(s.Goroutines) || len(doc.Goroutines) != len(s.Goroutines) {
				t.Errorf("JSON has %d/%d goroutines, snapshot %d", doc.Summary.Goroutines, len(doc.Goroutines), len(s.Goroutines))
			}
			stuck := false
			for _, g := range s.Goroutines {
				stuck = stuck || g.Verdict == inspect.VerdictDeadlocked || g.Verdict == inspect.VerdictLeaked
			}
			if stuck != fx.stuck {
				t.Fatalf("fixture %s: stuck = %v, declared %v", fx.name, stuck, fx.stuck)
			}
			want := ExitOK
			if stuck {
				want = ExitStuck
			}
			if got := ExitCode(s); got != want || (got == 3) != stuck {
				t.Errorf("ExitCode = %d, want %d", got, want)
			}
		})
	}
}

func TestExitCodeOnlyForStuck(t *testing.T) {
	t.Parallel()
	verdicts := []inspect.Verdict{inspect.VerdictDeadlocked, inspect.VerdictLeaked, inspect.VerdictBlocked,
		inspect.VerdictRunning, inspect.VerdictRunnable, inspect.VerdictSyscall, inspect.VerdictSleeping,
		inspect.VerdictIdle, ""}
	for _, v := range verdicts {
		s := &inspect.Snapshot{Goroutines: []*inspect.Goroutine{{ID: 1, Verdict: v}}}
		want := ExitOK
		if v == inspect.VerdictDeadlocked || v == inspect.VerdictLeaked {
			want = ExitStuck
		}
		if got := ExitCode(s); got != want {
			t.Errorf("verdict %q: ExitCode = %d, want %d", v, got, want)
		}
	}
}

func TestTextDeepStack(t *testing.T) {
	t.Parallel()
	g := &inspect.Goroutine{ID: 7, State: inspect.StateRunning, Verdict: inspect.VerdictRunning, StackTruncated: true}
	for i := 0; i < 5000; i++ {
		g.Frames = append(g.Frames, app("main.walk", "tree.go", 10+i%3))
	}
	out := render(t, &inspect.Snapshot{Goroutines: []*inspect.Goroutine{g}})
	checkLines(t, out)
	if n := strings.Count(out, "main.walk"); n != maxFrames {
		t.Errorf("%d frames printed, want %d:\n%s", n, maxFrames, out)
	}
	if !strings.Contains(out, "… 4950 frames not shown") || !strings.Contains(out, "… (stack truncated)") {
		t.Errorf("elided or truncated frames not marked:\n%s", out)
	}
}
