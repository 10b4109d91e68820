package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/hangtui/hangtui/inspect/dump"
)

// A remote Delve server (dlv --headless --accept-multiclient) speaks the
// JSON-RPC API of service/rpc2: goroutines, stacks with their arguments,
// expression evaluation and raw memory reads. hangtui reads goroutines and
// stacks through it; memory reads over RPC cost about 0.3 ms per call
// (measured: 200 reads of 4 KiB in 61 ms on loopback), too slow for the
// heap walk of the full analysis, so the remote view is the degraded one:
// what a goroutine dump shows, with the arguments Delve could evaluate.

// RemoteGoroutine is one goroutine read from a Delve server.
type RemoteGoroutine struct {
	ID         int64
	Status     string // "running", "runnable", "syscall", "waiting", ...
	WaitReason string
	Leaked     bool
	Frames     []RemoteFrame
	// GoFunc, GoFile and GoLine are the go statement that started it.
	GoFunc, GoFile string
	GoLine         int
	Labels         map[string]string
}

// RemoteFrame is one frame with its arguments in declaration order
// (receiver first), as the values a dump's analysis reads from a
// traceback's words: a pointer's or an integer's value, Aggregate for a
// struct, string, slice or interface, Unknown when Delve could not read
// it. Delve's values are what the code has, never stale words: none is
// Uncertain.
type RemoteFrame struct {
	Func, File string
	Line       int
	Inlined    bool
	Args       []dump.Arg
}

// RemoteInfo describes the target behind the server.
type RemoteInfo struct {
	PID int
	Exe string
	// WasRunning is true when the target was running when hangtui
	// connected (it is halted to be read and continued after).
	WasRunning bool
}

// ReadRemote connects to a Delve server, halts the target if it runs,
// reads every goroutine with its stack, and disconnects, continuing the
// target if it was running (and leaving it stopped if it was stopped: that
// is somebody else's debugging session). maxDepth bounds each stack.
//
// Evaluating arguments is what costs (Delve reads each one's location
// list and memory), so stacks are read without them first, and then only
// the frames that need(func, file, line) asks for get their arguments, with
// one more call up to the deepest such frame.
//
// expectRunning says that the previous read continued the target.
//
// Every call has a deadline (timeout for connecting, halting and
// continuing; longer for the reads), so a server that stops answering is an
// error, never a hang. A target found stopped can be continued behind our
// back (the server's own --continue right after it starts listening,
// another client): Delve then answers none of our calls until the target
// stops again, so a call that is slow to answer makes us look from a
// second connection, and a target that runs is halted, read again from the
// start and continued at the end.
//
// Closing stop abandons the read: the call in progress is dropped and a
// target the read halted is continued before ReadRemote returns.
func ReadRemote(addr string, timeout time.Duration, lim RemoteLimits, expectRunning bool, need func(fn, file string, line int) bool, stop <-chan struct{}) (info RemoteInfo, gs []RemoteGoroutine, err error) {
	lim = lim.withDefaults()
	s := &remoteSession{addr: addr, timeout: timeout, dataTimeout: 6 * timeout, stop: stop, lim: lim,
		deadline: time.Now().Add(lim.ReadTimeout), budget: &remoteBudget{left: lim.MaxBytes}}
	if err := s.dial(); err != nil {
		var hs *errHandshake
		if errors.As(err, &hs) {
			return info, nil, fmt.Errorf("not a Delve API v2 server (%w)", s.dialError(err))
		}
		return info, nil, err
	}
	defer func() {
		if s.halted {
			// Said first: a target left stopped matters more than why
			// the read failed.
			if rerr := s.resume(); rerr != nil {
				if err != nil {
					rerr = fmt.Errorf("%v, after: %v", rerr, err)
				}
				err = fmt.Errorf("%w: %v", ErrNotResumed, rerr)
			}
		}
		s.close()
	}()
	var st *api.DebuggerState
	if err := s.call("State", timeout, func(c *dlvClient) (err error) {
		st, err = c.state()
		return err
	}); err != nil {
		if errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrStopped) {
			return info, nil, err
		}
		return info, nil, fmt.Errorf("not a Delve API v2 server (%w)", err)
	}
	if st.Exited {
		return info, nil, fmt.Errorf("the target has exited")
	}
	if expectRunning && !st.Running {
		// The continue sent by the last read may still be on its way:
		// wait for it rather than take the target for one somebody
		// stopped.
		for end := time.Now().Add(2 * time.Second); !st.Running && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
			if err := s.call("State", timeout, func(c *dlvClient) (err error) {
				st, err = c.state()
				return err
			}); err != nil {
				return info, nil, err
			}
		}
	}
	info.PID = st.Pid
	if st.Running {
		s.halted = true // from here on, continue it whatever happens
		if err := halt(s.c, s.bound(timeout), s.stop); err != nil {
			err = s.explain("Command(halt)", err)
			s.broken = true // the continue goes on a new connection
			return info, nil, err
		}
		// The halt was answered: the server must now say the target is
		// stopped. One that goes on saying it runs cannot be trusted to
		// tell whether the continue took either (resume goes by what it
		// says), so the target may be left stopped: say so.
		var after *api.DebuggerState
		if err := s.call("State", timeout, func(c *dlvClient) (err error) {
			after, err = c.state()
			return err
		}); err == nil && after.Running {
			s.broken = true
			return info, nil, fmt.Errorf("%w: the Delve server still says the target runs after halting it", ErrNotResumed)
		}
	}
	for attempt := 0; ; attempt++ {
		s.interrupted = false
		gs, err = s.readAll(need)
		if err != nil || !s.interrupted || attempt == 2 {
			break
		}
		// Somebody continued the target while it was read and it was
		// halted again: read a consistent picture from the start.
	}
	info.WasRunning = s.halted
	if pid := info.PID; pid == 0 && err == nil {
		_ = s.call("ProcessPid", timeout, func(c *dlvClient) (err error) { info.PID, err = c.processPid(); return err })
	}
	return info, gs, err
}

