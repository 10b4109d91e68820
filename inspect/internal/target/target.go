// Package target is the only place that talks to Delve. It attaches to a
// process (or opens a core), decodes runtime structures from raw memory using
// offsets taken from the target's own DWARF, and detaches. It is not safe for
// concurrent use: the inspect package calls it from a single goroutine.
package target

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/go-delve/delve/pkg/proc"
	"github.com/go-delve/delve/pkg/proc/core"
)

// Target is an attached process or an opened core.
type Target struct {
	grp  *proc.TargetGroup
	t    *proc.Target
	bi   *proc.BinaryInfo
	mem  proc.MemoryReadWriter
	live bool
	pid  int
	// warm is the memory this process held once prewarm had warmed it for
	// the first snapshot (HoldToWarmed); 0 when it did not.
	warm int64
	// lp is the process when hangtui stops it itself (liveproc_linux_amd64.go);
	// nil when Delve's native backend attached, and for cores.
	lp *liveProc

	lay *layouts
	// reasons is the target's own runtime.waitReasonStrings table.
	reasons []string
	// syms waits for the executable's symbol table (symtab.go), read
	// before the target is stopped; nil when not started.
	syms func() *symtab
	// stoppedAt is when the attach stopped the process (after prewarm).
	stoppedAt time.Time
	// StacksOnly makes Goroutines read stacks only: no pprof labels, no
	// stack words kept for reachability (holder passes of hangtui top).
	StacksOnly bool

	// bin is what only depends on the binary (and on tables the runtime
	// writes once at start): kept for the target's life.
	bin binaryCache
	// snap describes the stopped process: dropped by ClearCaches at the
	// start of every snapshot.
	snap snapshotCache
}

// binaryCache holds what only depends on the target's binary, kept for the
// target's life (also across Continue).
type binaryCache struct {
	// typeNames caches runtime type names by *_type address.
	typeNames map[uint64]string
	// mds is Delve's module data, for runtime type names.
	mds []proc.ModuleData
	// pcln is the runtime function table (pclntab.go), read on first use.
	pcln *pclntabResult
	// defers is the open-coded defer reader's function metadata
	// (defers.go).
	defers *deferTab
	// unw is the fast stack reader (unwind.go) with its caches: symbols,
	// stack shapes, frame variable offsets, lock expression recipes,
	// frame pointer maps, package variable addresses, batch buffers.
	unw *unwinder
	// locs caches Location by PC.
	locs map[uint64]Frame
	// globals are the executable's non-runtime data symbols, sorted
	// (describe.go).
	globals []globalSym
	// globalTypes caches package variables' types (describe.go).
	globalTypes map[string]globalTypeResult
	// varAddrs caches the addresses of package variables.
	varAddrs map[string]varAddrResult
}

// snapshotCache holds what describes the stopped process: it is dropped at
// the start of every snapshot (ClearCaches) as a process that ran in
// between may have changed any of it.
type snapshotCache struct {
	// globalVals maps pointer values held by globals to their names.
	globalVals map[uint64]string
	// heap is the heap's span metadata, read lazily.
	heap *heapMeta
	// chunks caches target memory in aligned chunks for readSmall (its
	// buffers are handed on to the next snapshot's).
	chunks chunkCache
	// closures caches decoded deferred func values by address.
	closures map[uint64]cachedClosure
	// varVals are frame variable words read ahead by PrefetchVars, by
	// address.
	varVals map[uint64]uint64
	// delveMisses counts, per frame PC, the names Delve was asked for and
	// did not find (ContainerOf).
	delveMisses map[varKey]int
	// labelMaps are the pprof label maps read, by g.labels pointer
	// (labels.go); shared by goroutines, read only.
	labelMaps labelCache
}

// errSeizeUnsupported: hangtui cannot stop the process itself here, and
// Delve's native backend attaches instead.
var errSeizeUnsupported = errors.New("hangtui's own stop is not supported")

