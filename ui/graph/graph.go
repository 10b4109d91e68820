// Package graph draws the wait-for graph: every deadlock cycle as a
// vertical chain of goroutines and the locks they wait for, the goroutines
// waiting behind the cycles (collapsed), other stuck goroutines, and the
// longest wait chains. Every node is selectable: enter opens the goroutine
// or the resource. It also writes the graph as DOT.
package graph

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/components/doc"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// maxChains is how many wait chains are drawn.
const maxChains = 8

// target is what enter on an item does.
type target struct {
	g      int64
	r      string
	expand string // toggles a collapsed group
}

// Model is the graph pane.
type Model struct {
	ctx      *uictx.Context
	doc      doc.Model
	data     *uictx.Data
	targets  []target
	expanded map[string]bool
}

// New returns the pane.
func New(ctx *uictx.Context) *Model {
	m := &Model{ctx: ctx, expanded: map[string]bool{}}
	m.doc.Selected = ctx.Theme.Selected
	return m
}

// Title is the tab title.
func (m *Model) Title() string { return "Graph" }

// SetSize sets the pane's size.
func (m *Model) SetSize(w, h int) {
	resized := w != m.doc.W
	m.doc.SetSize(w, h)
	if resized {
		m.rebuild()
	}
}

// Refresh picks up new data.
func (m *Model) Refresh() {
	if m.data != m.ctx.Data {
		m.rebuild()
	}
}

// Update handles keys and mouse.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, m.ctx.Keys.Enter):
			return m.open(m.doc.Cursor)
		case key.Matches(msg, m.ctx.Keys.Expand):
			m.toggleAll()
			return nil
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
	if item < 0 || item >= len(m.targets) {
		return nil
	}
	t := m.targets[item]
	switch {
	case t.expand != "":
		m.expanded[t.expand] = !m.expanded[t.expand]
		m.rebuild()
	case t.g != 0:
		return uictx.Cmd(uictx.OpenGoroutineMsg{ID: t.g})
	case t.r != "":
		return uictx.Cmd(uictx.OpenResourceMsg{ID: t.r})
	}
	return nil
}

// toggleAll expands every collapsed group, or collapses all when none is.
func (m *Model) toggleAll() {
	var keys []string
	for _, t := range m.targets {
		if t.expand != "" {
			keys = append(keys, t.expand)
		}
	}
	anyCollapsed := false
	for _, k := range keys {
		if !m.expanded[k] {
			anyCollapsed = true
		}
	}
	for _, k := range keys {
		m.expanded[k] = anyCollapsed
	}
	m.rebuild()
}

// View draws the pane.
func (m *Model) View() string { return m.doc.View() }

func (m *Model) rebuild() {
	m.data = m.ctx.Data
	m.targets = m.targets[:0]
	var b doc.Builder
	if m.data != nil && m.doc.W > 0 {
		m.build(&b)
	}
	m.doc.SetLines(b.Lines)
}

func (m *Model) item(b *doc.Builder, t target) int {
	m.targets = append(m.targets, t)
	return b.Item()
}

// edge labels are padded to one width so that the nodes after them align.
const (
	edgeWaits  = "──waits────▶ "
	edgeHeld   = "──held by──▶ "
	edgeRead   = "──read-held▶ "
	edgeWoken  = "──woken by─▶ "
	edgeIndent = 4
)

// edgeTo is the label of the edge from resource r to the goroutine id that
// the waiter depends on: a lock's holder, or for channels, WaitGroups and
// Conds the goroutine that alone could wake it.
func (m *Model) edgeTo(r string, id int64) string {
	res := m.data.R[r]
	switch {
	case res == nil:
		return edgeHeld
	case res.Kind != inspect.KindMutex && res.Kind != inspect.KindRWMutex:
		return edgeWoken
	case m.readHeld(r, id):
		return edgeRead
	}
	return edgeHeld
}

