package ui

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/duty"
	"github.com/hangtui/hangtui/internal/safety"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// Source is what the engine reads snapshots from; *inspect.Session is one.
// Its methods are called from the engine's goroutine only, except Close.
type Source interface {
	// Snapshot stops the target (if it runs) and reads it.
	Snapshot() (*inspect.Snapshot, error)
	// Resume lets a live target run until the next Snapshot.
	Resume() error
	// Close detaches, leaving the target running.
	Close() error
}

// snapshotMsg carries a new snapshot, already indexed, or the error
// reading it.
type snapshotMsg struct {
	data *uictx.Data
	err  error
	gone bool // the process exited; no more snapshots come
	at   time.Time
	// next is how long until the next automatic snapshot: the interval, or
	// longer when the target had to be paused long to read it.
	next time.Duration
}

// maxDuty bounds the share of time a live target is kept stopped to
// 1/maxDuty (internal/duty).
const maxDuty = duty.Max

// readingMsg says a snapshot is being read (the target is stopped).
type readingMsg struct{}

// progressMsg says how far reading the snapshot has got.
type progressMsg struct{ p inspect.Progress }

// explainer is implemented by sources that add what only the program's
// source tells, once the target runs again (*inspect.Session).
type explainer interface {
	Explain(*inspect.Snapshot)
}

// contentionMsg carries the live contention ranking (or why there is
// none).
type contentionMsg struct {
	prof *inspect.ContentionProfile
	note string
}

// sampling is implemented by sources that can sample waits without
// stopping the target (*inspect.Session of a live process).
type sampling interface {
	NewSampler(*inspect.Snapshot, inspect.SamplerOptions) (*inspect.ContentionSampler, error)
}

// Contention sampling: a sample every sampleEvery, the ranking sent to the
// UI every contentionEvery.
const (
	sampleEvery     = 100 * time.Millisecond
	contentionEvery = 500 * time.Millisecond
)

// progressReporter is implemented by sources that report progress
// (*inspect.Session).
type progressReporter interface {
	OnProgress(func(inspect.Progress))
}

// codeProver is implemented by sources that analyse the program's source
// to prove waits through package variables (*inspect.Session): each
// snapshot is proven once the target runs again, and the analysis
// finishing is a reason to read again.
type codeProver interface {
	ProveFromCode(snap *inspect.Snapshot, wait bool)
	CodeDone() <-chan struct{}
}

type control int

const (
	ctlRefresh control = iota
	ctlPause
	ctlResume
)

// Engine reads snapshots on its own goroutine and hands them to the UI as
// messages: Snapshot, Resume (the target runs again at once), index the
// snapshot, send it, then wait for the interval or a refresh request. The UI
// never calls the target itself, so it never waits for it.
type Engine struct {
	src      Source
	interval time.Duration
	out      chan tea.Msg
	ctl      chan control
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	log      *slog.Logger
	clock    Clock
	// trace, when set (tests), is told each step of the loop as it is
	// taken: see engineEvent.
	trace func(engineEvent)
}

// engineEvent is a step of the engine's loop, for tests.
type engineEvent struct {
	// What happened: "wait" (waiting for the timer, a request or the
	// end; Timer is how long the timer runs, 0 for none), "tick" (the
	// timer fired), "refresh", "pause", "resume" (a request was taken).
	What  string
	Timer time.Duration
}

// StartEngine starts reading snapshots from src every interval.
func StartEngine(src Source, interval time.Duration, log *slog.Logger) *Engine {
	return startEngine(src, interval, log, realClock{}, nil)
}

func startEngine(src Source, interval time.Duration, log *slog.Logger, clock Clock, trace func(engineEvent)) *Engine {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		src: src, interval: interval, log: log, clock: clock, trace: trace,
		out:  make(chan tea.Msg),
		ctl:  make(chan control, 8),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go e.run()
	return e
}