// Attach stops the process and reads its binary. Call Detach when done, on
// every path: the process stays stopped until then.
//
// Everything that only depends on the binary (Delve's debug information,
// struct layouts, the symbol table, a warm heap) is loaded while the
// process still runs; then hangtui stops it itself (liveproc_linux_amd64.go).
// Where that is not supported, Delve's native backend attaches, and loads
// the binary with the process stopped.
func Attach(pid int) (*Target, error) {
	start := time.Now()
	syms := startSymtab(fmt.Sprintf("/proc/%d/exe", pid))
	warm := prewarm(pid, syms())
	t, err := attachLive(pid, syms, start)
	if errors.Is(err, errSeizeUnsupported) {
		if timings() {
			fmt.Fprintf(os.Stderr, "hangtui: Delve's attach (%v)\n", err)
		}
		t, err = attachDelve(pid, syms, start)
	}
	if t != nil {
		t.warm = warm
	}
	return t, err
}

// attachLive loads the binary for Delve while pid runs, then stops it.
func attachLive(pid int, syms func() *symtab, start time.Time) (*Target, error) {
	lp, grp, err := openLive(pid)
	if err != nil {
		return nil, err
	}
	t := &Target{grp: grp, t: grp.Selected, lp: lp, live: true, pid: pid, syms: syms}
	if err := t.init(); err != nil {
		_ = lp.close()
		return nil, err
	}
	// The stack reader's tables (runtime.firstmoduledata, the function
	// table) are written once at the target's start: read them now too.
	t.unwinder()
	if timings() {
		fmt.Fprintf(os.Stderr, "hangtui: %-15s %v (target running)\n", "load", time.Since(start).Round(time.Millisecond))
	}
	stopStart := time.Now()
	if err := t.stopLive(); err != nil {
		_ = lp.close()
		if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) {
			// A kernel without PTRACE_SEIZE/PTRACE_INTERRUPT (before 3.4).
			return nil, fmt.Errorf("%w: %v", errSeizeUnsupported, err)
		}
		return nil, err
	}
	if timings() {
		fmt.Fprintf(os.Stderr, "hangtui: %-15s %v (%d threads, %d listings, %d ended meanwhile)\n", "stop",
			time.Since(stopStart).Round(time.Microsecond), len(t.t.ThreadList()), lp.stats.listings, lp.stats.gone)
	}
	return t, nil
}

// stopLive stops a process hangtui stops itself and makes Delve's current
// thread one of the stopped threads.
func (t *Target) stopLive() error {
	if err := t.lp.stop(); err != nil {
		return err
	}
	return t.stopped()
}

// stopped is what follows every stop of a process hangtui stops itself.
func (t *Target) stopped() error {
	t.stoppedAt = t.lp.stoppedAt
	if cur := t.t.CurrentThread(); cur != nil && t.hasThread(cur.ThreadID()) {
		return nil
	}
	// The thread Delve was given has exited: take another.
	if ths := t.t.ThreadList(); len(ths) > 0 {
		return t.t.SwitchThread(ths[0].ThreadID())
	}
	return nil
}

// AttachDelve attaches with Delve's native backend alone, as a Delve user
// would (the binary loaded with the process stopped): for benchmarks that
// compare with Delve's plain path.
func AttachDelve(pid int) (*Target, error) {
	return attachDelve(pid, startSymtab(fmt.Sprintf("/proc/%d/exe", pid)), time.Now())
}