// RemoteLimits bound what one read takes from a Delve server, which is
// untrusted: its answers are checked, and their size and the time it
// takes are bounded.
type RemoteLimits struct {
	// MaxDepth bounds each stack (frames after the first).
	MaxDepth int
	// ReadTimeout bounds the whole read (default 10 minutes).
	ReadTimeout time.Duration
	// MaxBytes bounds the bytes of all the server's answers (default 1 GiB).
	MaxBytes int64
	// MaxGoroutines bounds the goroutines read (default 1,000,000).
	MaxGoroutines int
}

func (l RemoteLimits) withDefaults() RemoteLimits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 128
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = 10 * time.Minute
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 1 << 30
	}
	if l.MaxGoroutines <= 0 {
		l.MaxGoroutines = 1_000_000
	}
	return l
}

// readAll reads every goroutine and its stack from a stopped target.
func (s *remoteSession) readAll(need func(fn, file string, line int) bool) ([]RemoteGoroutine, error) {
	var reasons []string
	if err := s.call("Eval(runtime.waitReasonStrings)", s.dataTimeout, func(c *dlvClient) error {
		reasons = waitReasonTable(c)
		return nil
	}); err != nil {
		return nil, err
	}
	raw, err := s.listGoroutines()
	if err != nil {
		return nil, err
	}
	maxDepth := s.lim.MaxDepth
	cfg := &api.LoadConfig{MaxStructFields: 0}
	var gs []RemoteGoroutine
	seen := make(map[int64]bool, len(raw))
	for _, g := range raw {
		if g == nil || seen[g.ID] {
			continue // a goroutine listed twice is read once
		}
		seen[g.ID] = true
		rg, ok := convertGoroutine(g, reasons)
		if !ok {
			continue
		}
		var frames []api.Stackframe
		err := s.call("Stacktrace", s.dataTimeout, func(c *dlvClient) (err error) {
			frames, err = c.stacktrace(g.ID, maxDepth, nil)
			return err
		})
		if s.broken {
			return nil, err
		}
		if err != nil {
			continue // exited since it was listed
		}
		frames = frames[:min(len(frames), maxDepth+1)] // no more than asked for
		deepest := -1
		for i, f := range frames {
			fn := ""
			if f.Function != nil {
				fn = f.Function.Name()
			}
			if need == nil || need(fn, f.File, f.Line) {
				deepest = i
			}
		}
		if deepest >= 0 {
			// Delve's depth counts the frames after the first.
			var withArgs []api.Stackframe
			err := s.call("Stacktrace", s.dataTimeout, func(c *dlvClient) (err error) {
				withArgs, err = c.stacktrace(g.ID, deepest, cfg)
				return err
			})
			if s.broken {
				return nil, err
			}
			if err == nil && len(withArgs) >= deepest+1 {
				copy(frames[:deepest+1], withArgs)
			}
		}
		rg.Frames = convertFrames(frames)
		gs = append(gs, rg)
	}
	return gs, nil
}

