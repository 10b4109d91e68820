package inspect_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/dump"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestDumpSIGQUIT: the AB-BA fixture killed with SIGQUIT (GOTRACEBACK=all)
// prints a dump in which hangtui finds the same deadlock as in the live
// process: the waits from the printed lockSlow receivers, the holders from
// the source with the printed argument words, across Go releases.
func TestDumpSIGQUIT(t *testing.T) {
	t.Parallel()
	for _, v := range []fixture.Variant{
		fixture.Default,
		{Name: "go1.22", Toolchain: "go1.22.12"},
		{Name: "go1.27", Toolchain: "go1.27.1"},
	} {
		t.Run(v.Name, func(t *testing.T) {
			exe := fixture.Build(t, v)
			m, text := fixture.QuitDump(t, exe, "abba")
			snap, err := inspect.ReadDump(bytes.NewReader(text), inspect.DumpOptions{Name: "abba.txt"})
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			checkDumpABBA(t, snap, m.Groups["g1"][0], m.Groups["g2"][0], m.Addr(t, "a"), m.Addr(t, "b"))
			if v.Toolchain != "" && !strings.HasPrefix(snap.Target.GoVersion, v.Toolchain[:6]) {
				t.Errorf("go version %q from the runtime paths, want %s", snap.Target.GoVersion, v.Toolchain)
			}
		})
	}
}

// checkDumpABBA asserts the AB-BA deadlock: g1 holds a and waits for b, g2
// holds b and waits for a (a, b are 0 when the addresses are not known).
func checkDumpABBA(t *testing.T, snap *inspect.Snapshot, g1, g2 int64, a, b uint64) {
	t.Helper()
	if snap.Target.Source != inspect.SourceDump && snap.Target.Source != inspect.SourceRemote {
		t.Errorf("source %q", snap.Target.Source)
	}
	if len(snap.Cycles) != 1 || snap.Cycles[0].Kind != inspect.CycleLockOrder {
		t.Fatalf("cycles %+v, want one lock-order cycle\n%s", snap.Cycles, describe(snap))
	}
	c := snap.Cycles[0]
	if len(c.Goroutines) != 2 || c.Goroutines[0] != min(g1, g2) || c.Goroutines[1] != max(g1, g2) {
		t.Errorf("cycle goroutines %v, want %d and %d", c.Goroutines, g1, g2)
	}
	byID := map[int64]*inspect.Goroutine{}
	for _, g := range snap.Goroutines {
		byID[g.ID] = g
	}
	for _, tc := range []struct {
		id         int64
		holds, key uint64
	}{{g1, a, b}, {g2, b, a}} {
		g := byID[tc.id]
		if g == nil {
			t.Fatalf("goroutine %d missing", tc.id)
		}
		if g.Verdict != inspect.VerdictDeadlocked {
			t.Errorf("goroutine %d verdict %s", g.ID, g.Verdict)
		}
		if tc.key != 0 && g.BlockedOn() != inspect.ResourceID(inspect.KindMutex, tc.key) {
			t.Errorf("goroutine %d waits on %q, want mutex %#x", g.ID, g.BlockedOn(), tc.key)
		}
		if tc.holds != 0 && (len(g.Holds) != 1 || g.Holds[0] != inspect.ResourceID(inspect.KindMutex, tc.holds)) {
			t.Errorf("goroutine %d holds %v, want mutex %#x", g.ID, g.Holds, tc.holds)
		}
	}
	for _, r := range snap.Resources {
		for _, h := range r.Holders {
			if h.Evidence != inspect.EvidenceSource || h.Frame == nil || !strings.HasSuffix(h.Frame.Func, "transfer") {
				t.Errorf("%s holder %+v: want source evidence in transfer", r.ID, h)
			}
		}
	}
}

func describe(snap *inspect.Snapshot) string {
	var b strings.Builder
	for _, g := range snap.Goroutines {
		b.WriteString(strings.Join([]string{string(g.Verdict), g.WaitReason, g.BlockedOn(), strings.Join(g.Holds, ",")}, " "))
		b.WriteString("\n")
	}
	b.WriteString(strings.Join(snap.Warnings, "\n"))
	return b.String()
}

