package target

// Goroutines' pprof labels, read from raw memory for all goroutines at once.
//
// runtime.g.labels points at a runtime/pprof.labelMap, which pprof.WithLabels
// makes and never changes afterwards (new labels make a new labelMap).
// SetGoroutineLabels stores the pointer, and a new goroutine inherits its
// creator's, so goroutines started under one label context share one
// labelMap: each distinct pointer is read once per snapshot and the
// goroutines that have it share the resulting map.
//
// The labelMap's shape depends on the Go release (the layouts themselves
// come from the target's DWARF):
//
//	Go 1.22, 1.23  labelMap map[string]string: a classic runtime hashmap
//	               (g.labels points at the map variable, a *hmap)
//	Go 1.24, 1.25  labelMap struct{ LabelSet }, LabelSet{ list []label },
//	               label{ key, value string }
//	Go 1.26+       labelMap struct{ label.Set }, label.Set{ List []Label },
//	               Label{ Key, Value string } (internal/runtime/pprof/label)
//
// Reads are batched by level (labelMaps, then lists or hmaps, then buckets
// and overflow buckets, then strings), each level in a few process_vm_readv
// calls for all label maps together. Only when the target's labelMap has
// none of these shapes does Delve read the labels, once per distinct
// pointer.
//
// Memory is trusted no further than it must be: at most maxLabels labels
// per goroutine (as Delve), strings of at most maxLabelString bytes, a
// hashmap's bucket count no larger than its count implies, overflow chains
// capped, and all the bytes read for labels in one snapshot capped by
// labelBudget. What does not check out reads as no labels (an empty map,
// as Delve gives for a labelMap it cannot read), or, for one unreadable
// key or value, as a missing entry (Delve skips those too).

import (
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/proc"
)

const (
	maxLabels      = 1_000   // labels per goroutine, at most (Delve's maxGoroutinesLabelEntries)
	maxLabelString = 1 << 20 // bytes in one label key or value, at most

	// The classic runtime hashmap (runtime/map.go, Go 1.12 to 1.23).
	hmapMinTopHash   = 5   // smaller tophash values: empty or evacuated cells
	hmapEvacuatedX   = 2   // tophash[0] from evacuatedX to evacuatedEmpty: an
	hmapEvacuatedMax = 4   // old bucket whose entries have moved
	hmapSameSizeGrow = 8   // hmap.flags: oldbuckets are as many as buckets
	hmapMaxBuckets   = 512 // buckets read per array, at most: more than maxLabels entries need
)

// labelBudget is how many bytes are read for labels in one snapshot, at
// most (a variable for tests).
var labelBudget int64 = 256 << 20

type labelsKind uint8

const (
	labelsUnknown labelsKind = iota
	labelsList               // Go 1.24+: a slice of key/value pairs
	labelsHashmap            // Go 1.22, 1.23: map[string]string
)

// labelsLayout is how the target's runtime/pprof keeps a goroutine's labels.
type labelsLayout struct {
	kind labelsKind
	why  string // for labelsUnknown, why (for tests)

	ptrSize int64

	// labelsList: the labelMap's list slice and its elements.
	listPtr, listLen         field
	hdrSize                  int64 // bytes of labelMap that hold the slice header
	elemSize                 int64
	key, keyLen, val, valLen field // in an element

	// labelsHashmap: the hmap, its buckets, and the string headers in
	// them.
	hCount, hFlags, hB, hBuckets, hOldbuckets field
	hSize                                     int64
	bTophash, bKeys, bVals                    int64 // offsets of the arrays in a bucket
	slots                                     int64 // cells per bucket
	kStride, vStride                          int64
	bOverflow                                 field
	bSize                                     int64
	strPtr, strLen                            field // in a string header
}

