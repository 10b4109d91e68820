// Package detail shows one goroutine: verdict and why, what it waits on
// (and who holds that), what it holds, who created it, its labels, and its
// full stack with the source lines around each frame of the program when
// the file is on disk.
package detail

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/components/doc"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// context is how many source lines are shown above and below a frame's line.
const context = 2

// maxSourceSize is the largest source file read.
const maxSourceSize = 4 << 20

// target is what enter on an item opens.
type target struct {
	g      int64
	r      string
	expand bool // the folded runtime frames
}

// Model is the goroutine detail view.
type Model struct {
	ctx     *uictx.Context
	id      int64
	doc     doc.Model
	targets []target
	data    *uictx.Data
	w, h    int
	sources map[string][]string // file → lines; nil entry: not readable
	full    bool                // show the runtime frames above the program's
}

// New returns the view.
func New(ctx *uictx.Context) *Model {
	m := &Model{ctx: ctx, sources: map[string][]string{}}
	m.doc.Selected = ctx.Theme.Selected
	return m
}

// ID is the goroutine shown.
func (m *Model) ID() int64 { return m.id }

// Show switches to goroutine id, at the top.
func (m *Model) Show(id int64) {
	m.id = id
	m.doc.Cursor, m.doc.Offset = 0, 0
	m.rebuild()
}

// SetSize sets the view's size.
func (m *Model) SetSize(w, h int) {
	resized := w != m.w
	m.w, m.h = w, h
	m.doc.SetSize(w, h-1)
	if resized {
		m.rebuild()
	}
}

// Refresh picks up new data, keeping the scroll position.
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
			m.full = !m.full
			m.rebuild()
			return nil
		}
	case tea.MouseClickMsg:
		if it := m.doc.ItemAt(msg.Y - 1); it >= 0 {
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
	switch t := m.targets[item]; {
	case t.expand:
		m.full = !m.full
		m.rebuild()
	case t.g != 0 && t.g != m.id:
		return uictx.Cmd(uictx.OpenGoroutineMsg{ID: t.g})
	case t.r != "":
		return uictx.Cmd(uictx.OpenResourceMsg{ID: t.r})
	}
	return nil
}

// View draws the header line and the scrolling body.
func (m *Model) View() string {
	return text.Lines([]string{m.header()}, m.w, 1) + "\n" + m.doc.View()
}

func (m *Model) header() string {
	th := m.ctx.Theme
	g, ended := m.data.Goroutine(m.id)
	if g == nil {
		return " " + th.Bold.Render("goroutine "+strconv.FormatInt(m.id, 10)) + th.Dim.Render(" · not in the snapshot")
	}
	parts := []string{th.Verdict(g.Verdict).Render(g.Verdict.Label())}
	if ended {
		parts = []string{th.Warn.Render("ENDED: not in the latest snapshot")}
	}
	parts = append(parts, g.Doing())
	if w := inspect.CoarseDuration(g.Waiting); w != "" {
		parts = append(parts, "waiting "+w)
	}
	hint := th.Dim.Render("   esc back")
	return " " + th.Bold.Render("goroutine "+strconv.FormatInt(g.ID, 10)) + " · " + strings.Join(parts, " · ") + hint
}

func (m *Model) item(b *doc.Builder, t target) int {
	m.targets = append(m.targets, t)
	return b.Item()
}

func (m *Model) rebuild() {
	m.data = m.ctx.Data
	m.targets = m.targets[:0]
	var b doc.Builder
	if m.data != nil && m.w > 0 {
		if g, ended := m.data.Goroutine(m.id); g != nil {
			m.build(&b, g, ended)
		} else {
			b.Add("   This goroutine is not in the snapshot: it ended.", "")
		}
	}
	m.doc.SetLines(b.Lines)
	if m.doc.Cursor == 0 && m.doc.Offset == 0 {
		// Start on the first link (what it waits on), not on the text above.
		for i, t := range m.targets {
			if t.g != 0 || t.r != "" {
				m.doc.Select(i)
				break
			}
		}
	}
}

