package target

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"

	"github.com/go-delve/delve/pkg/proc"
	"github.com/go-delve/delve/pkg/proc/linutil"
)

// A raw target reads a running process with process_vm_readv alone: no
// ptrace, no Delve, the process is never stopped. It is made from an
// attached Target (RawClone), whose binary information, struct layouts and
// caches it copies, so that it can go on reading after the attached Target
// has detached, or beside it on another goroutine while the attached one
// keeps using Delve.
//
// Everything it reads can be torn: the process changes memory while it is
// read. Callers validate what they read (sampler.go) and never take a
// conclusion from one unvalidated word.
//
// A raw target has no Delve (t.t is nil): every path that would evaluate
// an expression, list threads or ask Delve's line tables (whose caches are
// not safe for concurrent use) fails or falls back instead.

// vmMem is proc.MemoryReadWriter over process_vm_readv.
type vmMem struct{ pid int }

func (m vmMem) ReadMemory(buf []byte, addr uint64) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	ok := []bool{false}
	readvBatch(m.pid, []uint64{addr}, [][]byte{buf}, ok)
	if !ok[0] {
		return 0, fmt.Errorf("could not read %d bytes at %#x", len(buf), addr)
	}
	return len(buf), nil
}

func (m vmMem) WriteMemory(uint64, []byte) (int, error) {
	return 0, errors.New("hangtui never writes target memory")
}

// errNoDelve is what a raw target answers where only Delve could.
var errNoDelve = errors.New("not available without stopping the target")

// Raw is true for a target read with process_vm_readv alone (RawClone).
func (t *Target) Raw() bool { return t.t == nil }

// RawClone returns a raw target for the same live process: a copy that
// reads with process_vm_readv alone and shares nothing mutable with t (t
// may itself be raw). Call it on t's goroutine (it reads t's caches); the
// clone may then be used on any one goroutine, also after t has detached.
// Linux only.
func (t *Target) RawClone() (*Target, error) {
	if !t.live || runtime.GOOS != "linux" {
		return nil, errors.New("sampling a running process needs Linux and a live process")
	}
	// Struct layouts are cached per binary behind a lock, but reading one
	// the first time walks Delve's DWARF type cache, which is not safe
	// beside Delve: load every one the raw target uses now.
	for _, name := range []string{"runtime.mheap", "runtime.heapArena", "runtime.mspan", "runtime._defer",
		"runtime.moduledata", "runtime._func", "runtime.inlinedCall", "runtime.m", "internal/abi.Type"} {
		_, _ = loadStruct(t.bi, name)
	}
	t.unwinder() // reads the function table; copied below
	_, _ = t.loadDeferTab()
	st := t.syms
	if st != nil {
		tab := st()
		st = func() *symtab { return tab }
	}
	lay := *t.lay
	c := &Target{
		bi:      t.bi,
		mem:     vmMem{pid: t.pid},
		live:    true,
		pid:     t.pid,
		lay:     &lay,
		reasons: t.reasons,
		syms:    st,
		bin: binaryCache{
			typeNames:   maps.Clone(t.bin.typeNames),
			globalTypes: maps.Clone(t.bin.globalTypes),
			varAddrs:    maps.Clone(t.bin.varAddrs),
		},
	}
	// The function table is shared by the unwinder and the defer reader:
	// one copy for the clone.
	var orig, tab *pclntab
	if r := t.bin.pcln; r != nil {
		if orig = r.p; orig != nil {
			tab = orig.clone()
		}
		c.bin.pcln = &pclntabResult{tab, r.err}
	}
	if u := t.bin.unw; u != nil {
		cu := &unwinder{}
		*cu = *u
		// The caches that only depend on the binary are copied; the
		// per-snapshot ones start empty.
		if u.pclntab == orig {
			cu.pclntab = tab
		} else {
			cu.pclntab = u.pclntab.clone()
		}
		cu.syms = maps.Clone(u.syms)
		cu.startFns = maps.Clone(u.startFns)
		cu.shapes = map[uint64]*stackShape{}
		cu.vars = maps.Clone(u.vars)
		cu.ranges = maps.Clone(u.ranges)
		cu.varOffs = maps.Clone(u.varOffs)
		cu.varErrs = maps.Clone(u.varErrs)
		cu.recipes = maps.Clone(u.recipes)
		cu.frameVars = map[varKey]*frameVars{}
		cu.stackBufs = nil
		cu.readBuf = nil
		cu.scratchP, cu.scratchC, cu.scratchS = nil, nil, nil
		// Symbols are shared, read only: the direct-mapped cache is
		// the clone's own array (copied with the struct).
		c.bin.unw = cu
	}
	if p := t.bin.defers; p != nil {
		c.bin.defers = &deferTab{tab: tab, funcs: maps.Clone(p.funcs), unlocks: maps.Clone(p.unlocks), entryLines: maps.Clone(p.entryLines)}
	}
	return c, nil
}