// listGoroutines lists the goroutines a page at a time (each answer stays
// small), at most MaxGoroutines; the pages must move forward.
func (s *remoteSession) listGoroutines() ([]*api.Goroutine, error) {
	var all []*api.Goroutine
	for start := 0; ; {
		var page []*api.Goroutine
		next := -1
		if err := s.call("ListGoroutines", s.dataTimeout, func(c *dlvClient) (err error) {
			page, next, err = c.listGoroutines(start, remotePage)
			return err
		}); err != nil {
			return nil, fmt.Errorf("list goroutines: %w", err)
		}
		if len(page) > remotePage {
			return nil, s.explain("ListGoroutines", &errMalformed{"ListGoroutines", fmt.Sprintf("%d goroutines for a page of %d", len(page), remotePage)})
		}
		all = append(all, page...)
		if len(all) > s.lim.MaxGoroutines {
			return nil, fmt.Errorf("the server lists more than %d goroutines", s.lim.MaxGoroutines)
		}
		if next < 0 || len(page) == 0 {
			return all, nil
		}
		if next <= start {
			return nil, s.explain("ListGoroutines", &errMalformed{"ListGoroutines", fmt.Sprintf("the page after %d starts at %d", start, next)})
		}
		start = next
	}
}

// ErrNoAnswer: the Delve server did not answer a call before its deadline.
var ErrNoAnswer = errors.New("no answer")

// ErrNotResumed: the target was halted to be read and could not be
// continued.
var ErrNotResumed = errors.New("the target was halted to be read but could not be continued")

// ErrStopped: the read was abandoned (hangtui is closing).
var ErrStopped = errors.New("the read was abandoned")

// remoteSession is one read's connections to a Delve server.
type remoteSession struct {
	addr                 string
	timeout, dataTimeout time.Duration
	lim                  RemoteLimits
	// deadline ends the whole read; budget is what the server may still
	// send.
	deadline time.Time
	budget   *remoteBudget
	conn     net.Conn
	c        *dlvClient
	// watch is a second connection, opened when a call is slow: the server
	// reads a connection's next request only once the current synchronous
	// one is answered.
	watchConn net.Conn
	watch     *dlvClient
	// halted: hangtui stopped the target, which must run again when the
	// read ends.
	halted bool
	// interrupted: the target was found running (continued by somebody)
	// during a call, and halted again.
	interrupted bool
	// broken: a call timed out and the connection was closed.
	broken bool
	// stop abandons the read when closed.
	stop <-chan struct{}
}

// slowCall is how long a call may take before we look whether the target
// runs (which would keep the call from being answered).
const slowCall = 500 * time.Millisecond

func (s *remoteSession) dial() (err error) {
	s.conn, s.c, err = dialDelve(s.addr, s.bound(s.timeout), s.budget)
	return err
}

// bound shortens d to what is left of the read's deadline (a moment at
// least, so that a call can still say so).
func (s *remoteSession) bound(d time.Duration) time.Duration {
	return max(min(d, time.Until(s.deadline)), time.Millisecond)
}

