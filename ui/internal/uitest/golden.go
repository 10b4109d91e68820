package uitest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	// Registers the -update flag that teatest's golden files use too; the
	// pane goldens share it, so `go test ./ui/... -update` updates all.
	_ "github.com/charmbracelet/x/exp/golden"

	"github.com/hangtui/hangtui/inspect"
	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/keys"
	"github.com/hangtui/hangtui/ui/theme"
)

// Now is the fixed clock of the tests: 5s after TakenAt.
func Now() time.Time { return TakenAt.Add(5 * time.Second) }

// Context returns a colourless context of the given size holding snap
// (nil for none), as the root model would set it up.
func Context(snap *inspect.Snapshot, w, h int) *uictx.Context {
	km := keys.Default()
	c := uictx.New(theme.New(true), &km)
	c.Width, c.Height = w, h
	c.Now = Now
	c.Interval = 2 * time.Second
	if snap != nil {
		c.Data = uictx.Build(snap, nil)
		c.Status = uictx.Status{State: uictx.Live, LastAt: TakenAt, Interval: 2 * time.Second}
	}
	return c
}

// Plain removes escape codes and trailing spaces: the frame as a colourless
// terminal shows it.
func Plain(s string) string {
	lines := strings.Split(ansi.Strip(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// Golden compares a frame with testdata/<name>.golden; with -update it
// writes the file instead. It also checks the frame's size: exactly h lines,
// none wider than w.
func Golden(t *testing.T, name, frame string, w, h int) {
	t.Helper()
	CheckSize(t, frame, w, h)
	got := Plain(frame) + "\n"
	path := filepath.Join("testdata", name+".golden")
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// CheckSize fails unless frame has exactly h lines of at most w columns.
func CheckSize(t *testing.T, frame string, w, h int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) != h {
		t.Errorf("frame has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d columns wide, max %d: %q", i+1, n, w, ansi.Strip(l))
		}
	}
}

// Key is the key press message of a key name: "j", "enter", "esc", "tab",
// "shift+tab", "up", "down", "pgdown", "ctrl+c".
func Key(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// Keys are the key presses of every character of s.
func Keys(s string) []tea.KeyPressMsg {
	var out []tea.KeyPressMsg
	for _, r := range s {
		out = append(out, Key(string(r)))
	}
	return out
}