// wakers lists, under a wait the source analysis proved hopeless, every
// operation in the code that could end it and why nothing that can run
// gets there (from the finding that proved it).
func (m *Model) wakers(b *doc.Builder, g *inspect.Goroutine, res string) {
	th, w := m.ctx.Theme, m.w
	for _, f := range m.data.Snap.Findings {
		if len(f.Wakers) == 0 || !hasID(f.Goroutines, g.ID) {
			continue
		}
		var reflection []string
		why := ""
		n := 0
		for _, ws := range f.Wakers {
			if ws.Resource != res {
				continue
			}
			n++
			if ws.Reflection {
				reflection = append(reflection, inspect.ShortFuncName(ws.Func))
				why = ws.Why
				continue
			}
			t := target{}
			if len(ws.Reachers) > 0 {
				t.g = ws.Reachers[0]
			}
			it := m.item(b, t)
			code := ws.Code
			if code == "" {
				code = ws.Op
			}
			line := fmt.Sprintf("could be woken by %s at %s:%d in %s — %s", code, inspect.ShortFile(ws.File), ws.Line, inspect.ShortFuncName(ws.Func), ws.Why)
			for i, l := range text.Wrap(line, w-7, 2) {
				lead := "     "
				if i == 0 {
					lead = "     └ "
				}
				b.AddTo(it, lead+l, lead+th.Dim.Render(l))
			}
		}
		if len(reflection) > 0 {
			it := m.item(b, target{})
			line := "reflection on channels (" + strings.Join(reflection, ", ") + ") — " + why
			for i, l := range text.Wrap(line, w-7, 2) {
				lead := "     "
				if i == 0 {
					lead = "     └ "
				}
				b.AddTo(it, lead+l, lead+th.Dim.Render(l))
			}
		}
		if n > 0 {
			return
		}
	}
}

func hasID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (m *Model) build(b *doc.Builder, g *inspect.Goroutine, ended bool) {
	th, d, w := m.ctx.Theme, m.data, m.w
	// Why, and whether it changed.
	if g.Why != "" {
		it := m.item(b, target{})
		for i, l := range text.Wrap("why: "+g.Why, w-3, 5) {
			st := l
			if i == 0 {
				st = th.Bold.Render("why:") + l[4:]
			}
			b.AddTo(it, "   "+l, "   "+st)
		}
	}
	var notes []string
	if !ended {
		switch d.Changes[g.ID] {
		case uictx.ChangeNew:
			notes = append(notes, "new since the last refresh")
		case uictx.ChangeMoved:
			notes = append(notes, "changed since the last refresh")
		default:
			if n := d.Unchanged[g.ID]; n > 1 {
				notes = append(notes, fmt.Sprintf("unchanged for %d refreshes", n))
			}
		}
	}
	if g.Role != inspect.RoleNone {
		notes = append(notes, string(g.Role)+" goroutine")
	} else if g.System {
		notes = append(notes, "runtime goroutine")
	}
	if len(notes) > 0 {
		it := m.item(b, target{})
		b.AddTo(it, "   "+strings.Join(notes, " · "), "   "+th.Dim.Render(strings.Join(notes, " · ")))
	}

	// Links: what it waits on and who holds that, what it holds, its parent.
	b.Blank()
	for _, wt := range g.Waits {
		r := d.R[wt.Resource]
		it := m.item(b, target{r: wt.Resource})
		s := wt.Op.WaitsTo() + " " + inspect.ResourceName(r, wt.Resource)
		addr := ""
		if a := uictx.Addr(r); a != "" {
			addr = "  " + a
		}
		b.AddTo(it, "   "+s+addr, "   "+wt.Op.WaitsTo()+" "+th.Resource.Render(inspect.ResourceName(r, wt.Resource))+th.Dim.Render(addr))
		if r == nil {
			continue
		}
		for _, h := range r.Holders {
			it := m.item(b, target{g: h.Goroutine})
			hv := ""
			if hg, _ := d.Goroutine(h.Goroutine); hg != nil {
				hv = " · " + hg.Verdict.Label()
			}
			s := "     └ " + uictx.HolderText(h) + hv
			b.AddTo(it, text.Cut(s, w), "")
		}
		if len(r.Holders) == 0 && r.Chan != nil {
			st := "     └ " + r.StateText()
			b.AddTo(it, st, th.Dim.Render(st))
		}
		m.wakers(b, g, wt.Resource)
	}
	for _, h := range g.Holds {
		r := d.R[h]
		it := m.item(b, target{r: h})
		s := "holds " + inspect.ResourceName(r, h)
		extra := ""
		if r != nil {
			if n := len(r.Waiters); n > 0 {
				extra = "  " + inspect.Plural(n, "goroutine") + " waiting: " + inspect.ShortGIDs(r.Waiters, 6)
			}
		}
		b.AddTo(it, text.Cut("   "+s+extra, w), "   "+th.Bold.Render(s)+th.Dim.Render(text.Cut(extra, max(w-3-text.Width(s), 0))))
	}
	if c := g.CreatedBy; c != nil {
		t := target{}
		s := "created by " + inspect.ShortFuncName(c.Func) + " at " + inspect.ShortLoc(*c)
		if g.ParentID > 0 {
			s += " in " + inspect.ShortGID(g.ParentID)
			t.g = g.ParentID
		}
		it := m.item(b, t)
		b.AddTo(it, text.Cut("   "+s, w), "")
	}
	if len(g.Labels) > 0 {
		keys := make([]string, 0, len(g.Labels))
		for k := range g.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = k + "=" + g.Labels[k]
		}
		it := m.item(b, target{})
		for _, l := range text.Wrap("labels: "+strings.Join(keys, " "), w-3, 8) {
			b.AddTo(it, "   "+l, "")
		}
	}
	if gi, ok := d.GroupOf[g.ID]; ok && !ended {
		grp := d.Groups[gi]
		if n := len(grp.Goroutines); n > 1 {
			var others []int64
			for _, o := range grp.Goroutines {
				if o.ID != g.ID {
					others = append(others, o.ID)
				}
			}
			it := m.item(b, target{g: others[0]})
			s := fmt.Sprintf("same stack and state as %d more: %s", n-1, inspect.ShortGIDs(others, 8))
			b.AddTo(it, text.Cut("   "+s, w), "   "+th.Dim.Render(text.Cut(s, w-3)))
		}
	}

	// The stack.
	b.Blank()
	h := fmt.Sprintf("STACK (%d frames, innermost first)", len(g.Frames))
	if g.StackTruncated {
		h = fmt.Sprintf("STACK (first %d frames, innermost first; truncated)", len(g.Frames))
	}
	b.Add(" "+h, " "+th.Header.Render(h))
	// Locations line up in a column after the longest function that leaves
	// room for them.
	fnW, locW := 0, 0
	for _, f := range g.Frames {
		fnW = max(fnW, text.Width(frameFunc(f)))
		locW = max(locW, text.Width(inspect.ShortLoc(f)))
	}
	col := min(4+fnW+2, max(w-locW, 24))
	// The runtime frames above the call the program made are folded into
	// one line unless the full stack is asked for (e).
	fold := 0
	if t := g.TopUser; !m.full && t >= 3 {
		fold = t - 1
	}
	if fold > 0 {
		it := m.item(b, target{expand: true})
		s := fmt.Sprintf("    + %d runtime frames: %s … %s", fold, inspect.ShortFuncName(g.Frames[0].Func), inspect.ShortFuncName(g.Frames[fold-1].Func))
		hint := "  (e shows them)"
		b.AddTo(it, text.Cut(s+hint, w), th.Dim.Render(text.Cut(s+hint, w)))
	}
	for i, f := range g.Frames {
		if i >= fold {
			m.frame(b, g, i, f, col)
		}
	}
	if len(g.Frames) == 0 {
		b.Add("   (no stack)", "")
	}
}

