// Package corefuzz mutates the Go runtime's structures in a core file, for
// fuzzing hangtui's readers of target memory (test support: nothing else
// imports it).
//
// A Model is made from a real core and its executable: it finds the
// runtime structures hangtui walks (allgs and every g, sudog chains and
// channel queues, the semaphore table's treaps, mheap_, mspans, the arena
// index and heapArenas, finalizer and cleanup blocks, pprof label maps,
// allp, allm, defer records, stacks, waitReasonStrings, the module data) by
// following the unmutated core from the runtime's own symbols, and lays
// each out with the executable's DWARF, independently of hangtui's own
// readers. A fuzz input then picks (structure, instance, field, element,
// value) a few times over, and Mutations turns that into byte patches of
// the core (or of the executable, for data the core does not hold).
package corefuzz

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Files a patch applies to.
const (
	FileCore = 0
	FileExe  = 1
)

// Model is what can be mutated in one core.
type Model struct {
	segs  []segment
	files [2]*os.File // the unmutated core and executable
	Kinds []*Kind
	// Mapped is how many bytes of the target's memory the core holds.
	Mapped uint64
}

type segment struct {
	vaddr, size uint64
	file        int
	off         uint64
}

// Kind is one runtime structure and its instances in the core.
type Kind struct {
	Name   string // "g", "sudog", ...
	Leaves []Leaf
	Insts  []uint64
	// OpenTime: hangtui reads this structure once, when it opens the
	// core; a mutation of it needs a fresh session.
	OpenTime bool
}

// Leaf is a scalar field (or an array of them) at an offset of an instance.
type Leaf struct {
	Name   string
	Off    int64
	Size   int64
	Count  int64 // elements (1 for a plain field)
	Stride int64
	Ptr    bool
}

// Patch replaces bytes of a file.
type Patch struct {
	File int
	Off  int64
	New  []byte
	Desc string
}

