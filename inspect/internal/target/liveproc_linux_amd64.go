//go:build linux && amd64

package target

// A read-only live process for Delve, stopped by hangtui itself.
//
// Delve's native backend PTRACE_ATTACHes first and only then loads the
// binary's debug information (DWARF decompression, type and line tables):
// 0.2-0.4 s on a small program, seconds on a 100 MB binary, all of it with
// the target stopped. hangtui never writes to the target and needs no
// breakpoints, so it gives Delve a process of its own (modelled on Delve's
// core backend): memory is read with process_vm_readv, which works on a
// running process, breakpoints and writes are refused, and threads and
// registers exist only while the process is stopped. The proc.Target is
// created with proc.NewGroup while the process runs, so that everything
// Delve loads happens before the stop; then ptrace_linux.go stops it
// (PTRACE_SEIZE + PTRACE_INTERRUPT) for only as long as the snapshot is
// read. Between the refreshes of a live view every thread is detached and
// the process runs untraced; the next snapshot seizes it again.
//
// Delve's native backend stays the fallback (attach_native.go) where this
// one cannot work: see errSeizeUnsupported.

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/go-delve/delve/pkg/dwarf/op"
	"github.com/go-delve/delve/pkg/elfwriter"
	"github.com/go-delve/delve/pkg/proc"
	"github.com/go-delve/delve/pkg/proc/amd64util"
	"github.com/go-delve/delve/pkg/proc/linutil"
	"golang.org/x/sys/unix"
)

// stopDeadline bounds a stop: a thread that does not stop by then (an
// uninterruptible wait in the kernel) fails the attach and every thread is
// let go. detachDeadline bounds the wait for a thread seized but not yet
// stopped at a detach; past it the kernel detaches the thread when the
// tracer thread ends.
const (
	stopDeadline   = 10 * time.Second
	detachDeadline = 2 * time.Second
)

var (
	errReadOnly      = errors.New("hangtui never modifies the target")
	errNotStopped    = errors.New("the thread is running")
	errCannotControl = errors.New("hangtui does not run the target under Delve")
)

// liveProc is a live process as Delve sees it: proc.ProcessInternal and
// proc.ProcessGroup. Everything but requestStop and release is called from
// the session goroutine.
type liveProc struct {
	// Only SetUProbe and GetBufferedTracepoints come from this nil
	// interface (their argument types are in a Delve internal package);
	// Delve calls them only when SupportsBPF is true, which it never is.
	proc.ProcessInternal

	pid   int
	bi    *proc.BinaryInfo
	bps   proc.BreakpointMap
	entry uint64
	// memf is /proc/PID/mem, for the pages process_vm_readv refuses.
	memf *os.File
	// pidfd refers to the process itself (-1 when the kernel has no
	// pidfd_open): a PID reused after the process exited between two
	// snapshots of a live view is never taken for it.
	pidfd int

	pt *ptracer
	// tracees are the threads seized now; only touched on the tracer thread.
	tracees map[int]*tracee

	// threads are the threads of the current stop (nil while the process
	// runs); known keeps every thread object made, by TID, so that the one
	// Delve holds as its current thread stays the same object.
	threads map[int]*liveThread
	known   map[int]*liveThread
	// gen counts stops and resumes: registers belong to one stop.
	gen       int
	stoppedAt time.Time
	// stats is what the last stop met.
	stats    stopStats
	exited   bool
	detached bool

	stopMu sync.Mutex
	stopCh chan struct{} // closed by requestStop while run waits
}

// liveThread is one thread of a liveProc.
type liveThread struct {
	p      *liveProc
	tid    int
	gen    int
	regs   *linutil.AMD64Registers // nil while the thread runs
	common proc.CommonThread
}

