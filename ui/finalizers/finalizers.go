// Package finalizers is the finalizer and cleanup pane: what the finalizer
// goroutine is doing (idle, running, or blocked in which finalizer, on what,
// held by whom, for how long), the queue behind it with sparklines of its
// length and of the execution rate over the refreshes, the pending
// finalizers by function and object type, and the cleanup goroutines.
package finalizers

import (
	"fmt"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/ui/components/doc"
	"github.com/hangtui/hangtui/ui/components/spark"
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

// Update handles keys: enter opens the selected goroutine.
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
	var b doc.Builder
	if m.data != nil && m.doc.W > 0 {
		m.build(&b, m.data)
	}
	m.doc.SetLines(b.Lines)
}

// item starts a selectable item that opens goroutine id.
func (m *Model) item(b *doc.Builder, id int64) int {
	m.targets = append(m.targets, id)
	return b.Item()
}

func (m *Model) build(b *doc.Builder, d *uictx.Data) {
	th, w := m.ctx.Theme, m.doc.W
	b.Add(" FINALIZERS AND CLEANUPS", " "+th.Header.Render("FINALIZERS AND CLEANUPS"))
	b.Blank()
	f := d.Snap.Finalizers
	if f == nil {
		b.Add("   finalizer state could not be read (see warnings)", "   "+th.Dim.Render("finalizer state could not be read (see warnings)"))
		return
	}
	h := d.Fin

	// The finalizer goroutine: state, function, what it waits on.
	head := report.FinalizerLineFor(f, max(f.Waiting, h.BlockedFor()))
	style := th.Plain
	switch {
	case f.State == inspect.FinalizerBlocked && d.G[f.Goroutine] != nil && d.G[f.Goroutine].Verdict.Stuck():
		style = th.Error
	case f.State == inspect.FinalizerBlocked:
		style = th.Warn
	}
	it := -1
	if f.Goroutine != 0 {
		it = m.item(b, f.Goroutine)
	}
	for _, l := range text.Wrap(head, w-4, 2) {
		m.add(b, it, "   "+l, "   "+style.Render(l))
	}
	if f.State == inspect.FinalizerBlocked {
		for _, wt := range f.BlockedOn {
			r := d.R[wt.Resource]
			s := wt.Op.WaitsTo() + " " + inspect.ResourceName(r, wt.Resource)
			if r != nil {
				for _, hd := range r.Holders {
					s += ", held by " + inspect.DescribeHolder(hd)
				}
			}
			for _, l := range text.Wrap(s, w-6, 2) {
				m.add(b, it, "     "+l, "     "+th.Edge.Render(l))
			}
		}
	}
	if h.Stalled() {
		s := fmt.Sprintf("⚠ stalled: blocked for %s while the queue grew from %d to %d", inspect.CoarseDuration(h.BlockedFor()), h.BlockedPending, h.Last().Pending)
		for _, l := range text.Wrap(s, w-4, 2) {
			m.add(b, it, "   "+l, "   "+th.Warn.Render(l))
		}
	}

	// The queue: length and rates, with sparklines over the refreshes.
	b.Blank()
	pendingOf := func(s uictx.FinSample) float64 { return float64(s.Pending) }
	executedOf := func(s uictx.FinSample) float64 { return float64(s.Executed) }
	queuedOf := func(s uictx.FinSample) float64 { return float64(s.Queued) }
	if f.QueueUnknown {
		s := "queue: unknown (only a live process or a core shows it)"
		b.Add("   "+s, "   "+th.Dim.Render(s))
	} else {
		m.queueLines(b, "queue", f.Pending, f.HasCounts, f.Queued, f.Executed, h, pendingOf, queuedOf, executedOf)
		m.groups(b, f.PendingByFunc)
	}

	// Cleanups.
	if c := f.Cleanups; c != nil {
		b.Blank()
		b.Add(" CLEANUPS", " "+th.Header.Render("CLEANUPS"))
		if c.OnFinalizerGoroutine {
			b.Add("   run on the finalizer goroutine (Go 1.24)", "   "+th.Dim.Render("run on the finalizer goroutine (Go 1.24)"))
		}
		blocked := map[int64]bool{}
		for _, id := range c.Blocked {
			blocked[id] = true
		}
		running := map[int64]bool{}
		for _, id := range c.Running {
			running[id] = true
		}
		for _, id := range c.Goroutines {
			g := d.G[id]
			state, st := "idle", th.Dim
			switch {
			case blocked[id]:
				state, st = "blocked", th.Warn
			case running[id]:
				state, st = "running", th.Plain
			}
			s := fmt.Sprintf("cleanup goroutine %d · %s", id, state)
			if g != nil && (blocked[id] || running[id]) {
				fn, loc := g.ShortWhere()
				s += " in " + fn + " " + loc
				if blocked[id] && g.WaitReason != "" {
					s += " (" + g.WaitReason + ")"
				}
			}
			it := m.item(b, id)
			for _, l := range text.Wrap(s, w-4, 2) {
				m.add(b, it, "   "+l, "   "+st.Render(l))
			}
		}
		cpending := func(s uictx.FinSample) float64 { return float64(s.CleanupsPending) }
		m.queueLines(b, "queue", c.Pending, c.HasCounts, c.Queued, c.Executed, h, cpending, nil, nil)
		m.groups(b, c.PendingByFunc)
	}
}

