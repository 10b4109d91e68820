package inspect

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// Session is an open target: an attached process or an opened core.
//
// Delve is not safe for concurrent use, so a Session owns one goroutine that
// makes every Delve call; its methods send work to that goroutine and wait.
// All methods are safe to call from any goroutine.
type Session struct {
	calls chan func()
	done  chan struct{}

	closeOnce sync.Once
	closeErr  error

	// runMu guards running and closing. running is set while a live
	// target runs between snapshots (Resume), from the moment a halt can
	// no longer be missed; halt stops it from any goroutine. closing is set
	// by Close first, so that a Resume that has not started running yet
	// stops at once.
	runMu     sync.Mutex
	running   bool
	closing   bool
	resumeErr error
	haltTgt   atomic.Pointer[target.Target]
	// liveTgt is the attached process, for Close to let it run at once
	// when the session goroutine is busy (Target.Release).
	liveTgt atomic.Pointer[target.Target]

	// pauseBudget is SetPauseBudget's, in nanoseconds (0: the default).
	pauseBudget atomic.Int64

	// progress, when set, is told how far a snapshot has got.
	progress atomic.Pointer[func(Progress)]

	// Owned by the session goroutine.
	tgt          *target.Target
	info         Target
	stoppedSince time.Time
	// src is the source evidence's parsed files and answers, kept for
	// the session: refreshes stop at the same code again.
	src     *sourceIndex
	srcOnce sync.Once

	// code is the source analysis, once started (code.go).
	code atomic.Pointer[codeJob]
	// snapped is closed once the first snapshot is read: the source
	// analysis waits for it, so as not to compete with the attach and
	// the first read for the CPU while the target is stopped.
	snapped     chan struct{}
	snappedOnce sync.Once
}

// Explain adds to snap what only the program's source can tell — for a
// lock nobody holds, the Lock calls with a way out of their function that
// leaves it locked — once the target runs again: call it after Resume or
// Close, so that reading source never lengthens the pause. Safe from any
// goroutine; without source on disk it adds a one-line reason.
func (s *Session) Explain(snap *Snapshot) {
	if snap == nil || snap.Target.Source == SourceDump {
		return
	}
	si := s.sourceIndex()
	si.mu.Lock()
	defer si.mu.Unlock()
	explainOrphans(snap, si, localFile)
}

// sourceIndex is the session's, made on first use.
func (s *Session) sourceIndex() *sourceIndex {
	s.srcOnce.Do(func() { s.src = newSourceIndex() })
	return s.src
}