// attachDelve attaches with Delve's native backend (lldb's on macOS).
func attachDelve(pid int, syms func() *symtab, start time.Time) (*Target, error) {
	stopped := time.Now()
	grp, err := attachProcess(pid)
	if timings() {
		fmt.Fprintf(os.Stderr, "hangtui: Delve attach %v\n", time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		return nil, err
	}
	t := &Target{grp: grp, t: grp.Selected, live: true, pid: pid, syms: syms, stoppedAt: stopped}
	// Delve plants breakpoints on runtime.fatalpanic/throw when it attaches
	// so that a debugger user sees crashes. hangtui only reads: take them out
	// at once so that nothing in the target's text differs from the binary
	// even if hangtui is killed before it can detach.
	t.clearBreakpoints()
	if err := t.init(); err != nil {
		t.Detach()
		return nil, err
	}
	return t, nil
}

func timings() bool { return os.Getenv("HANGTUI_TIMINGS") != "" }

// OpenCore opens a core file together with the executable that produced it.
func OpenCore(corePath, exePath string) (*Target, error) {
	syms := startSymtab(exePath)
	grp, err := core.OpenCore(corePath, exePath, nil)
	if err != nil {
		return nil, err
	}
	t := &Target{grp: grp, t: grp.Selected, pid: grp.Selected.Pid(), syms: syms}
	if err := t.init(); err != nil {
		t.Detach()
		return nil, err
	}
	return t, nil
}

func (t *Target) clearBreakpoints() {
	bps := t.t.Breakpoints()
	addrs := make([]uint64, 0, len(bps.M))
	for addr := range bps.M {
		addrs = append(addrs, addr)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	for _, addr := range addrs {
		_ = t.t.ClearBreakpoint(addr)
	}
}

// BreakpointsLeft reports how many breakpoints Delve still has inserted
// (for tests: it must be 0).
func (t *Target) BreakpointsLeft() int { return len(t.t.Breakpoints().M) }

func (t *Target) init() error {
	t.bi = t.t.BinInfo()
	t.mem = t.t.Memory()
	lay, err := loadLayouts(t.bi)
	if err != nil {
		return err
	}
	t.lay = lay
	t.reasons = t.readWaitReasons()
	return nil
}

// Detach lets the process run again, exactly as before. It never kills.
// Safe to call more than once.
func (t *Target) Detach() error {
	if t == nil || t.grp == nil {
		return nil
	}
	grp := t.grp
	t.grp = nil
	if t.lp != nil {
		return t.lp.close()
	}
	return grp.Detach(false)
}

// Release lets a process hangtui stopped itself run at once, from any
// goroutine, even while the session goroutine is reading it (what it reads
// from then on may be inconsistent): for an exit in the middle of a long
// snapshot. Detach must still be called. Does nothing for Delve's attach.
func (t *Target) Release() {
	if lp := t.lp; lp != nil {
		lp.releaseNow()
	}
}

// StoppedAt is when Attach (or the last Continue) stopped the process:
// the first thread's interrupt when hangtui stops it itself, after the
// binary was loaded.
func (t *Target) StoppedAt() time.Time { return t.stoppedAt }

// Live is true for an attached process, false for a core.
func (t *Target) Live() bool { return t.live }

// PID is the process id.
func (t *Target) PID() int { return t.pid }

// Exe is the path of the executable that was loaded.
func (t *Target) Exe() string {
	if len(t.bi.Images) > 0 {
		return t.bi.Images[0].Path
	}
	return ""
}

// ClearCaches drops what Delve cached about the stopped process, before a new
// snapshot of a process that ran in between.
func (t *Target) ClearCaches() {
	if t.t != nil {
		t.t.ClearCaches()
	}
	chunks := t.snap.chunks
	chunks.reset() // the buffers are reused
	t.snap = snapshotCache{chunks: chunks}
}

// HoldToWarmed holds this process's memory, for the first snapshot, to what
// it held once prewarm had warmed it for that snapshot (holdHeap). The
// returned function lets go; later snapshots are not held (the previous
// snapshot is still alive beside them, and the heap is warm).
func (t *Target) HoldToWarmed() (release func()) {
	warm := t.warm
	t.warm = 0
	if warm <= 0 {
		return func() {}
	}
	return holdHeap(warm + holdSlack)
}

// DropSmallReads lets go of the snapshot's cache of small runtime objects
// (readSmall) and of its buffers, once the snapshot has read them: later
// reads of small objects read the target again. The next snapshot
// allocates its own.
func (t *Target) DropSmallReads() {
	t.snap.chunks = chunkCache{}
}

// Exited reports whether an error means the process has gone away.
func Exited(err error) bool {
	var pe proc.ErrProcessExited
	return errors.As(err, &pe)
}

// ---- raw memory ----

func (t *Target) read(addr uint64, n int) ([]byte, error) {
	buf := make([]byte, n)
	if addr == 0 {
		return nil, fmt.Errorf("read of nil address")
	}
	if _, err := t.mem.ReadMemory(buf, addr); err != nil {
		return nil, err
	}
	return buf, nil
}

// readSmall reads a small runtime object (a sudog, a channel header, a
// _defer record) through a cache of aligned chunks kept for one snapshot:
// such objects come from a few spans, and chains of them (wait queues, the
// semaphore table) would otherwise cost a system call per object. The
// returned bytes must not be modified.
func (t *Target) readSmall(addr uint64, n int) ([]byte, error) {
	return t.snap.chunks.readSmall(addr, n, func(b []byte, c uint64) bool {
		m, err := t.mem.ReadMemory(b, c)
		return err == nil && m == len(b)
	}, t.read)
}

func (t *Target) readUint(addr uint64, size int64) (uint64, error) {
	b, err := t.read(addr, int(size))
	if err != nil {
		return 0, err
	}
	return decodeUint(b), nil
}

func (t *Target) readPtr(addr uint64) (uint64, error) {
	return t.readUint(addr, int64(t.bi.Arch.PtrSize()))
}

// smallPtr is readPtr through the snapshot's chunk cache (readSmall).
func (t *Target) smallPtr(addr uint64) (uint64, error) {
	b, err := t.readSmall(addr, t.bi.Arch.PtrSize())
	if err != nil {
		return 0, err
	}
	return decodeUint(b), nil
}

func decodeUint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// get decodes field f out of a buffer holding the whole struct.
func get(buf []byte, f field) uint64 {
	if !f.OK || f.Off+f.Size > int64(len(buf)) {
		return 0
	}
	return decodeUint(buf[f.Off : f.Off+f.Size])
}

// varAddr is the address of a package variable, e.g. "runtime.allgs".
// Addresses never move while the process lives, so each is evaluated once
// (an evaluation costs about a millisecond).
func (t *Target) varAddr(name string) (uint64, error) {
	if a, ok := t.bin.varAddrs[name]; ok {
		return a.addr, a.err
	}
	addr, err := t.evalVarAddr(name)
	if t.bin.varAddrs == nil {
		t.bin.varAddrs = map[string]varAddrResult{}
	}
	t.bin.varAddrs[name] = varAddrResult{addr, err}
	return addr, err
}

type varAddrResult struct {
	addr uint64
	err  error
}

func (t *Target) evalVarAddr(name string) (uint64, error) {
	if addr, _, ok := t.lookupSym(name); ok {
		return addr, nil
	}
	if t.knownMissing(name) {
		return 0, fmt.Errorf("no variable %s in this binary", name)
	}
	if t.t == nil {
		return 0, errNoDelve
	}
	scope, err := t.globalScope()
	if err != nil {
		return 0, err
	}
	v, err := scope.EvalExpression(name, proc.LoadConfig{})
	if err != nil {
		return 0, err
	}
	if v.Unreadable != nil {
		return 0, v.Unreadable
	}
	return v.Addr, nil
}

// Continue lets a live process run until RequestStop is called from another
// goroutine (or it exits), and stops it again. It blocks meanwhile. started
// is called once the run has begun as far as RequestStop is concerned: a
// RequestStop after it ends this run.
//
// When hangtui stops the process itself, every thread is detached while it
// runs (the process runs untraced, as if hangtui were not there) and seized
// again at the RequestStop; what Delve loaded from the binary is kept.
func (t *Target) Continue(started func()) error {
	if t.grp == nil {
		started()
		return errors.New("detached")
	}
	if t.lp != nil {
		stopped, err := t.lp.run(started)
		if stopped {
			if serr := t.stopped(); err == nil {
				err = serr
			}
		}
		return err
	}
	started()
	err := t.grp.Continue()
	t.stoppedAt = time.Now()
	return err
}

func (t *Target) hasThread(tid int) bool {
	_, ok := t.t.FindThread(tid)
	return ok
}

// RequestStop asks a process running under Continue to stop. It is the only
// method besides Release that may be called from another goroutine.
func (t *Target) RequestStop() error {
	if lp := t.lp; lp != nil {
		lp.requestStop()
		return nil
	}
	grp := t.grp
	if grp == nil {
		return nil
	}
	return grp.RequestManualStop()
}

// globalScope is an EvalScope for package variables: the current thread's
// while the process is stopped. Before the stop (hangtui loads what it can
// while the process runs) no thread has registers, and a scope without a
// frame evaluates package-qualified names just the same.
func (t *Target) globalScope() (*proc.EvalScope, error) {
	scope, err := proc.ThreadScope(t.t, t.t.CurrentThread())
	if err != nil && t.lp != nil {
		return proc.FrameToScope(t.t, t.mem, nil, 0, proc.Stackframe{}), nil
	}
	return scope, err
}