// explain says what went wrong with a call in hangtui's words: the
// server's own message (one line, cut short), or what was wrong with its
// answer; a connection whose answer could not be read is broken.
func (s *remoteSession) explain(what string, err error) error {
	var se rpc.ServerError
	var mal *errMalformed
	switch {
	case err == nil, errors.Is(err, ErrNoAnswer), errors.Is(err, ErrStopped):
		return err
	case errors.As(err, &se):
		msg := string(se)
		if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
			msg = msg[:i]
		}
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return fmt.Errorf("%s failed on the server: %s", what, msg)
	case errors.As(err, &mal):
		return err
	}
	s.broken = true
	if errors.Is(err, errTooLarge) {
		if s.budget.exceeded() {
			return fmt.Errorf("%w: the server sent more than %d MiB for one read", ErrTooMuch, s.lim.MaxBytes>>20)
		}
		return fmt.Errorf("%w: the answer to %s was larger than %d MiB", ErrTooMuch, what, maxAnswer>>20)
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.As(err, &typ),
		// net/rpc's words for an answer it could not decode
		strings.Contains(err.Error(), "reading body "), strings.Contains(err.Error(), "invalid error "):
		return &errMalformed{what, "not the JSON of Delve's API v2"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, rpc.ErrShutdown):
		return fmt.Errorf("the server closed the connection in the middle of the answer to %s", what)
	}
	return fmt.Errorf("%s: the connection failed", what)
}

// dialError says why connecting failed: a handshake whose answer could not
// be read, in hangtui's words.
func (s *remoteSession) dialError(err error) error {
	var hs *errHandshake
	if errors.As(err, &hs) {
		return s.explain("SetApiVersion", hs.err)
	}
	return err
}

func (s *remoteSession) tooLong() error {
	return fmt.Errorf("%w: the read did not end within %s", ErrNoAnswer, s.lim.ReadTimeout)
}

// ErrTooMuch: the server sent more than hangtui reads.
var ErrTooMuch = errors.New("too much data")

func (s *remoteSession) close() {
	for _, conn := range []net.Conn{s.conn, s.watchConn} {
		if conn != nil {
			_ = conn.Close()
		}
	}
}

// call runs f on the main connection with a deadline. While f is slow to
// answer, the target is looked at from the watch connection: if it runs
// (somebody continued it), it is halted so that f can be answered. When
// the deadline passes, the connection is closed (f then returns) and the
// session is broken.
func (s *remoteSession) call(what string, d time.Duration, f func(*dlvClient) error) error {
	if s.broken {
		return errors.New("connection closed")
	}
	if time.Until(s.deadline) <= 0 {
		s.broken = true
		return s.tooLong()
	}
	full := d
	d = s.bound(d)
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("delve server: %v", r)
			}
		}()
		done <- f(s.c)
	}()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	slow := time.NewTicker(slowCall)
	defer slow.Stop()
	for {
		select {
		case err := <-done:
			return s.explain(what, err)
		case <-slow.C:
			if s.checkRunning() {
				s.interrupted = true
			}
		case <-deadline.C:
			s.broken = true
			_ = s.conn.Close()
			if d < full {
				return s.tooLong() // the read's deadline, not the call's
			}
			return fmt.Errorf("%w to %s in %s", ErrNoAnswer, what, d)
		case <-s.stop:
			s.broken = true
			_ = s.conn.Close()
			return ErrStopped
		}
	}
}

// checkRunning halts the target if it runs, through the watch connection.
func (s *remoteSession) checkRunning() bool {
	select {
	case <-s.stop:
		return false
	default:
	}
	if s.watch == nil {
		conn, c, err := dialDelve(s.addr, s.bound(s.timeout), s.budget)
		if err != nil {
			return false
		}
		s.watchConn, s.watch = conn, c
	}
	// A running target is said at once; a stopped one's state waits for
	// the target's lock, which our slow call holds: no answer soon means
	// not running (the late answer is dropped).
	if st, ok := stateWithin(s.watch, slowCall); !ok || !st.Running {
		return false
	}
	s.halted = true
	return halt(s.watch, s.bound(s.timeout), s.stop) == nil
}

// stateWithin asks for the state without blocking the caller longer than d.
func stateWithin(c *dlvClient, d time.Duration) (*api.DebuggerState, bool) {
	ch := make(chan *api.DebuggerState, 1)
	go func() {
		defer func() { _ = recover() }()
		if st, err := c.state(); err == nil {
			ch <- st
		}
	}()
	select {
	case st := <-ch:
		return st, true
	case <-time.After(d):
		return nil, false
	}
}

