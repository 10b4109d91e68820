package ui

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/hangtui/hangtui/internal/safety"
)

// Run runs the UI until the user quits, then stops the engine and closes
// the source (detaching; the target keeps running) before it returns. A
// signal or a panic restores the terminal before safety's closers detach.
func Run(opts Options) error {
	if opts.Log == nil {
		log, closeLog := OpenLog()
		defer closeLog()
		opts.Log = log
	}
	app := New(opts)
	// Signals are internal/safety's: it gives the terminal back (the closer
	// below), detaches, says so and exits. Bubble Tea handling SIGTERM too
	// would race it.
	popts := []tea.ProgramOption{tea.WithoutSignalHandler()}
	if opts.NoColor {
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	p := tea.NewProgram(app, popts...)
	// On SIGTERM, SIGHUP or a panic elsewhere, safety runs its closers and
	// exits: give the terminal back first (closers run newest first).
	unregister := safety.OnExit(func() { _ = p.ReleaseTerminal() })
	_, err := p.Run()
	unregister()
	app.Shutdown()
	if errors.Is(err, tea.ErrInterrupted) {
		err = nil
	}
	return err
}

// OpenLog opens the log file: $XDG_STATE_HOME/hangtui/hangtui.log, or
// hangtui-<uid>.log in the temporary directory. The UI never logs to the
// screen.
func OpenLog() (*slog.Logger, func()) {
	path := LogPath()
	_ = os.MkdirAll(filepath.Dir(path), 0o700)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil)), func() {}
	}
	log := slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log.Info("hangtui started", "pid", os.Getpid(), "args", os.Args[1:])
	return log, func() { _ = f.Close() }
}

// LogPath is where the UI logs.
func LogPath() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "hangtui", "hangtui.log")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("hangtui-%d.log", os.Getuid()))
}