// Attach stops the process with the given PID and prepares to read it. The
// process stays stopped until Close (or Resume, for live views); callers
// must Close on every path. Before stopping anything, Attach checks that the
// process exists, is a Go program with debug info and may be traced, and
// returns an *Error saying what to do when it is not.
func Attach(pid int) (*Session, error) {
	pre, err := precheck(pid)
	if err != nil {
		return nil, err
	}
	s := newSession()
	err = s.do(func() error {
		s.stoppedSince = time.Now()
		tgt, err := target.Attach(pid)
		if err != nil {
			return attachError(pid, err)
		}
		if os.Getenv("HANGTUI_TIMINGS") != "" {
			fmt.Fprintf(os.Stderr, "hangtui: %-15s %v\n", "attach", time.Since(s.stoppedSince).Round(time.Microsecond))
		}
		s.stoppedSince = tgt.StoppedAt() // the prewarm and the binary's load before it did not stop the target
		s.tgt = tgt
		s.liveTgt.Store(tgt)
		s.info = Target{PID: pid, Exe: pre.exe, GoVersion: pre.goVersion, Source: SourceLive}
		if v := tgt.GoVersion(); v != "" {
			s.info.GoVersion = v
		}
		return nil
	})
	if err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// OpenCore opens a core file with the executable that produced it.
func OpenCore(corePath, exePath string) (*Session, error) {
	if err := precheckCore(corePath, exePath); err != nil {
		return nil, err
	}
	s := newSession()
	err := s.do(func() error {
		tgt, err := target.OpenCore(corePath, exePath)
		if err != nil {
			return coreError(corePath, exePath, err)
		}
		tgt.SetCoreFiles(corePath, exePath) // bounds what its memory can hold
		s.tgt = tgt
		s.info = Target{PID: tgt.PID(), Exe: exePath, GoVersion: tgt.GoVersion(), Source: SourceCore}
		return nil
	})
	if err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func newSession() *Session {
	s := &Session{calls: make(chan func()), done: make(chan struct{}), snapped: make(chan struct{})}
	go s.loop()
	return s
}

// loop is the only goroutine that touches Delve.
func (s *Session) loop() {
	for f := range s.calls {
		f()
	}
	close(s.done)
}

// do runs f on the session goroutine. A panic inside f is turned into an
// error, so that hangtui never dies while the target is stopped.
func (s *Session) do(f func() error) (err error) {
	res := make(chan error, 1)
	call := func() {
		defer func() {
			if r := recover(); r != nil {
				res <- panicError(r, debug.Stack())
			}
		}()
		res <- f()
	}
	defer func() {
		if recover() != nil {
			err = errors.New("session is closed")
		}
	}()
	s.calls <- call
	return <-res
}

func (s *Session) stop() {
	close(s.calls)
	<-s.done
}

// Info describes the target.
func (s *Session) Info() Target {
	var t Target
	_ = s.do(func() error { t = s.info; return nil })
	return t
}

// Progress says how far reading a snapshot has got, for progress bars on
// large processes.
type Progress struct {
	// Phase is what is being done, e.g. "reading goroutines".
	Phase string
	// Done and Total count the phase's work items (goroutines); Total is 0
	// when unknown.
	Done, Total int
}

// OnProgress sets a function told about the progress of every following
// Snapshot. It is called on the session's goroutine and must not block.
func (s *Session) OnProgress(f func(Progress)) {
	if f == nil {
		s.progress.Store(nil)
		return
	}
	s.progress.Store(&f)
}

func (s *Session) report(p Progress) {
	if f := s.progress.Load(); f != nil {
		(*f)(p)
	}
}

// Resume lets a live target run again until the next Snapshot or Close,
// for live views. The target is stopped only while a snapshot is read.
func (s *Session) Resume() error {
	started := make(chan error, 1)
	defer func() { _ = recover() }() // closed session
	s.calls <- func() {
		if s.tgt == nil || !s.tgt.Live() {
			started <- nil
			return
		}
		s.haltTgt.Store(s.tgt)
		once := false
		err := s.tgt.Continue(func() {
			if once {
				return
			}
			once = true
			s.runMu.Lock()
			s.running = true
			closing := s.closing
			s.runMu.Unlock()
			if closing { // Close came before this run began: end it
				_ = s.tgt.RequestStop()
			}
			started <- nil
		})
		s.runMu.Lock()
		s.running = false
		s.runMu.Unlock()
		if !once {
			started <- nil
		}
		s.resumeErr = err
		s.stoppedSince = s.tgt.StoppedAt()
	}
	return <-started
}

// halt stops a resumed target; called from the caller's goroutine, before
// queueing work for the session goroutine (which is busy in Continue).
func (s *Session) halt() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.running {
		if t := s.haltTgt.Load(); t != nil {
			_ = t.RequestStop()
		}
	}
}

// DefaultPauseBudget is how long a snapshot may keep a live process
// stopped before the leak proof gives up its heap walk, unless
// SetPauseBudget says otherwise. On a 2-core VM the walk covers about 650
// MB of reachable heap a second: 10 s is a heap of several GB.
const DefaultPauseBudget = 10 * time.Second

// SetPauseBudget bounds how long each snapshot of a live process keeps it
// stopped: once the pause reaches d, the leak proof's heap walk (the one
// phase that grows with the process's heap, not its goroutines) stops,
// nothing is called leaked in that snapshot, and its warnings say so; the
// rest of the snapshot (stacks, waits, holders, deadlock cycles) is
// complete. 0 restores DefaultPauseBudget; a negative d removes the bound
// (the walk still stops after 4 GB of heap). Cores and dumps are not
// bounded: nothing is stopped.
func (s *Session) SetPauseBudget(d time.Duration) { s.pauseBudget.Store(int64(d)) }

// PauseBudget is the bound SetPauseBudget set; negative when unbounded.
func (s *Session) PauseBudget() time.Duration {
	if d := time.Duration(s.pauseBudget.Load()); d != 0 {
		return d
	}
	return DefaultPauseBudget
}

// Snapshot reads everything from the target, stopping it first if it was
// resumed.
func (s *Session) Snapshot() (*Snapshot, error) {
	defer s.snappedOnce.Do(func() { close(s.snapped) })
	s.halt()
	var snap *Snapshot
	err := s.do(func() error {
		if s.tgt == nil {
			return errors.New("session is closed")
		}
		if err := s.resumeErr; err != nil {
			s.resumeErr = nil
			if target.Exited(err) || processGone(s.info.PID) {
				return &Error{Kind: ErrProcessGone, Msg: fmt.Sprintf("process %d has exited", s.info.PID), Err: err}
			}
		}
		var err error
		opts := buildOptions{keepFacts: s.code.Load() != nil}
		if budget := s.PauseBudget(); s.info.Source == SourceLive && budget > 0 {
			opts.deadline, opts.budget = s.stoppedSince.Add(budget), budget
		}
		snap, err = build(s.tgt, s.info, s.sourceIndex(), s.report, opts)
		if err != nil {
			if target.Exited(err) || (s.info.Source == SourceLive && processGone(s.info.PID)) {
				return &Error{Kind: ErrProcessGone, Msg: fmt.Sprintf("process %d exited while it was being read", s.info.PID), Err: err}
			}
			return readError(err, s.info.Source)
		}
		plainWarnings(snap.Warnings)
		if s.info.Source == SourceLive && processGone(s.info.PID) {
			// Reads after the death fail one by one and end up as
			// warnings: a report made of them would be wrong.
			return &Error{Kind: ErrProcessGone, Msg: fmt.Sprintf("process %d exited while it was being read", s.info.PID),
				Hint: "nothing to inspect any more; if it crashed, its output or a core file may say why"}
		}
		if s.code.Load() != nil {
			// What the runtime will call by itself, for the source
			// analysis (read while the target is stopped).
			t0 := time.Now()
			readCallbacks(s.tgt, snap)
			if os.Getenv("HANGTUI_TIMINGS") != "" {
				fmt.Fprintf(os.Stderr, "hangtui: %-15s %v\n", "callbacks", time.Since(t0).Round(time.Microsecond))
			}
		}
		if s.info.Source == SourceLive {
			snap.Pause = time.Since(s.stoppedSince)
		}
		return nil
	})
	return snap, err
}

// Close detaches from a live process, leaving it running exactly as before
// (it is never killed), or closes a core. Safe to call more than once and
// from any goroutine.
//
// When the session goroutine is busy reading a snapshot, the target is let
// go at once (Target.Release) rather than after the snapshot: a signal
// in the middle of a long snapshot resumes the target within milliseconds.
func (s *Session) Close() error {
	s.runMu.Lock()
	s.closing = true
	s.runMu.Unlock()
	s.halt()
	s.closeOnce.Do(func() {
		done := make(chan struct{})
		if t := s.liveTgt.Load(); t != nil {
			go func() {
				select {
				case <-done:
				case <-time.After(releaseAfter):
					t.Release()
				}
			}()
		}
		s.closeErr = s.do(func() error {
			close(done)
			if s.tgt == nil {
				return nil
			}
			err := s.tgt.Detach()
			s.tgt.Forget()
			s.tgt = nil
			return err
		})
		s.stop()
	})
	return s.closeErr
}

// releaseAfter is how long Close waits for the session goroutine before it
// lets the target run without it.
const releaseAfter = 100 * time.Millisecond
