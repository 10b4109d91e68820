package target

// GC-precise stack scanning.
//
// The runtime's garbage collector does not scan a goroutine's stack word by
// word: for each frame it looks up, at the frame's PC, which stack slots
// hold live pointers (stkframe.getStackMap, mgcmark.go scanframeworker):
//
//   - locals: FUNCDATA_LocalsPointerMaps, bitmap PCDATA_StackMapIndex,
//     covering the words just below varp (the CFA minus the return address
//     and the saved frame pointer);
//   - arguments: FUNCDATA_ArgsPointerMaps, same index, covering _func.args
//     bytes from argp (the CFA on amd64), i.e. the caller's outgoing area;
//   - stack objects: FUNCDATA_StackObjects, address-taken variables with a
//     pointer mask of their own (gcdata at moduledata.rodata+gcdataoff).
//     As the runtime's scanstack does, an object is scanned only when a
//     live pointer (a slot above, a conservatively scanned word, another
//     live object) points into it; when the goroutine has pending _defer
//     records or a panic (whose fields the runtime also follows into the
//     stack) every object is taken as live.
//
// A dead slot — a local used before a blocking call and never after — is
// therefore not a root, however pointer-like its stale value is. The maps
// are decoded once per (PC, innermost or not) and merged once per stack
// shape into a stackMask; reading a goroutine's roots is then a walk over
// the mask's slots.
//
// Where the metadata is missing or cannot be trusted, the frame is scanned
// conservatively (every word from its SP to its CFA, plus its argument
// area): an innermost frame that did not stop right after a CALL, a PC
// with no stack map index, functions without maps (assembly), arguments of
// unknown size (reflect's call stubs: the caller's whole frame), stack
// objects described by a GC program (Go 1.22/1.23), and the words above the
// outermost frame. Goroutines the fast reader does not unwind (on a thread,
// in a system call, async-preempted, stacks Delve unwinds) are scanned
// conservatively as a whole. HANGTUI_CONSERVATIVE=1 turns precise scanning
// off (stacks and heap), for comparisons.

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
)

// Indexes of the runtime's tables (internal/abi/symtab.go, unchanged from
// Go 1.12 through 1.27).
const (
	pcdataStackMapIndex       = 1
	funcdataArgsPointerMaps   = 0
	funcdataLocalsPointerMaps = 1
	funcdataStackObjects      = 2
	argsSizeUnknown           = -0x80000000
)

// preciseScanning reports whether marking uses the target's pointer
// metadata (HANGTUI_CONSERVATIVE unset).
func preciseScanning() bool { return os.Getenv("HANGTUI_CONSERVATIVE") == "" }

// debugStackMaps (HANGTUI_DEBUG_STACKMAPS=1) prints each stack shape's
// frame maps as they are built, offsets in words from the frame's CFA.
var debugStackMaps = os.Getenv("HANGTUI_DEBUG_STACKMAPS") != ""

// readPointerMaps fills in m's pointer map metadata from its _func (at
// address fn, fixed header hdr).
func (tab *pclntab) readPointerMaps(t *Target, m *fnMeta, fn uint64, hdr []byte, npcdata, nfuncdata uint64) {
	m.args = argsSizeUnknown
	if tab.fArgs >= 0 && tab.fArgs+4 <= int64(len(hdr)) {
		m.args = int32(binary.LittleEndian.Uint32(hdr[tab.fArgs:]))
	}
	if npcdata > pcdataStackMapIndex {
		if v, ok := tab.u32(t, fn+uint64(tab.fPcdataBase)+pcdataStackMapIndex*4); ok {
			m.stackMapIdx = v
		}
	}
	for i := range m.funcdata {
		if uint64(i) >= nfuncdata {
			break
		}
		if off, ok := tab.u32(t, fn+uint64(tab.fPcdataBase)+npcdata*4+uint64(i)*4); ok && off != ^uint32(0) {
			m.funcdata[i] = tab.gofunc + uint64(off)
		}
	}
}

