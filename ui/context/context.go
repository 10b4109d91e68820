// Package context is the state every pane shares: the current and previous
// snapshot (as Data), the theme, the key map, the size of the screen and the
// engine's status; and the messages panes send to navigate.
package context

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/keys"
	"github.com/hangtui/hangtui/ui/theme"
)

// Context is shared by pointer between the root model and every pane. Only
// the root model writes it, in Update.
type Context struct {
	Data  *Data
	Theme *theme.Theme
	Keys  *keys.KeyMap

	// Width and Height are the terminal's size.
	Width, Height int

	// Now is the clock (fixed in tests).
	Now func() time.Time

	// Interval is the refresh interval asked for (--interval).
	Interval time.Duration

	Status Status

	// Contention is the live contention ranking (the Contention pane),
	// nil until sampling has started; ContentionNote says why there is
	// none when sampling is not possible.
	Contention     *inspect.ContentionProfile
	ContentionNote string
}

// SparkMax is the widest sparkline a pane draws.
const SparkMax = 40

// EngineState is what the snapshot engine is doing.
type EngineState int

const (
	// Starting: no snapshot yet.
	Starting EngineState = iota
	// Live: refreshing every interval.
	Live
	// Paused: the user paused refreshing (the target runs).
	Paused
	// Static: a core file; nothing changes.
	Static
	// Gone: the process exited; the last snapshot stays on screen.
	Gone
)

// Status is the engine's state as the status bar shows it.
type Status struct {
	State EngineState
	// Reading is set while a snapshot is being read (the target is stopped).
	Reading bool
	// Phase, Done and Total are the progress of the snapshot being read.
	Phase       string
	Done, Total int
	// LastAt is when the last snapshot was received.
	LastAt time.Time
	// Err is the last error reading a snapshot ("" when the last one worked).
	Err string
	// Flash is a message shown for a few seconds ("saved ...").
	Flash    string
	FlashErr bool
	FlashAt  time.Time
	// Interval until the next automatic refresh: Context.Interval, or
	// longer when reading the target paused it long.
	Interval time.Duration
}

// New returns a context.
func New(th *theme.Theme, km *keys.KeyMap) *Context {
	return &Context{Theme: th, Keys: km, Now: time.Now}
}

// Snap returns the current snapshot, or nil.
func (c *Context) Snap() *inspect.Snapshot {
	if c.Data == nil {
		return nil
	}
	return c.Data.Snap
}

// Navigation messages: panes return them as commands; the root model acts.

// OpenGoroutineMsg opens the detail view of a goroutine.
type OpenGoroutineMsg struct{ ID int64 }

// OpenResourceMsg shows a resource (its holders and waiters).
type OpenResourceMsg struct{ ID string }

// FlashMsg shows a short message in the status bar.
type FlashMsg struct {
	Text string
	Err  bool
}

// Cmd wraps a message as a command.
func Cmd(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }
