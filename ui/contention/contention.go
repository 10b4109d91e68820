// Package contention is the live Contention pane: the locks, channels,
// WaitGroups and Conds goroutines wait on, sampled several times a second
// without stopping the target (hangtui top), ranked by waiter-seconds, each
// with a sparkline of its waiters over the last samples. enter opens a
// resource: its holding and waiting code sites, and the goroutines that
// held it and waited on it in the last samples.
package contention

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/ui/components/doc"
	"github.com/hangtui/hangtui/ui/components/spark"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// Model is the Contention pane.
type Model struct {
	ctx  *uictx.Context
	doc  doc.Model
	prof *inspect.ContentionProfile
	// open is the resource shown in full ("" for the ranking); ids are
	// the ranking's items, goroutines the open resource's items.
	open       string
	ids        []string
	goroutines []int64
	listCursor int
}

// New returns the pane.
func New(ctx *uictx.Context) *Model {
	m := &Model{ctx: ctx}
	m.doc.Selected = ctx.Theme.Selected
	return m
}

// Title is the tab title.
func (m *Model) Title() string { return "Top" }

// SetSize sets the pane's size.
func (m *Model) SetSize(w, h int) {
	m.doc.SetSize(w, h)
	m.rebuild()
}

// Refresh picks up a new profile (or snapshot: goroutines to open).
func (m *Model) Refresh() {
	if m.prof != m.ctx.Contention {
		m.rebuild()
	}
}

// Back closes an open resource.
func (m *Model) Back() bool {
	if m.open == "" {
		return false
	}
	m.open = ""
	m.rebuild()
	m.doc.Select(m.listCursor)
	return true
}

// Update handles keys: enter opens the selected resource, or in an open
// resource the selected goroutine.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, m.ctx.Keys.Enter) {
		c := m.doc.Cursor
		if m.open == "" {
			if c >= 0 && c < len(m.ids) {
				m.listCursor = c
				m.open = m.ids[c]
				m.rebuild()
				m.doc.Select(0)
			}
			return nil
		}
		if c >= 0 && c < len(m.goroutines) && m.ctx.Data != nil && m.ctx.Data.G[m.goroutines[c]] != nil {
			return uictx.Cmd(uictx.OpenGoroutineMsg{ID: m.goroutines[c]})
		}
		if c >= 0 && c < len(m.goroutines) {
			return uictx.Cmd(uictx.FlashMsg{Text: fmt.Sprintf("goroutine %d is not in the last snapshot (r refreshes it)", m.goroutines[c])})
		}
		return nil
	}
	m.doc.Update(msg, m.ctx.Keys)
	return nil
}

// View draws the pane.
func (m *Model) View() string { return m.doc.View() }

func (m *Model) rebuild() {
	m.prof = m.ctx.Contention
	m.ids, m.goroutines = m.ids[:0], m.goroutines[:0]
	var b doc.Builder
	if m.doc.W > 0 {
		if r := m.resource(); r != nil {
			m.detail(&b, r)
		} else {
			m.open = ""
			m.list(&b)
		}
	}
	cur := m.doc.Cursor
	m.doc.SetLines(b.Lines)
	if cur >= 0 {
		m.doc.Select(cur)
	}
}

func (m *Model) resource() *inspect.ContendedResource {
	if m.open == "" || m.prof == nil {
		return nil
	}
	return m.prof.Resource(m.open)
}

func (m *Model) header(b *doc.Builder) bool {
	th := m.ctx.Theme
	p := m.prof
	b.Add(" CONTENTION", " "+th.Header.Render("CONTENTION"))
	if p == nil {
		msg := m.ctx.ContentionNote
		if msg == "" {
			msg = "sampling starts after the first snapshot"
		}
		for _, l := range text.Wrap(msg, m.doc.W-4, 0) {
			b.Add("   "+l, "   "+th.Dim.Render(l))
		}
		return false
	}
	rate := 0.0
	if s := p.Duration.Seconds(); s > 0 {
		rate = float64(p.Samples) / s
	}
	s := fmt.Sprintf("%d samples (%.1f/s) over %s without stopping the process", p.Samples, rate, inspect.CoarseDuration(p.Duration))
	if p.Dropped > 0 {
		s += fmt.Sprintf(" · %d dropped", p.Dropped)
	}
	for _, l := range text.Wrap(s, m.doc.W-4, 2) {
		b.Add("   "+l, "   "+th.Dim.Render(l))
	}
	b.Blank()
	return true
}

