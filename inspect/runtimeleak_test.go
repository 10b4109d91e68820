package inspect_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// Conformance with the Go runtime's own goroutine leak tests (issue 14):
// the programs of $GOROOT/src/runtime/testdata/testgoroutineleakprofile
// (simple.go, commonpatterns.go, stresstests.go; never goker/, which is
// held out) are built from the toolchain's GOROOT with
// testdata/runtimeleak/harness.go, each test is run until its goroutines
// settle, hangtui attaches, and its verdicts are compared with the leaks
// goroutineleakprofile_test.go expects and with the runtime's own
// goroutineleak profile, taken right after hangtui's snapshot.

// runtimeLeakToolchains are the toolchains whose leak tests are run: the
// local one (Go 1.26: built with GOEXPERIMENT=goroutineleakprofile) and Go
// 1.27, where the profile is on by default.
var runtimeLeakToolchains = []string{"", "go1.27.1"}

// runtimeLeakExits are tests that end their own process once they have
// written their profile; there is nothing left to attach to. What they
// test has a fixture of its own.
var runtimeLeakExits = map[string]string{
	"SelectNoCasesMain": "exits (os.Exit) after its profile; the fixture's daemon-leak scenario has the same shape",
}

// TestRuntimeLeakConformance: for every test of the runtime's leak
// programs,
//
//   - every expected leak (a non-flaky regexp of the runtime's test) is
//     flagged deadlocked or leaked by hangtui's own analysis on at least
//     one goroutine it matches, as the runtime's test requires of the
//     runtime;
//   - every goroutine the runtime's goroutineleak profile reports is
//     flagged by hangtui (the runtime is sound: a difference is a miss);
//   - nothing else is flagged: a flagged goroutine must match an expected
//     or flaky leak of its test, or be reported by the runtime.
//
// The counts are logged per test (go test -v).
func TestRuntimeLeakConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and attaches to the runtime's leak tests")
	}
	for _, tc := range runtimeLeakToolchains {
		name := tc
		if name == "" {
			name = "local"
		}
		t.Run(name, func(t *testing.T) {
			exe, goroot := fixture.BuildRuntimeLeak(t, tc)
			var rows []string
			total := leakCaseResult{name: "total", runtimeProfile: true}
			for _, c := range fixture.RuntimeLeakCases(t, goroot) {
				t.Run(c.Name, func(t *testing.T) {
					if why, ok := runtimeLeakExits[c.Name]; ok {
						t.Skip(why)
					}
					r := runRuntimeLeakCase(t, exe, c)
					rows = append(rows, r.String())
					total.add(r)
				})
			}
			rows = append(rows, total.String())
			t.Logf("%s (%s): test: expected leaks flagged/expected; goroutines matching expected leaks flagged/all; runtime-reported leaks flagged/all; unexpected flags\n%s",
				name, goroot, strings.Join(rows, "\n"))
		})
	}
}

// leakCaseResult counts one test's outcome.
type leakCaseResult struct {
	name                         string
	patterns, patternsFound      int // non-flaky expected leaks; those flagged on some goroutine
	matching, matchingFlagged    int // goroutines matching an expected or flaky leak; those flagged
	runtime, runtimeFlagged      int // goroutines the runtime reports leaked; those flagged
	unexpected                   int // flagged, matching no leak of the test and not reported by the runtime
	runtimeProfile               bool
	hangtuiOnly, missedByBoth    int // matching goroutines only hangtui flags; that neither flags
	runtimeOnlyMatching          int // matching goroutines only the runtime reports
	extraFlaggedRuntimeConfirmed int // flagged, matching no leak of the test, but reported by the runtime
}