func (e *Engine) event(what string, timer time.Duration) {
	if e.trace != nil {
		e.trace(engineEvent{What: what, Timer: timer})
	}
}

// Next is the command that waits for the engine's next message.
func (e *Engine) Next() tea.Cmd {
	return func() tea.Msg {
		select {
		case m := <-e.out:
			return m
		case <-e.done:
			return nil
		}
	}
}

// Refresh asks for a snapshot now.
func (e *Engine) Refresh() { e.control(ctlRefresh) }

// SetPaused stops or restarts the automatic refresh; the target keeps
// running either way.
func (e *Engine) SetPaused(p bool) {
	if p {
		e.control(ctlPause)
	} else {
		e.control(ctlResume)
	}
}

func (e *Engine) control(c control) {
	select {
	case e.ctl <- c:
	default:
	}
}

// Stop ends the engine and waits (at most timeout, on the real clock: it
// bounds a real read) for a snapshot in progress to finish, so that the
// source can be closed without racing a Resume. It never touches the
// source itself.
func (e *Engine) Stop(timeout time.Duration) {
	e.stopOnce.Do(func() { close(e.stop) })
	select {
	case <-e.done:
	case <-time.After(timeout):
		e.log.Warn("engine did not stop in time; closing the session anyway")
	}
}

func (e *Engine) stopped() bool {
	select {
	case <-e.stop:
		return true
	default:
		return false
	}
}

// send hands a message to the UI unless the engine is stopped.
func (e *Engine) send(m tea.Msg) bool {
	select {
	case e.out <- m:
		return true
	case <-e.stop:
		return false
	}
}

func (e *Engine) run() {
	defer close(e.done)
	defer safety.Recover()
	if pr, ok := e.src.(progressReporter); ok {
		// Never block the session: a progress update the UI is not ready
		// for is dropped, the next one replaces it.
		pr.OnProgress(func(p inspect.Progress) {
			select {
			case e.out <- progressMsg{p}:
			default:
			}
		})
	}
	var prev *uictx.Data
	paused := false
	codeSeen := false                // the source analysis' end has led to a read
	var learn chan *inspect.Snapshot // to the contention sampler
	var cycle duty.Cycle             // the share of time the target is paused
	var lastEnd time.Time            // when the last snapshot ended
	for {
		if !e.send(readingMsg{}) {
			return
		}
		start := e.clock.Now()
		ran := start.Sub(lastEnd) // meaningless for the first: not counted
		snap, err := e.src.Snapshot()
		if e.stopped() {
			return // leave the target stopped: Close detaches it
		}
		live := err == nil && snap.Target.Source == inspect.SourceLive
		refreshes := err == nil && Refreshes(snap.Target.Source)
		if err == nil && !live && learn == nil {
			learn = make(chan *inspect.Snapshot, 1) // never used
			go e.send(contentionMsg{note: "contention is sampled only for a live process attached by PID: a core file, a dump or a process behind a Delve server is not"})
		} else if live && learn == nil {
			// Before Resume: the session makes the sampler while the
			// target is stopped.
			learn = make(chan *inspect.Snapshot, 1)
			e.startSampling(snap, learn)
		} else if live {
			select {
			case <-learn: // an older one not taken yet
			default:
			}
			learn <- snap
		}
		if live {
			if rerr := e.src.Resume(); rerr != nil {
				e.log.Error("resume", "err", rerr)
			}
		}
		lastEnd = e.clock.Now() // the target runs from here
		if x, ok := e.src.(explainer); ok && err == nil {
			x.Explain(snap) // the target runs again: source work is off the pause
		}
		var codeDone <-chan struct{}
		if cp, ok := e.src.(codeProver); ok {
			if err == nil {
				// The target runs again: this reads only the snapshot.
				cp.ProveFromCode(snap, false)
			}
			if !codeSeen {
				codeDone = cp.CodeDone()
			}
		}
		msg := snapshotMsg{err: err, at: e.clock.Now(), next: e.interval}
		if err == nil {
			msg.next = cycle.Next(ran, snap.Pause, e.interval)
		}
		switch {
		case err == nil:
			msg.data, msg.err = build(snap, prev)
			if msg.err != nil {
				e.log.Error("indexing the snapshot", "err", msg.err)
				break
			}
			prev = msg.data
			e.log.Info("snapshot", "goroutines", len(snap.Goroutines), "resources", len(snap.Resources),
				"pause", snap.Pause, "took", e.clock.Now().Sub(start), "seq", msg.data.Seq)
		case inspect.KindOf(err) == inspect.ErrProcessGone:
			msg.gone = true
			e.log.Info("target gone", "err", err)
		default:
			e.log.Error("snapshot", "err", err)
		}
		if !e.send(msg) || msg.gone {
			return
		}
		// Wait for the interval, a refresh request or the end. A core file
		// or a dump never changes: it is read again only when asked.
		auto := refreshes || (err != nil && prev != nil && Refreshes(prev.Snap.Target.Source))
		var tick <-chan time.Time
		wait := msg.next
		armed := time.Duration(0)
		arm := func() {
			tick, armed = e.clock.After(wait), wait
		}
		if auto && !paused {
			arm()
		}
	wait:
		for {
			e.event("wait", armed)
			select {
			case <-e.stop:
				return
			case <-tick:
				e.event("tick", 0)
				break wait
			case <-codeDone:
				// The source analysis is done: read again to use it.
				codeSeen = true
				break wait
			case c := <-e.ctl:
				switch c {
				case ctlRefresh:
					e.event("refresh", 0)
					break wait
				case ctlPause:
					e.event("pause", 0)
					paused, tick, armed = true, nil, 0
				case ctlResume:
					e.event("resume", 0)
					paused = false
					if auto && tick == nil {
						arm()
					}
				}
			}
		}
	}
}

