// Package goroutines is the list of every goroutine, grouped by identical
// stack (the default) or one per row. Only the visible rows are drawn, and
// filtering and sorting touch groups rather than goroutines where they can,
// so the pane stays smooth at 100,000 goroutines.
package goroutines

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/ui/components/filter"
	"github.com/hangtui/hangtui/ui/components/scroll"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// SortKey is the order of the rows.
type SortKey int

const (
	BySeverity  SortKey = iota // verdict, then group size (report order)
	ByWait                     // longest parked first
	ByUnchanged                // unchanged for the most refreshes first
	ByFunc                     // by function name
	ByID                       // by goroutine id (ungrouped) / size (grouped)
	numSorts
)

func (s SortKey) String(grouped bool) string {
	switch s {
	case ByWait:
		return "wait"
	case ByUnchanged:
		return "unchanged"
	case ByFunc:
		return "function"
	case ByID:
		if grouped {
			return "size"
		}
		return "id"
	}
	return "severity"
}

// header lines above the rows: the toolbar and the column titles.
const header = 2

// Model is the goroutines pane.
type Model struct {
	ctx  *uictx.Context
	w, h int

	data      *uictx.Data
	grouped   bool
	sortKey   SortKey
	filter    filter.Model
	hay       []string // lower-case text of each group, for filtering
	hayData   *uictx.Data
	groupRows []int                // visible groups (indexes into data.Groups)
	rows      []*inspect.Goroutine // visible goroutines when ungrouped
	sc        scroll.State

	// Column widths, computed once per snapshot, width and grouping.
	cols        columns
	colsFor     *uictx.Data
	colsW       int
	colsGrouped bool

	// The selection, kept across refreshes and regrouping.
	selKey report.GroupKey
	selID  int64
}

// New returns the pane, grouped.
func New(ctx *uictx.Context) *Model {
	return &Model{ctx: ctx, grouped: true, filter: filter.New("function, file, state, wait reason, label, g123")}
}

// Title is the tab title.
func (m *Model) Title() string { return "Goroutines" }

// SetSize sets the pane's size.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.sc.SetHeight(h - header)
	m.filter.SetWidth(w / 2)
}

// Capturing reports whether the filter line has the keyboard.
func (m *Model) Capturing() bool { return m.filter.Active() }

// Refresh picks up new data, keeping the selection.
func (m *Model) Refresh() {
	if m.data == m.ctx.Data {
		return
	}
	m.data = m.ctx.Data
	m.rebuild()
}

// Grouped reports whether goroutines are grouped.
func (m *Model) Grouped() bool { return m.grouped }

// SetFilter sets the filter text (tests).
func (m *Model) SetFilter(s string) {
	m.filter.Set(s)
	m.rebuild()
}

// SelectGoroutine moves the selection to goroutine id (or its group).
func (m *Model) SelectGoroutine(id int64) {
	if m.data == nil {
		return
	}
	m.selID = id
	if gi, ok := m.data.GroupOf[id]; ok {
		m.selKey = m.data.Groups[gi].Key
	}
	m.restoreSelection()
}

// Back undoes the last thing esc can undo (a filter); it reports whether
// there was one.
func (m *Model) Back() bool {
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
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, km.Filter):
			return m.filter.Start()
		case key.Matches(msg, km.Group):
			m.grouped = !m.grouped
			m.rebuild()
			return nil
		case key.Matches(msg, km.Sort):
			m.sortKey = (m.sortKey + 1) % numSorts
			m.rebuild()
			return nil
		case key.Matches(msg, km.Enter):
			return m.open()
		}
	case tea.MouseClickMsg:
		row := m.sc.Offset + msg.Y - header
		if msg.Y >= header && row < m.sc.N {
			if row == m.sc.Cursor {
				return m.open()
			}
			m.sc.Select(row)
			m.remember()
		}
		return nil
	}
	if m.sc.Update(msg, km) {
		m.remember()
	}
	return nil
}

// Selected returns the id of the selected goroutine (a group's first), or 0.
func (m *Model) Selected() int64 {
	if m.sc.N == 0 || m.data == nil {
		return 0
	}
	if m.grouped {
		return m.data.Groups[m.groupRows[m.sc.Cursor]].Representative.ID
	}
	return m.rows[m.sc.Cursor].ID
}

