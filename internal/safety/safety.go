// Package safety makes sure hangtui lets go of its target whatever happens
// to hangtui itself: Ctrl-C, SIGTERM, SIGHUP from a dropped SSH session, or a
// panic. Everything that must run before exit registers a closer here.
package safety

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

var (
	mu      sync.Mutex
	closers = map[int]func(){}
	nextID  int
	once    sync.Once
)

// OnExit registers f to run before hangtui exits for any reason this package
// sees. The returned function unregisters it (call it after a normal close).
func OnExit(f func()) (unregister func()) {
	once.Do(installSignals)
	mu.Lock()
	defer mu.Unlock()
	id := nextID
	nextID++
	closers[id] = f
	return func() {
		mu.Lock()
		delete(closers, id)
		mu.Unlock()
	}
}

// RunClosers runs every registered closer once, newest first.
func RunClosers() {
	mu.Lock()
	fs := make([]func(), 0, len(closers))
	for id := nextID - 1; id >= 0; id-- {
		if f, ok := closers[id]; ok {
			fs = append(fs, f)
			delete(closers, id)
		}
	}
	mu.Unlock()
	for _, f := range fs {
		func() {
			defer func() { _ = recover() }()
			f()
		}()
	}
}

// signals that end hangtui. SIGHUP arrives when an SSH session drops.
var signals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Signals is notified (non-blocking) of every exit signal, for callers like
// the TUI that prefer to shut down themselves; hangtui still exits after the
// closers have run.
func installSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, signals...)
	go func() {
		sig := <-ch
		RunClosers()
		fmt.Fprintf(os.Stderr, "hangtui: %v: detached, target left running\n", sig)
		if s, ok := sig.(syscall.Signal); ok {
			os.Exit(128 + int(s))
		}
		os.Exit(1)
	}()
}

// Recover is deferred at the top of main and of every goroutine hangtui
// starts: on a panic it runs the closers (detaching from the target) and
// then re-panics so the crash is still reported.
func Recover() {
	if r := recover(); r != nil {
		RunClosers()
		panic(r)
	}
}