// Open builds the Model of a core and the executable that produced it.
func Open(corePath, exePath string) (*Model, error) {
	core, err := elf.Open(corePath)
	if err != nil {
		return nil, err
	}
	defer core.Close()
	exe, err := elf.Open(exePath)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	m := &Model{}
	for i, path := range []string{corePath, exePath} {
		if m.files[i], err = os.Open(path); err != nil {
			m.Close()
			return nil, err
		}
	}
	for _, p := range core.Progs {
		if p.Type == elf.PT_LOAD && p.Filesz > 0 {
			m.segs = append(m.segs, segment{vaddr: p.Vaddr, size: p.Filesz, file: FileCore, off: p.Off})
			m.Mapped += p.Filesz
		}
	}
	coreSegs := len(m.segs)
	for _, p := range exe.Progs {
		if p.Type == elf.PT_LOAD && p.Filesz > 0 {
			m.segs = append(m.segs, segment{vaddr: p.Vaddr, size: p.Filesz, file: FileExe, off: p.Off})
		}
	}
	// The core's segments first: they override the executable's.
	sort.SliceStable(m.segs[:coreSegs], func(i, j int) bool { return m.segs[i].vaddr < m.segs[j].vaddr })
	d, err := exe.DWARF()
	if err != nil {
		return nil, err
	}
	syms, err := exe.Symbols()
	if err != nil {
		return nil, err
	}
	w := &walker{m: m, d: d, core: core, exe: exe, syms: map[string]elf.Symbol{}, types: map[string]dwarf.Offset{}, vars: map[string]dwarf.Offset{}}
	for _, s := range syms {
		w.syms[s.Name] = s
	}
	if err := w.index(); err != nil {
		m.Close()
		return nil, err
	}
	if err := w.walk(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Close closes the files the Model reads.
func (m *Model) Close() {
	for _, f := range m.files {
		if f != nil {
			f.Close()
		}
	}
}

// ---- reading the unmutated core ----

func (m *Model) locate(addr, n uint64) (segment, bool) {
	for _, s := range m.segs {
		if addr >= s.vaddr && addr+n >= addr && addr+n <= s.vaddr+s.size {
			return s, true
		}
	}
	return segment{}, false
}

type walker struct {
	m     *Model
	d     *dwarf.Data
	core  *elf.File
	exe   *elf.File
	syms  map[string]elf.Symbol
	types map[string]dwarf.Offset
	vars  map[string]dwarf.Offset
	seen  map[string]map[uint64]bool
	kinds map[string]*Kind
}

func (w *walker) read(addr uint64, n int) ([]byte, bool) {
	if addr == 0 || n <= 0 || n > 64<<20 {
		return nil, false
	}
	s, ok := w.m.locate(addr, uint64(n))
	if !ok {
		return nil, false
	}
	f := w.core
	if s.file == FileExe {
		f = w.exe
	}
	buf := make([]byte, n)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Off == s.off && p.Vaddr == s.vaddr {
			if _, err := p.ReadAt(buf, int64(addr-s.vaddr)); err != nil && !errors.Is(err, io.EOF) {
				return nil, false
			}
			return buf, true
		}
	}
	return nil, false
}

func (w *walker) u64(addr uint64) uint64 {
	b, ok := w.read(addr, 8)
	if !ok {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// ---- DWARF ----

func (w *walker) index() error {
	r := w.d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		switch e.Tag {
		case dwarf.TagStructType, dwarf.TagTypedef, dwarf.TagArrayType, dwarf.TagPointerType:
			if _, dup := w.types[name]; name != "" && !dup {
				w.types[name] = e.Offset
			}
		case dwarf.TagVariable:
			if t, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok && name != "" {
				w.vars[name] = t
			}
		}
		if e.Children && e.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
		}
	}
}

func (w *walker) typ(name string) dwarf.Type { return w.typeAt(w.types, name) }

func (w *walker) varType(name string) dwarf.Type { return w.typeAt(w.vars, name) }

// typeAt reads the DWARF type at the offset offs has for name; nil when
// there is none or it does not read.
func (w *walker) typeAt(offs map[string]dwarf.Offset, name string) dwarf.Type {
	off, ok := offs[name]
	if !ok {
		return nil
	}
	t, err := w.d.Type(off)
	if err != nil {
		return nil
	}
	return t
}

func peel(t dwarf.Type) dwarf.Type {
	for {
		td, ok := t.(*dwarf.TypedefType)
		if !ok {
			return t
		}
		t = td.Type
	}
}

// field is the offset and type of a field path ("sched.sp") of a struct.
func field(t dwarf.Type, path string) (int64, dwarf.Type, bool) {
	off := int64(0)
	for _, name := range strings.Split(path, ".") {
		st, ok := peel(t).(*dwarf.StructType)
		if !ok {
			return 0, nil, false
		}
		found := false
		for _, f := range st.Field {
			if f.Name == name {
				off += f.ByteOffset
				t = f.Type
				found = true
				break
			}
		}
		if !found {
			return 0, nil, false
		}
	}
	return off, t, true
}

// leaves flattens a type into its scalar fields; arrays become leaves with
// a count (an array of structs: each of the struct's leaves, strided).
func leaves(t dwarf.Type) []Leaf {
	var out []Leaf
	var walk func(t dwarf.Type, off int64, name string, count, stride int64, depth int)
	walk = func(t dwarf.Type, off int64, name string, count, stride int64, depth int) {
		if depth > 8 || len(out) > 4000 {
			return
		}
		switch tt := peel(t).(type) {
		case *dwarf.StructType:
			for _, f := range tt.Field {
				walk(f.Type, off+f.ByteOffset, name+"."+f.Name, count, stride, depth+1)
			}
		case *dwarf.ArrayType:
			if tt.Count <= 0 {
				return
			}
			es := tt.Type.Size()
			if tt.StrideBitSize > 0 {
				es = tt.StrideBitSize / 8
			}
			if es <= 0 {
				return
			}
			if count > 1 {
				// An array inside an array element: its first element.
				walk(tt.Type, off, name+"[0]", count, stride, depth+1)
				return
			}
			walk(tt.Type, off, name+"[]", tt.Count, es, depth+1)
		default:
			size := t.Size()
			if size != 1 && size != 2 && size != 4 && size != 8 {
				return
			}
			_, isPtr := peel(t).(*dwarf.PtrType)
			out = append(out, Leaf{Name: strings.TrimPrefix(name, "."), Off: off, Size: size, Count: max(count, 1), Stride: stride, Ptr: isPtr})
		}
	}
	walk(t, 0, "", 1, 0, 0)
	return out
}

// ---- the structures ----

// kind returns the Kind called name, creating it with the leaves of t.
func (w *walker) kind(name string, t dwarf.Type) *Kind {
	if k := w.kinds[name]; k != nil {
		return k
	}
	k := &Kind{Name: name}
	if t != nil {
		k.Leaves = leaves(t)
	}
	w.kinds[name] = k
	w.m.Kinds = append(w.m.Kinds, k)
	w.seen[name] = map[uint64]bool{}
	return k
}

// add records an instance; false when it was known (or nil).
func (w *walker) add(k *Kind, addr uint64) bool {
	if addr == 0 || w.seen[k.Name][addr] || len(k.Insts) >= 20000 {
		return false
	}
	w.seen[k.Name][addr] = true
	k.Insts = append(k.Insts, addr)
	return true
}

// KindNames is the order of the kinds: a fuzz input's first byte picks
// one, so it never changes (append only).
var KindNames = []string{
	"vars", "allgs.array", "g", "sudog", "hchan", "semtable", "syncword", "mheap", "allspans.array",
	"mspan", "arenaL2", "heapArena", "special", "finBlock", "cleanupBlock", "labelMap", "labelList",
	"p", "allp.array", "m", "defer", "stack", "timer", "waitReasonStrings", "moduledata",
}

func (w *walker) walk() error {
	w.kinds = map[string]*Kind{}
	w.seen = map[string]map[uint64]bool{}
	gT, sudogT, hchanT := w.typ("runtime.g"), w.typ("runtime.sudog"), w.typ("runtime.hchan")
	if gT == nil || sudogT == nil || hchanT == nil {
		return fmt.Errorf("no runtime.g, runtime.sudog or runtime.hchan in the DWARF")
	}
	// Every kind, in KindNames order, even when empty.
	types := map[string]dwarf.Type{
		"g": gT, "sudog": sudogT, "hchan": hchanT,
		"semtable": w.varType("runtime.semtable"), "mheap": w.varType("runtime.mheap_"),
		"mspan": w.typ("runtime.mspan"), "heapArena": w.typ("runtime.heapArena"),
		"special": w.typ("runtime.special"), "finBlock": firstType(w.typ("runtime.finBlock"), w.typ("runtime.finblock")),
		"cleanupBlock": w.typ("runtime.cleanupBlock"), "labelMap": w.typ("runtime/pprof.labelMap"),
		"p": w.typ("runtime.p"), "m": w.typ("runtime.m"), "defer": w.typ("runtime._defer"),
		"timer": w.typ("runtime.timer"), "waitReasonStrings": w.varType("runtime.waitReasonStrings"),
		"moduledata": w.varType("runtime.firstmoduledata"),
	}
	for _, name := range KindNames {
		w.kind(name, types[name])
	}

	// Package variables hangtui reads, as one instance at address 0.
	vars := w.kinds["vars"]
	w.add(vars, 1)
	vars.Insts[0] = 0
	for _, name := range []string{"runtime.allgs", "runtime.allglen", "runtime.allm", "runtime.allp", "runtime.allfin",
		"runtime.finq", "runtime.fing", "runtime.fingStatus", "runtime.finqueued", "runtime.finexecuted",
		"runtime.gcCleanups", "runtime.semtable", "runtime.mheap_"} {
		s, ok := w.syms[name]
		if !ok {
			continue
		}
		t := w.varType(name)
		if t == nil || name == "runtime.semtable" || name == "runtime.mheap_" {
			// Only the first words of the big ones (the rest are kinds).
			for i := uint64(0); i < min(s.Size, 64)/8; i++ {
				vars.Leaves = append(vars.Leaves, Leaf{Name: fmt.Sprintf("%s+%d", name, 8*i), Off: int64(s.Value + 8*i), Size: 8, Count: 1})
			}
			continue
		}
		for _, l := range leaves(t) {
			l.Name = name + "." + l.Name
			l.Off += int64(s.Value)
			vars.Leaves = append(vars.Leaves, l)
		}
	}

	// allgs and the goroutines.
	var gs []uint64
	if s, ok := w.syms["runtime.allgs"]; ok {
		arr, n := w.u64(s.Value), w.u64(s.Value+8)
		if n < 1<<20 {
			k := w.kinds["allgs.array"]
			w.add(k, arr)
			k.Leaves = []Leaf{{Name: "[]", Size: 8, Count: int64(n), Stride: 8, Ptr: true}}
			for i := uint64(0); i < n; i++ {
				if g := w.u64(arr + 8*i); w.add(w.kinds["g"], g) {
					gs = append(gs, g)
				}
			}
		}
	}
	off := func(t dwarf.Type, path string) uint64 {
		o, _, ok := field(t, path)
		if !ok {
			return 1 << 63
		}
		return uint64(o)
	}
	get := func(addr uint64, t dwarf.Type, path string) uint64 {
		o := off(t, path)
		if o == 1<<63 {
			return 0
		}
		return w.u64(addr + o)
	}
	var sudogs []uint64
	addSudog := func(s uint64) bool {
		if w.add(w.kinds["sudog"], s) {
			sudogs = append(sudogs, s)
			return true
		}
		return false
	}
	for _, g := range gs {
		for s, n := get(g, gT, "waiting"), 0; s != 0 && n < 100 && addSudog(s); n++ {
			s = get(s, sudogT, "waitlink")
		}
		for d, n := get(g, gT, "_defer"), 0; d != 0 && n < 100 && w.add(w.kinds["defer"], d); n++ {
			d = get(d, types["defer"], "link")
		}
		if lm := get(g, gT, "labels"); lm != 0 {
			w.labelMap(lm, types["labelMap"])
		}
		// The live part of the stack, from the saved SP.
		if sp, hi := get(g, gT, "sched.sp"), get(g, gT, "stack.hi"); sp != 0 && hi > sp && hi-sp < 1<<20 {
			w.add(w.kinds["stack"], sp)
		}
	}
	// The semaphore table's treaps.
	if s, ok := w.syms["runtime.semtable"]; ok && types["semtable"] != nil {
		w.add(w.kinds["semtable"], s.Value)
		at, ok := peel(types["semtable"]).(*dwarf.ArrayType)
		if ok && at.Count > 0 {
			stride := at.Type.Size()
			treap := off(at.Type, "root.treap")
			for i := int64(0); i < at.Count && treap != 1<<63; i++ {
				w.treap(w.u64(s.Value+uint64(i*stride)+treap), sudogT, addSudog, 0)
			}
		}
	}
	// Channels of the sudogs, and their queues.
	for i := 0; i < len(sudogs); i++ {
		s := sudogs[i]
		if c := get(s, sudogT, "c"); c != 0 && w.add(w.kinds["hchan"], c) {
			for _, q := range []string{"recvq.first", "sendq.first"} {
				for x, n := get(c, hchanT, q), 0; x != 0 && n < 1000; n++ {
					addSudog(x)
					x = get(x, sudogT, "next")
				}
			}
		}
		// The sync object around a semaphore (sudog.elem is its address).
		if e := get(s, sudogT, "elem"); e != 0 && get(s, sudogT, "c") == 0 {
			k := w.kinds["syncword"]
			if w.add(k, e) && len(k.Leaves) == 0 {
				k.Leaves = []Leaf{{Name: "sema-16", Off: -16, Size: 8, Count: 1}, {Name: "sema-8", Off: -8, Size: 8, Count: 1},
					{Name: "sema-4", Off: -4, Size: 4, Count: 1}, {Name: "sema", Off: 0, Size: 4, Count: 1}, {Name: "sema+4", Off: 4, Size: 4, Count: 1}}
			}
		}
	}
	// The heap.
	if s, ok := w.syms["runtime.mheap_"]; ok && types["mheap"] != nil {
		mh := types["mheap"]
		w.add(w.kinds["mheap"], s.Value)
		if o := off(mh, "allspans"); o != 1<<63 {
			arr, n := w.u64(s.Value+o), w.u64(s.Value+o+8)
			if n < 1<<20 {
				k := w.kinds["allspans.array"]
				w.add(k, arr)
				k.Leaves = []Leaf{{Name: "[]", Size: 8, Count: int64(n), Stride: 8, Ptr: true}}
				for i := uint64(0); i < n; i++ {
					sp := w.u64(arr + 8*i)
					if w.add(w.kinds["mspan"], sp) && types["mspan"] != nil {
						for x, c := get(sp, types["mspan"], "specials"), 0; x != 0 && c < 1000 && w.add(w.kinds["special"], x); c++ {
							x = get(x, types["special"], "next")
						}
					}
				}
			}
		}
		if o := off(mh, "arenas"); o != 1<<63 {
			if l2 := w.u64(s.Value + o); l2 != 0 {
				k := w.kinds["arenaL2"]
				w.add(k, l2)
				// The L2 entries in use and their neighbours, found a page
				// of the array at a time (most of it is not in the core).
				for _, sg := range w.m.segs {
					if sg.file != FileCore || sg.vaddr+sg.size <= l2 || sg.vaddr >= l2+(1<<22)*8 {
						continue
					}
					lo, hi := max(sg.vaddr, l2), min(sg.vaddr+sg.size, l2+(1<<22)*8)
					b, ok := w.read(lo, int(hi-lo))
					if !ok {
						continue
					}
					for i := 0; i+8 <= len(b); i += 8 {
						if a := binary.LittleEndian.Uint64(b[i:]); a != 0 {
							idx := int64(lo-l2)/8 + int64(i/8)
							for _, d := range []int64{-1, 0, 1} {
								k.Leaves = append(k.Leaves, Leaf{Name: fmt.Sprintf("[%d]", idx+d), Off: (idx + d) * 8, Size: 8, Count: 1, Ptr: true})
							}
							w.add(w.kinds["heapArena"], a)
						}
					}
				}
			}
		}
	}
	// Finalizer blocks: allfin's list and finq's.
	fb := types["finBlock"]
	for _, v := range []string{"runtime.allfin", "runtime.finq"} {
		s, ok := w.syms[v]
		if !ok || fb == nil {
			continue
		}
		link := "alllink"
		if v == "runtime.finq" {
			link = "next"
		}
		for b, n := w.u64(s.Value), 0; b != 0 && n < 1000; n++ {
			w.add(w.kinds["finBlock"], b)
			b = get(b, fb, link)
		}
	}
	// Cleanup blocks (Go 1.25+).
	if s, ok := w.syms["runtime.gcCleanups"]; ok && types["cleanupBlock"] != nil {
		cq := w.varType("runtime.gcCleanups")
		link := "cleanupBlockHeader.alllink"
		if off(types["cleanupBlock"], link) == 1<<63 {
			link = "alllink"
		}
		for b, n := get(s.Value, cq, "all"), 0; b != 0 && n < 1000 && w.add(w.kinds["cleanupBlock"], b); n++ {
			b = get(b, types["cleanupBlock"], link)
		}
	}
	// Ps and their timers.
	if s, ok := w.syms["runtime.allp"]; ok && types["p"] != nil {
		arr, n := w.u64(s.Value), w.u64(s.Value+8)
		if n < 1<<16 {
			k := w.kinds["allp.array"]
			w.add(k, arr)
			k.Leaves = []Leaf{{Name: "[]", Size: 8, Count: int64(n), Stride: 8, Ptr: true}}
			for i := uint64(0); i < n; i++ {
				p := w.u64(arr + 8*i)
				if !w.add(w.kinds["p"], p) {
					continue
				}
				if o := off(types["p"], "timers.heap"); o != 1<<63 {
					ta, tn := w.u64(p+o), w.u64(p+o+8)
					for j := uint64(0); j < tn && j < 1000; j++ {
						w.add(w.kinds["timer"], w.u64(ta+16*j))
					}
				}
			}
		}
	}
	// Threads.
	if s, ok := w.syms["runtime.allm"]; ok && types["m"] != nil {
		for m, n := w.u64(s.Value), 0; m != 0 && n < 1000 && w.add(w.kinds["m"], m); n++ {
			m = get(m, types["m"], "alllink")
		}
	}
	for _, v := range []string{"waitReasonStrings", "moduledata"} {
		name := map[string]string{"waitReasonStrings": "runtime.waitReasonStrings", "moduledata": "runtime.firstmoduledata"}[v]
		if s, ok := w.syms[name]; ok {
			w.add(w.kinds[v], s.Value)
			w.kinds[v].OpenTime = true
		}
	}
	// Stacks: words from the saved SP up, at most 512.
	stk := w.kinds["stack"]
	stk.Leaves = []Leaf{{Name: "word", Size: 8, Count: 512, Stride: 8}}
	return nil
}

// treap adds the sudogs of a semaRoot treap: each node, its wait list and
// its children.
func (w *walker) treap(node uint64, sudogT dwarf.Type, add func(uint64) bool, depth int) {
	if node == 0 || depth > 64 || !add(node) {
		return
	}
	get := func(a uint64, path string) uint64 {
		o, _, ok := field(sudogT, path)
		if !ok {
			return 0
		}
		return w.u64(a + uint64(o))
	}
	for s, n := get(node, "waitlink"), 0; s != 0 && n < 1000 && add(s); n++ {
		s = get(s, "waitlink")
	}
	w.treap(get(node, "prev"), sudogT, add, depth+1)
	w.treap(get(node, "next"), sudogT, add, depth+1)
}

// labelMap adds a g.labels labelMap and its list of labels.
func (w *walker) labelMap(lm uint64, t dwarf.Type) {
	if t == nil || !w.add(w.kinds["labelMap"], lm) {
		return
	}
	for _, list := range []string{"Set.List", "LabelSet.list", "list", "List"} {
		o, lt, ok := field(t, list)
		if !ok {
			continue
		}
		st, ok := peel(lt).(*dwarf.StructType) // a slice: array, len, cap
		if !ok || len(st.Field) < 2 {
			return
		}
		arr, n := w.u64(lm+uint64(o)), w.u64(lm+uint64(o)+8)
		elem, ok := peel(st.Field[0].Type).(*dwarf.PtrType)
		if !ok || n == 0 || n > 1<<16 {
			return
		}
		k := w.kinds["labelList"]
		if w.add(k, arr) && len(k.Leaves) == 0 {
			for _, l := range leaves(elem.Type) {
				l.Count, l.Stride = 1<<16, elem.Type.Size()
				k.Leaves = append(k.Leaves, l)
			}
		}
		return
	}
}

func firstType(ts ...dwarf.Type) dwarf.Type {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return nil
}

// ---- mutations ----

// record is one mutation of a fuzz input, recordSize bytes: kind,
// instance (2), leaf (2), element (2), value kind, value argument (2).
const recordSize = 10

// Mutations turns a fuzz input into patches: its first byte says how many
// mutations (1 to 4), the records after it which. Records that land on
// memory the files do not hold are dropped. fresh reports that a patch
// touches a structure read when the core is opened.
func (m *Model) Mutations(input []byte) (patches []Patch, fresh bool) {
	if len(input) == 0 {
		return nil, false
	}
	n := 1 + int(input[0])%4
	input = input[1:]
	for i := 0; i < n; i++ {
		var rec [recordSize]byte
		copy(rec[:], input[min(len(input), i*recordSize):])
		p, k, ok := m.mutation(rec)
		if !ok {
			continue
		}
		patches = append(patches, p)
		fresh = fresh || k.OpenTime
	}
	return patches, fresh
}

func (m *Model) mutation(rec [recordSize]byte) (Patch, *Kind, bool) {
	u16 := func(i int) uint64 { return uint64(binary.LittleEndian.Uint16(rec[i:])) }
	k := m.Kinds[pick(uint64(rec[0]), len(m.Kinds))]
	if len(k.Insts) == 0 || len(k.Leaves) == 0 {
		return Patch{}, nil, false
	}
	inst := k.Insts[pick(u16(1), len(k.Insts))]
	leaf := k.Leaves[pick(u16(3), len(k.Leaves))]
	idx := int64(element(u16(5), leaf.Count))
	addr := inst + uint64(leaf.Off+idx*leaf.Stride)
	size := uint64(leaf.Size)
	s, ok := m.locate(addr, size)
	if !ok {
		return Patch{}, nil, false
	}
	old := m.readPlain(s, addr, size)
	vk, arg := rec[7], u16(8)
	v, what := m.value(vk, arg, inst, addr, old, rec)
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, v)
	if size < 8 {
		v &= 1<<(8*size) - 1
	}
	desc := fmt.Sprintf("%s %#x %s", k.Name, inst, leaf.Name)
	if leaf.Count > 1 {
		desc += fmt.Sprintf(" #%d", idx)
	}
	return Patch{File: s.file, Off: int64(s.off + addr - s.vaddr), New: b[:size],
		Desc: fmt.Sprintf("%s = %#x (%s, was %#x)", desc, v, what, old)}, k, true
}