// loadLabelsLayout reads the labelMap's shape from the target's DWARF.
func loadLabelsLayout(bi *proc.BinaryInfo) *labelsLayout {
	ll := &labelsLayout{ptrSize: int64(bi.Arch.PtrSize())}
	typ, err := bi.FindType("runtime/pprof.labelMap")
	if err != nil {
		ll.why = "no runtime/pprof.labelMap in the debug info"
		return ll
	}
	typ = peel(typ)
	if mt, ok := typ.(*godwarf.MapType); ok {
		ll.loadHashmap(mt)
		return ll
	}
	lm := layoutOf(typ)
	if lm == nil {
		ll.why = "runtime/pprof.labelMap is neither a struct nor a map"
		return ll
	}
	var list string
	for _, p := range []string{"Set.List", "LabelSet.list", "list", "List"} {
		if lm.FieldType(p) != nil {
			list = p
			break
		}
	}
	st := sliceOf(lm.FieldType(list))
	if st == nil {
		ll.why = "runtime/pprof.labelMap holds no list of labels"
		return ll
	}
	el := layoutOf(st.ElemType)
	ll.listPtr, ll.listLen = lm.Field(list+".array"), lm.Field(list+".len")
	ll.key, ll.keyLen = firstOK(el.Field("Key.str"), el.Field("key.str")), firstOK(el.Field("Key.len"), el.Field("key.len"))
	ll.val, ll.valLen = firstOK(el.Field("Value.str"), el.Field("value.str")), firstOK(el.Field("Value.len"), el.Field("value.len"))
	if el != nil {
		ll.elemSize = el.Size
	}
	ll.hdrSize = max(ll.listPtr.Off+ll.listPtr.Size, ll.listLen.Off+ll.listLen.Size)
	for _, f := range []field{ll.listPtr, ll.listLen, ll.key, ll.keyLen, ll.val, ll.valLen} {
		if !f.OK {
			ll.why = "runtime/pprof.labelMap: no field " + f.Name
			return ll
		}
	}
	if ll.elemSize <= 0 || ll.hdrSize > lm.Size {
		ll.why = "runtime/pprof.labelMap: implausible sizes"
		return ll
	}
	ll.kind = labelsList
	return ll
}

// loadHashmap reads a map[string]string's hmap and bucket layouts: the
// linker describes them as hash<string,string> and bucket<string,string>.
func (ll *labelsLayout) loadHashmap(mt *godwarf.MapType) {
	ll.why = "runtime/pprof.labelMap: not a classic map[string]string"
	if !isString(mt.KeyType) || !isString(mt.ElemType) {
		return
	}
	pt, ok := peel(mt.TypedefType.Type).(*godwarf.PtrType)
	if !ok {
		return
	}
	h := layoutOf(pt.Type)
	if h == nil {
		return
	}
	ll.hCount, ll.hFlags, ll.hB = h.Field("count"), h.Field("flags"), h.Field("B")
	ll.hBuckets, ll.hOldbuckets = h.Field("buckets"), h.Field("oldbuckets")
	ll.hSize = h.Size
	bp, ok := peel(h.FieldType("buckets")).(*godwarf.PtrType)
	if !ok { // a swiss table (GOEXPERIMENT=swissmap on Go 1.23) has none
		return
	}
	b := layoutOf(bp.Type)
	if b == nil {
		return
	}
	ll.bSize = b.Size
	ll.bOverflow = b.Field("overflow")
	th, thOK := arrayOf(b, "tophash")
	ks, ksOK := arrayOf(b, "keys")
	vs, vsOK := arrayOf(b, "values")
	if !thOK || !ksOK || !vsOK || th.count != ks.count || th.count != vs.count || th.stride != 1 || th.count <= 0 {
		return
	}
	ll.bTophash, ll.bKeys, ll.bVals = th.off, ks.off, vs.off
	ll.slots, ll.kStride, ll.vStride = th.count, ks.stride, vs.stride
	str := layoutOf(ks.elem)
	ll.strPtr, ll.strLen = str.Field("str"), str.Field("len")
	for _, f := range []field{ll.hCount, ll.hFlags, ll.hB, ll.hBuckets, ll.hOldbuckets, ll.bOverflow, ll.strPtr, ll.strLen} {
		if !f.OK {
			return
		}
	}
	if ll.bVals+ll.slots*ll.vStride > ll.bSize || ll.bKeys+ll.slots*ll.kStride > ll.bSize || ll.bOverflow.Off+ll.bOverflow.Size > ll.bSize {
		return
	}
	ll.why = ""
	ll.kind = labelsHashmap
}

