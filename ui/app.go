// Package ui is hangtui's terminal UI. The root model (this file) composes
// the panes, one package each under ui/, routes keys and mouse to them, and
// receives snapshots from the engine (engine.go), which alone talks to the
// target. Panes share state through ui/context and ask for navigation with
// messages (OpenGoroutineMsg, OpenResourceMsg).
package ui

import (
	"log/slog"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/ui/contention"
	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/detail"
	"github.com/hangtui/hangtui/ui/finalizers"
	"github.com/hangtui/hangtui/ui/goroutines"
	"github.com/hangtui/hangtui/ui/graph"
	"github.com/hangtui/hangtui/ui/keys"
	"github.com/hangtui/hangtui/ui/overview"
	"github.com/hangtui/hangtui/ui/picker"
	"github.com/hangtui/hangtui/ui/resources"
	"github.com/hangtui/hangtui/ui/theme"
)

// MinWidth and MinHeight are the smallest terminal the UI draws in.
const MinWidth, MinHeight = 60, 15

// Options configure the UI.
type Options struct {
	// Source is the target; nil starts with the process picker.
	Source Source
	// Attach opens a live process picked in the picker.
	Attach func(pid int) (Source, error)
	// Interval between refreshes (default 2s).
	Interval time.Duration
	// NoColor turns colours off (NO_COLOR does too).
	NoColor bool
	// NoMouse leaves the mouse to the terminal (text selection).
	NoMouse bool
	// SaveDir is where s and d write files (default ".").
	SaveDir string
	// Processes lists processes for the picker (nil: /proc).
	Processes picker.Lister
	// Now is the clock (tests).
	Now func() time.Time
	// Log receives the UI's log (never the screen).
	Log *slog.Logger
}

// Pane indexes.
const (
	paneOverview = iota
	paneGoroutines
	paneResources
	paneGraph
	paneFinalizers
	paneContention
)

// pane is what every pane package provides.
type pane interface {
	Title() string
	SetSize(w, h int)
	Refresh()
	Update(tea.Msg) tea.Cmd
	View() string
}

// capturer is a pane whose filter line can take the keyboard.
type capturer interface{ Capturing() bool }

// backer is a pane that can undo something on esc.
type backer interface{ Back() bool }

// App is the root model.
type App struct {
	ctx  *uictx.Context
	opts Options
	log  *slog.Logger

	src    Source
	engine *Engine

	panes    []pane
	res      *resources.Model
	gor      *goroutines.Model
	active   int
	detail   *detail.Model
	inDetail bool
	history  []place
	help     bool
	picker   *picker.Model
	paused   bool
}

// New returns the root model. The engine starts with Init.
func New(opts Options) *App {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.SaveDir == "" {
		opts.SaveDir = "."
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	km := keys.Default()
	ctx := uictx.New(theme.New(opts.NoColor || theme.NoColorEnv()), &km)
	if opts.Now != nil {
		ctx.Now = opts.Now
	}
	ctx.Status.Interval = opts.Interval
	ctx.Interval = opts.Interval
	a := &App{ctx: ctx, opts: opts, log: log, src: opts.Source}
	a.res = resources.New(ctx)
	a.gor = goroutines.New(ctx)
	a.panes = []pane{overview.New(ctx), a.gor, a.res, graph.New(ctx), finalizers.New(ctx), contention.New(ctx)}
	a.detail = detail.New(ctx)
	if opts.Source == nil {
		a.picker = picker.New(ctx, opts.Processes)
	}
	return a
}

// Init starts the engine (or the picker's first scan) and the clock.
func (a *App) Init() tea.Cmd {
	cmds := []tea.Cmd{tick()}
	if a.picker != nil {
		cmds = append(cmds, a.picker.Init())
	} else {
		cmds = append(cmds, a.start(a.src))
	}
	return tea.Batch(cmds...)
}

// start starts the engine on src.
func (a *App) start(src Source) tea.Cmd {
	a.src = src
	a.engine = StartEngine(src, a.opts.Interval, a.log)
	a.ctx.Status.State = uictx.Starting
	return a.engine.Next()
}

// Shutdown stops the engine and closes the source (detaching from a live
// process, which keeps running). Run calls it after the program ends.
func (a *App) Shutdown() {
	if a.engine != nil {
		a.engine.Stop(10 * time.Second)
	}
	if a.src != nil {
		if err := a.src.Close(); err != nil {
			a.log.Error("detach", "err", err)
		}
	}
}

type tickMsg struct{}

// tick redraws every second (the snapshot's age in the status bar).
func tick() tea.Cmd { return tea.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} }) }

type attachedMsg struct {
	pid int
	src Source
	err error
}