// readPlain reads a value of the unmutated files.
func (m *Model) readPlain(s segment, addr, size uint64) uint64 {
	b := make([]byte, 8)
	_, _ = m.files[s.file].ReadAt(b[:size], int64(s.off+addr-s.vaddr))
	return binary.LittleEndian.Uint64(b)
}

// pick maps a selector of the input to one of n choices. The selector is
// mixed first: the fuzzer's favourite bytes (0, 1, 0xff, ...) would
// otherwise always pick the same few structures.
func pick(v uint64, n int) int {
	v ^= v >> 33
	v *= 0xff51afd7ed558ccd
	v ^= v >> 33
	v *= 0xc4ceb9fe1a85ec53
	v ^= v >> 33
	return int(v % uint64(n))
}

// element picks an element of an array of count: mostly one of the first
// 64 (where the data is), any when the selector's top bit is set.
func element(e uint64, count int64) int {
	if count <= 1 {
		return 0
	}
	if e&0x8000 != 0 {
		return pick(e, int(count))
	}
	return pick(e, int(min(count, 64)))
}

// Encode is the record that mutates element elem of leaf leaf of instance
// inst of kind kind to value kind vk with argument arg (for seeds).
func (m *Model) Encode(kind, inst, leaf, elem int, vk byte, arg uint16) ([]byte, bool) {
	if kind >= len(m.Kinds) {
		return nil, false
	}
	k := m.Kinds[kind]
	if inst >= len(k.Insts) || leaf >= len(k.Leaves) || int64(elem) >= k.Leaves[leaf].Count {
		return nil, false
	}
	find := func(limit int, ok func(v uint64) bool) (uint64, bool) {
		for v := 0; v < limit; v++ {
			if ok(uint64(v)) {
				return uint64(v), true
			}
		}
		return 0, false
	}
	kb, ok1 := find(256, func(v uint64) bool { return pick(v, len(m.Kinds)) == kind })
	ib, ok2 := find(1<<16, func(v uint64) bool { return pick(v, len(k.Insts)) == inst })
	lb, ok3 := find(1<<16, func(v uint64) bool { return pick(v, len(k.Leaves)) == leaf })
	eb, ok4 := find(1<<16, func(v uint64) bool { return element(v, k.Leaves[leaf].Count) == elem })
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, false
	}
	return []byte{byte(kb), byte(ib), byte(ib >> 8), byte(lb), byte(lb >> 8), byte(eb), byte(eb >> 8), vk, byte(arg), byte(arg >> 8)}, true
}

