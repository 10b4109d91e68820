package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hangtui/hangtui/internal/fixture"
)

// TestReportDaemon: main.main parked in select {} with healthy workers is
// parked by design: `hangtui report` exits 0, calls it idle and says why
// in an info finding. A leak beside it (daemon-leak) still exits 3, and
// another goroutine in select {} there is leaked.
func TestReportDaemon(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	for _, tc := range []struct {
		scenario string
		exit     int
	}{{"daemon", 0}, {"daemon-leak", 3}} {
		t.Run(tc.scenario, func(t *testing.T) {
			p := fixture.Start(t, exe, tc.scenario)
			code, out, stderr := runHangtui(t, "report", fmt.Sprint(p.PID))
			if code != tc.exit {
				t.Errorf("hangtui report: exit %d, want %d\n%s%s", code, tc.exit, out, stderr)
			}
			if !strings.Contains(out, "main goroutine 1 parked in select {} by design") {
				t.Errorf("no parked-by-design finding:\n%s", out)
			}
			code, out, _ = runHangtui(t, "report", "--json", fmt.Sprint(p.PID))
			if code != tc.exit {
				t.Errorf("hangtui report --json: exit %d, want %d", code, tc.exit)
			}
			var doc struct {
				Summary struct {
					Stuck int `json:"stuck"`
				} `json:"summary"`
				Goroutines []struct {
					ID      int64  `json:"id"`
					Verdict string `json:"verdict"`
				} `json:"goroutines"`
				Findings []struct {
					Severity   string  `json:"severity"`
					Kind       string  `json:"kind"`
					Goroutines []int64 `json:"goroutines"`
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			verdicts := map[int64]string{}
			for _, g := range doc.Goroutines {
				verdicts[g.ID] = g.Verdict
			}
			if verdicts[1] != "idle" {
				t.Errorf("main goroutine: verdict %q, want idle", verdicts[1])
			}
			for id, want := range p.Manifest.Verdicts {
				var gid int64
				fmt.Sscan(id, &gid)
				if (want == "leaked") != (verdicts[gid] == "leaked" || verdicts[gid] == "deadlocked") {
					t.Errorf("goroutine %d: verdict %q, fixture intends %q", gid, verdicts[gid], want)
				}
			}
			info := false
			for _, f := range doc.Findings {
				if f.Kind == "parked-by-design" && f.Severity == "info" && len(f.Goroutines) == 1 && f.Goroutines[0] == 1 {
					info = true
				}
				if f.Severity != "info" && contains(f.Goroutines, 1) {
					t.Errorf("main goroutine in a %s %s finding", f.Severity, f.Kind)
				}
			}
			if !info {
				t.Errorf("no info finding parked-by-design for goroutine 1: %+v", doc.Findings)
			}
			if tc.exit == 0 && doc.Summary.Stuck != 0 {
				t.Errorf("summary: %d stuck, want 0", doc.Summary.Stuck)
			}
		})
	}
}

// TestReportDaemonDump: the same from a goroutine dump, where the runtime's
// traceback leaves runtime.main out and goroutine 1 ends in main.main.
func TestReportDaemonDump(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	path := filepath.Join(t.TempDir(), "daemon.dump")
	fixture.Start(t, exe, "daemon", "-pprof", path)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no dump written")
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, out, stderr := runHangtui(t, "report", "--dump", path)
	if code != 0 {
		t.Errorf("hangtui report --dump: exit %d, want 0\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "main goroutine 1 parked in select {} by design") || !strings.Contains(out, "goroutine 1 · idle") {
		t.Errorf("main goroutine not parked by design:\n%s", out)
	}
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
