// Package finalizers is the slot for the finalizer and cleanup pane. The
// analysis of finalizer and cleanup queues is not there yet; until it is,
// the pane says so and lists the finalizer and cleanup goroutines.
package finalizers

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/components/doc"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// Model is the finalizers pane.
type Model struct {
	ctx     *uictx.Context
	doc     doc.Model
	data    *uictx.Data
	targets []int64
}

// New returns the pane.
func New(ctx *uictx.Context) *Model {
	m := &Model{ctx: ctx}
	m.doc.Selected = ctx.Theme.Selected
	return m
}

// Title is the tab title.
func (m *Model) Title() string { return "Finalizers" }

// SetSize sets the pane's size.
func (m *Model) SetSize(w, h int) {
	m.doc.SetSize(w, h)
	m.rebuild()
}

// Refresh picks up new data.
func (m *Model) Refresh() {
	if m.data != m.ctx.Data {
		m.rebuild()
	}
}

// Update handles keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, m.ctx.Keys.Enter) {
		if c := m.doc.Cursor; c >= 0 && c < len(m.targets) {
			return uictx.Cmd(uictx.OpenGoroutineMsg{ID: m.targets[c]})
		}
		return nil
	}
	m.doc.Update(msg, m.ctx.Keys)
	return nil
}

// View draws the pane.
func (m *Model) View() string { return m.doc.View() }

func (m *Model) rebuild() {
	m.data = m.ctx.Data
	m.targets = m.targets[:0]
	th := m.ctx.Theme
	var b doc.Builder
	b.Add(" FINALIZERS AND CLEANUPS", " "+th.Header.Render("FINALIZERS AND CLEANUPS"))
	b.Blank()
	b.Add("   finalizer and cleanup state: coming", "   "+th.Dim.Render("finalizer and cleanup state: coming"))
	if m.data != nil {
		first := true
		for _, g := range m.data.Order {
			if g.Role == inspect.RoleNone {
				continue
			}
			if first {
				b.Blank()
				b.Add("   The goroutines that run them:", "")
				first = false
			}
			it := b.Item()
			m.targets = append(m.targets, g.ID)
			fn, loc := uictx.Where(g)
			s := "   " + text.Pad(uictx.GID(g.ID), 7) + " " + text.Pad(string(g.Role), 10) + " " + text.Pad(uictx.Verdict(g.Verdict), 10) + " " + uictx.Doing(g)
			s += "  " + uictx.WhereFit(fn, loc, max(m.doc.W-text.Width(s)-2, 10))
			b.AddTo(it, s, "")
		}
	}
	m.doc.SetLines(b.Lines)
}