// Update routes messages.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.ctx.Width, a.ctx.Height = msg.Width, msg.Height
		a.resize()
		return a, nil
	case tickMsg:
		return a, tick()
	case readingMsg:
		a.ctx.Status.Reading = true
		a.ctx.Status.Phase, a.ctx.Status.Done, a.ctx.Status.Total = "", 0, 0
		return a, a.next()
	case progressMsg:
		a.ctx.Status.Phase, a.ctx.Status.Done, a.ctx.Status.Total = msg.p.Phase, msg.p.Done, msg.p.Total
		return a, a.next()
	case snapshotMsg:
		return a, a.snapshot(msg)
	case contentionMsg:
		a.ctx.Contention, a.ctx.ContentionNote = msg.prof, msg.note
		a.panes[paneContention].Refresh()
		return a, a.next()
	case attachedMsg:
		a.picker.Attaching = 0
		if msg.err != nil {
			a.flash(msg.err.Error(), true)
			return a, nil
		}
		a.picker = nil
		a.resize()
		return a, a.start(msg.src)
	case picker.ChooseMsg:
		if a.opts.Attach == nil {
			return a, nil
		}
		a.picker.Attaching = msg.PID
		attach := a.opts.Attach
		return a, func() tea.Msg {
			src, err := attach(msg.PID)
			return attachedMsg{pid: msg.PID, src: src, err: err}
		}
	case uictx.FlashMsg:
		a.flash(msg.Text, msg.Err)
		return a, nil
	case uictx.OpenGoroutineMsg:
		a.push()
		a.inDetail = true
		a.detail.Show(msg.ID)
		a.gor.SelectGoroutine(msg.ID)
		return a, nil
	case uictx.OpenResourceMsg:
		a.push()
		a.inDetail = false
		a.active = paneResources
		a.res.Open(msg.ID)
		return a, nil
	case tea.KeyPressMsg:
		return a, a.key(msg)
	case tea.MouseClickMsg:
		return a, a.click(msg)
	case tea.MouseWheelMsg:
		return a, a.forward(msg)
	}
	// Anything else (cursor blinks of the filter line, ...) goes to the
	// focused pane.
	return a, a.forward(msg)
}

func (a *App) flash(text string, isErr bool) {
	a.ctx.Status.Flash, a.ctx.Status.FlashErr, a.ctx.Status.FlashAt = text, isErr, a.ctx.Now()
}

func (a *App) snapshot(msg snapshotMsg) tea.Cmd {
	st := &a.ctx.Status
	st.Reading = false
	switch {
	case msg.gone:
		st.State = uictx.Gone
		st.Err = msg.err.Error()
		return nil
	case msg.err != nil:
		st.Err = msg.err.Error()
		if a.ctx.Data == nil {
			st.State = uictx.Live
		}
	default:
		st.Err = ""
		a.ctx.Data = msg.data
		st.LastAt = msg.at
		st.Interval = msg.next
		switch {
		case !Refreshes(msg.data.Snap.Target.Source):
			st.State = uictx.Static
		case a.paused:
			st.State = uictx.Paused
		default:
			st.State = uictx.Live
		}
		for _, p := range a.panes {
			p.Refresh()
		}
		a.detail.Refresh()
	}
	return a.next()
}

// next waits for the engine's next message.
func (a *App) next() tea.Cmd {
	if a.engine == nil {
		return nil
	}
	return a.engine.Next()
}

// focused is what receives keys: the picker, the detail view or the pane.
func (a *App) focused() interface{ Update(tea.Msg) tea.Cmd } {
	switch {
	case a.picker != nil:
		return a.picker
	case a.inDetail:
		return a.detail
	}
	return a.panes[a.active]
}

func (a *App) forward(msg tea.Msg) tea.Cmd {
	if a.help {
		return nil
	}
	return a.focused().Update(msg)
}

func (a *App) capturing() bool {
	if c, ok := a.focused().(capturer); ok {
		return c.Capturing()
	}
	return false
}

func (a *App) key(msg tea.KeyPressMsg) tea.Cmd {
	km := a.ctx.Keys
	if msg.String() == "ctrl+c" {
		return tea.Quit
	}
	if a.capturing() {
		return a.forward(msg)
	}
	if a.help {
		a.help = false
		if key.Matches(msg, km.Quit) {
			return tea.Quit
		}
		return nil
	}
	switch {
	case key.Matches(msg, km.Quit):
		return tea.Quit
	case key.Matches(msg, km.Help):
		a.help = true
		return nil
	case key.Matches(msg, km.Back):
		a.back()
		return nil
	}
	if a.picker != nil {
		return a.picker.Update(msg)
	}
	switch {
	case key.Matches(msg, km.NextPane):
		a.switchTo((a.active + 1) % len(a.panes))
	case key.Matches(msg, km.PrevPane):
		a.switchTo((a.active + len(a.panes) - 1) % len(a.panes))
	case key.Matches(msg, km.Jump):
		a.switchTo(keys.Pane(msg.String()))
	case key.Matches(msg, km.Pause):
		a.togglePause()
	case key.Matches(msg, km.Refresh):
		if a.engine != nil {
			a.engine.Refresh()
		}
	case key.Matches(msg, km.Save):
		return a.save()
	case key.Matches(msg, km.SaveDOT):
		return a.saveDOT()
	default:
		return a.forward(msg)
	}
	return nil
}

func (a *App) togglePause() {
	switch a.ctx.Status.State {
	case uictx.Static:
		a.flash("a core file or a dump does not change: nothing to refresh", false)
		return
	case uictx.Gone:
		a.flash("the process has exited: nothing to refresh", false)
		return
	}
	if a.engine == nil {
		return
	}
	a.paused = !a.paused
	a.engine.SetPaused(a.paused)
	if a.paused {
		a.ctx.Status.State = uictx.Paused
		a.flash("refresh paused (the target keeps running) · p resumes", false)
	} else {
		a.ctx.Status.State = uictx.Live
		a.flash("refreshing every "+a.opts.Interval.String(), false)
	}
}