func (m *Model) open() tea.Cmd {
	if id := m.Selected(); id != 0 {
		return uictx.Cmd(uictx.OpenGoroutineMsg{ID: id})
	}
	return nil
}

// remember records the selection so it survives refreshes.
func (m *Model) remember() {
	if m.sc.N == 0 || m.data == nil {
		return
	}
	if m.grouped {
		grp := m.data.Groups[m.groupRows[m.sc.Cursor]]
		m.selKey, m.selID = grp.Key, grp.Representative.ID
		return
	}
	g := m.rows[m.sc.Cursor]
	m.selID = g.ID
	if gi, ok := m.data.GroupOf[g.ID]; ok {
		m.selKey = m.data.Groups[gi].Key
	}
}

func (m *Model) restoreSelection() {
	if m.data == nil {
		return
	}
	if m.grouped {
		for i, gi := range m.groupRows {
			if m.data.Groups[gi].Key == m.selKey {
				m.sc.Select(i)
				return
			}
		}
		if gi, ok := m.data.GroupOf[m.selID]; ok {
			for i, x := range m.groupRows {
				if x == gi {
					m.sc.Select(i)
					return
				}
			}
		}
		return
	}
	for i, g := range m.rows {
		if g.ID == m.selID {
			m.sc.Select(i)
			return
		}
	}
}

// rebuild filters and sorts the rows.
func (m *Model) rebuild() {
	d := m.data
	m.groupRows, m.rows = m.groupRows[:0], m.rows[:0]
	if d == nil {
		m.sc.SetN(0)
		return
	}
	if m.hayData != d {
		m.hay = make([]string, len(d.Groups))
		for i, grp := range d.Groups {
			m.hay[i] = groupHay(grp)
		}
		m.hayData = d
	}
	terms := m.filter.Terms()
	if m.grouped {
		for i, grp := range d.Groups {
			if len(terms) == 0 || m.groupMatches(i, grp, terms) {
				m.groupRows = append(m.groupRows, i)
			}
		}
		m.sortGroups()
		m.sc.SetN(len(m.groupRows))
	} else {
		for _, g := range d.Order {
			if len(terms) == 0 || m.matches(g, terms) {
				m.rows = append(m.rows, g)
			}
		}
		m.sortRows()
		m.sc.SetN(len(m.rows))
	}
	m.restoreSelection()
}

func (m *Model) groupMatches(i int, grp report.Group, terms []string) bool {
	if filter.Match(m.hay[i], terms) {
		return true
	}
	for _, g := range grp.Goroutines {
		if m.matches(g, terms) {
			return true
		}
	}
	return false
}

// matches reports whether every term is in the goroutine's group text or in
// its own (id, labels).
func (m *Model) matches(g *inspect.Goroutine, terms []string) bool {
	hay := m.hay[m.data.GroupOf[g.ID]]
	own := ""
	for _, t := range terms {
		if strings.Contains(hay, t) {
			continue
		}
		if own == "" {
			own = ownHay(g)
		}
		if !strings.Contains(own, t) {
			return false
		}
	}
	return true
}

// groupHay is what a filter searches in a group: verdict, state, wait
// reason and every frame's function and file:line.
func groupHay(grp report.Group) string {
	var b strings.Builder
	k := grp.Key
	b.WriteString(string(k.Verdict) + " " + string(k.State) + " " + k.WaitReason + " ")
	rep := grp.Representative
	if rep.Role != inspect.RoleNone {
		b.WriteString(string(rep.Role) + " ")
	}
	if rep.System {
		b.WriteString("runtime ")
	}
	b.WriteString(k.Stack)
	if c := rep.CreatedBy; c != nil {
		b.WriteString(" " + c.Func + " " + c.File + ":" + strconv.Itoa(c.Line))
	}
	return strings.ToLower(b.String())
}

func ownHay(g *inspect.Goroutine) string {
	var b strings.Builder
	b.WriteString("g" + strconv.FormatInt(g.ID, 10) + " ")
	for k, v := range g.Labels {
		b.WriteString(strings.ToLower(k + "=" + v + " "))
	}
	return b.String()
}

func maxWait(gs []*inspect.Goroutine) time.Duration {
	var w time.Duration
	for _, g := range gs {
		w = max(w, g.Waiting)
	}
	return w
}

