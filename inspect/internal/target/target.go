// Package target is the only place that talks to Delve. It attaches to a
// process (or opens a core), decodes runtime structures from raw memory using
// offsets taken from the target's own DWARF, and detaches. It is not safe for
// concurrent use: the inspect package calls it from a single goroutine.
package target

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

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

	lay *layouts
	// reasons is the target's own runtime.waitReasonStrings table.
	reasons []string
	// typeNames caches runtime type names by *_type address.
	typeNames map[uint64]string
	mds       []proc.ModuleData
	// pcln is the runtime function table, loaded on first use.
	pcln *pclntab
	// locs caches Location by PC.
	locs map[uint64]Frame
	// globals are the executable's data symbols, sorted (describe.go).
	globals []globalSym
	// globalVals maps pointer values held by globals to their names; reset
	// with every snapshot.
	globalVals map[uint64]string
}

// Attach stops the process and reads its binary. Call Detach when done, on
// every path: the process stays stopped until then.
func Attach(pid int) (*Target, error) {
	grp, err := attachProcess(pid)
	if err != nil {
		return nil, err
	}
	t := &Target{grp: grp, t: grp.Selected, live: true, pid: pid}
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

// OpenCore opens a core file together with the executable that produced it.
func OpenCore(corePath, exePath string) (*Target, error) {
	grp, err := core.OpenCore(corePath, exePath, nil)
	if err != nil {
		return nil, err
	}
	t := &Target{grp: grp, t: grp.Selected, pid: grp.Selected.Pid()}
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
	return grp.Detach(false)
}

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
	t.t.ClearCaches()
	t.globalVals = nil
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
func (t *Target) varAddr(name string) (uint64, error) {
	scope, err := proc.ThreadScope(t.t, t.t.CurrentThread())
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
// goroutine (or it exits). It blocks meanwhile.
func (t *Target) Continue() error {
	if t.grp == nil {
		return errors.New("detached")
	}
	return t.grp.Continue()
}

// RequestStop asks a process running under Continue to stop. It is the only
// method that may be called from another goroutine.
func (t *Target) RequestStop() error {
	grp := t.grp
	if grp == nil {
		return nil
	}
	return grp.RequestManualStop()
}
