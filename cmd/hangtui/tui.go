package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/safety"
	"github.com/hangtui/hangtui/ui"
)

// tuiFlags are the flags of the live view.
type tuiFlags struct {
	interval time.Duration
	noColor  bool
	noMouse  bool
}

func (t *tuiFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&t.interval, "interval", 2*time.Second, "time between refreshes of the live view")
	fs.BoolVar(&t.noColor, "no-color", false, "no colours (NO_COLOR=1 does the same)")
	fs.BoolVar(&t.noMouse, "no-mouse", false, "leave the mouse to the terminal (for selecting text)")
}

// runTUI is `hangtui [flags] PID`, `hangtui [flags] --core CORE --exe EXE`
// and `hangtui` alone (the process picker). Without a terminal it prints the
// text report instead, like `hangtui report`.
func runTUI(args []string) int {
	fs := flag.NewFlagSet("hangtui", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var src source
	src.flags(fs)
	var tf tuiFlags
	tf.register(fs)
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if tf.interval < 100*time.Millisecond {
		return usageError("--interval must be at least 100ms")
	}
	if fs.NArg() == 0 && src.core == "" && src.exe == "" && src.dump == "" && src.connect == "" {
		if !isTerminal(os.Stdout) {
			return fail(errors.New("the process picker needs a terminal; without one, give a PID: hangtui report PID"))
		}
		return pickAndRun(tf)
	}
	if ok, msg := src.parse(fs); !ok {
		return usageError("%s", msg)
	}
	if !isTerminal(os.Stdout) || src.dump != "" {
		snap, err := src.snapshotOnce()
		if err != nil {
			return fail(err) // one line, as for any bad input
		}
		if src.dump != "" && isTerminal(os.Stdout) {
			return runUI(ui.Options{Source: staticSource{snap}}, tf)
		}
		// Scripts and pipes get the report; say so, so that nobody waits
		// for a live view that is not coming.
		fmt.Fprintln(os.Stderr, "hangtui: not a terminal: printing the text report instead of the live view (use 'hangtui report' in scripts)")
		return printReport(os.Stdout, snap, false)
	}
	if src.connect != "" {
		// Each refresh (every interval, or r) reads through the server
		// again; the target runs in between.
		r, err := inspect.Connect(src.connect, inspect.RemoteOptions{SourceRoot: src.src})
		if err != nil {
			return fail(err)
		}
		// A signal in the middle of a read: continue the target first.
		defer safety.OnExit(func() { _ = r.Close() })()
		return runUI(ui.Options{Source: r}, tf)
	}
	sess, closeFn, err := src.open()
	if err != nil {
		return fail(err)
	}
	defer closeFn()
	src.startCode(sess)
	return runUI(ui.Options{Source: sess}, tf)
}

// pickAndRun shows the process picker; the UI attaches to the process the
// user picks.
func pickAndRun(tf tuiFlags) int {
	var (
		mu       sync.Mutex
		closers  []func()
		inFlight sync.WaitGroup
	)
	defer func() {
		// Quitting while an attach is under way: wait for it, then detach.
		done := make(chan struct{})
		go func() { inFlight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
		mu.Lock()
		defer mu.Unlock()
		for _, c := range closers {
			c()
		}
	}()
	attach := func(pid int) (ui.Source, error) {
		inFlight.Add(1)
		defer inFlight.Done()
		src := source{pid: pid, noCode: os.Getenv("HANGTUI_NO_CODE") != "", codeBudget: inspect.DefaultCodeBudget, maxPause: inspect.DefaultPauseBudget}
		sess, closeFn, err := src.open()
		if err != nil {
			return nil, err
		}
		src.startCode(sess)
		mu.Lock()
		closers = append(closers, closeFn)
		mu.Unlock()
		return sess, nil
	}
	return runUI(ui.Options{Attach: attach}, tf)
}

// runUI runs the live view until the user quits; the UI detaches before it
// returns.
func runUI(opts ui.Options, tf tuiFlags) int {
	opts.Interval, opts.NoColor, opts.NoMouse = tf.interval, tf.noColor, tf.noMouse
	if err := ui.Run(opts); err != nil {
		return fail(fmt.Errorf("terminal UI: %w (log: %s)", err, ui.LogPath()))
	}
	return 0
}