// openLive makes the Delve target for pid while the process runs: its
// binary and debug information are loaded, nothing is stopped.
func openLive(pid int) (*liveProc, *proc.TargetGroup, error) {
	if os.Getenv("HANGTUI_ATTACH") == "delve" {
		return nil, nil, fmt.Errorf("%w: HANGTUI_ATTACH=delve", errSeizeUnsupported)
	}
	procDir := "/proc/" + strconv.Itoa(pid)
	auxv, err := os.ReadFile(procDir + "/auxv")
	if err != nil {
		return nil, nil, procErr(err)
	}
	memf, err := os.Open(procDir + "/mem")
	if err != nil {
		return nil, nil, procErr(err)
	}
	lp := &liveProc{
		pid:   pid,
		bi:    proc.NewBinaryInfo("linux", "amd64", true),
		bps:   proc.NewBreakpointMap(),
		memf:  memf,
		known: map[int]*liveThread{},
		pidfd: -1,
		pt:    newPtracer(),
	}
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		lp.pidfd = fd
	}
	lp.entry = linutil.EntryPointFromAuxv(auxv, lp.bi.Arch.PtrSize())
	grp, addTarget := proc.NewGroup(lp, proc.NewTargetGroupConfig{StopReason: proc.StopAttached})
	// The current thread has no registers until the stop: newTarget's
	// GetG on it fails (ignored), and the breakpoints it plants are
	// refused by WriteBreakpoint, so none is ever recorded.
	if _, err := addTarget(lp, pid, lp.thread(pid), procDir+"/exe", proc.StopAttached, cmdline(pid)); err != nil {
		lp.close()
		return nil, nil, err
	}
	// Go shared objects loaded by a cgo program (reads memory only).
	_ = linutil.ElfUpdateSharedObjects(lp)
	return lp, grp, nil
}

func procErr(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%v: %w", err, unix.ESRCH)
	}
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%v: %w", err, unix.EPERM)
	}
	return err
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

func (p *liveProc) thread(tid int) *liveThread {
	th := p.known[tid]
	if th == nil {
		th = &liveThread{p: p, tid: tid}
		p.known[tid] = th
	}
	return th
}

// stop stops every thread and reads their registers. The time of the
// first interrupt is kept in stoppedAt.
func (p *liveProc) stop() error {
	if p.detached {
		return proc.ErrProcessDetached
	}
	regs := map[int]*linutil.AMD64PtraceRegs{}
	var err error
	var at time.Time
	if e := p.pt.do(func() {
		var ts map[int]*tracee
		p.stats = stopStats{}
		ts, at, err = stopProcess(p.pid, p.tracees, time.Now().Add(stopDeadline), &p.stats)
		if err != nil {
			return
		}
		p.tracees = ts
		for tid := range ts {
			var r linutil.AMD64PtraceRegs
			if unix.PtraceGetRegs(tid, (*unix.PtraceRegs)(unsafe.Pointer(&r))) == nil {
				regs[tid] = &r
			} // else killed in the stop: no thread for Delve
		}
		if len(regs) == 0 || p.pidExited() {
			// Every thread died in the stop, or the PID is now another
			// process's (the target exited while it ran untraced).
			err = fmt.Errorf("process %d has exited: %w", p.pid, unix.ESRCH)
			_ = detachTracees(p.pid, p.tracees, time.Now().Add(detachDeadline))
		}
	}); e != nil {
		return e
	}
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			p.exited = true
		}
		return err
	}
	p.gen++
	p.stoppedAt = at
	p.threads = make(map[int]*liveThread, len(regs))
	for tid, r := range regs {
		th := p.thread(tid)
		th.gen = p.gen
		th.common = proc.CommonThread{}
		gen := p.gen
		th.regs = linutil.NewAMD64Registers(r, func(ar *linutil.AMD64Registers) error {
			return p.fpRegisters(tid, gen, ar)
		})
		p.threads[tid] = th
	}
	for tid, th := range p.known {
		if p.threads[tid] == nil {
			th.regs = nil
		}
	}
	return nil
}

// pidExited reports whether the process the pidfd refers to has exited
// (the pidfd polls readable).
func (p *liveProc) pidExited() bool {
	if p.pidfd < 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0
}