// startSampling starts sampling contention beside the snapshots, when the
// source can (a live process on Linux); otherwise it tells the UI why not.
func (e *Engine) startSampling(snap *inspect.Snapshot, learn chan *inspect.Snapshot) {
	sm, ok := e.src.(sampling)
	if !ok {
		go e.send(contentionMsg{note: "contention is sampled only for a live process attached by PID"})
		return
	}
	cs, err := sm.NewSampler(snap, inspect.SamplerOptions{Interval: sampleEvery})
	if err != nil {
		e.log.Info("no contention sampling", "err", err)
		go e.send(contentionMsg{note: "contention cannot be sampled: " + err.Error()})
		return
	}
	go e.sample(cs, learn)
}

// sample samples contention until the engine stops or the process exits;
// the ranking goes to the UI every contentionEvery. It never stops the
// target: it reads it with process_vm_readv beside the snapshots.
func (e *Engine) sample(cs *inspect.ContentionSampler, learn <-chan *inspect.Snapshot) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("contention sampler", "panic", r)
		}
	}()
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case snap := <-learn:
			cs.Learn(snap)
		case <-tick.C:
			if err := cs.Sample(); err != nil {
				e.send(contentionMsg{prof: cs.Profile(), note: err.Error()})
				return
			}
			if time.Since(last) >= contentionEvery {
				last = time.Now()
				if !e.send(contentionMsg{prof: cs.Profile()}) {
					return
				}
			}
		}
	}
}

// Refreshes says whether snapshots of a source kind change and are read
// again every interval: a live process, and one behind a Delve server
// (--connect; each read halts it briefly and continues it).
func Refreshes(k inspect.SourceKind) bool {
	return k == inspect.SourceLive || k == inspect.SourceRemote
}

// build indexes a snapshot; a panic (a snapshot the UI did not expect) is
// an error on the status bar, not a crash.
func build(snap *inspect.Snapshot, prev *uictx.Data) (d *uictx.Data, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error indexing the snapshot: %v", r)
		}
	}()
	return uictx.Build(snap, prev), nil
}
