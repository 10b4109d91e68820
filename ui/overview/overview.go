// Package overview is the default pane: the headline, the findings most
// severe first, the deadlock cycles and the biggest groups of goroutines.
// Enter on a finding, cycle or group opens its first goroutine.
package overview

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/ui/components/doc"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// maxGroups is how many of the biggest groups are listed.
const maxGroups = 6

// Model is the overview pane.
type Model struct {
	ctx     *uictx.Context
	doc     doc.Model
	targets []int64 // goroutine opened by each item
	data    *uictx.Data
}

// New returns the pane.
func New(ctx *uictx.Context) *Model {
	m := &Model{ctx: ctx}
	m.doc.Selected = ctx.Theme.Selected
	return m
}

// Title is the pane's tab title.
func (m *Model) Title() string { return "Overview" }

// SetSize sets the pane's size.
func (m *Model) SetSize(w, h int) {
	resized := w != m.doc.W
	m.doc.SetSize(w, h)
	if resized {
		m.rebuild()
	}
}

// Refresh rebuilds the pane from the context's current data.
func (m *Model) Refresh() {
	if m.data != m.ctx.Data {
		m.rebuild()
	}
}

// Update handles keys and mouse.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if key.Matches(msg, m.ctx.Keys.Enter) {
			return m.open(m.doc.Cursor)
		}
	case tea.MouseClickMsg:
		if it := m.doc.ItemAt(msg.Y); it >= 0 {
			if it == m.doc.Cursor {
				return m.open(it)
			}
			m.doc.Select(it)
		}
		return nil
	}
	m.doc.Update(msg, m.ctx.Keys)
	return nil
}

func (m *Model) open(item int) tea.Cmd {
	if item < 0 || item >= len(m.targets) || m.targets[item] == 0 {
		return nil
	}
	return uictx.Cmd(uictx.OpenGoroutineMsg{ID: m.targets[item]})
}

// View draws the pane.
func (m *Model) View() string { return m.doc.View() }

func (m *Model) rebuild() {
	m.data = m.ctx.Data
	m.targets = m.targets[:0]
	var b doc.Builder
	if d := m.data; d != nil && m.doc.W > 0 {
		m.build(&b, d)
	}
	m.doc.SetLines(b.Lines)
}

func (m *Model) item(b *doc.Builder, target int64) int {
	m.targets = append(m.targets, target)
	return b.Item()
}

func (m *Model) build(b *doc.Builder, d *uictx.Data) {
	th, w := m.ctx.Theme, m.doc.W
	snap := d.Snap

	// Headline.
	mark, st := "✓ ", th.OK
	if d.Stuck > 0 {
		mark, st = "✗ ", th.Error
	}
	for i, l := range text.Wrap(mark+d.Headline, w-1, 2) {
		if i == 0 {
			b.Add(" "+l, " "+st.Render(l))
		} else {
			b.Add(" "+l, " "+st.Render(l))
		}
	}
	m.summary(b, d)
	m.codeLine(b, d)
	m.finalizerLine(b, d)

	// Findings, most severe first (stable: the analysis' order within a
	// severity).
	fs := append([]inspect.Finding(nil), snap.Findings...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity > fs[j].Severity })
	if len(fs) > 0 {
		b.Blank()
		b.Add(fmt.Sprintf(" FINDINGS (%d)", len(fs)), " "+th.Header.Render(fmt.Sprintf("FINDINGS (%d)", len(fs))))
	}
	for n, f := range fs {
		if n > 0 {
			b.Blank()
		}
		var target int64
		if len(f.Goroutines) > 0 {
			target = f.Goroutines[0]
		}
		it := m.item(b, target)
		tag := severity(f.Severity)
		title := f.Title
		if title == "" {
			title = string(f.Kind)
		}
		for i, l := range text.Wrap(title, w-3-len(tag)-2, 0) {
			if i == 0 {
				b.AddTo(it, " "+tag+"  "+l, " "+th.Severity(f.Severity).Render(tag)+"  "+th.Bold.Render(l))
			} else {
				pad := strings.Repeat(" ", len(tag)+3)
				b.AddTo(it, pad+l, pad+th.Bold.Render(l))
			}
		}
		ind := strings.Repeat(" ", len(tag)+3)
		for _, det := range f.Details {
			for _, l := range text.Wrap(det, w-len(ind), 2) {
				b.AddTo(it, ind+l, "")
			}
		}
	}

	// Cycles.
	if len(snap.Cycles) > 0 {
		b.Blank()
		h := fmt.Sprintf("CYCLES (%d)", len(snap.Cycles))
		b.Add(" "+h, " "+th.Header.Render(h)+th.Dim.Render("  · 4 or tab to the graph"))
	}
	for i, c := range snap.Cycles {
		var target int64
		if len(c.Goroutines) > 0 {
			target = c.Goroutines[0]
		}
		it := m.item(b, target)
		kind := c.Kind.Name()
		var parts []string
		for j, id := range c.Goroutines {
			parts = append(parts, inspect.ShortGID(id))
			if j < len(c.Resources) {
				r := d.R[c.Resources[j]]
				name := inspect.ResourceName(r, c.Resources[j])
				if r != nil && inspect.ShortType(r.Type) != "" {
					name = inspect.ShortType(r.Type)
				}
				parts = append(parts, name)
			}
		}
		if len(c.Goroutines) > 0 {
			parts = append(parts, inspect.ShortGID(c.Goroutines[0]))
		}
		head := strconv.Itoa(i+1) + ". " + string(kind) + ": "
		for k, l := range text.Wrap(head+strings.Join(parts, " → "), w-3, len(head)) {
			st := l
			if k == 0 {
				st = th.Cycle.Render(head) + l[len(head):]
			}
			b.AddTo(it, "   "+l, "   "+st)
		}
	}

	m.groups(b, d)

	if len(snap.Warnings) > 0 {
		b.Blank()
		h := fmt.Sprintf("WARNINGS (%d)", len(snap.Warnings))
		b.Add(" "+h, " "+th.Warn.Render(h))
		for _, wn := range snap.Warnings {
			for _, l := range text.Wrap("- "+wn, w-3, 2) {
				b.Add("   "+l, "")
			}
		}
	}
}

