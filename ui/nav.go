package ui

import tea "charm.land/bubbletea/v2"

// Navigation: panes ask to open a goroutine or a resource with messages;
// the root model remembers where the user came from, and esc goes back.

// place is where the user is, to come back to with esc.
type place struct {
	pane     int
	detail   int64  // goroutine shown in the detail view, 0 for none
	resource string // resource open in the resources pane
}

// switchTo shows pane i, leaving the detail view; the way back is cleared.
func (a *App) switchTo(i int) {
	if i < 0 || i >= len(a.panes) {
		return
	}
	a.active, a.inDetail, a.history = i, false, nil
}

func (a *App) here() place {
	p := place{pane: a.active}
	if a.inDetail {
		p.detail = a.detail.ID()
	}
	if a.active == paneResources {
		p.resource = a.res.OpenID()
	}
	return p
}

func (a *App) push() {
	a.history = append(a.history, a.here())
	if len(a.history) > 100 {
		a.history = a.history[1:]
	}
}

// back is esc: return to where the last jump came from, or close what is
// open, or let the pane undo something (clear its filter).
func (a *App) back() {
	if a.picker != nil {
		a.picker.Back()
		return
	}
	resOpen := a.active == paneResources && a.res.OpenID() != ""
	if a.inDetail || resOpen {
		if n := len(a.history); n > 0 {
			p := a.history[n-1]
			a.history = a.history[:n-1]
			a.restore(p)
			return
		}
		if a.inDetail {
			a.inDetail = false
			return
		}
	}
	if b, ok := a.panes[a.active].(backer); ok {
		b.Back()
	}
}

func (a *App) restore(p place) {
	a.active = p.pane
	a.inDetail = p.detail != 0
	if a.inDetail {
		a.detail.Show(p.detail)
	}
	if p.pane == paneResources {
		if p.resource != "" {
			a.res.Open(p.resource)
		} else if a.res.OpenID() != "" {
			a.res.Back()
		}
	}
}

// click selects tabs on the top line and forwards other clicks to the
// focused view, in its own coordinates.
func (a *App) click(msg tea.MouseClickMsg) tea.Cmd {
	if a.help {
		a.help = false
		return nil
	}
	if msg.Y == 0 && a.picker == nil {
		if i := a.tabAt(msg.X); i >= 0 {
			a.switchTo(i)
		}
		return nil
	}
	m := msg.Mouse()
	m.Y--
	return a.focused().Update(tea.MouseClickMsg(m))
}
