package inspect_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

var updateFindings = flag.Bool("update", false, "rewrite testdata/findings/*.golden from the fixtures")

// patternScenarios are the bug patterns whose findings are golden-tested:
// what a person on call reads, one finding per bug however often it
// happened, with the line to fix where the source shows it.
var patternScenarios = []string{
	"abba", "abba-many", "missing-unlock", "unlock-paths", "double-lock", "double-lock-helper",
	"rwmutex", "rwmutex-chain", "rwmutex-readers", "chan-leak", "leaks-many", "waitgroup", "cond",
	"healthy-pool", "healthy-sleeper", "dead-slot", "uintptr-ref",
}

// TestFindingPatterns attaches to each pattern fixture and compares its
// findings, with goroutine ids, addresses and times taken out, with
// testdata/findings/SCENARIO.golden (go test ./inspect -run
// TestFindingPatterns -update rewrites them).
func TestFindingPatterns(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	for _, sc := range patternScenarios {
		t.Run(sc, func(t *testing.T) {
			p := fixture.Start(t, exe, sc)
			snap := settledSnapshot(t, p)
			checkSound(t, snap, p.Manifest)
			got := renderFindings(snap)
			path := filepath.Join("testdata", "findings", sc+".golden")
			if *updateFindings {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("findings of %s differ from %s:\n--- got\n%s\n--- want\n%s", sc, path, got, want)
			}
		})
	}
}

