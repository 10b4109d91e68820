package theme

import (
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
)

// TestNoColor: without colours, styles keep attributes (bold, reverse) and
// emit no colour codes, so nothing depends on colour alone.
func TestNoColor(t *testing.T) {
	th := New(true)
	for _, s := range []string{
		th.Error.Render("x"), th.Verdict(inspect.VerdictDeadlocked).Render("x"), th.Cycle.Render("x"),
		th.Resource.Render("x"), th.OK.Render("x"), th.Severity(inspect.SeverityWarning).Render("x"),
	} {
		if strings.Contains(s, "[3") || strings.Contains(s, "38;") {
			t.Errorf("colour code in %q", s)
		}
	}
	if !strings.Contains(th.Selected.Render("x"), "7") {
		t.Error("the selection is not reverse video")
	}
	if s := New(false).Verdict(inspect.VerdictDeadlocked).Render("x"); !strings.Contains(s, "31") {
		t.Errorf("deadlocked is not ANSI red: %q", s)
	}
}
