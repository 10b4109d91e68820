package ui

import (
	"bytes"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/hangtui/hangtui/ui/internal/uitest"
)

// TestProgram drives the real program loop (engine included) with teatest:
// the first snapshot arrives, tabs switch panes, the goroutine filter
// narrows the list, enter opens a goroutine and esc comes back, q quits.
func TestProgram(t *testing.T) {
	src := &fakeSource{snap: uitest.Deadlock}
	app := New(Options{Source: src, NoColor: true, Interval: 50 * time.Millisecond})
	tm := teatest.NewTestModel(t, app,
		teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))

	waitFor := func(what string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(what)) },
			teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	}
	send := func(keys ...string) {
		for _, k := range keys {
			tm.Send(uitest.Key(k))
		}
	}

	waitFor("FINDINGS")
	send("tab") // goroutines
	waitFor("sort: severity")
	send("/")
	tm.Type("ledger")
	send("enter")
	waitFor("2 of 12 groups")
	send("j", "enter") // g23, the leaked holder of the ledger lock
	waitFor("goroutine 23")
	send("esc")
	waitFor("2 of 12 groups")
	send("4") // graph
	waitFor("DEADLOCK CYCLE")
	send("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))

	final := tm.FinalModel(t).(*App)
	if final.active != paneGraph || final.inDetail {
		t.Errorf("final pane %d, detail %v; want the graph", final.active, final.inDetail)
	}
	final.Shutdown()
	snaps, resumes, closed := src.counts()
	if !closed {
		t.Error("quitting did not close (detach) the source")
	}
	if snaps < 1 || resumes < 1 {
		t.Errorf("%d snapshots, %d resumes: the target was not resumed between snapshots", snaps, resumes)
	}
}