// TestFindingPatternsExplain checks, beyond the goldens, what each pattern
// must say: one grouped finding per repeated bug, and the line of a missing
// Unlock with the path that skips it.
func TestFindingPatternsExplain(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	cases := []struct {
		scenario string
		check    func(t *testing.T, snap *inspect.Snapshot)
	}{
		{"abba-many", func(t *testing.T, snap *inspect.Snapshot) {
			f := onlyFinding(t, snap, "deadlock")
			if n := 1 + len(f.Instances); n != 1000 {
				t.Errorf("deadlock finding has %d instances, want 1000", n)
			}
			if len(f.Goroutines) != 2000 {
				t.Errorf("deadlock finding covers %d goroutines, want 2000", len(f.Goroutines))
			}
		}},
		{"leaks-many", func(t *testing.T, snap *inspect.Snapshot) {
			n := 0
			for _, f := range snap.Findings {
				if f.Kind == inspect.FindingLeak {
					n++
					if 1+len(f.Instances) != 300 {
						t.Errorf("%q: %d instances, want 300", f.Title, 1+len(f.Instances))
					}
				}
			}
			if n != 3 {
				t.Errorf("%d leak findings, want 3 (channel, WaitGroup, Cond)", n)
			}
		}},
		{"unlock-paths", func(t *testing.T, snap *inspect.Snapshot) {
			wantSite(t, snap, "main.(*peerSet).bootstrap", "return", true)
			wantSite(t, snap, "main.(*jobQueue).pop", "panic", false)
		}},
		{"missing-unlock", func(t *testing.T, snap *inspect.Snapshot) {
			wantSite(t, snap, "main.(*Config).Reload", "return", false)
		}},
		{"double-lock-helper", func(t *testing.T, snap *inspect.Snapshot) {
			wantSite(t, snap, "main.(*ledger).lock", "end", false)
		}},
		{"rwmutex-chain", func(t *testing.T, snap *inspect.Snapshot) {
			f := onlyFinding(t, snap, "wait-chain")
			head := p0(snap, "main.(*table).scan")
			if !strings.Contains(f.Title, fmt.Sprintf("for goroutine %d ", head)) {
				t.Errorf("chain finding %q does not name the reader at its head (%d)", f.Title, head)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			p := fixture.Start(t, exe, c.scenario)
			c.check(t, settledSnapshot(t, p))
		})
	}
}

func onlyFinding(t *testing.T, snap *inspect.Snapshot, kind string) inspect.Finding {
	t.Helper()
	var out []inspect.Finding
	for _, f := range snap.Findings {
		if string(f.Kind) == kind {
			out = append(out, f)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d %s findings, want 1: %v", len(out), kind, titles(snap))
	}
	return out[0]
}

func titles(snap *inspect.Snapshot) []string {
	var out []string
	for _, f := range snap.Findings {
		out = append(out, string(f.Kind)+": "+f.Title)
	}
	return out
}

// wantSite asserts a finding names a Lock in fn with a way out of kind exit
// (and a break on the way, when via).
func wantSite(t *testing.T, snap *inspect.Snapshot, fn, exit string, via bool) {
	t.Helper()
	for _, f := range snap.Findings {
		for _, s := range f.Sites {
			if s.Func == fn && s.Exit == exit && (len(s.Via) > 0) == via && s.Line > 0 && s.ExitLine > 0 {
				return
			}
		}
	}
	t.Errorf("no finding names the Lock in %s leaving by %s (via a branch: %v): %v", fn, exit, via, titles(snap))
}

// p0 is the id of the first goroutine whose top user frame is fn.
func p0(snap *inspect.Snapshot, fn string) int64 {
	for _, g := range snap.Goroutines {
		if g.TopUser >= 0 && g.Frames[g.TopUser].Func == fn {
			return g.ID
		}
	}
	return -1
}

var (
	addrRE  = regexp.MustCompile(`0x[0-9a-f]+`)
	idsRE   = regexp.MustCompile(`(goroutines?|goroutine\(s\)|held by|stuck) \(?([0-9]+(?:, [0-9]+)*)`)
	waitRE  = regexp.MustCompile(`waiting (up to )?[0-9.]+(ms|s|m|h)`)
	countRE = regexp.MustCompile(`… \([0-9]+ more\)`)
)

// renderFindings prints the findings with what changes between runs
// (goroutine ids, addresses, wait times) replaced by placeholders.
func renderFindings(snap *inspect.Snapshot) string {
	norm := func(s string) string {
		s = addrRE.ReplaceAllString(s, "0xADDR")
		s = idsRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := idsRE.FindStringSubmatch(m)
			n := len(strings.Split(sub[2], ", "))
			return sub[1] + " " + strings.TrimSuffix(strings.Repeat("G, ", n), ", ")
		})
		s = waitRE.ReplaceAllString(s, "waiting T")
		return countRE.ReplaceAllString(s, "… (N more)")
	}
	var blocks []string
	for _, f := range snap.Findings {
		var b strings.Builder
		if f.Kind == inspect.FindingPossibleDeadlock {
			// Which parked goroutines can reach a channel depends on
			// stale words conservative marking finds on their stacks:
			// the kind is stable, the members are not.
			fmt.Fprintf(&b, "%s %s\n", f.Severity, f.Kind)
			blocks = append(blocks, b.String())
			continue
		}
		fmt.Fprintf(&b, "%s %s (%d goroutines, %d instances)\n  %s\n", f.Severity, f.Kind, len(f.Goroutines), 1+len(f.Instances), norm(f.Title))
		details := make([]string, len(f.Details))
		for i, d := range f.Details {
			details[i] = norm(d)
		}
		if f.Kind == inspect.FindingDeadlock {
			// A cycle starts at its lowest goroutine id: a different
			// member from run to run.
			sort.Strings(details)
		}
		for _, d := range details {
			fmt.Fprintf(&b, "    %s\n", d)
		}
		for _, s := range f.Sites {
			fmt.Fprintf(&b, "    site %s %s:%d %s@%d via %v\n", s.Func, filepath.Base(s.File), s.Line, s.Exit, s.ExitLine, s.Via)
		}
		blocks = append(blocks, b.String())
	}
	if len(blocks) == 0 {
		return "no findings\n"
	}
	// Findings of the same rank are ordered by goroutine id, which
	// differs between runs.
	sort.Strings(blocks)
	return strings.Join(blocks, "")
}
