package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/graph"
	"github.com/hangtui/hangtui/ui/statusbar"
)

// The screen: the tab bar, the body, the status bar.
const chrome = 2

func (a *App) resize() {
	w, h := a.ctx.Width, a.ctx.Height-chrome
	for _, p := range a.panes {
		p.SetSize(w, h)
	}
	a.detail.SetSize(w, h)
	if a.picker != nil {
		a.picker.SetSize(w, h)
	}
}

// View draws the screen.
func (a *App) View() tea.View {
	v := tea.NewView(a.render())
	v.AltScreen = true
	if !a.opts.NoMouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	v.WindowTitle = "hangtui"
	if s := a.ctx.Snap(); s != nil && s.Target.PID > 0 {
		v.WindowTitle = "hangtui · PID " + strconv.Itoa(s.Target.PID)
	}
	return v
}

// render is the screen as a string (the golden tests use it).
func (a *App) render() string {
	w, h := a.ctx.Width, a.ctx.Height
	if w == 0 || h == 0 {
		return ""
	}
	if w < MinWidth || h < MinHeight {
		return a.tooSmall()
	}
	var body string
	switch {
	case a.help:
		body = a.helpView(w, h-chrome)
	case a.picker != nil:
		body = a.picker.View()
	case a.ctx.Data == nil:
		body = a.waiting(w, h-chrome)
	case a.inDetail:
		body = a.detail.View()
	default:
		body = a.panes[a.active].View()
	}
	return a.tabBar() + "\n" + body + "\n" + a.statusLine()
}

func (a *App) tooSmall() string {
	w, h := a.ctx.Width, a.ctx.Height
	msg := fmt.Sprintf("terminal too small (need %dx%d)", MinWidth, MinHeight)
	now := fmt.Sprintf("now %dx%d · q quits", w, h)
	lines := make([]string, h)
	mid := h / 2
	put := func(i int, s string) {
		if i >= 0 && i < h {
			lines[i] = text.Cut(strings.Repeat(" ", max((w-text.Width(s))/2, 0))+s, w)
		}
	}
	put(mid-1, msg)
	put(mid, now)
	if a.ctx.Data != nil && a.ctx.Data.Stuck > 0 {
		for i, l := range text.Wrap(a.ctx.Data.Headline, w-2, 0) {
			put(mid+2+i, l)
		}
	}
	return text.Lines(lines, w, h)
}

// waiting is the body before the first snapshot.
func (a *App) waiting(w, h int) string {
	th := a.ctx.Theme
	msg := "Attaching and reading every goroutine…"
	if e := a.ctx.Status.Err; e != "" {
		msg = "Could not read the target: " + e
	}
	lines := []string{""}
	for _, l := range text.Wrap(msg, w-4, 0) {
		lines = append(lines, "  "+l)
	}
	if st := a.ctx.Status; st.Total > 0 {
		lines = append(lines, "", fmt.Sprintf("  %s  %s: %s", statusbar.Bar(st.Done, st.Total, min(40, w-40)), st.Phase, statusbar.Count(st.Total)))
	}
	lines = append(lines, "", th.Dim.Render("  The target is stopped only while it is read; q detaches and leaves it running."))
	return text.Lines(lines, w, h)
}

// tabs are the tab titles, short ones when the terminal is narrow.
func (a *App) tabs() (titles []string, brand bool) {
	full := make([]string, len(a.panes))
	n := len(" hangtui ")
	for i, p := range a.panes {
		full[i] = fmt.Sprintf(" %d %s ", i+1, p.Title())
		n += text.Width(full[i])
	}
	if n+1 <= a.ctx.Width {
		return full, true
	}
	short := []string{"Over", "Gorout", "Locks", "Graph", "Final", "Top"}
	for i := range full {
		full[i] = fmt.Sprintf(" %d %s ", i+1, short[i])
	}
	return full, false
}

// tabAt is the pane whose tab is at column x, or -1.
func (a *App) tabAt(x int) int {
	titles, brand := a.tabs()
	col := 0
	if brand {
		col = len(" hangtui ") + 1
	}
	for i, t := range titles {
		if x >= col && x < col+text.Width(t) {
			return i
		}
		col += text.Width(t)
	}
	return -1
}

