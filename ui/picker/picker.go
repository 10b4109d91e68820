// Package picker is the process picker shown by `hangtui` without
// arguments: the Go processes on this machine with their Go version,
// uptime, CPU, memory and command line, marked when hangtui cannot attach to
// them and why. Enter attaches.
package picker

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/components/filter"
	"github.com/hangtui/hangtui/ui/components/scroll"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// Interval between scans of /proc.
const Interval = 2 * time.Second

// ChooseMsg is sent when the user picks a process to attach to.
type ChooseMsg struct{ PID int }

// scanMsg carries a scan of /proc.
type scanMsg struct {
	procs []Process
	err   error
}

type tickMsg struct{}

// Lister lists processes (all of them, or Go ones only).
type Lister func(all bool) ([]Process, error)

type sortKey int

const (
	byName sortKey = iota
	byCPU
	byRSS
	byUptime
	byPID
	numSorts
)

var sortNames = []string{"name", "cpu", "memory", "uptime", "pid"}

// header lines: title and column titles; footer lines: the selection.
const (
	header = 2
	footer = 3
)

// Model is the picker.
type Model struct {
	ctx    *uictx.Context
	list   Lister
	w, h   int
	all    bool
	sort   sortKey
	procs  []Process
	rows   []Process
	err    error
	sc     scroll.State
	filter filter.Model
	selPID int
	// Attaching is the PID being attached to (the UI waits), 0 otherwise.
	Attaching int
	scanned   bool
}

// New returns a picker listing processes with list (nil: /proc).
func New(ctx *uictx.Context, list Lister) *Model {
	if list == nil {
		list = NewScanner().Scan
	}
	return &Model{ctx: ctx, list: list, filter: filter.New("name, command line, pid, go version")}
}

// Init starts the first scan.
func (m *Model) Init() tea.Cmd { return m.scan() }

func (m *Model) scan() tea.Cmd {
	all, list := m.all, m.list
	return func() tea.Msg {
		ps, err := list(all)
		return scanMsg{ps, err}
	}
}

// SetSize sets the picker's size.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.sc.SetHeight(h - header - footer)
	m.filter.SetWidth(w / 2)
}

// Capturing reports whether the filter line has the keyboard.
func (m *Model) Capturing() bool { return m.filter.Active() }

// Back clears the filter; it reports whether there was one.
func (m *Model) Back() bool {
	if m.filter.Clear() {
		m.rebuild()
		return true
	}
	return false
}

// Update handles scans, keys and mouse.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case scanMsg:
		m.scanned = true
		m.procs, m.err = msg.procs, msg.err
		m.rebuild()
		return tea.Tick(Interval, func(time.Time) tea.Msg { return tickMsg{} })
	case tickMsg:
		return m.scan()
	}
	if m.filter.Active() {
		cmd, changed := m.filter.Update(msg)
		if changed {
			m.rebuild()
		}
		return cmd
	}
	km := m.ctx.Keys
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, km.Filter):
			return m.filter.Start()
		case key.Matches(msg, km.All):
			m.all = !m.all
			return m.scan()
		case key.Matches(msg, km.Sort):
			m.sort = (m.sort + 1) % numSorts
			m.rebuild()
			return nil
		case key.Matches(msg, km.Refresh):
			return m.scan()
		case key.Matches(msg, km.Enter):
			return m.choose()
		}
	case tea.MouseClickMsg:
		row := m.sc.Offset + msg.Y - header
		if msg.Y >= header && row < m.sc.N {
			if row == m.sc.Cursor {
				return m.choose()
			}
			m.sc.Select(row)
			m.selPID = m.rows[row].PID
		}
		return nil
	}
	if m.sc.Update(msg, km) && m.sc.N > 0 {
		m.selPID = m.rows[m.sc.Cursor].PID
	}
	return nil
}

func (m *Model) choose() tea.Cmd {
	if m.sc.N == 0 || m.Attaching != 0 {
		return nil
	}
	p := m.rows[m.sc.Cursor]
	if p.Reason != "" {
		return uictx.Cmd(uictx.FlashMsg{Text: fmt.Sprintf("cannot attach to %d: %s", p.PID, p.Reason), Err: true})
	}
	return uictx.Cmd(ChooseMsg{PID: p.PID})
}

func (m *Model) rebuild() {
	terms := m.filter.Terms()
	m.rows = m.rows[:0]
	for _, p := range m.procs {
		if len(terms) > 0 && !filter.Match(strings.ToLower(fmt.Sprintf("%d %s %s %s %s", p.PID, p.Name, p.Cmdline, p.GoVersion, p.Exe)), terms) {
			continue
		}
		m.rows = append(m.rows, p)
	}
	rs := m.rows
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		// Processes hangtui can attach to come first.
		if (a.Reason == "") != (b.Reason == "") {
			return a.Reason == ""
		}
		switch m.sort {
		case byCPU:
			if a.CPU != b.CPU {
				return a.CPU > b.CPU
			}
		case byRSS:
			if a.RSS != b.RSS {
				return a.RSS > b.RSS
			}
		case byUptime:
			if a.Uptime != b.Uptime {
				return a.Uptime > b.Uptime
			}
		case byName:
			if a.Name != b.Name {
				return a.Name < b.Name
			}
		}
		return a.PID < b.PID
	})
	m.sc.SetN(len(m.rows))
	for i, p := range m.rows {
		if p.PID == m.selPID {
			m.sc.Select(i)
			return
		}
	}
	if m.sc.N > 0 {
		m.selPID = m.rows[m.sc.Cursor].PID
	}
}