// frameMap says which words of one physical frame the runtime's GC scans
// as pointers, as word offsets from the frame's CFA (negative: below it).
type frameMap struct {
	ptrs []int32    // live pointer slots: locals and arguments
	cons [][2]int32 // scanned conservatively, [from, to)
	objs []stackObj // stack objects with pointers
	// callerCons: the argument area's size is unknown, so the caller's
	// whole frame is scanned conservatively.
	callerCons bool
	precise    bool // described by the metadata (cons holds at most arguments without a map)
}

// stackObj is a stack object with pointers: words [lo, hi) and its pointer
// slots (word offsets from the same base), or cons when it is described by
// a GC program (scan all its words).
type stackObj struct {
	lo, hi int32
	ptrs   []int32
	cons   bool
}

// frameMapAt is the pointer map of the frame of s at pc (top: the
// innermost frame), decoded once per PC.
func (u *unwinder) frameMapAt(t *Target, s *pcSym, pc uint64, top bool) *frameMap {
	key := pc
	if top {
		key |= 1 << 63
	}
	if fm, ok := u.frameMaps[key]; ok {
		return fm
	}
	fm := u.frameMap1(t, s, pc, top)
	u.frameMaps[key] = fm
	return fm
}

func (u *unwinder) frameMap1(t *Target, s *pcSym, pc uint64, top bool) *frameMap {
	// The frame is [sp, cfa): the return address at cfa-8, the saved
	// frame pointer below it when the function has a frame.
	spOff := -int32((s.spdelta + 8) / 8)
	m := u.funcMeta(t, s.entry)
	conservative := func() *frameMap {
		fm := &frameMap{cons: [][2]int32{{spOff, 0}}}
		if m == nil || m.args < 0 {
			fm.callerCons = true
		} else if m.args > 0 {
			fm.cons = append(fm.cons, [2]int32{0, (m.args + 7) / 8})
		}
		return fm
	}
	if m == nil || s.spdelta%8 != 0 || m.args < 0 {
		return conservative()
	}
	// Below the innermost frame the PC is a return address; the innermost
	// one must have stopped right after a call too (mcall from gopark):
	// anywhere else its stack map index does not describe the frame.
	if top && !u.afterCall(t, pc) {
		return conservative()
	}
	varp := int32(-1) // below the return address
	if varp > spOff {
		varp-- // and the saved frame pointer
	}
	if varp <= spOff && m.args == 0 && m.funcdata[funcdataStackObjects] == 0 {
		// No locals, no arguments (runtime.goexit and other frameless
		// functions): nothing in the frame to scan, map or not.
		return &frameMap{precise: true}
	}
	idx := int64(-1)
	if pc != s.entry {
		idx = u.pcvalue(t, m, m.stackMapIdx, pc-1)
	}
	if idx < 0 {
		return conservative()
	}
	fm := &frameMap{precise: true}
	if size := varp - spOff; size > 0 {
		nbit, bits, ok := u.stackMapBits(t, m.funcdata[funcdataLocalsPointerMaps], idx)
		if !ok || nbit > size {
			return conservative()
		}
		for k := int32(0); k < nbit; k++ {
			if bits[k/8]&(1<<(k%8)) != 0 {
				fm.ptrs = append(fm.ptrs, varp-nbit+k)
			}
		}
	}
	if argWords := (m.args + 7) / 8; m.args >= 8 {
		nbit, bits, ok := u.stackMapBits(t, m.funcdata[funcdataArgsPointerMaps], idx)
		if !ok || nbit > argWords {
			fm.cons = append(fm.cons, [2]int32{0, argWords})
		} else {
			for k := int32(0); k < nbit; k++ {
				if bits[k/8]&(1<<(k%8)) != 0 {
					fm.ptrs = append(fm.ptrs, k)
				}
			}
		}
	}
	if p := m.funcdata[funcdataStackObjects]; p != 0 {
		if !u.stackObjects(t, p, varp, spOff, fm) {
			return conservative()
		}
	}
	slices.Sort(fm.ptrs)
	fm.ptrs = slices.Compact(fm.ptrs)
	return fm
}

// afterCall reports whether pc directly follows a CALL rel32 instruction.
func (u *unwinder) afterCall(t *Target, pc uint64) bool {
	b, ok := u.bytes(t, pc-5, 5)
	return ok && b[0] == 0xe8
}