// halt stops the target. Delve answers a halt once the target has stopped,
// but a halt that reaches the server just as a continue starts is lost
// (the continue clears the pending stop request; the signal it sent is
// taken for a spurious one), so while there is no answer and the server
// says the target runs, the halt is sent again. Extra halts are harmless:
// their request is cleared by the next continue and a stray SIGTRAP is
// ignored.
func halt(c *dlvClient, d time.Duration, stop <-chan struct{}) error {
	done := make(chan error, 8)
	send := func() {
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Errorf("delve server: %v", r)
				}
			}()
			done <- c.halt()
		}()
	}
	send()
	sent := 1
	end := time.NewTimer(d)
	defer end.Stop()
	again := time.NewTicker(250 * time.Millisecond)
	defer again.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("halt: %w", err)
			}
			return nil
		case <-again.C:
			if st, ok := stateWithin(c, 200*time.Millisecond); ok && st.Running && sent < cap(done) {
				send()
				sent++
			}
		case <-end.C:
			return fmt.Errorf("the target did not stop within %s of the halt", d)
		case <-stop:
			return ErrStopped
		}
	}
}

// resume continues the target and waits until the server says it runs, so
// that closing the connection cannot overtake the continue (a quick second
// read would then find the target stopped and take it for somebody's
// breakpoint). It reconnects if the main connection is gone.
func (s *remoteSession) resume() error {
	c := s.c
	if s.broken || c == nil {
		// A fresh budget: continuing the target matters more than the
		// answers a broken read was refused.
		conn, nc, err := dialDelve(s.addr, s.timeout, &remoteBudget{left: maxAnswer})
		if err != nil {
			return s.dialError(err)
		}
		defer conn.Close()
		c = nc
	}
	// Already running (a halt that never took, somebody else's continue):
	// a continue now would wait for the target to stop and then resume it
	// behind the back of whoever stopped it. But when the read was
	// abandoned (hangtui is closing), a halt of ours may still be on its
	// way — sent on a connection since closed, it is carried out all the
	// same — and stop the target after it was seen running: then watch it
	// for a moment and continue it whenever it is found stopped.
	watch := 1
	select {
	case <-s.stop:
		watch = 4
	default:
	}
	end := time.Now().Add(2 * s.timeout)
	continued := false
	for seen := 0; seen < watch; {
		if time.Now().After(end) {
			return fmt.Errorf("the Delve server did not say the target runs within %s of the continue", 2*s.timeout)
		}
		st, ok := stateWithin(c, slowCall)
		switch {
		case !ok:
			// Busy finishing a call of ours: ask again.
		case st.Exited:
			// A halted process does not exit by itself: only a kill
			// does, or a server that says what is not so. Either way
			// nothing here saw it run again.
			return errors.New("the Delve server says the target exited while halted")
		case st.Running:
			if seen++; seen < watch {
				time.Sleep(100 * time.Millisecond)
			}
		default:
			seen = 0
			if err := continueAndWait(c, s.timeout); err != nil {
				return err
			}
			continued = true
		}
	}
	if !continued {
		// hangtui sent a halt and no continue, and the server says the
		// target runs: the halt did not take, another client continued
		// it, or the server does not say what is so. Nothing here saw
		// it resume, so the caller says it may be left stopped.
		return errors.New("the Delve server says the target runs, but hangtui halted it and did not continue it")
	}
	return nil
}

// continueAndWait continues the target and waits until the server says it
// runs, so that closing the connection cannot overtake the continue.
func continueAndWait(c *dlvClient, timeout time.Duration) error {
	// Delve answers a continue only when the target stops again; the
	// answer (or the error when we disconnect) is dropped.
	c.continueAsync()
	// The server reads the next request on this connection only once the
	// target has resumed, so a state that says running is after it.
	for end := time.Now().Add(timeout); time.Now().Before(end); {
		st, ok := stateWithin(c, timeout)
		if ok && (st.Running || st.Exited) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("the Delve server did not say the target runs within %s of the continue", timeout)
}

// waitReasonTable reads runtime.waitReasonStrings from the target: the
// texts of its own release, as the local reader does.
func waitReasonTable(c *dlvClient) []string {
	v, err := c.eval("runtime.waitReasonStrings", api.LoadConfig{MaxArrayValues: 256, MaxStringLen: 128})
	if err != nil || v == nil {
		return nil
	}
	out := make([]string, min(len(v.Children), 256))
	for i := range out {
		out[i] = clip(v.Children[i].Value, 128)
	}
	return out
}

// maxRemoteArgs bounds the arguments kept of a frame (the analysis uses
// the first few).
const maxRemoteArgs = 32

// maxRemoteString bounds each string kept from the server's answers
// (function names, file paths, label keys and values).
const maxRemoteString = 4 << 10

// clip keeps at most n bytes of s, in a string of its own (not holding
// the answer's memory).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.Clone(s[:n])
}