// list is the ranking.
func (m *Model) list(b *doc.Builder) {
	th, w := m.ctx.Theme, m.doc.W
	if !m.header(b) {
		return
	}
	if len(m.prof.Resources) == 0 {
		b.Add("   nothing has waited on a lock, channel, WaitGroup or Cond yet", "   "+th.Dim.Render("nothing has waited on a lock, channel, WaitGroup or Cond yet"))
		return
	}
	sparkW := max(8, min(uictx.SparkMax, w/4))
	head := fmt.Sprintf("   %8s %4s %4s  %-*s  %-8s %s", "WAIT-S", "NOW", "MAX", sparkW, "WAITERS", "KIND", "RESOURCE")
	b.Add(text.Cut(head, w), th.Dim.Render(text.Cut(head, w)))
	for _, r := range m.prof.Resources {
		it := b.Item()
		m.ids = append(m.ids, r.ID)
		now := 0
		if len(r.Series) > 0 {
			now = r.Series[len(r.Series)-1]
		}
		series := make([]float64, len(r.Series))
		for i, v := range r.Series {
			series[i] = float64(v)
		}
		sp := text.Pad(spark.Line(series, sparkW), sparkW)
		left := fmt.Sprintf("   %8.1f %4d %4d  ", r.WaitSeconds, now, r.MaxWaiters)
		rest := fmt.Sprintf("  %-8s %s", r.Kind, report.ResourceLabel(r))
		plain := left + sp + text.Cut(rest, max(4, w-text.Width(left)-sparkW))
		b.AddTo(it, plain, left+th.Warn.Render(sp)+text.Cut(rest, max(4, w-text.Width(left)-sparkW)))
		if len(r.Waiters) > 0 {
			s := fmt.Sprintf("waiting %3.0f%% %s", 100*r.Waiters[0].Share, report.SiteLine(r.Waiters[0]))
			b.AddTo(it, "      "+text.Cut(s, w-6), "      "+th.Dim.Render(text.Cut(s, w-6)))
		}
		if len(r.Holders) > 0 {
			s := fmt.Sprintf("holding %3.0f%% %s", 100*r.Holders[0].Share, report.SiteLine(r.Holders[0]))
			b.AddTo(it, "      "+text.Cut(s, w-6), "      "+th.Dim.Render(text.Cut(s, w-6)))
		}
	}
}

// detail is one resource in full.
func (m *Model) detail(b *doc.Builder, r *inspect.ContendedResource) {
	th, w := m.ctx.Theme, m.doc.W
	m.header(b)
	title := report.ResourceLabel(r)
	b.Add(" "+text.Cut(title, w-2), " "+th.Header.Render(text.Cut(title, w-2)))
	s := fmt.Sprintf("%s · %.1f waiter-seconds · %d waiting at most, %.1f on average", r.Kind, r.WaitSeconds, r.MaxWaiters, r.MeanWaiters)
	if len(r.Ops) > 1 {
		s += " · " + report.OpsLine(r)
	}
	for _, l := range text.Wrap(s, w-4, 2) {
		b.Add("   "+l, "   "+th.Dim.Render(l))
	}
	series := make([]float64, len(r.Series))
	for i, v := range r.Series {
		series[i] = float64(v)
	}
	b.Add("   waiters "+spark.Line(series, max(8, min(inspect.SeriesLen, w-14))), "")
	b.Blank()

	b.Add(" HOLDING", " "+th.Header.Render("HOLDING"))
	switch {
	case r.Kind != inspect.KindMutex && r.Kind != inspect.KindRWMutex:
		b.Add("   (only locks have holders)", "   "+th.Dim.Render("(only locks have holders)"))
	case len(r.Holders) == 0 && r.HolderSamples == 0:
		b.Add("   no holder pass yet", "   "+th.Dim.Render("no holder pass yet"))
	case len(r.Holders) == 0:
		s := fmt.Sprintf("not seen in %d holder passes (running on a thread, or no evidence)", r.HolderSamples)
		b.Add("   "+text.Cut(s, w-4), "   "+th.Dim.Render(text.Cut(s, w-4)))
	}
	for _, h := range r.Holders {
		s := fmt.Sprintf("%4.0f%% %s", 100*h.Share, report.SiteLine(h))
		b.Add("   "+text.Cut(s, w-4), "")
	}
	for _, h := range r.LastHolders {
		it := b.Item()
		m.goroutines = append(m.goroutines, h.Goroutine)
		s := "now: " + inspect.DescribeHolder(h)
		b.AddTo(it, "   "+text.Cut(s, w-4), "   "+th.Edge.Render(text.Cut(s, w-4)))
	}
	b.Blank()

	b.Add(" WAITING", " "+th.Header.Render("WAITING"))
	for i, ws := range r.Waiters {
		if i == 8 {
			s := fmt.Sprintf("… %d more sites", len(r.Waiters)-i)
			b.Add("   "+s, "   "+th.Dim.Render(s))
			break
		}
		s := fmt.Sprintf("%4.0f%% %s", 100*ws.Share, report.SiteLine(ws))
		b.Add("   "+text.Cut(s, w-4), "")
	}
	if len(r.Last) == 0 {
		b.Add("   nobody waits now", "   "+th.Dim.Render("nobody waits now"))
		return
	}
	s = "now: " + inspect.Plural(len(r.Last), "goroutine")
	b.Add("   "+s, "   "+th.Dim.Render(s))
	for i, id := range r.Last {
		if i == 50 {
			s := fmt.Sprintf("… %d more", len(r.Last)-i)
			b.Add("     "+s, "     "+th.Dim.Render(s))
			break
		}
		it := b.Item()
		m.goroutines = append(m.goroutines, id)
		line := "     " + inspect.ShortGID(id)
		if g := m.goroutineOf(id); g != nil {
			fn, loc := g.ShortWhere()
			line += " " + uictx.WhereFit(fn, loc, w-text.Width(line)-2)
		}
		b.AddTo(it, strings.TrimRight(line, " "), "")
	}
}

func (m *Model) goroutineOf(id int64) *inspect.Goroutine {
	if m.ctx.Data == nil {
		return nil
	}
	return m.ctx.Data.G[id]
}