// pcToLine is Delve's line lookup, or the runtime's own line table on a
// raw target (Delve's caches its line programs in maps that are not safe
// beside Delve's own use).
func (t *Target) pcToLine(pc uint64) (string, int, *proc.Function) {
	if t.t != nil {
		return t.bi.PCToLine(pc)
	}
	fn := t.bi.PCToFunc(pc)
	if fn == nil {
		return "", 0, nil
	}
	if u := t.unwinder(); u.ok {
		if m := u.funcMeta(t, fn.Entry); m != nil {
			if file, line, ok := u.fileLine(t, m, pc); ok {
				return file, line, fn
			}
		}
	}
	return "", 0, fn
}

// OpenRaw prepares reading a running process without ever stopping it:
// the executable's debug information is read from /proc/PID/exe (its load
// address from /proc/PID/auxv), the runtime's own tables through
// process_vm_readv. No ptrace at all: the process does not notice. What
// only Delve can answer (a frame's variables, types of package variables)
// is not available; see RawClone for a raw target that learnt those from
// an attached one.
func OpenRaw(pid int) (*Target, error) {
	if runtime.GOOS != "linux" {
		return nil, errors.New("reading a process without stopping it needs Linux")
	}
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	syms := startSymtab(exe)
	auxv, err := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the auxiliary vector: %w", err)
	}
	bi := proc.NewBinaryInfo(runtime.GOOS, runtime.GOARCH, true)
	if err := bi.LoadBinaryInfo(exe, linutil.EntryPointFromAuxv(auxv, bi.Arch.PtrSize()), nil); err != nil {
		return nil, err
	}
	t := &Target{bi: bi, mem: vmMem{pid: pid}, live: true, pid: pid, syms: syms}
	if t.lay, err = loadLayouts(bi); err != nil {
		return nil, err
	}
	t.reasons = t.readWaitReasonsRaw()
	for _, name := range []string{"runtime.mheap", "runtime.heapArena", "runtime.mspan", "runtime._defer",
		"runtime.moduledata", "runtime._func", "runtime.inlinedCall", "runtime.m", "internal/abi.Type"} {
		_, _ = loadStruct(t.bi, name)
	}
	return t, nil
}

// readWaitReasonsRaw reads runtime.waitReasonStrings ([...]string) from
// memory; the table of the Go release hangtui was built with when it
// cannot.
func (t *Target) readWaitReasonsRaw() []string {
	addr, size, ok := t.lookupSym("runtime.waitReasonStrings")
	if !ok || size%16 != 0 || size > 16*1024 {
		return fallbackWaitReasons
	}
	hdr, err := t.read(addr, int(size))
	if err != nil {
		return fallbackWaitReasons
	}
	out := make([]string, size/16)
	for i := range out {
		p, n := decodeUint(hdr[16*i:16*i+8]), decodeUint(hdr[16*i+8:16*i+16])
		if p == 0 || n == 0 || n > 256 {
			continue
		}
		b, err := t.read(p, int(n))
		if err != nil {
			return fallbackWaitReasons
		}
		out[i] = string(b)
	}
	return out
}

// OpenExe loads only an executable's debug information and the struct
// layouts read from its DWARF: no process, no memory. For comparing what
// hangtui assumes where it has no binary (a goroutine dump) with a
// binary's own layout.
func OpenExe(exe string) (*Target, error) {
	bi := proc.NewBinaryInfo(runtime.GOOS, runtime.GOARCH, true)
	if err := bi.LoadBinaryInfo(exe, 0, nil); err != nil {
		return nil, err
	}
	t := &Target{bi: bi}
	var err error
	if t.lay, err = loadLayouts(bi); err != nil {
		return nil, err
	}
	return t, nil
}