// peel strips typedefs (named types), keeping maps, slices and strings as
// such (resolve in layout.go turns the latter two into structs).
func peel(t godwarf.Type) godwarf.Type {
	for {
		td, ok := t.(*godwarf.TypedefType)
		if !ok {
			return t
		}
		t = td.Type
	}
}

func isString(t godwarf.Type) bool {
	_, ok := peel(t).(*godwarf.StringType)
	return ok
}

func sliceOf(t godwarf.Type) *godwarf.SliceType {
	st, _ := peel(t).(*godwarf.SliceType)
	return st
}

// arrayLayout is where an array field is and how its elements are laid out.
type arrayLayout struct {
	off, count, stride int64
	elem               godwarf.Type
}

func arrayOf(s *structLayout, path string) (arrayLayout, bool) {
	off, t, ok := s.walk(path)
	if !ok {
		return arrayLayout{}, false
	}
	at, ok := peel(t).(*godwarf.ArrayType)
	if !ok || at.Count <= 0 {
		return arrayLayout{}, false
	}
	stride := at.StrideBitSize / 8
	if stride <= 0 {
		stride = at.Type.Size()
	}
	if stride <= 0 {
		return arrayLayout{}, false
	}
	return arrayLayout{off: off, count: at.Count, stride: stride, elem: at.Type}, true
}

// labelsLayout returns the target's labelsLayout, read on first use (it
// only depends on the binary).
func (t *Target) labelsLayout() *labelsLayout {
	u := t.unwinder()
	if u.labelsLay == nil {
		u.labelsLay = loadLabelsLayout(t.bi)
	}
	return u.labelsLay
}

// readLabels sets the Labels of every goroutine in gs. Goroutines with the
// same labels pointer get the same map, which must not be modified; the
// maps are kept by pointer until ClearCaches. It returns a warning when
// labels were left out to stay within labelBudget.
func (t *Target) readLabels(gs []*G) (warning string) {
	if !t.lay.gLabels.OK {
		// No g.labels field to read: only what Delve already knows.
		for _, g := range gs {
			if g.dg != nil {
				g.Labels = g.dg.Labels()
			}
		}
		return
	}
	// The goroutines by labels pointer.
	byPtr := make([]indexedRef, 0, len(gs))
	for i, g := range gs {
		if p := g.regs.labels; p != 0 {
			byPtr = append(byPtr, indexedRef{addr: p, i: int32(i)})
		}
	}
	byPtr = sortByAddr(byPtr)
	// The distinct pointers not read yet in this snapshot, and a goroutine
	// that has each (for Delve).
	c := &t.snap.labelMaps
	distinct := 0
	for k := range byPtr {
		if k == 0 || byPtr[k].addr != byPtr[k-1].addr {
			distinct++
		}
	}
	ptrs := make([]uint64, 0, distinct)
	reps := make([]*G, 0, distinct)
	for k, j := 0, 0; k < len(byPtr); k++ {
		p := byPtr[k].addr
		if k > 0 && p == byPtr[k-1].addr {
			continue
		}
		for j < len(c.ptrs) && c.ptrs[j] < p {
			j++
		}
		if j == len(c.ptrs) || c.ptrs[j] != p {
			ptrs, reps = append(ptrs, p), append(reps, gs[byPtr[k].i])
		}
	}
	if len(ptrs) > 0 {
		var maps []map[string]string
		switch ll := t.labelsLayout(); ll.kind {
		case labelsList, labelsHashmap:
			var over bool
			maps, over = t.readLabelMaps(ll, ptrs)
			if over {
				warning = fmt.Sprintf("pprof labels: more than %d MiB of them; some goroutines' labels were left out", labelBudget>>20)
			}
		default:
			// Once per distinct pointer, not per goroutine.
			maps = make([]map[string]string, len(ptrs))
			for i, g := range reps {
				if dg, err := t.delveG(g); err == nil {
					maps[i] = dg.Labels()
				}
			}
		}
		c.add(ptrs, maps)
	}
	for k, j := 0, 0; k < len(byPtr); k++ {
		p := byPtr[k].addr
		for c.ptrs[j] < p { // every pointer is in the cache now
			j++
		}
		gs[byPtr[k].i].Labels = c.maps[j]
	}
	return warning
}

