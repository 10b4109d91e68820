package inspect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hangtui/hangtui/inspect/dump"
	"github.com/hangtui/hangtui/inspect/internal/target"
)

// SourceRemote is a process behind a Delve server (dlv --headless
// --accept-multiclient), read over its JSON-RPC API.
const SourceRemote SourceKind = "remote"

// ErrRemote: the Delve server could not be reached or read.
const ErrRemote ErrorKind = "remote"

// RemoteOptions tune Connect.
type RemoteOptions struct {
	// Timeout bounds connecting and the handshake (default 10s).
	Timeout time.Duration
	// SourceRoot is where the program's source is found when the paths
	// recorded on the remote machine do not exist here (see DumpOptions).
	SourceRoot string
	// MaxDepth bounds each stack (default 128 frames).
	MaxDepth int
	// ReadTimeout bounds one whole read (default 10 minutes); each call
	// to the server has its own deadline too (Timeout, or 6 × Timeout for
	// the reads).
	ReadTimeout time.Duration
	// MaxBytes bounds what the server may send for one read (default
	// 1 GiB): its answers are untrusted.
	MaxBytes int64
}

// Remote reads snapshots from a Delve server. Each Snapshot connects,
// halts the target if it runs, reads every goroutine's stack, continues
// the target and disconnects, so the target is only stopped while it is
// read; a target that was stopped when hangtui came is left stopped (it is
// somebody's debugging session). A Delve server gives goroutines, stacks
// and argument values but its memory reads are too slow for the heap walk,
// so the analysis is the one of a goroutine dump, and the report says so.
type Remote struct {
	addr string
	opts RemoteOptions
	// continued: the last read left the target running.
	continued bool

	mu sync.Mutex
	// stop is closed by Close: a read in progress is abandoned (and the
	// target it halted continued).
	stop   chan struct{}
	closed bool
	// reading is closed when the read in progress ends.
	reading chan struct{}
}

// Connect checks that a Delve server answers at addr (host:port) and
// returns a Remote for it.
func Connect(addr string, opts RemoteOptions) (*Remote, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 128
	}
	if !strings.Contains(addr, ":") {
		return nil, &Error{Kind: ErrRemote, Msg: fmt.Sprintf("%q is not HOST:PORT", addr), Hint: "e.g. --connect 127.0.0.1:4040"}
	}
	return &Remote{addr: addr, opts: opts, stop: make(chan struct{})}, nil
}

// Snapshot reads the target once (see Remote).
func (r *Remote) Snapshot() (*Snapshot, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, &Error{Kind: ErrRemote, Msg: "the connection to the Delve server at " + r.addr + " is closed"}
	}
	reading := make(chan struct{})
	r.reading = reading
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		close(reading)
		r.reading = nil
		r.mu.Unlock()
	}()
	start := time.Now()
	lim := target.RemoteLimits{MaxDepth: r.opts.MaxDepth, ReadTimeout: r.opts.ReadTimeout, MaxBytes: r.opts.MaxBytes}
	info, gs, err := target.ReadRemote(r.addr, r.opts.Timeout, lim, r.continued, r.needArgs(), r.stop)
	r.continued = err == nil && info.WasRunning
	if err != nil {
		hint := "start it with: dlv attach PID --headless --accept-multiclient --listen 127.0.0.1:4040 --continue (over SSH: ssh -L 4040:localhost:4040 HOST)"
		switch {
		case errors.Is(err, target.ErrNotResumed):
			hint = "the target may be left stopped: dlv connect " + r.addr + ", then continue"
		case errors.Is(err, target.ErrNoAnswer):
			hint = "the server may be busy or wedged: try dlv connect " + r.addr + ", or restart it (dlv attach PID --headless --accept-multiclient --continue)"
		case errors.Is(err, target.ErrTooMuch):
			hint = "for a program this large, read a goroutine dump instead (kill -QUIT, or hangtui report --dump)"
		}
		return nil, &Error{Kind: ErrRemote, Msg: fmt.Sprintf("cannot read from the Delve server at %s: %v", r.addr, err), Hint: hint, Err: err}
	}
	took := time.Since(start)
	d := &dump.Dump{Dumps: 1}
	stacks := map[string]*dump.Stack{}
	for _, rg := range gs {
		g := &dump.Goroutine{ID: rg.ID, Status: rg.Status, Leaked: rg.Leaked, Labels: rg.Labels, M: -1}
		if rg.Status == "waiting" && rg.WaitReason != "" {
			g.Status = rg.WaitReason
		}
		var key strings.Builder
		frames := make([]dump.Frame, len(rg.Frames))
		argv := make([][]dump.Arg, len(rg.Frames))
		for i, f := range rg.Frames {
			frames[i] = dump.Frame{Func: f.Func, File: f.File, Line: f.Line, Inlined: f.Inlined}
			argv[i] = f.Args
			key.WriteString(f.Func + "\x00" + f.File + ":" + strconv.Itoa(f.Line) + "\x01")
			if d.GoVersion == "" && strings.HasPrefix(f.Func, "runtime.") {
				d.GoVersion = dump.GoVersionFromPath(f.File)
			}
		}
		st := stacks[key.String()]
		if st == nil {
			st = &dump.Stack{Frames: frames}
			stacks[key.String()] = st
		}
		g.Stack = st
		g.SetArgValues(argv) // values, not traceback text
		if rg.GoFunc != "" {
			g.CreatedBy = &dump.Frame{Func: rg.GoFunc, File: rg.GoFile, Line: rg.GoLine}
		}
		d.Goroutines = append(d.Goroutines, g)
	}
	snap := fromDump(d, DumpOptions{Name: r.addr, SourceRoot: r.opts.SourceRoot}, SourceRemote)
	snap.Target.PID = info.PID
	snap.TakenAt = start
	if info.WasRunning {
		snap.Pause = took
	} else {
		snap.Warnings = append(snap.Warnings, "the target was stopped by the Delve server's client when hangtui connected; it was left stopped")
	}
	return snap, nil
}

// needArgs says which frames' arguments the dump analysis can use: the
// functions whose receiver or first argument names what a goroutine waits
// on, and user frames whose source locks something before or at their line
// (holders, and the parked Lock calls offsets are learned from).
func (r *Remote) needArgs() func(fn, file string, line int) bool {
	si := newSourceIndex()
	h := &dumpHolders{db: &dumpBuilder{noSource: map[string]bool{}}, si: si, root: r.opts.SourceRoot,
		paths: map[string]string{}, fns: map[fileLine]*dumpFunc{}}
	memo := map[fileLine]bool{}
	return func(fn, file string, line int) bool {
		if waitArgFuncs[fn] {
			return true
		}
		if !IsUserFunc(fn) {
			return false
		}
		k := fileLine{file, line}
		if v, ok := memo[k]; ok {
			return v
		}
		v := false
		if local := h.local(file); local != "" {
			if f := h.funcAt(local, line); f != nil {
				v = len(si.heldAt(local, line, fn)) > 0 || len(si.locksAt(f, line)) > 0
			}
		}
		memo[k] = v
		return v
	}
}

// Resume does nothing: Snapshot already let the target run again.
func (r *Remote) Resume() error { return nil }

// Close abandons a read in progress, which continues the target if it
// halted it, and waits (at most the timeout) for that; no connection stays
// open between snapshots. Safe to call from another goroutine than
// Snapshot's (a signal) and more than once.
func (r *Remote) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
	}
	reading := r.reading
	r.mu.Unlock()
	if reading != nil {
		select {
		case <-reading:
		case <-time.After(r.opts.Timeout):
		}
	}
	return nil
}