// stackMapBits returns bitmap idx of the runtime.stackmap at addr (n
// int32, nbit int32, then n bitmaps of nbit bits, each byte-aligned). ok is
// false when there is no such map: the runtime would throw, hangtui scans
// conservatively.
func (u *unwinder) stackMapBits(t *Target, addr uint64, idx int64) (nbit int32, bits []byte, ok bool) {
	if addr == 0 {
		return 0, nil, false
	}
	hdr, ok := u.bytes(t, addr, 8)
	if !ok {
		return 0, nil, false
	}
	n := int32(binary.LittleEndian.Uint32(hdr))
	nbit = int32(binary.LittleEndian.Uint32(hdr[4:]))
	if n <= 0 || nbit < 0 || nbit > 1<<24 {
		return 0, nil, false
	}
	if nbit == 0 {
		return 0, nil, true
	}
	if idx >= int64(n) {
		return 0, nil, false
	}
	stride := uint64(nbit+7) / 8
	bits, ok = u.bytes(t, addr+8+uint64(idx)*stride, int(stride))
	return nbit, bits, ok
}

// stackObjects adds the frame's stack objects that hold pointers to fm;
// false when their records cannot be read.
func (u *unwinder) stackObjects(t *Target, p uint64, varp, spOff int32, fm *frameMap) bool {
	hdr, ok := u.bytes(t, p, 8)
	if !ok {
		return false
	}
	n := binary.LittleEndian.Uint64(hdr)
	if n > 1<<16 {
		return false
	}
	const recSize = 16 // off, size, ptrBytes int32; gcdataoff uint32
	recs, ok := u.bytes(t, p+8, int(n)*recSize)
	if !ok {
		return false
	}
	for i := uint64(0); i < n; i++ {
		r := recs[i*recSize:]
		off := int64(int32(binary.LittleEndian.Uint32(r)))
		size := int64(int32(binary.LittleEndian.Uint32(r[4:])))
		ptrBytes := int64(int32(binary.LittleEndian.Uint32(r[8:])))
		gcdataoff := uint64(binary.LittleEndian.Uint32(r[12:]))
		base := int64(0) // argp: the CFA on amd64
		if off < 0 {
			base = int64(varp) * 8
		}
		at := base + off // bytes from the CFA
		if at < int64(spOff)*8 || ptrBytes == 0 {
			// Below the frame's SP: not allocated yet (as scanframeworker);
			// or nothing to follow in it.
			continue
		}
		if at%8 != 0 || size <= 0 || ptrBytes > size || size > 1<<30 {
			return false
		}
		// Shifts, not divisions: at is negative below the CFA.
		o := stackObj{lo: int32(at >> 3), hi: int32((at + size + 7) >> 3)}
		var mask []byte
		if ptrBytes > 0 && u.rodata != 0 {
			mask, ok = u.bytes(t, u.rodata+gcdataoff, int((ptrBytes/8+7)/8))
		}
		if ptrBytes < 0 || mask == nil || !ok {
			o.cons = true // a GC program (Go 1.22/1.23), or no mask to read
		} else {
			for k := int64(0); k < ptrBytes/8; k++ {
				if mask[k/8]&(1<<(k%8)) != 0 {
					o.ptrs = append(o.ptrs, o.lo+int32(k))
				}
			}
		}
		fm.objs = append(fm.objs, o)
	}
	return true
}

// stackMask is where the live pointers of every goroutine with one stack
// shape are: word offsets from the stack's top (g.stack.hi), negative.
type stackMask struct {
	spOff int64      // the innermost frame's SP minus hi, bytes
	ptrs  []int32    // live pointer slots, ascending
	cons  [][2]int32 // scanned conservatively, [from, to), ascending, disjoint
	objs  []stackObj // stack objects, ascending, live only when reached
	// frames and consFrames count the shape's physical frames and those
	// scanned conservatively (stats).
	frames, consFrames int
}

