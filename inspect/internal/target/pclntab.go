package target

// The runtime's function table (pclntab) in target memory: the module
// data's tables, each function's runtime._func (field offsets from the
// target's DWARF), its pc-value tables, funcdata and names. One reader, for
// the unwinder, the line tables, the pointer maps and open-coded defers.

import (
	"encoding/binary"
	"fmt"
	"maps"
	"strings"
)

// pclntab is the executable's function table (runtime.firstmoduledata's
// tables) with the runtime._func layout from the target's DWARF. It is read
// once (written at the target's start, it only depends on the binary) and
// its caches live as long as the target.
type pclntab struct {
	text, minpc, maxpc                uint64
	funcnametab, pctab, pclntable     uint64
	gofunc                            uint64
	ftab                              []uint32 // pairs entryoff, funcoff
	fEntryOff, fNameOff, fPcsp        int64
	fArgs                             int64  // _func.args, -1 when unknown
	rodata                            uint64 // moduledata.rodata: stack objects' gcdata base
	fNpcdata, fNfuncdata, fPcdataBase int64
	// Line tables (lines.go); lines is false when the layout lacks them.
	lines                  bool
	fPcfile, fPcln, fCuOff int64
	cutab, filetab         uint64

	pages map[uint64][]byte
	funcs map[uint64]*fnMeta // by entry
	strs  map[uint64]string  // runtime table strings by address
}

// pclntabResult is functab's answer, kept for the target's life.
type pclntabResult struct {
	p   *pclntab
	err error
}

// functab returns the function table, reading it on first use.
func (t *Target) functab() (*pclntab, error) {
	if r := t.bin.pcln; r != nil {
		return r.p, r.err
	}
	p, err := t.readFunctab()
	t.bin.pcln = &pclntabResult{p, err}
	return p, err
}

func (t *Target) readFunctab() (*pclntab, error) {
	md, err := loadStruct(t.bi, "runtime.moduledata")
	if err != nil {
		return nil, err
	}
	fn, err := loadStruct(t.bi, "runtime._func")
	if err != nil {
		return nil, err
	}
	fields := map[string]field{}
	for _, name := range []string{"funcnametab.array", "pctab.array", "pclntable.array", "ftab.array", "ftab.len", "text", "minpc", "maxpc", "gofunc"} {
		fields["md."+name] = md.Field(name)
	}
	for _, name := range []string{"entryOff", "nameOff", "pcsp", "npcdata", "nfuncdata"} {
		fields["_func."+name] = fn.Field(name)
	}
	for name, f := range fields {
		if !f.OK {
			return nil, fmt.Errorf("runtime table layout not understood: no %s", name)
		}
	}
	base, err := t.varAddr("runtime.firstmoduledata")
	if err != nil {
		return nil, err
	}
	buf, err := t.read(base, int(md.Size))
	if err != nil {
		return nil, err
	}
	p := &pclntab{
		pages: map[uint64][]byte{},
		funcs: map[uint64]*fnMeta{},
		strs:  map[uint64]string{},
	}
	p.funcnametab = get(buf, fields["md.funcnametab.array"])
	p.pctab = get(buf, fields["md.pctab.array"])
	p.pclntable = get(buf, fields["md.pclntable.array"])
	p.text = get(buf, fields["md.text"])
	p.minpc = get(buf, fields["md.minpc"])
	p.maxpc = get(buf, fields["md.maxpc"])
	p.gofunc = get(buf, fields["md.gofunc"])
	p.rodata = get(buf, md.Field("rodata"))
	p.fArgs = -1
	if f := fn.Field("args"); f.OK && f.Size == 4 {
		p.fArgs = f.Off
	}
	p.fEntryOff = fields["_func.entryOff"].Off
	p.fNameOff = fields["_func.nameOff"].Off
	p.fPcsp = fields["_func.pcsp"].Off
	p.fNpcdata = fields["_func.npcdata"].Off
	p.fNfuncdata = fields["_func.nfuncdata"].Off
	p.fPcdataBase = p.fNfuncdata + 1
	p.initLines(md, fn, buf)
	ftabF := fields["md.ftab.array"]
	ftab, n := get(buf, ftabF), get(buf, fields["md.ftab.len"])
	if n > 10_000_000 {
		return nil, corrupt(base+uint64(ftabF.Off)+8, "runtime.firstmoduledata.ftab", fmt.Sprintf("length %d", n), nil)
	}
	raw, err := t.readArray(ftab, n, 8, "runtime.firstmoduledata.ftab")
	if err != nil {
		return nil, err
	}
	p.ftab = make([]uint32, 2*n)
	for i := range p.ftab {
		p.ftab[i] = binary.LittleEndian.Uint32(raw[i*4:])
	}
	return p, nil
}