// codeLine says what the source analysis (proofs through package
// variables) is doing or proved.
func (m *Model) codeLine(b *doc.Builder, d *uictx.Data) {
	line := report.CodeLine(d.Snap.Code)
	if line == "" {
		return
	}
	th, w := m.ctx.Theme, m.doc.W
	for _, l := range text.Wrap(line, w-3, 2) {
		b.Add("   "+l, "   "+th.Dim.Render(l))
	}
}

// summary is "21 goroutines: 6 deadlocked, 1 leaked, ..." with coloured
// verdicts.
func (m *Model) summary(b *doc.Builder, d *uictx.Data) {
	th := m.ctx.Theme
	n := map[inspect.Verdict]int{}
	var vs []inspect.Verdict
	for _, g := range d.Order {
		if n[g.Verdict] == 0 {
			vs = append(vs, g.Verdict)
		}
		n[g.Verdict]++
	}
	plain := []string{}
	styled := []string{}
	for _, v := range vs {
		s := strconv.Itoa(n[v]) + " " + string(v)
		plain = append(plain, s)
		styled = append(styled, th.Verdict(v).Render(s))
	}
	if len(plain) == 0 {
		return
	}
	p := strings.Join(plain, ", ")
	if text.Width(p)+3 <= m.doc.W {
		b.Add("   "+p, "   "+strings.Join(styled, th.Dim.Render(", ")))
		return
	}
	for _, l := range text.Wrap(p, m.doc.W-3, 0) {
		b.Add("   "+l, "   "+th.Dim.Render(l))
	}
}

// finalizerLine adds a line under the headline when the finalizer goroutine
// is stuck, or has stayed blocked past uictx.StallAfter while finalizers
// pile up behind it: every finalizer of the process waits, and the memory,
// files and sockets they would release leak meanwhile.
func (m *Model) finalizerLine(b *doc.Builder, d *uictx.Data) {
	f := d.Snap.Finalizers
	if f == nil || f.State != inspect.FinalizerBlocked {
		return
	}
	g := d.G[f.Goroutine]
	stuck := g != nil && g.Verdict.Stuck()
	if !stuck && !d.Fin.Stalled() {
		return
	}
	th := m.ctx.Theme
	s := fmt.Sprintf("⚠ finalizers stalled: %s blocked", inspect.ShortGID(f.Goroutine))
	if bf := max(d.Fin.BlockedFor(), f.Waiting); bf > 0 {
		s += " for " + inspect.CoarseDuration(bf)
	}
	if f.Running != nil {
		s += " in " + inspect.ShortFuncName(f.Running.Func)
	}
	s += fmt.Sprintf(" · %d queued", f.Pending)
	if d.Fin.Growing() {
		s += " and growing"
	}
	st := th.Warn
	if stuck {
		st = th.Error
	}
	it := m.item(b, f.Goroutine)
	for _, l := range text.Wrap(s, m.doc.W-3, 2) {
		b.AddTo(it, "   "+l, "   "+st.Render(l)+"")
	}
	b.AddTo(it, "     5 for the finalizer queue", "     "+th.Dim.Render("5 for the finalizer queue"))
}

// groups lists the biggest groups of goroutines that are not idle.
func (m *Model) groups(b *doc.Builder, d *uictx.Data) {
	th, w := m.ctx.Theme, m.doc.W
	shown := 0
	for _, grp := range d.Groups {
		if grp.Key.Verdict == inspect.VerdictIdle {
			continue
		}
		if shown == 0 {
			b.Blank()
			h := "BIGGEST GROUPS"
			b.Add(" "+h, " "+th.Header.Render(h)+th.Dim.Render("  · 2 or tab for all goroutines"))
		}
		if shown == maxGroups {
			break
		}
		shown++
		rep := grp.Representative
		it := m.item(b, rep.ID)
		count := "×" + strconv.Itoa(len(grp.Goroutines))
		if len(grp.Goroutines) == 1 {
			count = inspect.ShortGID(rep.ID)
		}
		verdict := grp.Key.Verdict.Label()
		fn, loc := rep.ShortWhere()
		doing := rep.Doing()
		dw := max(16, min(w/5, 26))
		left := fmt.Sprintf("   %-6s %-10s %s ", text.Cut(count, 6), verdict, text.Pad(doing, dw))
		rest := uictx.WhereFit(fn, loc, w-text.Width(left))
		plain := left + rest
		styled := fmt.Sprintf("   %-6s %s %s ", text.Cut(count, 6),
			th.Verdict(grp.Key.Verdict).Render(fmt.Sprintf("%-10s", verdict)), text.Pad(doing, dw)) + th.Dim.Render(rest)
		b.AddTo(it, plain, styled)
	}
}

// severity is a finding's severity tag, in upper case, all tags as wide as
// the widest: "ERROR  ", "WARNING".
func severity(s inspect.Severity) string {
	return text.Pad(strings.ToUpper(s.String()), len("WARNING"))
}