func (r *leakCaseResult) add(o leakCaseResult) {
	r.patterns += o.patterns
	r.patternsFound += o.patternsFound
	r.matching += o.matching
	r.matchingFlagged += o.matchingFlagged
	r.runtime += o.runtime
	r.runtimeFlagged += o.runtimeFlagged
	r.unexpected += o.unexpected
	r.runtimeProfile = r.runtimeProfile && o.runtimeProfile
	r.hangtuiOnly += o.hangtuiOnly
	r.missedByBoth += o.missedByBoth
	r.runtimeOnlyMatching += o.runtimeOnlyMatching
	r.extraFlaggedRuntimeConfirmed += o.extraFlaggedRuntimeConfirmed
}

func (r leakCaseResult) String() string {
	rt := "no runtime profile"
	if r.runtimeProfile {
		rt = fmt.Sprintf("runtime %d/%d", r.runtimeFlagged, r.runtime)
	}
	return fmt.Sprintf("  %-24s expected %d/%d; matching %d/%d (hangtui only %d, neither %d); %s; unexpected %d",
		r.name, r.patternsFound, r.patterns, r.matchingFlagged, r.matching, r.hangtuiOnly, r.missedByBoth, rt, r.unexpected)
}

// runRuntimeLeakCase runs one test, attaches and compares.
func runRuntimeLeakCase(t *testing.T, exe string, c fixture.RuntimeLeakCase) leakCaseResult {
	env := []string{"GODEBUG=asyncpreemptoff=1"}
	if c.Simple {
		env = append(env, "GOMAXPROCS=1")
	}
	p, ok := fixture.StartRuntimeLeak(t, exe, c.Name, env...)
	if !ok {
		t.Fatalf("%s exited before it settled:\n%s", c.Name, p.Output)
	}
	if !p.Ready.Settled {
		t.Errorf("%s: goroutines still changing after 20s", c.Name)
	}
	var r leakCaseResult
	// As settledSnapshot: a thread still settling can only hide a
	// proof, so when one is missing look again (every snapshot must be
	// sound).
	for try := 0; ; try++ {
		snap := snapshotPID(t, p.PID)
		leaked := fixture.RuntimeLeaked(p.Output)
		if p.Ready.LeakProfile {
			for id := range fixture.RuntimeLeaked(p.LeakProfile(t)) {
				leaked[id] = true
			}
		}
		r = compareRuntimeLeaks(c, snap, leaked, p.Ready.LeakProfile)
		if (r.patternsFound == r.patterns && r.runtimeFlagged == r.runtime) || try == 4 {
			reportRuntimeLeaks(t, c, snap, leaked, r)
			return r
		}
		if r.unexpected > 0 {
			reportRuntimeLeaks(t, c, snap, leaked, r)
		}
		// Backing off as settledSnapshot does: under load (the whole
		// suite beside it) a spawning test's last goroutines took over a
		// second to leave the registers and stacks that still reach
		// their channel (SpawnGC, 2 of 206).
		t.Logf("%s: not every leak proven yet; looking again (%d)", c.Name, try+1)
		time.Sleep(time.Duration(300<<try) * time.Millisecond)
	}
}

// snapshotPID attaches to pid, reads one snapshot, detaches, and adds what
// the source tells once the process runs again (Session.Explain).
func snapshotPID(t *testing.T, pid int) *inspect.Snapshot {
	t.Helper()
	return snapshotWith(t, pid, nil)
}

// snapshotWith is snapshotPID with setup called on the session before the
// snapshot is read (when not nil).
func snapshotWith(t *testing.T, pid int, setup func(*inspect.Session)) *inspect.Snapshot {
	t.Helper()
	s, err := inspect.Attach(pid)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	if setup != nil {
		setup(s)
	}
	snap, err := s.Snapshot()
	if cerr := s.Close(); cerr != nil {
		t.Errorf("close: %v", cerr)
	}
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	fixture.AssertRunning(t, pid)
	s.Explain(snap)
	return snap
}

// leakKey is "func(...) [wait reason]": the goroutine's outermost function
// (package main's prefix dropped) and its wait reason, the string the
// runtime's test matches its expected leaks against.
func leakKey(g *inspect.Goroutine) string {
	fn := ""
	for i := len(g.Frames) - 1; i >= 0; i-- {
		if g.Frames[i].Func != "runtime.goexit" {
			fn = g.Frames[i].Func
			break
		}
	}
	return strings.TrimPrefix(fn, "main.") + "(...) [" + g.WaitReason + "]"
}

