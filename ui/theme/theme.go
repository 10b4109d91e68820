// Package theme holds the styles of the TUI.
//
// Colours are the 16 basic ANSI colours only, so that they follow the
// terminal's own palette and stay readable on dark and on light backgrounds
// (the palette maps them); nothing is drawn on a coloured background except
// the selection, which is reverse video. Everything that matters is also told
// by text or by an attribute (bold, reverse), so NO_COLOR and --no-color lose
// nothing. The theme never queries the terminal: tmux 3.3a does not answer
// background-colour queries, and a crisis tool must not wait for one.
package theme

import (
	"image/color"
	"os"

	"charm.land/lipgloss/v2"

	"github.com/hangtui/hangtui/inspect"
)

// ANSI colours by number (the terminal decides what they look like).
var (
	red     = lipgloss.Color("1")
	green   = lipgloss.Color("2")
	yellow  = lipgloss.Color("3")
	magenta = lipgloss.Color("5")
	cyan    = lipgloss.Color("6")
)

// Theme is the set of styles every pane draws with.
type Theme struct {
	// NoColor is set when colours are off; attributes stay.
	NoColor bool

	Plain     lipgloss.Style // default text
	Dim       lipgloss.Style // secondary text
	Bold      lipgloss.Style // emphasis
	Header    lipgloss.Style // column headers, section titles
	Selected  lipgloss.Style // the selected row
	TabActive lipgloss.Style
	Tab       lipgloss.Style
	Key       lipgloss.Style // a key name in hints and help

	Error lipgloss.Style // errors, deadlock headline
	Warn  lipgloss.Style
	Info  lipgloss.Style
	OK    lipgloss.Style // "nothing stuck", live indicator

	Cycle    lipgloss.Style // edges and markers of a deadlock cycle
	Edge     lipgloss.Style // other wait-for edges
	Resource lipgloss.Style // a resource's name
	ID       lipgloss.Style // a goroutine id
	Changed  lipgloss.Style // marks of goroutines that changed since the last snapshot
	Source   lipgloss.Style // source lines around a frame
	Current  lipgloss.Style // the current source line
}

// NoColorEnv reports whether the NO_COLOR convention asks for no colour.
func NoColorEnv() bool { return os.Getenv("NO_COLOR") != "" }

// New returns the theme; with noColor set no style has a colour.
func New(noColor bool) *Theme {
	s := lipgloss.NewStyle
	t := &Theme{NoColor: noColor}
	col := t.color
	t.Plain = s()
	t.Dim = s().Faint(true)
	t.Bold = s().Bold(true)
	t.Header = s().Bold(true)
	t.Selected = s().Reverse(true)
	t.TabActive = s().Reverse(true).Bold(true)
	t.Tab = s()
	t.Key = col(s().Bold(true), cyan)
	t.Error = col(s().Bold(true), red)
	t.Warn = col(s().Bold(true), yellow)
	t.Info = col(s(), cyan)
	t.OK = col(s(), green)
	t.Cycle = col(s().Bold(true), red)
	t.Edge = s().Faint(true)
	t.Resource = col(s(), cyan)
	t.ID = s().Bold(true)
	t.Changed = col(s().Bold(true), yellow)
	t.Source = s().Faint(true)
	t.Current = s().Bold(true)
	return t
}

// color sets a foreground colour unless colours are off.
func (t *Theme) color(st lipgloss.Style, c color.Color) lipgloss.Style {
	if t.NoColor {
		return st
	}
	return st.Foreground(c)
}

// Verdict is the style of a verdict.
func (t *Theme) Verdict(v inspect.Verdict) lipgloss.Style {
	s, c := lipgloss.NewStyle(), t.color
	switch v {
	case inspect.VerdictDeadlocked:
		return c(s.Bold(true), red)
	case inspect.VerdictLeaked:
		return c(s.Bold(true), magenta)
	case inspect.VerdictBlocked:
		return c(s, yellow)
	case inspect.VerdictRunning, inspect.VerdictRunnable:
		return c(s, green)
	case inspect.VerdictSyscall:
		return c(s, cyan)
	case inspect.VerdictIdle:
		return s.Faint(true)
	}
	return s
}

// Severity is the style of a finding's severity tag.
func (t *Theme) Severity(sv inspect.Severity) lipgloss.Style {
	switch sv {
	case inspect.SeverityError:
		return t.Error
	case inspect.SeverityWarning:
		return t.Warn
	}
	return t.Info
}
