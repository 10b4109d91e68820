//go:build linux

package target

// Stopping a process with hangtui's own ptrace code (see liveproc_linux_amd64.go
// for why). Every thread is taken with PTRACE_SEIZE, which stops nothing,
// then stopped with PTRACE_INTERRUPT and waited for with waitpid(tid,
// __WALL); threads created meanwhile are found by listing /proc/PID/task
// again until a listing made with every known thread stopped shows no new
// one (a thread can only be created by a running thread of the process).
//
// Unlike PTRACE_ATTACH, PTRACE_SEIZE + PTRACE_INTERRUPT sends no SIGSTOP:
// nothing is queued in the target, and when the tracer goes away for any
// reason (hangtui killed, the ptrace thread ended) the kernel detaches and
// the threads simply run on; they can never be left in a job-control stop
// ('T') by hangtui.
//
// Every ptrace call comes from one locked OS thread, the tracer (ptrace
// tracks the tracing thread, not the process). Waits never block: a thread
// stuck in an uninterruptible sleep ('D') could not be waited for, so the
// waits poll with a deadline.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ptracer runs functions on one locked OS thread, the tracer of every
// thread it seizes. When it is closed its OS thread ends, which makes the
// kernel detach whatever that thread still traces.
type ptracer struct {
	mu     sync.Mutex
	calls  chan func()
	done   chan struct{}
	closed bool
}

var errPtracerClosed = errors.New("ptrace thread closed")

func newPtracer() *ptracer {
	p := &ptracer{calls: make(chan func()), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *ptracer) loop() {
	// Never unlocked: when the loop returns, the goroutine exits with its
	// OS thread locked and the runtime ends that thread, so that the
	// kernel detaches anything a failed detach left traced.
	runtime.LockOSThread()
	defer close(p.done)
	for f := range p.calls {
		f()
	}
}

// do runs f on the tracer thread and waits for it. Safe from any goroutine.
func (p *ptracer) do(f func()) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPtracerClosed
	}
	ran := make(chan struct{})
	p.calls <- func() { defer close(ran); f() }
	p.mu.Unlock()
	<-ran
	return nil
}

// close ends the tracer thread after the calls already queued.
func (p *ptracer) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.calls)
	}
	p.mu.Unlock()
	<-p.done
}

// tracee is one seized thread.
type tracee struct {
	tid     int
	stopped bool
	// sig is a signal the thread was about to receive when it stopped (a
	// signal-delivery-stop, e.g. the runtime's SIGURG preemption): it is
	// delivered at the detach, so that the target loses nothing.
	sig int
}

// stopStats tells what a stop met: listings of the threads (more than two
// mean threads were created while it stopped the others) and threads that
// ended before they could be stopped.
type stopStats struct {
	listings, gone int
}

// stopTimeout says which threads did not stop in time.
type stopTimeout struct {
	pid  int
	tids []int
}

func (e *stopTimeout) Error() string {
	var states []string
	for _, tid := range e.tids {
		states = append(states, fmt.Sprintf("%d (%s)", tid, taskState(e.pid, tid)))
	}
	return fmt.Sprintf("threads of process %d did not stop: %s; a thread in state D is in an uninterruptible kernel wait (I/O)",
		e.pid, strings.Join(states, ", "))
}

// stopProcess seizes and stops every thread of pid. It must run on the
// tracer thread. left are threads still seized from before (a detach that
// failed), nil normally. at is when the first thread was asked to stop
// (before it, nothing was stopped). On error every thread seized is
// detached again.
func stopProcess(pid int, left map[int]*tracee, deadline time.Time, st *stopStats) (_ map[int]*tracee, at time.Time, err error) {
	ts := map[int]*tracee{}
	var pending []*tracee
	for tid, tr := range left {
		ts[tid] = tr
		if !tr.stopped {
			pending = append(pending, tr)
		}
	}
	defer func() {
		if err != nil {
			// Let go of every thread seized so far (ts, not the nil
			// result).
			_ = detachTracees(pid, ts, time.Now().Add(time.Second))
		}
	}()
	// A listing of /proc/PID/task can skip a thread when others end
	// during it (readdir goes by position), so "no new thread" must be
	// seen twice in a row with every known thread stopped.
	quiet := 0
	for round := 0; ; round++ {
		tids, err := listTasks(pid)
		if err != nil {
			return nil, at, err
		}
		st.listings++
		fresh := pending
		pending = nil
		for _, tid := range tids {
			if ts[tid] != nil {
				continue
			}
			// Seizing stops nothing: do it for every new thread first,
			// so that the threads stop as close together as possible.
			if err := unix.PtraceSeize(tid); err != nil {
				if err == unix.ESRCH || taskGone(pid, tid) {
					st.gone++ // exited meanwhile
					continue
				}
				return nil, at, fmt.Errorf("seizing thread %d: %w", tid, err)
			}
			tr := &tracee{tid: tid}
			ts[tid] = tr
			fresh = append(fresh, tr)
		}
		if len(fresh) == 0 {
			if len(ts) == 0 {
				return nil, at, fmt.Errorf("process %d has no thread left: %w", pid, unix.ESRCH)
			}
			if round > 0 {
				if quiet++; quiet == 2 {
					return ts, at, nil // every thread stopped, and no new one
				}
				continue
			}
		}
		quiet = 0
		if at.IsZero() {
			at = time.Now()
		}
		for _, tr := range fresh {
			// ESRCH: it exited since the seize; the wait reaps it.
			if err := unix.PtraceInterrupt(tr.tid); err != nil && err != unix.ESRCH {
				return nil, at, fmt.Errorf("interrupting thread %d: %w", tr.tid, err)
			}
		}
		if err := waitStopped(pid, ts, deadline, st); err != nil {
			return nil, at, err
		}
	}
}