func (m *Model) build(b *doc.Builder) {
	d, th := m.data, m.ctx.Theme
	seen := map[int64]bool{}
	cycles := d.Snap.Cycles

	if len(cycles) > 0 {
		b.Add(" "+m.title(len(cycles)), " "+th.Error.Render(m.title(len(cycles)))+th.Dim.Render("   enter opens a node · e expands"))
	}
	behinds := inspect.BehindCycles(d.Snap, cycles, seen)
	for i, c := range cycles {
		b.Blank()
		m.cycle(b, i, c)
		for _, bh := range behinds[i] {
			r := d.R[bh.Resource]
			what := "waiting behind " + inspect.ResourceName(r, bh.Resource)
			if r != nil && len(r.Holders) > 0 {
				what += ", " + r.Holders[0].HeldBy() + " " + inspect.ShortGID(r.Holders[0].Goroutine)
			}
			m.group(b, "cycle:"+bh.Resource, bh.IDs, what, bh.Resource)
		}
	}

	// Wait chains that do not run into a cycle.
	cs := inspect.ChainPaths(d.Snap, seen, maxChains)
	for _, c := range cs {
		for _, id := range c.Starters {
			seen[id] = true
		}
		for _, id := range c.Holders {
			seen[id] = true
		}
	}

	// Other stuck goroutines, by what they wait on.
	byRes := map[string][]int64{}
	var resOrder []string
	for _, g := range d.Order {
		if !g.Verdict.Stuck() || seen[g.ID] {
			continue
		}
		r := g.BlockedOn()
		if _, ok := byRes[r]; !ok {
			resOrder = append(resOrder, r)
		}
		byRes[r] = append(byRes[r], g.ID)
	}
	if len(resOrder) > 0 {
		b.Blank()
		h := "OTHER STUCK GOROUTINES"
		b.Add(" "+h, " "+th.Header.Render(h))
		for _, r := range resOrder {
			what := "waiting on nothing known"
			if r != "" {
				what = "waiting on " + inspect.ResourceName(d.R[r], r)
			}
			m.group(b, "stuck:"+r, byRes[r], what, r)
		}
	}

	if len(cs) > 0 {
		b.Blank()
		h := "WAIT CHAINS"
		if len(cycles) == 0 {
			h = "NO DEADLOCK CYCLE · LONGEST WAIT CHAINS"
		}
		b.Add(" "+h, " "+th.Header.Render(h))
	}
	for i, c := range cs {
		b.Blank()
		m.chain(b, i, c)
	}
	if len(cycles) == 0 && len(cs) == 0 && len(resOrder) == 0 {
		b.Add(" No deadlock cycle and no wait chain: no goroutine waits on a lock", " "+th.OK.Render("No deadlock cycle and no wait chain:")+" no goroutine waits on a lock")
		b.Add(" that another goroutine holds.", "")
	}
}

func (m *Model) title(n int) string {
	if n == 1 {
		return "1 DEADLOCK CYCLE"
	}
	return strconv.Itoa(n) + " DEADLOCK CYCLES"
}

// cycle draws one cycle as a vertical chain with a loop bracket on the left.
func (m *Model) cycle(b *doc.Builder, i int, c inspect.Cycle) {
	d, th := m.data, m.ctx.Theme
	kind := c.Kind.Name()
	h := fmt.Sprintf("cycle %d · %s · %s", i+1, kind, inspect.Plural(len(c.Goroutines), "goroutine"))
	b.Add("  "+h, "  "+th.Bold.Render(h))
	cy := th.Cycle
	for j, id := range c.Goroutines {
		// The goroutine: "┌─▶ g19 ..." for the first, "│   ──held by──▶ g20" after.
		if j == 0 {
			m.goroutineNode(b, id, "  ┌─▶ ", cy.Render("  ┌─▶ "))
		} else {
			edge := m.edgeTo(c.Resources[j-1], id)
			pre := "  │" + strings.Repeat(" ", edgeIndent)
			m.goroutineNode(b, id, pre+edge, cy.Render("  │")+strings.Repeat(" ", edgeIndent)+cy.Render(edge))
		}
		// What it waits for.
		if j < len(c.Resources) {
			pre := "  │" + strings.Repeat(" ", edgeIndent)
			m.resourceNode(b, c.Resources[j], pre+edgeWaits, cy.Render("  │")+strings.Repeat(" ", edgeIndent)+cy.Render(edgeWaits))
		}
	}
	if len(c.Goroutines) > 0 {
		first := c.Goroutines[0]
		it := m.item(b, target{g: first})
		pre := "  └" + strings.Repeat("─", edgeIndent) + m.edgeTo(c.Resources[len(c.Resources)-1], first) + "back to "
		if len(c.Resources) < len(c.Goroutines) {
			pre = "  └" + strings.Repeat("─", edgeIndent) + edgeHeld + "back to "
		}
		s := pre + inspect.ShortGID(first)
		b.AddTo(it, s, cy.Render(pre)+th.ID.Render(inspect.ShortGID(first)))
	}
	_ = d
}

// readHeld reports whether goroutine id holds resource r for reading.
func (m *Model) readHeld(r string, id int64) bool {
	if res := m.data.R[r]; res != nil {
		for _, h := range res.Holders {
			if h.Goroutine == id {
				return h.Read
			}
		}
	}
	return false
}