// queueLines draws "queue  N pending  ▁▂▃  +x/s" and, where the runtime
// counts them, the execution rate with its sparkline. Counter series are only
// drawn for the finalizer queue (the history keeps those).
func (m *Model) queueLines(b *doc.Builder, label string, pending int, hasCounts bool, queued, executed uint64,
	h *uictx.FinHistory, pendingOf, queuedOf, executedOf func(uictx.FinSample) float64) {
	th, w := m.ctx.Theme, m.doc.W
	sparkW := max(8, min(40, w-48))
	n := strconv.Itoa(pending) + " pending"
	s := "   " + text.Pad(label, 9) + text.Pad(n, 14)
	line := s + spark.Line(h.Series(pendingOf), sparkW)
	if r, ok := h.Rate(pendingOf); ok && r != 0 {
		line += fmt.Sprintf("  %+.1f/s", r)
	}
	b.Add(line, "")
	if !hasCounts || executedOf == nil {
		if !hasCounts {
			b.Add("   "+text.Pad("", 9)+"rates: this Go runtime keeps no finalizer counters (Go 1.25+ does)",
				"   "+text.Pad("", 9)+th.Dim.Render("rates: this Go runtime keeps no finalizer counters (Go 1.25+ does)"))
		}
		return
	}
	rate := "—"
	if r, ok := h.Rate(executedOf); ok {
		rate = fmt.Sprintf("%.1f/s", r)
	}
	line = "   " + text.Pad("executed", 9) + text.Pad(rate, 14) + spark.Line(h.RateSeries(executedOf), sparkW)
	b.Add(line, "")
	tot := fmt.Sprintf("queued %d · executed %d since start", queued, executed)
	if r, ok := h.Rate(queuedOf); ok {
		tot += fmt.Sprintf(" · queueing %.1f/s", r)
	}
	b.Add("   "+text.Pad("", 9)+tot, "   "+text.Pad("", 9)+th.Dim.Render(tot))
}

// groups lists the pending finalizers by function and type.
func (m *Model) groups(b *doc.Builder, gs []inspect.FinalizerGroup) {
	th, w := m.ctx.Theme, m.doc.W
	for i, g := range gs {
		if i == 8 {
			s := report.MoreFinalizerGroups(gs[i:])
			b.Add("     "+s, "     "+th.Dim.Render(s))
			return
		}
		s := fmt.Sprintf("%6d × %s", g.Count, inspect.ShortFuncName(g.Func))
		if g.Type != "" {
			s += " (" + inspect.ShortType(g.Type) + ")"
		}
		if g.Cleanup {
			s += " [cleanup]"
		}
		loc := inspect.ShortLoc(inspect.Frame{File: g.File, Line: g.Line})
		s = text.Cut(s, max(10, w-6-text.Width(loc)-2))
		b.Add("   "+s+"  "+loc, "   "+s+"  "+th.Dim.Render(loc))
	}
}

func (m *Model) add(b *doc.Builder, it int, plain, styled string) {
	if it < 0 {
		b.Add(plain, styled)
		return
	}
	b.AddTo(it, plain, styled)
}
