package target

import (
	"sort"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

// Where a channel is kept, for the source analysis: the field of a
// package variable or of a struct that holds the channel pointer names it
// ("main.pool.drained", "main.Pipeline.out"), as the field containing a
// mutex names the mutex.

// GlobalWords maps every pointer value found in the program's own package
// variables (by the runtime's pointer masks, where it has them) to the address of the first word that holds it.
// Read once per snapshot by the caller (values change while the process
// runs).
func (t *Target) GlobalWords() map[uint64]uint64 {
	out := map[uint64]uint64{}
	// Only words the runtime's pointer masks call pointers: a uintptr or
	// an integer that happens to equal an address names nothing.
	segs, _ := t.Globals()
	masks := t.GlobalMasks()
	isPtr := func(a uint64) bool {
		for i, r := range segs {
			if a >= r[0] && a < r[1] {
				if i >= len(masks) || masks[i] == nil {
					return true // no mask: every word may be a pointer
				}
				w := (a - r[0]) / 8
				return w/8 < uint64(len(masks[i])) && masks[i][w/8]&(1<<(w%8)) != 0
			}
		}
		return true
	}
	syms := append([]globalSym(nil), t.userGlobals()...)
	sort.Slice(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
	for _, s := range syms {
		if s.size < 8 || s.size > 1<<20 {
			continue
		}
		lo := (s.addr + 7) &^ 7
		buf, err := t.read(lo, int(s.addr+s.size-lo)&^7)
		if err != nil {
			continue
		}
		for off := 0; off+8 <= len(buf); off += 8 {
			v := decodeUint(buf[off : off+8])
			if v == 0 || !isPtr(lo+uint64(off)) {
				continue
			}
			if _, dup := out[v]; !dup {
				out[v] = lo + uint64(off)
			}
		}
	}
	return out
}

// FieldHolding names the struct field, of what a variable of g's frame
// points to or is, whose value is p: "main.Pipeline.out". "" when none.
func (t *Target) FieldHolding(g *G, frame int, p uint64) string {
	fv := t.frameVarsAt(g, frame)
	if fv == nil {
		return ""
	}
	cfa := int64(g.FrameCFA(frame))
	for _, v := range fv.vars {
		loc := v.addr
		if v.inFrame {
			loc = uint64(cfa + v.slot)
		}
		typ := v.typ
		if v.ptr != nil {
			base, err := t.varWord(loc)
			if err != nil || base == 0 {
				continue
			}
			loc, typ = base, v.ptr
		}
		if _, ok := resolve(typ).(*godwarf.StructType); !ok {
			continue
		}
		size := typ.Size()
		if size < 8 || size > 1<<16 {
			continue
		}
		buf, err := t.read(loc, int(size))
		if err != nil {
			continue
		}
		for off := 0; off+8 <= len(buf); off += 8 {
			if decodeUint(buf[off:off+8]) != p {
				continue
			}
			if name, ok := fieldAt(typ, loc, loc+uint64(off)); ok && strings.Contains(name, ".") {
				return name
			}
		}
	}
	return ""
}