func (a *App) tabBar() string {
	th := a.ctx.Theme
	if a.picker != nil {
		return text.Pad(th.TabActive.Render(" hangtui ")+th.Dim.Render("  pick a process to inspect"), a.ctx.Width)
	}
	titles, brand := a.tabs()
	var b strings.Builder
	if brand {
		b.WriteString(th.Bold.Render(" hangtui "))
		b.WriteString(" ")
	}
	for i, t := range titles {
		if i == a.active {
			b.WriteString(th.TabActive.Render(t))
		} else {
			b.WriteString(th.Tab.Render(t))
		}
	}
	if crumb := " › " + inspect.ShortGID(a.detail.ID()); a.inDetail && text.Width(b.String())+text.Width(crumb) <= a.ctx.Width {
		b.WriteString(th.Dim.Render(" › ") + th.Bold.Render(inspect.ShortGID(a.detail.ID())))
	}
	return text.Pad(b.String(), a.ctx.Width)
}

func (a *App) statusLine() string {
	if a.picker != nil {
		th := a.ctx.Theme
		s := a.ctx.Status
		if s.Flash != "" && a.ctx.Now().Sub(s.FlashAt) < statusbar.FlashFor {
			st := th.Info
			if s.FlashErr {
				st = th.Error
			}
			return text.Pad(" "+st.Render(s.Flash), a.ctx.Width)
		}
		return text.Pad(th.Dim.Render(" enter attach · / filter · o sort · a all processes · r rescan · q quit"), a.ctx.Width)
	}
	return statusbar.View(a.ctx, a.ctx.Width)
}

// helpView is the `?` screen, generated from the key map, and a legend.
func (a *App) helpView(w, h int) string {
	th := a.ctx.Theme
	hm := help.New()
	hm.SetWidth(w - 2)
	hm.Styles.FullKey = th.Key
	hm.Styles.FullDesc = lipgloss.NewStyle()
	hm.Styles.FullSeparator = th.Dim
	hm.FullSeparator = "    "
	lines := []string{" " + th.Bold.Render("KEYS") + th.Dim.Render("   any key closes this help"), ""}
	for _, l := range strings.Split(hm.FullHelpView(a.ctx.Keys.FullHelp()), "\n") {
		lines = append(lines, "  "+l)
	}
	lines = append(lines, "", " "+th.Bold.Render("MARKS"), "")
	for _, m := range [][2]string{
		{"+ / ~", "new / changed (state or stack) since the previous snapshot"},
		{"SAME", "snapshots in a row with the same state and stack: stuck for N refreshes"},
		{"⟲", "a lock in a deadlock cycle"},
		{"DEADLOCKED", "waits in or behind a wait-for cycle: can provably never run again"},
		{"LEAKED", "nothing that can still run can wake it: it never runs again"},
	} {
		for i, x := range text.Wrap(m[1], w-16, 0) {
			k := ""
			if i == 0 {
				k = m[0]
			}
			lines = append(lines, "  "+th.Key.Render(text.Pad(k, 12))+" "+x)
		}
	}
	lines = append(lines, "")
	for _, l := range text.Wrap("The target runs between snapshots and is stopped only while one is read; q detaches and leaves it running.", w-3, 0) {
		lines = append(lines, "  "+th.Dim.Render(l))
	}
	return text.Lines(lines, w, h)
}

// fileName is ./hangtui-<pid>-<time>.<ext> for the current snapshot.
func (a *App) fileName(ext string) string {
	s := a.ctx.Snap()
	name := fmt.Sprintf("hangtui-%d-%s.%s", s.Target.PID, s.TakenAt.UTC().Format("20060102-150405"), ext)
	if a.opts.SaveDir == "." {
		return "./" + name
	}
	return filepath.Join(a.opts.SaveDir, name)
}

// save writes the current snapshot as JSON (s), off the UI goroutine.
func (a *App) save() tea.Cmd {
	d := a.ctx.Data
	if d == nil {
		return nil
	}
	name := a.fileName("json")
	return writeFile(name, "snapshot", func(f *os.File) error { return report.WriteJSON(f, d.Snap) })
}

// saveDOT writes the wait-for graph as DOT (d).
func (a *App) saveDOT() tea.Cmd {
	d := a.ctx.Data
	if d == nil {
		return nil
	}
	name := a.fileName("dot")
	return writeFile(name, "graph", func(f *os.File) error { return graph.WriteDOT(f, d) })
}

func writeFile(name, what string, write func(*os.File) error) tea.Cmd {
	return func() tea.Msg {
		f, err := os.Create(name)
		if err == nil {
			err = write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return uictx.FlashMsg{Text: "could not save the " + what + ": " + err.Error(), Err: true}
		}
		return uictx.FlashMsg{Text: "saved " + what + " to " + name}
	}
}