// buildMask merges the frame maps of a shape, nil when its frames cannot
// be placed (then the whole stack is scanned conservatively).
func (u *unwinder) buildMask(t *Target, s *stackShape, syms []*pcSym) *stackMask {
	n := len(s.pcs)
	if n == 0 || n != len(syms) {
		return nil
	}
	m := &stackMask{frames: n, spOff: s.phys[0].cfaOff - syms[0].spdelta - 8}
	if m.spOff%8 != 0 || m.spOff >= 0 {
		return nil
	}
	for i := 0; i < n; i++ {
		if s.phys[i].cfaOff%8 != 0 {
			return nil
		}
		cfa := int32(s.phys[i].cfaOff / 8)
		fm := u.frameMapAt(t, syms[i], s.pcs[i], i == 0)
		if debugStackMaps {
			name := "?"
			if fn := t.bi.PCToFunc(s.pcs[i]); fn != nil {
				name = fn.Name
			}
			fmt.Fprintf(os.Stderr, "stackmap %s pc=%#x cfa=hi%+d precise=%v ptrs=%v cons=%v objs=%v callerCons=%v\n",
				name, s.pcs[i], s.phys[i].cfaOff, fm.precise, fm.ptrs, fm.cons, fm.objs, fm.callerCons)
		}
		if !fm.precise {
			m.consFrames++
		}
		for _, p := range fm.ptrs {
			m.ptrs = append(m.ptrs, cfa+p)
		}
		for _, c := range fm.cons {
			m.cons = append(m.cons, [2]int32{cfa + c[0], cfa + c[1]})
		}
		for _, o := range fm.objs {
			abs := stackObj{lo: cfa + o.lo, hi: cfa + o.hi, cons: o.cons, ptrs: make([]int32, len(o.ptrs))}
			for k, p := range o.ptrs {
				abs.ptrs[k] = cfa + p
			}
			m.objs = append(m.objs, abs)
		}
		if fm.callerCons {
			next := int32(0)
			if i+1 < n {
				next = int32(s.phys[i+1].cfaOff / 8)
			}
			m.cons = append(m.cons, [2]int32{cfa, next})
		}
	}
	// Above the outermost frame: a few words under goexit's frame, or the
	// rest of a stack too deep to unwind.
	if last := int32(s.phys[n-1].cfaOff / 8); last < 0 {
		m.cons = append(m.cons, [2]int32{last, 0})
	}
	lo := int32(m.spOff / 8)
	// Clip to the live stack, sort, merge.
	cons := m.cons[:0]
	for _, c := range m.cons {
		c[0], c[1] = max(c[0], lo), min(c[1], 0)
		if c[0] < c[1] {
			cons = append(cons, c)
		}
	}
	slices.SortFunc(cons, func(a, b [2]int32) int { return int(a[0]) - int(b[0]) })
	m.cons = m.cons[:0]
	for _, c := range cons {
		if k := len(m.cons); k > 0 && c[0] <= m.cons[k-1][1] {
			m.cons[k-1][1] = max(m.cons[k-1][1], c[1])
			continue
		}
		m.cons = append(m.cons, c)
	}
	ptrs := m.ptrs[:0]
	for _, p := range m.ptrs {
		if p >= lo && p < 0 {
			ptrs = append(ptrs, p)
		}
	}
	slices.Sort(ptrs)
	m.ptrs = slices.Compact(ptrs)
	objs := m.objs[:0]
	for _, o := range m.objs {
		if o.lo >= lo && o.hi <= 0 && o.lo < o.hi {
			objs = append(objs, o)
		}
	}
	slices.SortFunc(objs, func(a, b stackObj) int { return int(a.lo) - int(b.lo) })
	for i := 1; i < len(objs); i++ {
		if objs[i].lo < objs[i-1].hi {
			return nil // overlapping objects: the frames are not what they seem
		}
	}
	m.objs = objs
	return m
}

// maskFor is the precise mask for g's live stack starting at sp, nil when
// g's stack must be scanned conservatively.
func (g *G) maskFor(sp uint64) *stackMask {
	if g.stk == nil || g.stk.mask == nil || g.Status == Gsyscall || g.OnThread {
		return nil
	}
	if m := g.stk.mask; int64(sp)-int64(g.regs.hi) == m.spOff {
		return m
	}
	return nil
}