// goroutineNode is a line "<prefix>g19  DEADLOCKED  func  file:line".
func (m *Model) goroutineNode(b *doc.Builder, id int64, prefix, styledPrefix string) {
	th := m.ctx.Theme
	it := m.item(b, target{g: id})
	g, ended := m.data.Goroutine(id)
	if g == nil {
		s := prefix + inspect.ShortGID(id) + "  (not in the snapshot)"
		b.AddTo(it, s, styledPrefix+th.ID.Render(inspect.ShortGID(id))+th.Dim.Render("  (not in the snapshot)"))
		return
	}
	verdict := g.Verdict.Label()
	if ended {
		verdict = "ended"
	}
	fn, loc := g.ShortWhere()
	// The finalizer and cleanup goroutines say so: a cycle through the
	// finalizer goroutine stalls every finalizer of the process.
	role := ""
	if g.Role != inspect.RoleNone {
		role = string(g.Role) + "  "
	}
	head := inspect.ShortGID(id) + "  " + verdict + "  " + role
	room := m.doc.W - text.Width(prefix) - text.Width(head)
	where := uictx.WhereFit(fn, loc, room)
	plain := prefix + head + where
	styled := styledPrefix + th.ID.Render(inspect.ShortGID(id)) + "  " + th.Verdict(g.Verdict).Render(verdict) + "  " + th.Bold.Render(role) + dimLoc(th.Dim, where)
	b.AddTo(it, plain, styled)
}

// resourceNode is a line "<prefix>mutex main.Store.mu  0xc000012340".
func (m *Model) resourceNode(b *doc.Builder, id string, prefix, styledPrefix string) {
	th := m.ctx.Theme
	it := m.item(b, target{r: id})
	r := m.data.R[id]
	name := inspect.ResourceName(r, id)
	addr := uictx.Addr(r)
	if addr != "" {
		addr = "  " + addr
	}
	plain := prefix + name + addr
	b.AddTo(it, plain, styledPrefix+th.Resource.Render(name)+th.Dim.Render(addr))
}

// group is a collapsible set of goroutines: "+ 3 waiting behind mutex X".
func (m *Model) group(b *doc.Builder, key string, ids []int64, what, res string) {
	th := m.ctx.Theme
	open := m.expanded[key]
	sign := "+"
	if open {
		sign = "−"
	}
	it := m.item(b, target{expand: key})
	s := fmt.Sprintf("     %s %d %s", sign, len(ids), what)
	hint := "  (e or enter expands)"
	if open {
		hint = ""
	}
	b.AddTo(it, s+hint, fmt.Sprintf("     %s %s", th.Bold.Render(sign+" "+strconv.Itoa(len(ids))), what)+th.Dim.Render(hint))
	if !open {
		return
	}
	sorted := append([]int64(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, id := range sorted {
		m.goroutineNode(b, id, "         ", "         ")
	}
	_ = res
}

// chain draws a wait chain: the starters, then resource, holder, ...
func (m *Model) chain(b *doc.Builder, i int, c inspect.ChainPath) {
	d, th := m.data, m.ctx.Theme
	last := c.Holders[len(c.Holders)-1]
	lastG, _ := d.Goroutine(last)
	lv := ""
	if lastG != nil {
		lv = " (" + lastG.Verdict.Label() + ")"
	}
	h := fmt.Sprintf("chain %d · %s behind %s%s", i+1, inspect.Plural(c.Behind(), "goroutine"), inspect.ShortGID(last), lv)
	b.Add("  "+h, "  "+th.Bold.Render(h))
	pre := "  " + strings.Repeat(" ", edgeIndent+1)
	if len(c.Starters) == 1 {
		m.goroutineNode(b, c.Starters[0], pre, pre)
	} else {
		key := "chain:" + c.Resources[0]
		m.group(b, key, c.Starters, "goroutines "+inspect.ShortGIDs(c.Starters, 4), "")
	}
	ed := th.Edge
	for j, r := range c.Resources {
		m.resourceNode(b, r, pre+edgeWaits, pre+ed.Render(edgeWaits))
		edge := m.edgeTo(r, c.Holders[j])
		m.goroutineNode(b, c.Holders[j], pre+edge, pre+ed.Render(edge))
	}
	if c.Tail != "" {
		r := d.R[c.Tail]
		tail := ""
		if r != nil {
			tail = "  " + r.State() + ", nobody holds it"
		}
		m.resourceNode(b, c.Tail, pre+edgeWaits, pre+ed.Render(edgeWaits))
		if tail != "" {
			n := len(b.Lines) - 1
			b.Lines[n].Plain += tail
			b.Lines[n].Styled += th.Dim.Render(tail)
		}
	}
}

// dimLoc dims the "  file:line" part of a WhereFit string.
func dimLoc(dim lipgloss.Style, where string) string {
	if i := strings.Index(where, "  "); i >= 0 {
		return where[:i] + dim.Render(where[i:])
	}
	return where
}