// labelCache is the label maps read in one snapshot, by labels pointer.
type labelCache struct {
	ptrs []uint64 // sorted
	maps []map[string]string
}

// add merges sorted pointers not in the cache, with their maps.
func (c *labelCache) add(ptrs []uint64, maps []map[string]string) {
	if len(c.ptrs) == 0 {
		c.ptrs, c.maps = ptrs, maps
		return
	}
	n := len(c.ptrs) + len(ptrs)
	np, nm := make([]uint64, 0, n), make([]map[string]string, 0, n)
	i, j := 0, 0
	for i < len(c.ptrs) || j < len(ptrs) {
		if j == len(ptrs) || (i < len(c.ptrs) && c.ptrs[i] < ptrs[j]) {
			np, nm = append(np, c.ptrs[i]), append(nm, c.maps[i])
			i++
		} else {
			np, nm = append(np, ptrs[j]), append(nm, maps[j])
			j++
		}
	}
	c.ptrs, c.maps = np, nm
}

// labelReader reads many labelMaps of one layout together.
type labelReader struct {
	t      *Target
	ll     *labelsLayout
	budget int64
	over   bool // the budget refused something
	// ents are the key/value pairs found, for all maps; old marks those
	// found in a hashmap's oldbuckets, which newer entries override.
	ents []labelEnt
	strs labelStrings
}

type labelEnt struct {
	m    int32 // index of the map
	k, v int32 // in strs
	old  bool
}

// presize makes room for the entries the headers announce (but not for
// millions: they may be lying).
func (r *labelReader) presize(entries int) {
	entries = min(entries, 1<<20)
	r.ents = make([]labelEnt, 0, entries)
	r.strs.refs = make([]strRef, 0, entries) // keys mostly come from r.strs.recent
}

// take reserves n bytes of the reading budget.
func (r *labelReader) take(n int64) bool {
	if n < 0 {
		return false
	}
	if n > r.budget {
		r.over = true
		return false
	}
	r.budget -= n
	return true
}

// plausible reports whether n bytes at addr can be a user-space object.
func plausible(addr, n uint64) bool {
	return addr >= 4096 && addr+n >= addr && addr+n <= 1<<57
}

// readLabelMaps reads the labelMaps at ptrs: one map per pointer, never
// nil. over reports that labelBudget left some labels out.
func (t *Target) readLabelMaps(ll *labelsLayout, ptrs []uint64) (maps []map[string]string, over bool) {
	// No more than the target has memory.
	r := &labelReader{t: t, ll: ll, budget: min(labelBudget, int64(min(t.memTotal(), 1<<62)))}
	if ll.kind == labelsList {
		r.lists(ptrs)
	} else {
		r.hashmaps(ptrs)
	}
	r.strs.read(t, r.take)
	count := make([]int32, len(ptrs))
	for _, e := range r.ents {
		count[e.m]++
	}
	maps = make([]map[string]string, len(ptrs))
	for pass := 0; pass < 2; pass++ { // old entries first: newer ones win
		for _, e := range r.ents {
			if e.old != (pass == 0) {
				continue
			}
			k, ok1 := r.strs.get(e.k)
			v, ok2 := r.strs.get(e.v)
			if !ok1 || !ok2 {
				continue // as Delve, which skips unreadable pairs
			}
			if maps[e.m] == nil {
				maps[e.m] = make(map[string]string, count[e.m])
			}
			maps[e.m][k] = v
		}
	}
	// The rest are empty: one map for all (they are read-only).
	empty := map[string]string{}
	for i := range maps {
		if maps[i] == nil {
			maps[i] = empty
		}
	}
	return maps, r.over
}