// rootWalker finds the live pointers on goroutine stacks; its scratch is
// reused from goroutine to goroutine.
type rootWalker struct {
	done []bool
	work []int
}

// walk calls fn with every word of g's live stack that can hold a live
// pointer out of the stack (buf holds the stack from sp up to
// g.stack.hi): with a precise mask, the live slots, the conservative
// ranges and the stack objects they reach; every word otherwise.
func (w *rootWalker) walk(g *G, sp uint64, buf []byte, fn func(v uint64)) {
	n := int64(len(buf) / 8)
	m := g.maskFor(sp)
	if m == nil || uint64(len(buf)) != g.regs.hi-sp {
		for i := int64(0); i < n; i++ {
			fn(binary.LittleEndian.Uint64(buf[i*8:]))
		}
		return
	}
	word := func(o int32) uint64 { return binary.LittleEndian.Uint64(buf[(n+int64(o))*8:]) }
	if len(m.objs) == 0 {
		for _, o := range m.ptrs {
			fn(word(o))
		}
		for _, c := range m.cons {
			for o := c[0]; o < c[1]; o++ {
				fn(word(o))
			}
		}
		return
	}
	w.done = slices.Grow(w.done[:0], len(m.objs))[:len(m.objs)]
	clear(w.done)
	w.work = w.work[:0]
	hi := g.regs.hi
	visit := func(v uint64) {
		if v < sp || v >= hi {
			fn(v)
			return
		}
		// Into this stack: the stack object it points into is live.
		o := int32((int64(v) - int64(hi)) >> 3)
		i, found := slices.BinarySearchFunc(m.objs, o, func(x stackObj, o int32) int { return int(x.lo) - int(o) })
		if !found {
			i--
		}
		if i >= 0 && o < m.objs[i].hi && !w.done[i] {
			w.done[i] = true
			w.work = append(w.work, i)
		}
	}
	if g.regs.deferHead != 0 || g.regs.panic != 0 {
		// The runtime follows _defer and _panic records into the stack
		// too: take every object as live.
		for i := range m.objs {
			w.done[i] = true
			w.work = append(w.work, i)
		}
	}
	for _, o := range m.ptrs {
		visit(word(o))
	}
	for _, c := range m.cons {
		for o := c[0]; o < c[1]; o++ {
			visit(word(o))
		}
	}
	for len(w.work) > 0 {
		obj := &m.objs[w.work[len(w.work)-1]]
		w.work = w.work[:len(w.work)-1]
		if obj.cons {
			for o := obj.lo; o < obj.hi; o++ {
				visit(word(o))
			}
			continue
		}
		for _, o := range obj.ptrs {
			visit(word(o))
		}
	}
}

// StackPrecision counts, over the goroutines of the last snapshot the fast
// reader unwound, the physical frames whose live pointers come from the
// target's stack maps and those scanned conservatively, and the goroutines
// whose stacks are scanned conservatively as a whole.
type StackPrecision struct {
	PreciseFrames, ConservativeFrames int
	ConservativeGoroutines            int
	// ConservativeFuncs names the functions of the frames scanned
	// conservatively, with how many goroutines had such a frame.
	ConservativeFuncs map[string]int
}

// StackPrecision reports how precisely gs's stacks are scanned.
func (t *Target) StackPrecision(gs []*G) StackPrecision {
	var p StackPrecision
	p.ConservativeFuncs = map[string]int{}
	u := t.unwinder()
	for _, g := range gs {
		m := g.maskFor(g.regs.sp)
		if m == nil || !preciseScanning() {
			p.ConservativeGoroutines++
			continue
		}
		p.PreciseFrames += m.frames - m.consFrames
		p.ConservativeFrames += m.consFrames
		if m.consFrames == 0 {
			continue
		}
		for i, pc := range g.stk.pcs {
			key := pc
			if i == 0 {
				key |= 1 << 63
			}
			if fm := u.frameMaps[key]; fm != nil && !fm.precise {
				name := "?"
				if fn := t.bi.PCToFunc(pc); fn != nil {
					name = fn.Name
				}
				p.ConservativeFuncs[name]++
			}
		}
	}
	return p
}