// value is the new value of a mutation, and what it is.
func (m *Model) value(vk byte, arg, inst, addr, old uint64, rec [recordSize]byte) (uint64, string) {
	switch vk % 16 {
	case 0:
		return 0, "zero"
	case 1:
		return ^uint64(0), "all ones"
	case 2:
		return 1 << 62, "huge"
	case 3:
		return []uint64{1 << 31, 1<<31 - 1, 50_000_000, 1 << 32, 1 << 40, 100_000_001, 1 << 24, 1 << 20}[arg%8], "large count"
	case 4:
		return inst, "self pointer"
	case 5:
		return addr, "pointer to the field"
	case 6, 13:
		k := m.Kinds[int(arg>>8)%len(m.Kinds)]
		if len(k.Insts) == 0 || k.Name == "vars" {
			return inst, "self pointer"
		}
		o := k.Insts[int(arg&0xff)%len(k.Insts)]
		if vk%16 == 13 {
			return o + (arg&0x3f)*8, "into another " + k.Name
		}
		return o, "another " + k.Name
	case 7:
		return old + uint64(int64(int8(arg))), "off by a little"
	case 8:
		return old ^ 1<<(arg%64), "a bit flipped"
	case 9:
		return 0xdead_0000_0000 + arg*8, "unmapped"
	case 10:
		s := m.segs[int(arg)%len(m.segs)]
		return s.vaddr + s.size - (arg>>8)%16*8, "the end of a segment"
	case 11:
		h := uint64(0x9e3779b97f4a7c15)
		for _, c := range rec {
			h = (h ^ uint64(c)) * 0xbf58476d1ce4e5b9
			h ^= h >> 31
		}
		return h, "random"
	case 12:
		return arg % 16, "small"
	case 14:
		return 0x1000 + arg, "low address"
	}
	return 0xffff_8000_0000_0000 | arg<<3, "kernel address"
}

// Describe lists the kinds with their instance and leaf counts.
func (m *Model) Describe() string {
	var b strings.Builder
	for _, k := range m.Kinds {
		fmt.Fprintf(&b, "%s: %d instances, %d fields", k.Name, len(k.Insts), len(k.Leaves))
		if k.OpenTime {
			b.WriteString(" (read at open)")
		}
		b.WriteString("\n")
	}
	return b.String()
}
