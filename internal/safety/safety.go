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
	"time"
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

// closeTimeout bounds how long a signal waits for the closers. A detach
// waits for the snapshot being read to finish (Delve is single-threaded),
// which on a huge process can take a while; exiting without it is safe too:
// hangtui leaves no breakpoints in the target, and the kernel detaches a
// dead tracer's tracees and lets them run.
const closeTimeout = 2 * time.Second

// installSignals makes every exit signal run the closers (detach) before
// hangtui exits. A second signal, or closeTimeout, ends the wait.
func installSignals() {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, signals...)
	go func() {
		sig := <-ch
		done := make(chan struct{})
		go func() { RunClosers(); close(done) }()
		msg := "detached, target left running"
		select {
		case <-done:
		case <-ch:
			msg = "exiting before the detach finished; the kernel detaches and the target keeps running"
		case <-time.After(closeTimeout):
			msg = "a snapshot was still being read; exiting, the kernel detaches and the target keeps running"
		}
		fmt.Fprintf(os.Stderr, "hangtui: %v: %s\n", sig, msg)
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
