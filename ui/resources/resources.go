// Package resources is the pane of locks and channels: every
// synchronization object somebody waits on or holds, with its state, who
// holds it (and the evidence), and how many wait. Enter shows its holders
// and waiters; enter on one of them opens that goroutine.
package resources

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/components/doc"
	"github.com/hangtui/hangtui/ui/components/filter"
	"github.com/hangtui/hangtui/ui/components/scroll"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// header lines above the rows: toolbar and column titles.
const header = 2

// rowLines is the height of one resource in the list.
const rowLines = 2

// Model is the resources pane.
type Model struct {
	ctx  *uictx.Context
	w, h int

	data   *uictx.Data
	rows   []*inspect.Resource
	sc     scroll.State
	filter filter.Model
	selID  string

	// The open resource ("" for the list), and its holders and waiters.
	open    string
	detail  doc.Model
	targets []int64
}

// New returns the pane.
func New(ctx *uictx.Context) *Model {
	m := &Model{ctx: ctx, filter: filter.New("kind, type, state, address")}
	m.detail.Selected = ctx.Theme.Selected
	return m
}

// Title is the tab title.
func (m *Model) Title() string { return "Resources" }

// SetSize sets the pane's size.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.sc.SetHeight((h - header) / rowLines)
	m.filter.SetWidth(w / 2)
	m.detail.SetSize(w, h-3)
	if m.open != "" {
		m.buildDetail()
	}
}

// Capturing reports whether the filter line has the keyboard.
func (m *Model) Capturing() bool { return m.filter.Active() }

// Refresh picks up new data.
func (m *Model) Refresh() {
	if m.data == m.ctx.Data {
		return
	}
	m.data = m.ctx.Data
	m.rebuild()
	if m.open != "" {
		m.buildDetail()
	}
}

// Open shows resource id's holders and waiters.
func (m *Model) Open(id string) {
	m.Refresh()
	m.selID = id
	m.restore()
	m.open = id
	m.detail.Cursor = 0
	m.detail.Offset = 0
	m.buildDetail()
}

// OpenID is the resource whose holders and waiters are shown, or "".
func (m *Model) OpenID() string { return m.open }

// Back closes the open resource, or clears the filter; it reports whether
// there was something to undo.
func (m *Model) Back() bool {
	if m.open != "" {
		m.open = ""
		return true
	}
	if m.filter.Clear() {
		m.rebuild()
		return true
	}
	return false
}

// Update handles keys and mouse.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	km := m.ctx.Keys
	if m.filter.Active() {
		cmd, changed := m.filter.Update(msg)
		if changed {
			m.rebuild()
		}
		return cmd
	}
	if m.open != "" {
		return m.updateDetail(msg)
	}
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, km.Filter):
			return m.filter.Start()
		case key.Matches(msg, km.Enter):
			if m.sc.N > 0 {
				m.Open(m.rows[m.sc.Cursor].ID)
			}
			return nil
		}
	case tea.MouseClickMsg:
		row := m.sc.Offset + (msg.Y-header)/rowLines
		if msg.Y >= header && row < m.sc.N {
			if row == m.sc.Cursor {
				m.Open(m.rows[row].ID)
				return nil
			}
			m.sc.Select(row)
			m.selID = m.rows[row].ID
		}
		return nil
	}
	if m.sc.Update(msg, km) && m.sc.N > 0 {
		m.selID = m.rows[m.sc.Cursor].ID
	}
	return nil
}

func (m *Model) updateDetail(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if key.Matches(msg, m.ctx.Keys.Enter) {
			return m.openGoroutine(m.detail.Cursor)
		}
	case tea.MouseClickMsg:
		if it := m.detail.ItemAt(msg.Y - 3); it >= 0 {
			if it == m.detail.Cursor {
				return m.openGoroutine(it)
			}
			m.detail.Select(it)
		}
		return nil
	}
	m.detail.Update(msg, m.ctx.Keys)
	return nil
}

func (m *Model) openGoroutine(item int) tea.Cmd {
	if item >= 0 && item < len(m.targets) {
		return uictx.Cmd(uictx.OpenGoroutineMsg{ID: m.targets[item]})
	}
	return nil
}