func matchAny(res []*regexp.Regexp, s string) int {
	for i, re := range res {
		if re.MatchString(s) {
			return i
		}
	}
	return -1
}

// compareRuntimeLeaks counts what hangtui flagged against the expected
// leaks and the runtime's report.
func compareRuntimeLeaks(c fixture.RuntimeLeakCase, snap *inspect.Snapshot, runtimeLeaked map[int64]bool, profile bool) leakCaseResult {
	r := leakCaseResult{name: c.Name, runtimeProfile: profile}
	expected := c.Leaks
	if c.Flaky {
		// The runtime's test requires none of a flaky test's leaks; a
		// goroutine matching one is still a leak hangtui may flag.
		expected = nil
	}
	found := make([]bool, len(expected))
	for _, g := range snap.Goroutines {
		key := leakKey(g)
		stuck := g.Verdict.Stuck()
		match := matchAny(c.Leaks, key) >= 0
		if i := matchAny(expected, key); i >= 0 && stuck {
			found[i] = true
		}
		if match {
			r.matching++
			switch {
			case stuck:
				r.matchingFlagged++
				if profile && !runtimeLeaked[g.ID] {
					r.hangtuiOnly++
				}
			case profile && runtimeLeaked[g.ID]:
				r.runtimeOnlyMatching++
			default:
				r.missedByBoth++
			}
		}
		if runtimeLeaked[g.ID] {
			r.runtime++
			if stuck {
				r.runtimeFlagged++
			}
		}
		if stuck && !match {
			if runtimeLeaked[g.ID] {
				r.extraFlaggedRuntimeConfirmed++
			} else {
				r.unexpected++
			}
		}
	}
	r.patterns = len(expected)
	for _, ok := range found {
		if ok {
			r.patternsFound++
		}
	}
	return r
}

// reportRuntimeLeaks fails the test for what differs, naming goroutines.
func reportRuntimeLeaks(t *testing.T, c fixture.RuntimeLeakCase, snap *inspect.Snapshot, runtimeLeaked map[int64]bool, r leakCaseResult) {
	t.Helper()
	expected := c.Leaks
	if c.Flaky {
		expected = nil
	}
	flaggedFor := make([]bool, len(expected))
	var lines []string
	for _, g := range snap.Goroutines {
		key := leakKey(g)
		stuck := g.Verdict.Stuck()
		if i := matchAny(expected, key); i >= 0 && stuck {
			flaggedFor[i] = true
		}
		switch {
		case stuck && matchAny(c.Leaks, key) < 0 && !runtimeLeaked[g.ID]:
			t.Errorf("goroutine %d %s called %s, but the runtime's test expects no such leak and the runtime does not report it: %s", g.ID, key, g.Verdict, g.Why)
		case !stuck && runtimeLeaked[g.ID]:
			t.Errorf("goroutine %d %s: the runtime reports it leaked, hangtui says %s", g.ID, key, g.Verdict)
		}
		if stuck || runtimeLeaked[g.ID] || matchAny(c.Leaks, key) >= 0 {
			lines = append(lines, fmt.Sprintf("goroutine %d %s: hangtui %s, runtime leaked %v", g.ID, key, g.Verdict, runtimeLeaked[g.ID]))
		}
	}
	for i, ok := range flaggedFor {
		if !ok {
			t.Errorf("expected leak %q: no goroutine matching it is flagged by hangtui", expected[i])
		}
	}
	if t.Failed() || testing.Verbose() {
		sort.Strings(lines)
		if len(lines) > 20 {
			lines = append(lines[:20], fmt.Sprintf("... and %d more", len(lines)-20))
		}
		t.Logf("%s\n%s", r.String(), strings.Join(lines, "\n"))
	}
}