// View draws the picker.
func (m *Model) View() string {
	th := m.ctx.Theme
	var lines []string
	goN, canN := 0, 0
	for _, p := range m.procs {
		if p.Go() {
			goN++
		}
		if p.Reason == "" {
			canN++
		}
	}
	switch {
	case m.filter.Active():
		lines = append(lines, m.filter.View()+th.Dim.Render(fmt.Sprintf("  %d shown · enter keeps · esc clears", m.sc.N)))
	default:
		what := " Go processes"
		if m.all {
			what = " All processes"
		}
		what += fmt.Sprintf(" · %d of %d can be attached", canN, len(m.procs))
		if v := m.filter.Value(); len(m.filter.Terms()) > 0 {
			what += " · /" + v
		}
		lines = append(lines, th.Bold.Render(what)+th.Dim.Render(" · sort: "+sortNames[m.sort]))
	}
	c := m.columns()
	hdr := "  " + text.PadLeft("PID", c.pid) + " " + text.Pad("NAME", c.name) + " " + text.Pad("GO", c.gover) + " " +
		text.PadLeft("UP", 6) + " " + text.PadLeft("CPU%", 5) + " " + text.PadLeft("RSS", 5) + " " + text.PadLeft("THR", 4) + " " + "COMMAND"
	lines = append(lines, th.Header.Render(text.Pad(hdr, m.w)))
	switch {
	case m.err != nil:
		lines = append(lines, th.Error.Render("  cannot list processes: "+m.err.Error()))
	case !m.scanned:
		lines = append(lines, th.Dim.Render("  reading /proc…"))
	case m.sc.N == 0 && len(m.filter.Terms()) > 0:
		lines = append(lines, th.Dim.Render(fmt.Sprintf("  no process matches %q (esc clears the filter)", m.filter.Value())))
	case m.sc.N == 0:
		lines = append(lines, th.Dim.Render("  no Go process found (a: show all processes)"))
	}
	from, to := m.sc.Visible()
	for i := from; i < to; i++ {
		lines = append(lines, m.row(i, c))
	}
	for len(lines) < m.h-footer {
		lines = append(lines, "")
	}
	lines = append(lines[:m.h-footer], m.footer()...)
	return text.Lines(lines, m.w, m.h)
}

type columns struct{ pid, name, gover, cmd int }

func (m *Model) columns() columns {
	c := columns{pid: 7, name: 15, gover: 9}
	if m.w >= 110 {
		c.name = 24
	}
	c.cmd = m.w - 2 - c.pid - 1 - c.name - 1 - c.gover - 1 - 6 - 1 - 5 - 1 - 5 - 1 - 4 - 1
	return c
}

func (m *Model) row(i int, c columns) string {
	th := m.ctx.Theme
	p := m.rows[i]
	gover := p.GoVersion
	if gover == "" {
		gover = "-"
	}
	cmd := p.Cmdline
	if p.Test {
		cmd = "[test] " + cmd
	}
	if p.Reason != "" {
		cmd = "✗ " + p.Reason
	}
	cells := "  " + text.PadLeft(strconv.Itoa(p.PID), c.pid) + " " + text.Pad(p.Name, c.name) + " " + text.Pad(gover, c.gover) + " " +
		text.PadLeft(fmtUptime(p.Uptime), 6) + " " + text.PadLeft(fmt.Sprintf("%.1f", p.CPU), 5) + " " +
		text.PadLeft(fmtBytes(p.RSS), 5) + " " + text.PadLeft(strconv.Itoa(p.Threads), 4) + " "
	if i == m.sc.Cursor {
		return th.Selected.Render(text.Pad("›"+cells[1:]+cmd, m.w))
	}
	cmdSt := th.Dim
	switch {
	case p.Reason != "":
		cmdSt = th.Error
		cells = th.Dim.Render(cells)
	case p.Test:
		cmdSt = th.Info
	}
	return cells + cmdSt.Render(text.Cut(cmd, c.cmd))
}

// footer shows the selected process: its full command line and whether
// hangtui can attach.
func (m *Model) footer() []string {
	th := m.ctx.Theme
	if m.sc.N == 0 {
		return []string{"", "", ""}
	}
	p := m.rows[m.sc.Cursor]
	out := []string{th.Dim.Render(strings.Repeat("─", m.w))}
	cmd := text.Wrap(p.Cmdline, m.w-2, 2)
	first := ""
	if len(cmd) > 0 {
		first = cmd[0]
	}
	out = append(out, " "+text.Cut(first, m.w-1))
	switch {
	case m.Attaching == p.PID:
		out = append(out, " "+th.Warn.Render(fmt.Sprintf("attaching to %d…", p.PID)))
	case p.Reason != "":
		out = append(out, " "+th.Error.Render(text.Cut("✗ cannot attach: "+p.Reason, m.w-1)))
	default:
		s := fmt.Sprintf("enter: attach to %d (%s)", p.PID, p.GoVersion)
		if p.Test {
			s += " · a test binary"
		}
		out = append(out, " "+th.OK.Render(s))
	}
	return out
}

// fmtUptime is how long a process has run, as inspect words a wait
// ("3h00m", "2d3h"); "?" when not known.
func fmtUptime(d time.Duration) string {
	if d <= 0 {
		return "?"
	}
	return inspect.CoarseDuration(d)
}

func fmtBytes(n int64) string {
	switch {
	case n < 1<<20:
		return strconv.FormatInt(n>>10, 10) + "K"
	case n < 10<<30:
		return strconv.FormatInt(n>>20, 10) + "M"
	}
	return strconv.FormatInt(n>>30, 10) + "G"
}