// rebuild filters and sorts the list.
func (m *Model) rebuild() {
	m.rows = m.rows[:0]
	d := m.data
	if d == nil {
		m.sc.SetN(0)
		return
	}
	terms := m.filter.Terms()
	for _, r := range d.Snap.Resources {
		if r == nil {
			continue
		}
		if len(terms) > 0 && !filter.Match(strings.ToLower(r.ID+" "+string(r.Kind)+" "+r.Type+" "+r.State()), terms) {
			continue
		}
		m.rows = append(m.rows, r)
	}
	// Most interesting first: in a cycle, held with waiters, most waiters.
	rank := func(r *inspect.Resource) int {
		_, inCycle := d.ResInCycle[r.ID]
		switch {
		case inCycle:
			return 0
		case len(r.Holders) > 0 && len(r.Waiters) > 0:
			return 1
		case len(r.Holders) > 0:
			return 2
		}
		return 3
	}
	sort.SliceStable(m.rows, func(i, j int) bool {
		a, b := m.rows[i], m.rows[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if len(a.Waiters) != len(b.Waiters) {
			return len(a.Waiters) > len(b.Waiters)
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Addr < b.Addr
	})
	m.sc.SetN(len(m.rows))
	m.restore()
}

func (m *Model) restore() {
	for i, r := range m.rows {
		if r.ID == m.selID {
			m.sc.Select(i)
			return
		}
	}
}

// View draws the list, or the open resource.
func (m *Model) View() string {
	if m.open != "" {
		return m.viewDetail()
	}
	th := m.ctx.Theme
	lines := []string{m.toolbar()}
	// The state column fits "len 0/cap 16, open" from 80 columns on.
	kindW, stateW := 9, max(12, min(m.w/5+2, 22))
	nameW := min(m.w-2-kindW-1-stateW-1-8-1, 56)
	hdr := "  " + text.Pad("KIND", kindW) + " " + text.Pad("NAME", nameW) + " " + text.Pad("STATE", stateW) + " " + text.PadLeft("WAITERS", 8)
	lines = append(lines, th.Header.Render(text.Pad(hdr, m.w)))
	if m.sc.N == 0 {
		msg := "  no locks or channels are held or waited on"
		if len(m.filter.Terms()) > 0 {
			msg = fmt.Sprintf("  nothing matches %q (esc clears the filter)", m.filter.Value())
		}
		lines = append(lines, th.Dim.Render(msg))
	}
	from, to := m.sc.Visible()
	for i := from; i < to; i++ {
		r := m.rows[i]
		name := inspect.ShortType(r.Type)
		if name == "" {
			name = uictx.Addr(r)
		}
		if _, ok := m.data.ResInCycle[r.ID]; ok {
			name += " ⟲"
		}
		addr := ""
		if a := uictx.Addr(r); a != "" && text.Width(name)+2+len(a) <= nameW {
			addr = "  " + a
		}
		waiters := ""
		if n := len(r.Waiters); n > 0 {
			waiters = strconv.Itoa(n)
		}
		first := text.Pad(string(r.Kind), kindW) + " " + text.Pad(name+addr, nameW) + " " + text.Pad(r.State(), stateW) + " " + text.PadLeft(waiters, 8)
		second := "    " + m.who(r)
		if i == m.sc.Cursor {
			lines = append(lines, th.Selected.Render(text.Pad("› "+first, m.w)), second)
			continue
		}
		_, inCycle := m.data.ResInCycle[r.ID]
		nameSt := th.Resource
		if inCycle {
			nameSt = th.Cycle
		}
		lines = append(lines, "  "+text.Pad(string(r.Kind), kindW)+" "+nameSt.Render(name)+th.Dim.Render(text.Pad(addr, nameW-text.Width(name)))+" "+
			text.Pad(r.State(), stateW)+" "+th.Bold.Render(text.PadLeft(waiters, 8)), th.Dim.Render(text.Cut(second, m.w)))
	}
	return text.Lines(lines, m.w, m.h)
}

// who is the second line of a row: the holder, or who waits.
func (m *Model) who(r *inspect.Resource) string {
	if len(r.Holders) > 0 {
		s := uictx.HolderText(r.Holders[0])
		if n := len(r.Holders) - 1; n > 0 {
			s += fmt.Sprintf(" +%d more", n)
		}
		return s
	}
	if c := r.Chan; c != nil && len(c.Senders)+len(c.Receivers) > 0 {
		var p []string
		if len(c.Senders) > 0 {
			p = append(p, "senders "+inspect.ShortGIDs(c.Senders, 6))
		}
		if len(c.Receivers) > 0 {
			p = append(p, "receivers "+inspect.ShortGIDs(c.Receivers, 6))
		}
		return strings.Join(p, " · ")
	}
	held := r.Mutex != nil && r.Mutex.Locked || r.RWMutex != nil && (r.RWMutex.WriterHeld || r.RWMutex.Readers > 0)
	switch {
	case held:
		return "holder not found" + waitersSuffix(r)
	case len(r.Waiters) > 0:
		return "waiters " + inspect.ShortGIDs(r.Waiters, 8)
	}
	return "nobody waits"
}

func waitersSuffix(r *inspect.Resource) string {
	if len(r.Waiters) == 0 {
		return ""
	}
	return " · waiters " + inspect.ShortGIDs(r.Waiters, 6)
}

func (m *Model) toolbar() string {
	th := m.ctx.Theme
	if m.filter.Active() {
		return m.filter.View() + th.Dim.Render(fmt.Sprintf("  %d shown · enter keeps · esc clears", m.sc.N))
	}
	if m.data == nil {
		return ""
	}
	left := " " + inspect.Plural(len(m.data.Snap.Resources), "lock or channel")
	if len(m.data.Snap.Resources) != 1 {
		left = " " + strconv.Itoa(len(m.data.Snap.Resources)) + " locks and channels"
	}
	if len(m.filter.Terms()) > 0 {
		left = fmt.Sprintf(" %d of %d · /%s", len(m.rows), len(m.data.Snap.Resources), m.filter.Value())
	}
	return th.Bold.Render(left) + th.Dim.Render("  ⟲ deadlock cycle · enter: holders & waiters · / filter")
}

// ---- the open resource ----

func (m *Model) viewDetail() string {
	th := m.ctx.Theme
	r := m.data.R[m.open]
	var head, sub string
	if r == nil {
		head = m.open
		sub = th.Dim.Render("no longer in the snapshot: nobody waits on it or holds it now")
	} else {
		head = th.Bold.Render(inspect.ResourceName(r, r.ID)) + "  " + th.Dim.Render(uictx.Addr(r))
		sub = r.State()
		if n := len(r.Waiters); n > 0 {
			sub += " · " + strconv.Itoa(n) + " waiting"
		}
		if ci, ok := m.data.ResInCycle[r.ID]; ok {
			kind := m.data.Snap.Cycles[ci].Kind.Name()
			sub += " · " + th.Cycle.Render(fmt.Sprintf("in deadlock cycle %d (%s)", ci+1, kind))
		}
	}
	return text.Lines([]string{" " + head + th.Dim.Render("   esc back"), " " + sub, ""}, m.w, 3) + "\n" + m.detail.View()
}

func (m *Model) buildDetail() {
	m.targets = m.targets[:0]
	var b doc.Builder
	r := m.data.R[m.open]
	if r != nil {
		m.section(&b, "HELD BY", holdersOf(r), func(id int64) string {
			for _, h := range r.Holders {
				if h.Goroutine == id {
					s := "since "
					if h.Frame != nil {
						s += inspect.ShortLoc(*h.Frame)
					} else {
						s += "?"
					}
					s += " (" + h.EvidenceText("") + ")"
					if h.Read {
						s = "read-lock " + s
					}
					return s
				}
			}
			return ""
		})
		if c := r.Chan; c != nil && len(c.Senders)+len(c.Receivers) > 0 {
			m.section(&b, "SENDERS", c.Senders, func(int64) string { return "waits to send" })
			m.section(&b, "RECEIVERS", c.Receivers, func(int64) string { return "waits to receive" })
		} else {
			m.section(&b, "WAITERS", r.Waiters, func(id int64) string {
				if g := m.data.G[id]; g != nil {
					for _, w := range g.Waits {
						if w.Resource == r.ID {
							return w.Op.WaitsTo()
						}
					}
				}
				return "waits"
			})
		}
		if len(r.Holders) == 0 && len(r.Waiters) == 0 {
			b.Add("   nobody holds it or waits on it", "")
		}
	}
	m.detail.SetLines(b.Lines)
}

func holdersOf(r *inspect.Resource) []int64 {
	var ids []int64
	for _, h := range r.Holders {
		ids = append(ids, h.Goroutine)
	}
	return ids
}

func (m *Model) section(b *doc.Builder, title string, ids []int64, what func(int64) string) {
	if len(ids) == 0 {
		return
	}
	th := m.ctx.Theme
	b.Blank()
	t := fmt.Sprintf("%s (%d)", title, len(ids))
	b.Add(" "+t, " "+th.Header.Render(t))
	for _, id := range ids {
		it := b.Item()
		m.targets = append(m.targets, id)
		g, _ := m.data.Goroutine(id)
		verdict, fn, loc := "gone", "", ""
		var v inspect.Verdict
		if g != nil {
			v = g.Verdict
			verdict = v.Label()
			fn, loc = g.ShortWhere()
		}
		left := "   " + text.Pad(inspect.ShortGID(id), 7) + " " + text.Pad(verdict, 10) + " "
		w := what(id)
		rest := w + "  " + uictx.WhereFit(fn, loc, m.w-text.Width(left)-text.Width(w)-2)
		b.AddTo(it, left+rest, "   "+th.ID.Render(text.Pad(inspect.ShortGID(id), 7))+" "+th.Verdict(v).Render(text.Pad(verdict, 10))+" "+rest)
	}
}
