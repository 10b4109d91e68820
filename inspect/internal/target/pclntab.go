package target

// The runtime's function table (pclntab) in target memory: the module
// data's tables, each function's runtime._func (field offsets from the
// target's DWARF), its pc-value tables, funcdata and names. One reader, for
// the unwinder, the line tables, the pointer maps and open-coded defers.

import (
	"encoding/binary"
	"strings"
)

// fnMeta is what the unwinder reads from a function's runtime._func.
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
}

const pageSize = 4096

// bytes reads n bytes of (read-only) runtime table memory through a page
// cache.
func (u *unwinder) bytes(t *Target, addr uint64, n int) ([]byte, bool) {
	out := make([]byte, 0, n)
	for n > 0 {
		page := addr &^ (pageSize - 1)
		p, ok := u.pages[page]
		if !ok {
			p = make([]byte, pageSize)
			if m, err := t.mem.ReadMemory(p, page); err != nil || m != pageSize {
				p = nil
			}
			u.pages[page] = p
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

func (u *unwinder) u32(t *Target, addr uint64) (uint32, bool) {
	b, ok := u.bytes(t, addr, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// funcMeta finds the runtime._func of the function starting at entry.
func (u *unwinder) funcMeta(t *Target, entry uint64) *fnMeta {
	if m, ok := u.funcs[entry]; ok {
		return m
	}
	u.funcs[entry] = nil
	if entry < u.text || entry < u.minpc || entry >= u.maxpc {
		return nil
	}
	off := uint32(entry - u.text)
	n := len(u.ftab) / 2
	lo, hi := 0, n
	for lo < hi {
		mid := (lo + hi) / 2
		if u.ftab[2*mid] < off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo >= n || u.ftab[2*lo] != off {
		return nil
	}
	fn := u.pclntable + uint64(u.ftab[2*lo+1])
	hdr, ok := u.bytes(t, fn, int(u.fPcdataBase))
	if !ok || binary.LittleEndian.Uint32(hdr[u.fEntryOff:]) != off {
		return nil
	}
	m := &fnMeta{entry: entry, pcsp: binary.LittleEndian.Uint32(hdr[u.fPcsp:])}
	npcdata := uint64(binary.LittleEndian.Uint32(hdr[u.fNpcdata:]))
	nfuncdata := uint64(hdr[u.fNfuncdata])
	const pcdataInlTreeIndex, funcdataInlTree = 2, 3
	if npcdata > pcdataInlTreeIndex && nfuncdata > funcdataInlTree {
		idx, ok1 := u.u32(t, fn+uint64(u.fPcdataBase)+pcdataInlTreeIndex*4)
		tree, ok2 := u.u32(t, fn+uint64(u.fPcdataBase)+npcdata*4+funcdataInlTree*4)
		if !ok1 || !ok2 {
			return nil
		}
		if idx != 0 && tree != ^uint32(0) {
			m.inlIdx, m.inlTree = idx, u.gofunc+uint64(tree)
		}
	}
	u.readPointerMaps(t, m, fn, hdr, npcdata, nfuncdata)
	if u.lines {
		m.pcfile = binary.LittleEndian.Uint32(hdr[u.fPcfile:])
		m.pcln = binary.LittleEndian.Uint32(hdr[u.fPcln:])
		m.cuOff = binary.LittleEndian.Uint32(hdr[u.fCuOff:])
	}
	u.funcs[entry] = m
	return m
}

// pcvalue decodes the pc-value table at pctab+off for targetpc, like the
// runtime's pcvalue. It returns -1 when there is no value.
func (u *unwinder) pcvalue(t *Target, m *fnMeta, off uint32, targetpc uint64) int64 {
	if off == 0 {
		return -1
	}
	addr := u.pctab + uint64(off)
	var chunk []byte
	next := func() (byte, bool) {
		if len(chunk) == 0 {
			n := pageSize - int(addr&(pageSize-1))
			b, ok := u.bytes(t, addr, n)
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
func (u *unwinder) funcName(t *Target, nameOff int32) (string, bool) {
	return u.cString(t, u.funcnametab+uint64(nameOff))
}

// cString reads a NUL-terminated string (at most 64 KiB) of runtime table
// memory, once per address.
func (u *unwinder) cString(t *Target, addr uint64) (string, bool) {
	if s, ok := u.strs[addr]; ok {
		return s, s != ""
	}
	var sb strings.Builder
	for a := addr; sb.Len() < 64<<10; {
		n := pageSize - int(a&(pageSize-1))
		b, ok := u.bytes(t, a, n)
		if !ok {
			break
		}
		if i := strings.IndexByte(string(b), 0); i >= 0 {
			sb.Write(b[:i])
			u.strs[addr] = sb.String()
			return u.strs[addr], u.strs[addr] != ""
		}
		sb.Write(b)
		a += uint64(n)
	}
	u.strs[addr] = ""
	return "", false
}