// waitStopped waits until every tracee in ts has stopped, removing those
// that exit. It polls (WNOHANG) so that a thread that never stops cannot
// hold the tracer thread past deadline.
func waitStopped(pid int, ts map[int]*tracee, deadline time.Time, st *stopStats) error {
	pause := 20 * time.Microsecond
	for {
		pending, progressed := 0, false
		for tid, tr := range ts {
			if tr.stopped {
				continue
			}
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(tid, &ws, unix.WNOHANG|unix.WALL, nil)
			switch {
			case err == unix.EINTR:
				pending++
				continue
			case err == unix.ECHILD:
				delete(ts, tid) // not ours any more: exited and reaped
				st.gone++
				progressed = true
				continue
			case err != nil:
				return fmt.Errorf("waiting for thread %d: %w", tid, err)
			case wpid == 0:
				pending++
				continue
			}
			progressed = true
			switch {
			case ws.Exited() || ws.Signaled():
				delete(ts, tid)
				st.gone++
			case ws.Stopped():
				tr.stopped = true
				if uint32(ws)>>16 == 0 {
					// A signal-delivery-stop: the thread stopped to
					// receive a signal before our interrupt trapped it.
					tr.sig = int(ws.StopSignal())
				}
				// Otherwise a PTRACE_EVENT_STOP: our interrupt, or a
				// group-stop (the process was stopped by SIGSTOP, and
				// stays so after the detach).
			default:
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			e := &stopTimeout{pid: pid}
			for tid, tr := range ts {
				if !tr.stopped {
					e.tids = append(e.tids, tid)
				}
			}
			sort.Ints(e.tids)
			return e
		}
		if progressed {
			pause = 20 * time.Microsecond
		} else {
			sleepThread(pause)
			pause = min(2*pause, 2*time.Millisecond)
		}
	}
}

// detachTracees detaches every thread in ts, delivering any signal it
// stopped for. A thread seized but not stopped (a stop that failed half
// way) cannot be detached until it stops: it is interrupted and waited for
// until deadline, then left to the kernel, which detaches it when the
// tracer thread ends.
// Must run on the tracer thread. The first error is returned; ts is emptied
// of the threads let go (or gone).
func detachTracees(pid int, ts map[int]*tracee, deadline time.Time) error {
	var first error
	tids := make([]int, 0, len(ts))
	for tid := range ts {
		tids = append(tids, tid)
	}
	sort.Ints(tids)
	for _, tid := range tids {
		tr := ts[tid]
		pause := 20 * time.Microsecond
		interrupted := false
		for {
			err := ptraceDetach(tid, tr.sig)
			if err == nil {
				delete(ts, tid)
				break
			}
			if err != unix.ESRCH {
				if first == nil {
					first = fmt.Errorf("detaching thread %d: %w", tid, err)
				}
				break
			}
			// ESRCH: not in a ptrace stop yet, or exited.
			var ws unix.WaitStatus
			wpid, werr := unix.Wait4(tid, &ws, unix.WNOHANG|unix.WALL, nil)
			if werr == unix.ECHILD || (wpid == tid && (ws.Exited() || ws.Signaled())) {
				delete(ts, tid)
				break
			}
			if wpid == tid && ws.Stopped() {
				if uint32(ws)>>16 == 0 {
					tr.sig = int(ws.StopSignal())
				}
				continue
			}
			if !interrupted {
				interrupted = true
				_ = unix.PtraceInterrupt(tid)
				continue
			}
			if time.Now().After(deadline) {
				if first == nil {
					first = fmt.Errorf("thread %d of process %d did not stop to be detached (%s)", tid, pid, taskState(pid, tid))
				}
				break
			}
			sleepThread(pause)
			pause = min(2*pause, 2*time.Millisecond)
		}
	}
	return first
}

// ptraceDetach detaches tid, delivering sig (0 for none).
func ptraceDetach(tid, sig int) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(tid), 0, uintptr(sig), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// sleepThread sleeps without leaving the OS thread (the tracer is locked
// to it anyway; nanosleep avoids a trip through the scheduler).
func sleepThread(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	_ = unix.Nanosleep(&ts, nil)
}

// listTasks lists the threads of pid.
func listTasks(pid int) ([]int, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("process %d: %w", pid, unix.ESRCH)
		}
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	// The thread group leader first: its seize tells "already traced" or
	// "not permitted" before any other thread is touched.
	sort.Slice(tids, func(i, j int) bool {
		if (tids[i] == pid) != (tids[j] == pid) {
			return tids[i] == pid
		}
		return tids[i] < tids[j]
	})
	return tids, nil
}

// taskState is the one-letter state of a thread ("" when it is gone).
func taskState(pid, tid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+3 > len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// taskGone reports whether a thread has exited (gone, or a zombie or dead
// task waiting to be reaped): such a thread cannot be seized.
func taskGone(pid, tid int) bool {
	switch taskState(pid, tid) {
	case "", "Z", "X", "x":
		return true
	}
	return false
}
