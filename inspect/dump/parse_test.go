package dump_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/dump"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden parses every dump in testdata (real ones from Go 1.22 to
// 1.27 — SIGQUIT, go test -timeout, pprof debug=2, the runtime's own
// deadlock error — and hand-written header variants) and compares a
// description of the result with testdata/NAME.golden.
func TestGolden(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) < 5 {
		t.Fatalf("dumps in testdata: %v", files)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			d, err := dump.Parse(bytes.NewReader(in), dump.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := describe(d)
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./inspect/dump -update)", err)
			}
			if got != string(want) {
				t.Errorf("parse of %s differs from %s (go test ./inspect/dump -update to accept):\n%s", file, golden, got)
			}
		})
	}
}

func describe(d *dump.Dump) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dumps=%d truncated=%v all_asleep=%v go=%q timed_out=%q skipped=%d\n", d.Dumps, d.Truncated, d.AllAsleep, d.GoVersion, d.TimedOut, d.Skipped)
	for _, h := range d.Header {
		fmt.Fprintf(&b, "header %q\n", h)
	}
	for _, g := range d.Goroutines {
		fmt.Fprintf(&b, "goroutine %d [%s] line=%d minutes=%d locked=%v leaked=%v durable=%v elided=%v truncated=%v m=%d gp=%#x",
			g.ID, g.Status, g.Line, g.Minutes, g.LockedToThread, g.Leaked, g.Durable, g.Elided, g.Truncated, g.M, g.GP)
		if len(g.Labels) > 0 {
			keys := make([]string, 0, len(g.Labels))
			for k := range g.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, " label[%q]=%q", k, g.Labels[k])
			}
		}
		b.WriteString("\n")
		for i, f := range g.Stack.Frames {
			fmt.Fprintf(&b, "  %s %s:%d inlined=%v args=%q\n", f.Func, f.File, f.Line, f.Inlined, g.Args(i))
		}
		if g.CreatedBy != nil {
			fmt.Fprintf(&b, "  created by %s in %d at %s:%d\n", g.CreatedBy.Func, g.ParentID, g.CreatedBy.File, g.CreatedBy.Line)
		}
	}
	return b.String()
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"", ""},
		{"0xc000012000", "c000012000"},
		{"0x0?, 0x1", "0? 1"},
		{"{0xc0000140a0, 0x5}, 0x7", "{} 7"},
		{"{{0x1, 0x2}, 0x3}, 0x4?", "{} 4?"},
		{"0x1, 0x2, ...", "1 2 _"},
		{"_, 0x2", "_ 2"},
		{"...", "_"},
		{"0xZZ", "_"},
	} {
		var parts []string
		for _, a := range dump.ParseArgs(tc.in) {
			switch {
			case a.Aggregate:
				parts = append(parts, "{}")
			case a.Unknown:
				parts = append(parts, "_")
			case a.Uncertain:
				parts = append(parts, fmt.Sprintf("%x?", a.Value))
			default:
				parts = append(parts, fmt.Sprintf("%x", a.Value))
			}
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("ParseArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSecondDump: a log with two dumps reads the first and counts both.
func TestSecondDump(t *testing.T) {
	t.Parallel()
	one := "goroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0x1\n\ngoroutine 2 [select]:\nmain.f()\n\t/a.go:2 +0x1\ncreated by main.main in goroutine 1\n\t/a.go:3 +0x1\n\n"
	d, err := dump.Parse(strings.NewReader(one+"some log line\n"+one+one), dump.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Dumps != 3 || len(d.Goroutines) != 2 || d.Truncated {
		t.Errorf("dumps %d, goroutines %d, truncated %v; want 3, 2, false", d.Dumps, len(d.Goroutines), d.Truncated)
	}
}

// TestSharedStacks: goroutines with the same frames share one Stack.
func TestSharedStacks(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "goroutine %d [chan receive]:\nmain.f(0x%x)\n\t/a.go:5 +0x1\ncreated by main.main in goroutine 1\n\t/a.go:9 +0x1\n\n", i+1, i)
	}
	d, err := dump.Parse(strings.NewReader(b.String()), dump.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Goroutines[0].Stack != d.Goroutines[2].Stack || d.Goroutines[2].Args(0) != "0x3" {
		t.Errorf("stacks not shared or args lost: %q", d.Goroutines[2].Args(0))
	}
}

// FuzzParse: any input either fails with one of the documented errors or
// parses into a consistent dump that the analysis can run on.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := dump.Parse(bytes.NewReader(in), dump.Options{MaxBytes: 1 << 20})
		if err != nil {
			if !(errorsIs(err, dump.ErrBinary) || errorsIs(err, dump.ErrNoDump) || errorsIs(err, dump.ErrTooLarge)) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		for _, g := range d.Goroutines {
			if g.Stack == nil {
				t.Fatalf("goroutine %d has no stack", g.ID)
			}
			for i := range g.Stack.Frames {
				dump.ParseArgs(g.Args(i))
			}
		}
		// Source lookups stay inside a directory holding only the AB-BA
		// fixture's source.
		snap := inspect.SnapshotFromDump(d, inspect.DumpOptions{Name: "fuzz", SourceRoot: fuzzSrc, OnlyUnderRoot: true})
		if len(snap.Goroutines) != len(d.Goroutines) {
			t.Fatalf("%d goroutines in the snapshot, %d in the dump", len(snap.Goroutines), len(d.Goroutines))
		}
	})
}