// fpRegisters reads a stopped thread's floating point registers (x87 and
// SSE), when Delve asks for them.
func (p *liveProc) fpRegisters(tid, gen int, r *linutil.AMD64Registers) error {
	if gen != p.gen {
		return errNotStopped
	}
	var xs amd64util.AMD64Xstate
	var err error
	if e := p.pt.do(func() {
		_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETFPREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(&xs.AMD64PtraceFpRegs)), 0, 0)
		if errno != 0 {
			err = errno
		}
	}); e != nil {
		return e
	}
	if err != nil {
		return fmt.Errorf("could not get floating point registers: %w", err)
	}
	r.Fpregs = xs.Decode()
	r.Fpregset = &xs
	return nil
}

// release detaches every thread: the process runs untraced. Threads and
// registers are forgotten; the Delve target (binary info) is kept.
func (p *liveProc) release() error {
	var err error
	if e := p.pt.do(func() {
		err = detachTracees(p.pid, p.tracees, time.Now().Add(detachDeadline))
	}); e != nil && !errors.Is(e, errPtracerClosed) {
		return e
	}
	p.gen++
	p.threads = nil
	for _, th := range p.known {
		th.regs = nil
	}
	return err
}

// run lets the process run untraced until requestStop, then stops it
// again (stopped reports whether it is stopped now). started is called
// once a requestStop can no longer be missed. An error letting it go is
// returned after the stop.
func (p *liveProc) run(started func()) (stopped bool, err error) {
	ch := make(chan struct{})
	p.stopMu.Lock()
	p.stopCh = ch
	p.stopMu.Unlock()
	started()
	rerr := p.release()
	<-ch
	if err := p.stop(); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return false, proc.ErrProcessExited{Pid: p.pid}
		}
		return false, err
	}
	return true, rerr
}

// requestStop ends a run. Safe from any goroutine; does nothing when no
// run is waiting.
func (p *liveProc) requestStop() {
	p.stopMu.Lock()
	if p.stopCh != nil {
		close(p.stopCh)
		p.stopCh = nil
	}
	p.stopMu.Unlock()
}

// releaseNow detaches every thread from any goroutine, even while the
// session goroutine is reading: for exits (a signal) while a long snapshot
// is being read.
func (p *liveProc) releaseNow() {
	_ = p.pt.do(func() {
		_ = detachTracees(p.pid, p.tracees, time.Now().Add(detachDeadline))
	})
}

// close detaches and ends the tracer thread (which makes the kernel detach
// anything still traced by it).
func (p *liveProc) close() error {
	if p.detached {
		return nil
	}
	p.detached = true
	err := p.release()
	p.pt.close()
	if p.memf != nil {
		_ = p.memf.Close()
	}
	if p.pidfd >= 0 {
		_ = unix.Close(p.pidfd)
		p.pidfd = -1
	}
	return err
}

// ---- proc.Process ----

func (p *liveProc) BinInfo() *proc.BinaryInfo        { return p.bi }
func (p *liveProc) EntryPoint() (uint64, error)      { return p.entry, nil }
func (p *liveProc) Breakpoints() *proc.BreakpointMap { return &p.bps }
func (p *liveProc) Memory() proc.MemoryReadWriter    { return p }
func (p *liveProc) FindThread(tid int) (proc.Thread, bool) {
	th, ok := p.threads[tid]
	return th, ok
}

func (p *liveProc) ThreadList() []proc.Thread {
	tids := make([]int, 0, len(p.threads))
	for tid := range p.threads {
		tids = append(tids, tid)
	}
	sort.Ints(tids)
	out := make([]proc.Thread, len(tids))
	for i, tid := range tids {
		out[i] = p.threads[tid]
	}
	return out
}