func (m *Model) sortGroups() {
	d, rows := m.data, m.groupRows
	less := func(a, b report.Group) bool { return false }
	switch m.sortKey {
	case ByWait:
		less = func(a, b report.Group) bool { return maxWait(a.Goroutines) > maxWait(b.Goroutines) }
	case ByUnchanged:
		less = func(a, b report.Group) bool { return d.GroupUnchanged(a) > d.GroupUnchanged(b) }
	case ByFunc:
		less = func(a, b report.Group) bool {
			fa, _ := a.Representative.ShortWhere()
			fb, _ := b.Representative.ShortWhere()
			return fa < fb
		}
	case ByID:
		less = func(a, b report.Group) bool { return len(a.Goroutines) > len(b.Goroutines) }
	default:
		return // report order
	}
	sort.SliceStable(rows, func(i, j int) bool { return less(d.Groups[rows[i]], d.Groups[rows[j]]) })
}

func (m *Model) sortRows() {
	d, rows := m.data, m.rows
	if m.sortKey == BySeverity {
		return // d.Order is by severity already
	}
	// Sort on precomputed keys: a comparator that looks things up in maps
	// is too slow at 100,000 rows.
	type keyed struct {
		n int64
		s string
		g *inspect.Goroutine
	}
	ks := make([]keyed, len(rows))
	for i, g := range rows {
		k := keyed{g: g}
		switch m.sortKey {
		case ByWait:
			k.n = -int64(g.Waiting)
		case ByUnchanged:
			k.n = -int64(d.Unchanged[g.ID])
		case ByFunc:
			k.s, _ = g.ShortWhere()
		case ByID:
			k.n = g.ID
		}
		ks[i] = k
	}
	sort.SliceStable(ks, func(i, j int) bool {
		if ks[i].s != ks[j].s {
			return ks[i].s < ks[j].s
		}
		return ks[i].n < ks[j].n
	})
	for i := range ks {
		rows[i] = ks[i].g
	}
}

// columns are the widths of the row's columns; 0 hides a column. WAITED
// shows only when the runtime measured some wait, SAME from the second
// snapshot on.
type columns struct{ count, verdict, doing, wait, same, where int }

func (m *Model) columns() columns {
	if m.colsFor != m.data || m.colsW != m.w || m.colsGrouped != m.grouped {
		m.cols = m.computeColumns()
		m.colsFor, m.colsW, m.colsGrouped = m.data, m.w, m.grouped
	}
	return m.cols
}

// computeColumns looks at every goroutine: it runs once per snapshot, not
// per frame.
func (m *Model) computeColumns() columns {
	c := columns{count: 5, verdict: 10, doing: max(14, min(m.w/5, 24))}
	d := m.data
	if d != nil {
		if n := len(strconv.Itoa(len(d.Order))) + 1; n > c.count {
			c.count = n
		}
		if len(d.Order) > 0 {
			if n := len(inspect.ShortGID(d.Order[len(d.Order)-1].ID)); n > c.count && !m.grouped {
				c.count = n
			}
		}
		for _, g := range d.Order {
			if g.Waiting > 0 {
				c.wait = 6
				break
			}
		}
		if d.Seq > 1 {
			c.same = 4
		}
	}
	if !m.grouped && d != nil {
		for _, g := range d.Order {
			c.count = max(c.count, len(inspect.ShortGID(g.ID)))
		}
	}
	c.where = m.w - 2 - c.count - 1 - c.verdict - 1 - c.doing - 1
	if c.wait > 0 {
		c.where -= c.wait + 1
	}
	if c.same > 0 {
		c.where -= c.same + 1
	}
	return c
}

// cells joins the cells of a row, skipping hidden columns.
func (c columns) cells(count, verdict, doing, wait, same, where string) []string {
	out := []string{text.Pad(count, c.count), text.Pad(verdict, c.verdict), text.Pad(doing, c.doing)}
	if c.wait > 0 {
		out = append(out, text.PadLeft(wait, c.wait))
	}
	if c.same > 0 {
		out = append(out, text.PadLeft(same, c.same))
	}
	return append(out, where)
}