// lists reads Go 1.24+ labelMaps: headers, then lists.
func (r *labelReader) lists(ptrs []uint64) {
	ll := r.ll
	type list struct {
		m    int32
		addr uint64
		n    int
	}
	lists := make([]list, 0, len(ptrs))
	hdr := make([]uint64, 0, len(ptrs))
	idx := make([]int32, 0, len(ptrs))
	for i, p := range ptrs {
		if plausible(p, uint64(ll.hdrSize)) && r.take(ll.hdrSize) {
			hdr, idx = append(hdr, p), append(idx, int32(i))
		}
	}
	r.t.readEach(hdr, int(ll.hdrSize), func(i int, buf []byte) {
		addr, n := get(buf, ll.listPtr), int64(get(buf, ll.listLen))
		if n <= 0 {
			return // Delve reads a negative length as 0
		}
		n = min(n, maxLabels)
		size := n * ll.elemSize
		if plausible(addr, uint64(size)) && r.take(size) {
			lists = append(lists, list{m: idx[i], addr: addr, n: int(n)})
		}
	})
	addrs := make([]uint64, len(lists))
	sizes := make([]int, len(lists))
	total := 0
	for i, l := range lists {
		addrs[i], sizes[i] = l.addr, l.n*int(ll.elemSize)
		total += l.n
	}
	r.presize(total)
	r.t.readEachSized(addrs, sizes, 0, func(i int, buf []byte) {
		m := lists[i].m
		for j := 0; j < lists[i].n; j++ {
			e := buf[int64(j)*ll.elemSize : int64(j+1)*ll.elemSize]
			k := r.str(get(e, ll.key), get(e, ll.keyLen))
			v := r.str(get(e, ll.val), get(e, ll.valLen))
			r.ents = append(r.ents, labelEnt{m: m, k: k, v: v})
		}
	})
}