// clone copies the table for a raw clone (RawClone): the caches are the
// clone's own.
func (p *pclntab) clone() *pclntab {
	c := *p
	c.pages = maps.Clone(p.pages)
	c.funcs = maps.Clone(p.funcs)
	c.strs = maps.Clone(p.strs)
	return &c
}

// fnMeta is what hangtui reads from a function's runtime._func (the
// unwinder, the line tables, the pointer maps, open-coded defers).
type fnMeta struct {
	entry uint64
	pcsp  uint32 // pctab offset of the SP delta table
	// pcfile and pcln are the pctab offsets of the file and line tables,
	// cuOff the function's compilation unit's first index in cutab.
	pcfile, pcln, cuOff uint32
	inlIdx              uint32 // pctab offset of PCDATA_InlTreeIndex, 0 if none
	inlTree             uint64 // address of FUNCDATA_InlTree, 0 if none
	// Pointer maps (stackmaps.go): the argument frame size (_func.args),
	// the pctab offset of PCDATA_StackMapIndex and the addresses of
	// FUNCDATA_ArgsPointerMaps, FUNCDATA_LocalsPointerMaps and
	// FUNCDATA_StackObjects (0 when absent).
	args        int32
	stackMapIdx uint32
	funcdata    [3]uint64
	// openCodedDeferInfo is the address of FUNCDATA_OpenCodedDeferInfo, 0
	// when absent (defers.go).
	openCodedDeferInfo uint64
}

const pageSize = 4096

// bytes reads n bytes of (read-only) runtime table memory through a page
// cache.
func (tab *pclntab) bytes(t *Target, addr uint64, n int) ([]byte, bool) {
	out := make([]byte, 0, n)
	for n > 0 {
		page := addr &^ (pageSize - 1)
		p, ok := tab.pages[page]
		if !ok {
			p = make([]byte, pageSize)
			if m, err := t.mem.ReadMemory(p, page); err != nil || m != pageSize {
				p = nil
			}
			tab.pages[page] = p
		}
		if p == nil {
			return nil, false
		}
		off := int(addr - page)
		k := min(n, pageSize-off)
		out = append(out, p[off:off+k]...)
		addr += uint64(k)
		n -= k
	}
	return out, true
}

