package inspect_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
)

// varying are the report's fields that may differ between two reads of the
// same state: when it was taken and how long the target was paused.
var varying = regexp.MustCompile(`"(taken_at|pause_ms)":("[^"]*"|[0-9.e+-]+)`)

// TestReportDeterministic: the same core gives the same bytes, in JSON
// and as text, whichever session reads it and however often (#18): holds,
// waiters, findings and cycles come out of maps and graph walks, and must
// be sorted. Three reads per core: two sessions, and a second snapshot in
// one of them (which also reuses the session's caches).
func TestReportDeterministic(t *testing.T) {
	for _, scenario := range []string{"all", "abba-many", "rwmutex-readers", "cleanup-blocked", "labels"} {
		t.Run(scenario, func(t *testing.T) {
			core, exe := sharedCore(t, scenario)
			var jsons, texts [][]byte
			for i := 0; i < 2; i++ {
				s, err := inspect.OpenCore(core, exe)
				if err != nil {
					t.Fatal(err)
				}
				for j := 0; j < 2-i; j++ {
					snap, err := s.Snapshot()
					if err != nil {
						s.Close()
						t.Fatal(err)
					}
					var js, txt bytes.Buffer
					if err := report.WriteJSON(&js, snap); err != nil {
						t.Fatal(err)
					}
					// The text's header says when (the JSON's taken_at).
					snap.TakenAt, snap.Pause = time.Time{}, 0
					if err := report.WriteText(&txt, snap); err != nil {
						t.Fatal(err)
					}
					jsons = append(jsons, varying.ReplaceAll(js.Bytes(), []byte(`"$1":0`)))
					texts = append(texts, txt.Bytes())
				}
				s.Close()
			}
			for i := 1; i < len(jsons); i++ {
				if !bytes.Equal(jsons[0], jsons[i]) {
					t.Errorf("JSON of read %d differs from read 1 at %s", i+1, firstDiff(jsons[0], jsons[i]))
				}
				if !bytes.Equal(texts[0], texts[i]) {
					t.Errorf("text of read %d differs from read 1 at %s", i+1, firstDiff(texts[0], texts[i]))
				}
			}
		})
	}
}

// firstDiff shows where two byte strings first differ, with some context.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-120)
	return "byte " + strconv.Itoa(i) + ":\n  " + string(a[lo:min(len(a), i+120)]) + "\nvs\n  " + string(b[lo:min(len(b), i+120)])
}

// TestDumpReportDeterministic: the same goroutine dump gives the same
// bytes every time (the dump analysis builds holders and waits from maps
// too).
func TestDumpReportDeterministic(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("dump", "testdata", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no dumps in dump/testdata")
	}
	for _, f := range files {
		var first []byte
		for i := 0; i < 4; i++ {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := inspect.ReadDump(r, inspect.DumpOptions{Name: f})
			r.Close()
			if err != nil {
				continue // the bad-input dumps
			}
			snap.TakenAt = time.Time{}
			var js, txt bytes.Buffer
			if err := report.WriteJSON(&js, snap); err != nil {
				t.Fatal(err)
			}
			if err := report.WriteText(&txt, snap); err != nil {
				t.Fatal(err)
			}
			out := append(js.Bytes(), txt.Bytes()...)
			if i == 0 {
				first = out
			} else if !bytes.Equal(first, out) {
				t.Errorf("%s: read %d differs from read 1 at %s", f, i+1, firstDiff(first, out))
				break
			}
		}
	}
}