// hashmaps reads Go 1.22/1.23 labelMaps: map variables, hmaps, bucket
// arrays, then overflow buckets level by level.
func (r *labelReader) hashmaps(ptrs []uint64) {
	ll := r.ll
	ps := int(ll.ptrSize)
	// The map variables: each holds the *hmap.
	hmaps := make([]uint64, 0, len(ptrs))
	hidx := make([]int32, 0, len(ptrs))
	vars := make([]uint64, 0, len(ptrs))
	vidx := make([]int32, 0, len(ptrs))
	for i, p := range ptrs {
		if plausible(p, uint64(ps)) && r.take(int64(ps)) {
			vars, vidx = append(vars, p), append(vidx, int32(i))
		}
	}
	r.t.readEach(vars, ps, func(i int, buf []byte) {
		if h := decodeUint(buf); plausible(h, uint64(ll.hSize)) && r.take(ll.hSize) {
			hmaps, hidx = append(hmaps, h), append(hidx, vidx[i])
		}
	})
	// The hmaps: which bucket arrays to read.
	type bucketArray struct {
		m    int32
		addr uint64
		n    int // buckets
		old  bool
	}
	arrays := make([]bucketArray, 0, len(hmaps))
	total := 0 // entries the hmaps announce
	type mapState struct {
		entries, overflows, maxOverflows int
	}
	state := make([]mapState, len(ptrs))
	r.t.readEach(hmaps, int(ll.hSize), func(i int, buf []byte) {
		m := hidx[i]
		count := int64(get(buf, ll.hCount))
		if count <= 0 {
			return
		}
		b := get(buf, ll.hB)
		if b > uint64(hmapMaxB(uint64(count))+1) {
			return // more buckets than count entries need: not a label map
		}
		nb := min(uint64(1)<<b, hmapMaxBuckets)
		nold := nb
		if b > 0 && get(buf, ll.hFlags)&hmapSameSizeGrow == 0 {
			nold = min(uint64(1)<<(b-1), hmapMaxBuckets)
		}
		state[m].maxOverflows = int(min(count, maxLabels)) + 8
		total += int(min(count, maxLabels))
		if old := get(buf, ll.hOldbuckets); old != 0 {
			size := nold * uint64(ll.bSize)
			if plausible(old, size) && r.take(int64(size)) {
				arrays = append(arrays, bucketArray{m: m, addr: old, n: int(nold), old: true})
			}
		}
		size := nb * uint64(ll.bSize)
		if bk := get(buf, ll.hBuckets); plausible(bk, size) && r.take(int64(size)) {
			arrays = append(arrays, bucketArray{m: m, addr: bk, n: int(nb)})
		}
	})
	// The bucket arrays, then each level of overflow buckets.
	type overflow struct {
		m   int32
		old bool
	}
	var next []uint64
	var nextOf []overflow
	bucket := func(m int32, old bool, b []byte) {
		st := &state[m]
		th := b[ll.bTophash : ll.bTophash+ll.slots]
		if old && th[0] >= hmapEvacuatedX && th[0] <= hmapEvacuatedMax {
			return // evacuated: its entries are in the new buckets
		}
		for j := int64(0); j < ll.slots && st.entries < maxLabels; j++ {
			if th[j] < hmapMinTopHash {
				continue
			}
			kh := b[ll.bKeys+j*ll.kStride:]
			vh := b[ll.bVals+j*ll.vStride:]
			k := r.str(get(kh, ll.strPtr), get(kh, ll.strLen))
			v := r.str(get(vh, ll.strPtr), get(vh, ll.strLen))
			r.ents = append(r.ents, labelEnt{m: m, k: k, v: v, old: old})
			st.entries++
		}
		if ov := get(b, ll.bOverflow); ov != 0 && st.entries < maxLabels && st.overflows < st.maxOverflows &&
			plausible(ov, uint64(ll.bSize)) && r.take(ll.bSize) {
			st.overflows++
			next, nextOf = append(next, ov), append(nextOf, overflow{m, old})
		}
	}
	addrs := make([]uint64, len(arrays))
	sizes := make([]int, len(arrays))
	for i, a := range arrays {
		addrs[i], sizes[i] = a.addr, a.n*int(ll.bSize)
	}
	r.presize(total)
	r.t.readEachSized(addrs, sizes, 0, func(i int, buf []byte) {
		a := arrays[i]
		for j := 0; j < a.n; j++ {
			bucket(a.m, a.old, buf[int64(j)*ll.bSize:int64(j+1)*ll.bSize])
		}
	})
	// Each chain is capped by its map's maxOverflows, so this ends even
	// for a cycle.
	for len(next) > 0 {
		cur, curOf := next, nextOf
		next, nextOf = nil, nil
		r.t.readEach(cur, int(ll.bSize), func(i int, buf []byte) {
			bucket(curOf[i].m, curOf[i].old, buf)
		})
	}
}

// hmapMaxB is the B (log2 of the bucket count) of a map of count entries
// that grew by insertion: the smallest B it is not overloaded at
// (overLoadFactor in runtime/map.go: more than 8 entries and more than 6.5
// per bucket). make(map, hint) with a hint at most count gives no more.
func hmapMaxB(count uint64) uint8 {
	var b uint8
	for count > 8 && count > 13*(uint64(1)<<b)/2 && b < 63 {
		b++
	}
	return b
}