func (tab *pclntab) u32(t *Target, addr uint64) (uint32, bool) {
	b, ok := tab.bytes(t, addr, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// funcMeta finds the runtime._func of the function starting at entry.
func (tab *pclntab) funcMeta(t *Target, entry uint64) *fnMeta {
	if m, ok := tab.funcs[entry]; ok {
		return m
	}
	tab.funcs[entry] = nil
	if entry < tab.text || entry < tab.minpc || entry >= tab.maxpc {
		return nil
	}
	off := uint32(entry - tab.text)
	n := len(tab.ftab) / 2
	lo, hi := 0, n
	for lo < hi {
		mid := (lo + hi) / 2
		if tab.ftab[2*mid] < off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo >= n || tab.ftab[2*lo] != off {
		return nil
	}
	fn := tab.pclntable + uint64(tab.ftab[2*lo+1])
	hdr, ok := tab.bytes(t, fn, int(tab.fPcdataBase))
	if !ok || binary.LittleEndian.Uint32(hdr[tab.fEntryOff:]) != off {
		return nil
	}
	m := &fnMeta{entry: entry, pcsp: binary.LittleEndian.Uint32(hdr[tab.fPcsp:])}
	npcdata := uint64(binary.LittleEndian.Uint32(hdr[tab.fNpcdata:]))
	nfuncdata := uint64(hdr[tab.fNfuncdata])
	const pcdataInlTreeIndex, funcdataInlTree = 2, 3
	if npcdata > pcdataInlTreeIndex && nfuncdata > funcdataInlTree {
		idx, ok1 := tab.u32(t, fn+uint64(tab.fPcdataBase)+pcdataInlTreeIndex*4)
		tree, ok2 := tab.u32(t, fn+uint64(tab.fPcdataBase)+npcdata*4+funcdataInlTree*4)
		if !ok1 || !ok2 {
			return nil
		}
		if idx != 0 && tree != ^uint32(0) {
			m.inlIdx, m.inlTree = idx, tab.gofunc+uint64(tree)
		}
	}
	tab.readPointerMaps(t, m, fn, hdr, npcdata, nfuncdata)
	const funcdataOpenCodedDeferInfo = 4
	if nfuncdata > funcdataOpenCodedDeferInfo {
		if off, ok := tab.u32(t, fn+uint64(tab.fPcdataBase)+npcdata*4+funcdataOpenCodedDeferInfo*4); ok && off != ^uint32(0) {
			m.openCodedDeferInfo = tab.gofunc + uint64(off)
		}
	}
	if tab.lines {
		m.pcfile = binary.LittleEndian.Uint32(hdr[tab.fPcfile:])
		m.pcln = binary.LittleEndian.Uint32(hdr[tab.fPcln:])
		m.cuOff = binary.LittleEndian.Uint32(hdr[tab.fCuOff:])
	}
	tab.funcs[entry] = m
	return m
}

// pcvalue decodes the pc-value table at pctab+off for targetpc, like the
// runtime's pcvalue. It returns -1 when there is no value.
func (tab *pclntab) pcvalue(t *Target, m *fnMeta, off uint32, targetpc uint64) int64 {
	if off == 0 {
		return -1
	}
	addr := tab.pctab + uint64(off)
	var chunk []byte
	next := func() (byte, bool) {
		if len(chunk) == 0 {
			n := pageSize - int(addr&(pageSize-1))
			b, ok := tab.bytes(t, addr, n)
			if !ok {
				return 0, false
			}
			chunk = b
			addr += uint64(n)
		}
		c := chunk[0]
		chunk = chunk[1:]
		return c, true
	}
	varint := func() (uint32, bool) {
		var v, shift uint32
		for i := 0; i < 5; i++ {
			c, ok := next()
			if !ok {
				return 0, false
			}
			v |= uint32(c&0x7f) << shift
			if c&0x80 == 0 {
				return v, true
			}
			shift += 7
		}
		return 0, false
	}
	pc := m.entry
	val := int32(-1)
	for first := true; ; first = false {
		uvdelta, ok := varint()
		if !ok || (uvdelta == 0 && !first) {
			return -1
		}
		val += int32(-(uvdelta & 1) ^ (uvdelta >> 1))
		pcdelta, ok := varint()
		if !ok {
			return -1
		}
		pc += uint64(pcdelta) // PCQuantum is 1 on amd64
		if targetpc < pc {
			return int64(val)
		}
	}
}

// funcName reads a function name from funcnametab.
func (tab *pclntab) funcName(t *Target, nameOff int32) (string, bool) {
	return tab.cString(t, tab.funcnametab+uint64(nameOff))
}

// cString reads a NUL-terminated string (at most 64 KiB) of runtime table
// memory, once per address.
func (tab *pclntab) cString(t *Target, addr uint64) (string, bool) {
	if s, ok := tab.strs[addr]; ok {
		return s, s != ""
	}
	var sb strings.Builder
	for a := addr; sb.Len() < 64<<10; {
		n := pageSize - int(a&(pageSize-1))
		b, ok := tab.bytes(t, a, n)
		if !ok {
			break
		}
		if i := strings.IndexByte(string(b), 0); i >= 0 {
			sb.Write(b[:i])
			tab.strs[addr] = sb.String()
			return tab.strs[addr], tab.strs[addr] != ""
		}
		sb.Write(b)
		a += uint64(n)
	}
	tab.strs[addr] = ""
	return "", false
}

// firstModuledata reads runtime.firstmoduledata: the executable's tables
// (text, pclntab, data and bss ranges).
func (t *Target) firstModuledata() (*structLayout, []byte, error) {
	md, err := loadStruct(t.bi, "runtime.moduledata")
	if err != nil {
		return nil, nil, err
	}
	base, err := t.varAddr("runtime.firstmoduledata")
	if err != nil {
		return nil, nil, err
	}
	buf, err := t.read(base, int(md.Size))
	return md, buf, err
}