func frameFunc(f inspect.Frame) string {
	fn := inspect.ShortFuncName(f.Func)
	if f.Inlined {
		fn += " (inlined)"
	}
	return fn
}

func (m *Model) frame(b *doc.Builder, g *inspect.Goroutine, i int, f inspect.Frame, col int) {
	th, w := m.ctx.Theme, m.w
	it := m.item(b, target{})
	user := inspect.IsUserFunc(f.Func)
	fn := frameFunc(f)
	loc := inspect.ShortLoc(f)
	mark := "  "
	if i == g.TopUser {
		mark = "▶ "
	}
	line := text.Pad("  "+mark+fn, col-2) + "  "
	if text.Width("  "+mark+fn) > col-2 {
		line = text.Cut("  "+mark+fn, col-2) + "  "
	}
	plain := text.Cut(line+loc, w)
	fnSt := th.Dim
	if user {
		fnSt = th.Bold
	}
	styled := fnSt.Render(plain)
	if i := strings.LastIndex(plain, loc); i > 0 && user {
		styled = th.Bold.Render(plain[:i]) + th.Dim.Render(plain[i:])
	}
	b.AddTo(it, plain, styled)
	if !user || f.Line <= 0 {
		return
	}
	src := m.source(f.File)
	if src == nil {
		return
	}
	for n := f.Line - context; n <= f.Line+context; n++ {
		if n < 1 || n > len(src) {
			continue
		}
		num := text.PadLeft(strconv.Itoa(n), 5)
		code := strings.ReplaceAll(src[n-1], "\t", "    ")
		cur := n == f.Line
		arrow := "   "
		if cur {
			arrow = " ▶ "
		}
		s := text.Cut("    "+num+arrow+code, w)
		st := th.Source.Render(s)
		if cur {
			st = th.Current.Render(s)
		}
		b.AddTo(it, s, st)
	}
}

// source returns the lines of a file, or nil when it cannot be read.
func (m *Model) source(path string) []string {
	if lines, ok := m.sources[path]; ok {
		return lines
	}
	var lines []string
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() <= maxSourceSize {
		if b, err := os.ReadFile(path); err == nil {
			lines = strings.Split(string(b), "\n")
		}
	}
	m.sources[path] = lines
	return lines
}