// str registers a string to read: its index in r.strs, or a sentinel for
// "" and for strings that cannot be read.
func (r *labelReader) str(addr, n uint64) int32 {
	if n == 0 {
		return strEmpty
	}
	if n > maxLabelString || !plausible(addr, n) {
		return strBad
	}
	// The same key in every label map is one ref: a cache of recent
	// strings saves most of the sorting in labelStrings.read.
	c := &r.strs.recent[addr>>3%uint64(len(r.strs.recent))]
	if c.addr == addr && c.n == uint32(n) && c.i > 0 {
		return c.i - 1
	}
	r.strs.refs = append(r.strs.refs, strRef{addr: addr, n: uint32(n)})
	i := int32(len(r.strs.refs) - 1)
	*c = indexedRef{addr, uint32(n), i + 1}
	return i
}

const (
	strEmpty = -1
	strBad   = -2
)

type strRef struct {
	addr uint64
	n    uint32
}

// labelStrings are the strings of the labels being read, one per key and
// value found. Those at the same address (a key every goroutine uses, a
// value inherited from a parent context) are read and allocated once.
type labelStrings struct {
	recent [512]indexedRef // i+1, 0 for none
	refs   []strRef
	group  []int32 // by ref: index in vals, -1 when not read
	vals   []string
}

// read reads the strings, each distinct address once (its longest string;
// shorter ones at the same address are prefixes of it), as long as take
// grants the bytes.
func (s *labelStrings) read(t *Target, take func(int64) bool) {
	order := make([]indexedRef, len(s.refs))
	for i, r := range s.refs {
		order[i] = indexedRef{r.addr, r.n, int32(i)}
	}
	order = sortByAddr(order)
	s.group = make([]int32, len(s.refs))
	addrs := make([]uint64, 0, len(order))
	sizes := make([]int, 0, len(order))
	for k := 0; k < len(order); {
		// A run of strings at one address: read the longest.
		addr, n, end := order[k].addr, order[k].n, k+1
		for ; end < len(order) && order[end].addr == addr; end++ {
			n = max(n, order[end].n)
		}
		g := int32(-1)
		if take(int64(n)) {
			g = int32(len(addrs))
			addrs, sizes = append(addrs, addr), append(sizes, int(n))
		}
		for ; k < end; k++ {
			s.group[order[k].i] = g
		}
	}
	s.vals = make([]string, len(addrs))
	read := make([]bool, len(addrs))
	t.readEachSized(addrs, sizes, 0, func(i int, buf []byte) {
		s.vals[i], read[i] = string(buf), true
	})
	for i, g := range s.group {
		if g >= 0 && !read[g] {
			s.group[i] = -1
		}
	}
}

// indexedRef is an address with a length and an index, to sort.
type indexedRef struct {
	addr uint64
	n    uint32
	i    int32
}

// sortByAddr sorts by address, stably (a radix sort: there may be
// hundreds of thousands, and a comparison sort would take most of the time
// labels take). The result may use a's memory.
func sortByAddr(a []indexedRef) []indexedRef {
	var or, and uint64 = 0, ^uint64(0)
	for _, r := range a {
		or, and = or|r.addr, and&r.addr
	}
	var tmp []indexedRef
	for shift := 0; shift < 64; shift += 8 {
		if (or^and)>>shift&0xff == 0 {
			continue // the same byte in every address
		}
		if tmp == nil {
			tmp = make([]indexedRef, len(a))
		}
		var cnt [256]int
		for _, r := range a {
			cnt[r.addr>>shift&0xff]++
		}
		pos := 0
		for j, c := range cnt {
			cnt[j], pos = pos, pos+c
		}
		for _, r := range a {
			k := r.addr >> shift & 0xff
			tmp[cnt[k]] = r
			cnt[k]++
		}
		a, tmp = tmp, a
	}
	return a
}

func (s *labelStrings) get(i int32) (string, bool) {
	switch {
	case i == strEmpty:
		return "", true
	case i < 0 || int(i) >= len(s.group) || s.group[i] < 0:
		return "", false
	}
	return s.vals[s.group[i]][:s.refs[i].n], true
}