// TestDumpGoTestTimeout: `go test -timeout` of a test that deadlocks AB-BA
// panics with every goroutine's stack, mixed with the test's own output.
func TestDumpGoTestTimeout(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "test", "-count=1", "-timeout=3s", ".")
	cmd.Dir = fixture.DumpProgDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	out, _ := cmd.CombinedOutput()
	if !bytes.Contains(out, []byte("panic: test timed out")) {
		t.Fatalf("no timeout panic:\n%s", out)
	}
	snap, err := inspect.ReadDump(bytes.NewReader(out), inspect.DumpOptions{Name: "go-test.log"})
	if err != nil {
		t.Fatal(err)
	}
	g1, g2 := transferGoroutines(t, snap)
	checkDumpABBA(t, snap, g1, g2, 0, 0)
	if !hasWarning(snap, "TestTransfers") {
		t.Errorf("warnings %q do not name the test that timed out", snap.Warnings)
	}
}

// TestDumpPprof: /debug/pprof/goroutine?debug=2 (runtime/pprof's
// goroutine profile at debug 2) of a process in the AB-BA deadlock.
func TestDumpPprof(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = fixture.DumpProgDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	snap, err := inspect.ReadDump(bytes.NewReader(out), inspect.DumpOptions{Name: "goroutine.txt"})
	if err != nil {
		t.Fatal(err)
	}
	g1, g2 := transferGoroutines(t, snap)
	checkDumpABBA(t, snap, g1, g2, 0, 0)
}

func transferGoroutines(t *testing.T, snap *inspect.Snapshot) (int64, int64) {
	t.Helper()
	var ids []int64
	for _, g := range snap.Goroutines {
		if g.TopUser >= 0 && strings.HasSuffix(g.Frames[g.TopUser].Func, ".transfer") {
			ids = append(ids, g.ID)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("goroutines in transfer: %v\n%s", ids, describe(snap))
	}
	return ids[0], ids[1]
}

func hasWarning(snap *inspect.Snapshot, s string) bool {
	for _, w := range snap.Warnings {
		if strings.Contains(w, s) {
			return true
		}
	}
	return false
}

// TestDumpBadInput: what is not a dump is a one-line error with a hint.
func TestDumpBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		max      int64
		want     error
	}{
		{"empty", "", 0, dump.ErrNoDump},
		{"text", "hello\nworld\n", 0, dump.ErrNoDump},
		{"binary", "\x7fELF\x00\x00\x01", 0, dump.ErrBinary},
		{"binary later", "goroutine 1 [running]:\nmain.main()\n\t/x.go:1\n\x00\x00", 0, dump.ErrBinary},
		{"too large", strings.Repeat("x", 4096) + "\n", 1024, dump.ErrTooLarge},
		{"one long line", strings.Repeat("y", 1<<20), 0, dump.ErrNoDump},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := inspect.ReadDump(strings.NewReader(tc.in), inspect.DumpOptions{Name: "in.txt", MaxBytes: tc.max})
			if !errors.Is(err, tc.want) || inspect.KindOf(err) != inspect.ErrBadDump {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "in.txt") {
				t.Errorf("message %q: want one line naming the file", msg)
			}
		})
	}
}

// TestDumpSourceRoot: a dump from another machine finds its source under
// the source root by the longest existing suffix of the recorded path.
func TestDumpSourceRoot(t *testing.T) {
	t.Parallel()
	exe := fixture.Build(t, fixture.Default)
	m, text := fixture.QuitDump(t, exe, "abba")
	root, _ := filepath.Abs(filepath.Join(fixture.SourceDir(), "..", ".."))
	moved := bytes.ReplaceAll(text, []byte(root+"/"), []byte("/home/ci/work/"))
	snap, err := inspect.ReadDump(bytes.NewReader(moved), inspect.DumpOptions{Name: "moved.txt", SourceRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	checkDumpABBA(t, snap, m.Groups["g1"][0], m.Groups["g2"][0], m.Addr(t, "a"), m.Addr(t, "b"))

	// Without the source: waits are known, holders are not, nothing is
	// claimed, and the report says why.
	snap, err = inspect.ReadDump(bytes.NewReader(moved), inspect.DumpOptions{Name: "moved.txt", SourceRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Cycles) != 0 {
		t.Errorf("cycle claimed without holder evidence: %+v", snap.Cycles)
	}
	for _, g := range snap.Goroutines {
		if g.Verdict.Stuck() {
			t.Errorf("goroutine %d %s without evidence", g.ID, g.Verdict)
		}
	}
	if !hasWarning(snap, "holders unknown") {
		t.Errorf("no warning about missing source: %q", snap.Warnings)
	}
}