// View draws the pane: toolbar, column titles, visible rows.
func (m *Model) View() string {
	th := m.ctx.Theme
	lines := make([]string, 0, m.h)
	lines = append(lines, m.toolbar())
	c := m.columns()
	first := "COUNT"
	if !m.grouped {
		first = "ID"
	}
	hdr := "  " + strings.Join(c.cells(first, "VERDICT", "STATE", "WAITED", "SAME", "WHERE"), " ")
	lines = append(lines, th.Header.Render(text.Pad(hdr, m.w)))
	if m.sc.N == 0 {
		msg := "  no goroutines"
		if len(m.filter.Terms()) > 0 {
			msg = fmt.Sprintf("  no goroutine matches %q (esc clears the filter)", m.filter.Value())
		}
		lines = append(lines, th.Dim.Render(msg))
	}
	from, to := m.sc.Visible()
	for i := from; i < to; i++ {
		lines = append(lines, m.row(i, c))
	}
	return text.Lines(lines, m.w, m.h)
}

func (m *Model) toolbar() string {
	th := m.ctx.Theme
	if m.filter.Active() {
		return m.filter.View() + th.Dim.Render(fmt.Sprintf("  %d shown · enter keeps · esc clears", m.sc.N))
	}
	d := m.data
	if d == nil {
		return ""
	}
	var left string
	if m.grouped {
		left = fmt.Sprintf(" %s in %s", inspect.Plural(len(d.Order), "goroutine"), inspect.Plural(len(d.Groups), "group"))
		if len(m.filter.Terms()) > 0 {
			left = fmt.Sprintf(" %d of %s", len(m.groupRows), inspect.Plural(len(d.Groups), "group"))
		}
	} else {
		left = " " + inspect.Plural(len(d.Order), "goroutine")
		if len(m.filter.Terms()) > 0 {
			left = fmt.Sprintf(" %d of %s", len(m.rows), inspect.Plural(len(d.Order), "goroutine"))
		}
	}
	left += " · sort: " + m.sortKey.String(m.grouped)
	styled := th.Bold.Render(left)
	if v := m.filter.Value(); len(m.filter.Terms()) > 0 {
		styled += th.Bold.Render(" · /" + v)
	}
	grp := "u ungroup"
	if !m.grouped {
		grp = "u group"
	}
	hint := "  / filter · o sort · " + grp
	return styled + th.Dim.Render(hint)
}

func (m *Model) row(i int, c columns) string {
	th, d := m.ctx.Theme, m.data
	var (
		rep       *inspect.Goroutine
		count     string
		verdict   inspect.Verdict
		wait      time.Duration
		unchanged int
		mark      = " "
	)
	if m.grouped {
		grp := d.Groups[m.groupRows[i]]
		rep, verdict = grp.Representative, grp.Key.Verdict
		count = "×" + strconv.Itoa(len(grp.Goroutines))
		if len(grp.Goroutines) == 1 {
			count = inspect.ShortGID(rep.ID)
		}
		wait = maxWait(grp.Goroutines)
		unchanged = d.GroupUnchanged(grp)
		switch n, mv := d.GroupChanges(grp); {
		case n > 0:
			mark = "+"
		case mv > 0:
			mark = "~"
		}
	} else {
		rep = m.rows[i]
		verdict = rep.Verdict
		count = inspect.ShortGID(rep.ID)
		wait = rep.Waiting
		unchanged = d.Unchanged[rep.ID]
		switch d.Changes[rep.ID] {
		case uictx.ChangeNew:
			mark = "+"
		case uictx.ChangeMoved:
			mark = "~"
		}
	}
	same := ""
	if unchanged > 1 {
		same = strconv.Itoa(unchanged) + "×"
	}
	fn, loc := rep.ShortWhere()
	doing := rep.Doing()
	if rep.Role != inspect.RoleNone {
		doing = string(rep.Role) + ": " + doing
	}
	cols := c.cells(count, verdict.Label(), doing, inspect.CoarseDuration(wait), same, uictx.WhereFit(fn, loc, c.where))
	sel := i == m.sc.Cursor
	if sel {
		return th.Selected.Render(text.Pad("›"+mark+strings.Join(cols, " "), m.w))
	}
	markS := mark
	if mark != " " {
		markS = th.Changed.Render(mark)
	}
	n := len(cols)
	styled := []string{cols[0], th.Verdict(verdict).Render(cols[1])}
	styled = append(styled, cols[2:n-1]...)
	where := cols[n-1]
	if i := strings.Index(where, "  "); i >= 0 {
		where = where[:i] + th.Dim.Render(where[i:])
	}
	return " " + markS + strings.Join(append(styled, where), " ")
}