// Goroutine statuses of the runtime (runtime2.go), stable since Go 1.x.
var statusNames = map[uint64]string{
	1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 8: "running", 9: "preempted", 10: "waiting",
}

func convertGoroutine(g *api.Goroutine, reasons []string) (RemoteGoroutine, bool) {
	st, ok := statusNames[g.Status&^0x1000]
	if !ok || g.Unreadable != "" {
		return RemoteGoroutine{}, false // idle, dead
	}
	rg := RemoteGoroutine{ID: g.ID, Status: st, Leaked: g.Status&^0x1000 == 10,
		GoFile: clip(g.GoStatementLoc.File, maxRemoteString), GoLine: g.GoStatementLoc.Line}
	if g.GoStatementLoc.Function != nil {
		rg.GoFunc = clip(g.GoStatementLoc.Function.Name(), maxRemoteString)
	}
	if len(g.Labels) > 0 {
		rg.Labels = make(map[string]string, min(len(g.Labels), maxLabels))
		for k, v := range g.Labels {
			if len(rg.Labels) == maxLabels {
				break
			}
			rg.Labels[clip(k, maxRemoteString)] = clip(v, maxRemoteString)
		}
	}
	if st == "waiting" && g.WaitReason > 0 && int(g.WaitReason) < len(reasons) {
		rg.WaitReason = reasons[g.WaitReason]
	}
	return rg, true
}

func convertFrames(frames []api.Stackframe) []RemoteFrame {
	out := make([]RemoteFrame, 0, len(frames))
	for i, f := range frames {
		rf := RemoteFrame{File: clip(f.File, maxRemoteString), Line: f.Line}
		if f.Function != nil {
			rf.Func = clip(f.Function.Name(), maxRemoteString)
		}
		// An inlined frame shares its physical frame (the same CFA) with
		// the caller listed after it.
		rf.Inlined = i+1 < len(frames) && frames[i+1].FrameOffset == f.FrameOffset && f.FrameOffset != 0
		for _, a := range f.Arguments {
			if a.Flags&api.VariableReturnArgument != 0 {
				continue
			}
			if len(rf.Args) == maxRemoteArgs {
				break
			}
			rf.Args = append(rf.Args, argValue(a))
		}
		out = append(out, rf)
	}
	return out
}

// argValue is an argument's value as a traceback word would give it.
func argValue(a api.Variable) dump.Arg {
	unknown := dump.Arg{Unknown: true}
	if a.Unreadable != "" {
		return unknown
	}
	switch a.Kind {
	case reflect.Ptr, reflect.Chan, reflect.Map, reflect.UnsafePointer, reflect.Func:
		if len(a.Children) > 0 {
			return dump.Arg{Value: a.Children[0].Addr}
		}
		if v, err := strconv.ParseUint(a.Value, 10, 64); err == nil {
			return dump.Arg{Value: v}
		}
		return unknown
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		val := a.Value
		if i := strings.LastIndex(val, "("); i >= 0 && strings.HasSuffix(val, ")") {
			val = val[i+1 : len(val)-1] // "semaBlockProfile (1)"
		}
		if v, err := strconv.ParseInt(val, 10, 64); err == nil {
			return dump.Arg{Value: uint64(v)}
		}
		if v, err := strconv.ParseUint(val, 10, 64); err == nil {
			return dump.Arg{Value: v}
		}
		return unknown
	case reflect.Bool:
		if a.Value == "true" {
			return dump.Arg{Value: 1}
		}
		return dump.Arg{}
	}
	return dump.Arg{Aggregate: true}
}