// ReadMemory reads with process_vm_readv (no ptrace; the process may be
// running), falling back to /proc/PID/mem for pages it refuses. A short
// read is an error.
func (p *liveProc) ReadMemory(buf []byte, addr uint64) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	local := unix.Iovec{Base: &buf[0]}
	local.SetLen(len(buf))
	remote := unix.RemoteIovec{Base: uintptr(addr), Len: len(buf)}
	r, _, errno := unix.Syscall6(unix.SYS_PROCESS_VM_READV, uintptr(p.pid),
		uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
	n := int(r)
	if errno == 0 && n == len(buf) {
		return n, nil
	}
	if errno != 0 {
		n = 0
	}
	if errno == unix.ESRCH {
		return 0, proc.ErrProcessExited{Pid: p.pid}
	}
	if p.memf != nil && addr < 1<<63 {
		if m, _ := p.memf.ReadAt(buf, int64(addr)); m == len(buf) {
			return m, nil
		}
	}
	return n, fmt.Errorf("could not read %d bytes at %#x", len(buf), addr)
}

func (p *liveProc) WriteMemory(uint64, []byte) (int, error) { return 0, errReadOnly }

// ---- proc.ProcessInternal ----

func (p *liveProc) Valid() (bool, error) {
	switch {
	case p.exited:
		return false, proc.ErrProcessExited{Pid: p.pid}
	case p.detached:
		return false, proc.ErrProcessDetached
	}
	return true, nil
}

func (p *liveProc) RequestManualStop(*proc.ContinueOnceContext) error { return nil }
func (p *liveProc) WriteBreakpoint(*proc.Breakpoint) error            { return errReadOnly }
func (p *liveProc) EraseBreakpoint(bp *proc.Breakpoint) error {
	return proc.NoBreakpointError{Addr: bp.Addr}
}
func (p *liveProc) SupportsBPF() bool { return false }
func (p *liveProc) DumpProcessNotes(notes []elfwriter.Note, threadDone func()) (bool, []elfwriter.Note, error) {
	return false, notes, nil
}
func (p *liveProc) MemoryMap() ([]proc.MemoryMapEntry, error) {
	return nil, proc.ErrMemoryMapNotSupported
}
func (p *liveProc) StartCallInjection() (func(), error) { return nil, errReadOnly }
func (p *liveProc) FollowExec(v bool) error {
	if v {
		return errCannotControl
	}
	return nil
}

// ---- proc.ProcessGroup ----

func (p *liveProc) ContinueOnce(*proc.ContinueOnceContext) (proc.Thread, proc.StopReason, error) {
	return nil, proc.StopUnknown, errCannotControl
}
func (p *liveProc) StepInstruction(int) error { return errCannotControl }
func (p *liveProc) Detach(int, bool) error    { return p.close() }
func (p *liveProc) Close() error              { return p.close() }

// ---- proc.Thread ----

func (t *liveThread) Breakpoint() *proc.BreakpointState { return &proc.BreakpointState{} }
func (t *liveThread) ThreadID() int                     { return t.tid }
func (t *liveThread) Registers() (proc.Registers, error) {
	if t.regs == nil || t.gen != t.p.gen {
		return nil, fmt.Errorf("thread %d: %w", t.tid, errNotStopped)
	}
	return t.regs, nil
}
func (t *liveThread) RestoreRegisters(proc.Registers) error  { return errReadOnly }
func (t *liveThread) BinInfo() *proc.BinaryInfo              { return t.p.bi }
func (t *liveThread) ProcessMemory() proc.MemoryReadWriter   { return t.p }
func (t *liveThread) SetCurrentBreakpoint(bool) error        { return nil }
func (t *liveThread) SoftExc() bool                          { return false }
func (t *liveThread) Common() *proc.CommonThread             { return &t.common }
func (t *liveThread) SetReg(uint64, *op.DwarfRegister) error { return errReadOnly }

var (
	_ proc.ProcessInternal = (*liveProc)(nil)
	_ proc.ProcessGroup    = (*liveProc)(nil)
	_ proc.Thread          = (*liveThread)(nil)
)
