// Package filter is the `/` filter line of the list panes: a text input
// whose words must all appear (case-insensitively) in what a row is about.
package filter

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Model is a filter line.
type Model struct {
	in     textinput.Model
	terms  []string
	active bool // the input has the keyboard
}

// New returns an empty filter.
func New(placeholder string) Model {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = placeholder
	st := textinput.DefaultStyles(true)
	plain := lipgloss.NewStyle()
	st.Focused.Prompt, st.Blurred.Prompt = plain.Bold(true), plain.Bold(true)
	st.Focused.Text, st.Blurred.Text = plain, plain
	st.Focused.Placeholder, st.Blurred.Placeholder = plain.Faint(true), plain.Faint(true)
	in.SetStyles(st)
	return Model{in: in}
}

// Active reports whether the filter line has the keyboard: every key goes
// to it until enter or esc.
func (m *Model) Active() bool { return m.active }

// Start gives the filter line the keyboard.
func (m *Model) Start() tea.Cmd {
	m.active = true
	return m.in.Focus()
}

// Value is the filter text.
func (m *Model) Value() string { return m.in.Value() }

// Set sets the filter text (tests, restoring state).
func (m *Model) Set(s string) {
	m.in.SetValue(s)
	m.terms = Terms(s)
}

// Terms are the lower-case words of the filter; empty matches everything.
func (m *Model) Terms() []string { return m.terms }

// SetWidth sets the width of the input.
func (m *Model) SetWidth(w int) { m.in.SetWidth(max(w-2, 1)) }

// Update handles a message while Active; changed reports that the terms
// changed (the list must be filtered again).
func (m *Model) Update(msg tea.Msg) (cmd tea.Cmd, changed bool) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "enter", "tab":
			m.active = false
			m.in.Blur()
			return nil, false
		case "esc", "ctrl+c":
			m.active = false
			m.in.Blur()
			m.in.SetValue("")
			changed = len(m.terms) > 0
			m.terms = nil
			return nil, changed
		}
	}
	m.in, cmd = m.in.Update(msg)
	t := Terms(m.in.Value())
	changed = strings.Join(t, " ") != strings.Join(m.terms, " ")
	m.terms = t
	return cmd, changed
}

// Clear empties the filter; it reports whether it was set.
func (m *Model) Clear() bool {
	had := len(m.terms) > 0
	m.in.SetValue("")
	m.terms = nil
	return had
}

// View is the filter line.
func (m *Model) View() string { return m.in.View() }

// Terms splits a filter into lower-case words.
func Terms(s string) []string { return strings.Fields(strings.ToLower(s)) }

// Match reports whether every term appears in hay (lower case already).
func Match(hay string, terms []string) bool {
	for _, t := range terms {
		if !strings.Contains(hay, t) {
			return false
		}
	}
	return true
}
