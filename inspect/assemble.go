package inspect

import (
	"cmp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// What every front-end (live, core, dump, remote) shares when it assembles
// a Snapshot: the goroutine classification (stack, role, system, initial
// verdict), the resource table, waits and holders with their one
// de-duplication and ordering rule, and the resources' type names. A
// front-end supplies only the waits and holders it has evidence for (and,
// where there is memory, the resources' states).

// resTable holds a snapshot's resources while it is built.
type resTable struct {
	// list holds the resources in the order they were made (walk it, not
	// a map; snap.Resources is in address order after finish).
	list []*Resource
	// byAddr finds a resource of a known kind by address (kindIndex), a
	// map of integers: with 100,000 channels, formatting an id and
	// hashing it for every lookup was most of making them.
	byAddr [numKinds]map[uint64]*Resource
	// other finds resources of other kinds.
	other map[resKey]*Resource
	// res indexes list by id, made on first use (resIndex).
	res     map[string]*Resource
	indexed int // how much of list res holds
	// holderSeen de-duplicates holders (addHolder).
	holderSeen map[holderKey]bool
	// waitSlab backs goroutines' first Wait (addWait).
	waitSlab []Wait
	// chanTypes are "chan T" by element type, formatted once.
	chanTypes map[string]string
	// reserved is how many resources reserve expects.
	reserved int
}

// numKinds is how many kinds kindIndex numbers.
const numKinds = 6

// kindIndex numbers the kinds of sync objects, -1 for any other.
func kindIndex(k Kind) int {
	switch k {
	case KindMutex:
		return 0
	case KindRWMutex:
		return 1
	case KindWaitGroup:
		return 2
	case KindCond:
		return 3
	case KindChan:
		return 4
	case KindSema:
		return 5
	}
	return -1
}

// reserve sizes the tables for about n resources: growing maps of 50,000
// entries cost more than filling them.
func (t *resTable) reserve(n int) {
	if n > 1024 && t.list == nil {
		t.reserved = n
		t.list = make([]*Resource, 0, n)
	}
}

// resIndex returns the resources by id, up to date.
func (t *resTable) resIndex() map[string]*Resource {
	if t.res == nil {
		t.res = make(map[string]*Resource, len(t.list))
	}
	for _, r := range t.list[t.indexed:] {
		t.res[r.ID] = r
	}
	t.indexed = len(t.list)
	return t.res
}

// resByID returns the resource with this id, nil if none.
func (t *resTable) resByID(id string) *Resource { return t.resIndex()[id] }

// chanType is kindType(KindChan, elem), formatted once per element type.
func (t *resTable) chanType(elem string) string {
	if s, ok := t.chanTypes[elem]; ok {
		return s
	}
	if t.chanTypes == nil {
		t.chanTypes = map[string]string{}
	}
	s := kindType(KindChan, elem)
	t.chanTypes[elem] = s
	return s
}

type resKey struct {
	kind Kind
	addr uint64
}

type holderKey struct {
	r    *Resource
	g    int64
	read bool
}

// resource returns the resource with this kind and address, creating it.
func (t *resTable) resource(kind Kind, addr uint64) *Resource {
	var m map[uint64]*Resource
	if k := kindIndex(kind); k >= 0 {
		if t.byAddr[k] == nil {
			size := 0
			if kind == KindChan || kind == KindSema || kind == KindMutex {
				size = t.reserved // the kinds there can be 100,000 of
			}
			t.byAddr[k] = make(map[uint64]*Resource, size)
		}
		m = t.byAddr[k]
	} else if r := t.other[resKey{kind, addr}]; r != nil {
		return r
	}
	if r := m[addr]; r != nil {
		return r
	}
	r := &Resource{ID: ResourceID(kind, addr), Kind: kind, Addr: addr}
	if m != nil {
		m[addr] = r
	} else {
		if t.other == nil {
			t.other = map[resKey]*Resource{}
		}
		t.other[resKey{kind, addr}] = r
	}
	t.list = append(t.list, r)
	return r
}

// ResourceID is the stable id of a resource: "<kind>:<hex address>".
func ResourceID(kind Kind, addr uint64) string {
	if addr == 0 {
		return string(kind) + ":0x0"
	}
	var b [48]byte
	id := append(append(b[:0], kind...), ":0x"...)
	return string(strconv.AppendUint(id, addr, 16))
}

// addWait records that g waits on r with op, once per (resource, op).
func (t *resTable) addWait(g *Goroutine, r *Resource, op Op) {
	for _, w := range g.Waits {
		if w.Resource == r.ID && w.Op == op {
			return
		}
	}
	if g.Waits == nil {
		// Most goroutines wait on one thing: their first Wait comes
		// from a slab (cap 1, so a select's second case reallocates).
		if len(t.waitSlab) == 0 {
			t.waitSlab = make([]Wait, 1024)
		}
		g.Waits = t.waitSlab[:0:1]
		t.waitSlab = t.waitSlab[1:]
	}
	g.Waits = append(g.Waits, Wait{Resource: r.ID, Op: op})
	r.Waiters = append(r.Waiters, g.ID)
}

// addHolder records h once per (resource, goroutine, mode): the first
// evidence found is kept (defer before source before reference).
func (t *resTable) addHolder(g *Goroutine, r *Resource, h Holder) {
	k := holderKey{r, h.Goroutine, h.Read}
	if t.holderSeen[k] {
		return
	}
	if t.holderSeen == nil {
		t.holderSeen = map[holderKey]bool{}
	}
	t.holderSeen[k] = true
	r.Holders = append(r.Holders, h)
	g.Holds = appendUnique(g.Holds, r.ID)
}

// finish names each resource's type where nothing more specific named it
// (kindType), calls state (memory: the lock words, counters, queues; nil
// for a source without memory, whose states stay unknown), sorts each
// resource's waiters and lists the resources in snap, by kind and address.
func (t *resTable) finish(snap *Snapshot, state func(*Resource)) {
	for _, r := range t.list {
		if state != nil {
			state(r)
		}
		if r.Type == "" {
			r.Type = kindType(r.Kind, "")
		}
		sortIDs(r.Waiters)
		snap.Resources = append(snap.Resources, r)
	}
	slices.SortFunc(snap.Resources, func(a, c *Resource) int {
		if a.Kind != c.Kind {
			return strings.Compare(string(a.Kind), string(c.Kind))
		}
		return cmp.Compare(a.Addr, c.Addr)
	})
}

// kindType is the type name of a resource of this kind; elem is a
// channel's element type when known.
func kindType(k Kind, elem string) string {
	switch k {
	case KindMutex:
		return "sync.Mutex"
	case KindRWMutex:
		return "sync.RWMutex"
	case KindWaitGroup:
		return "sync.WaitGroup"
	case KindCond:
		return "sync.Cond"
	case KindChan:
		if elem != "" {
			return "chan " + elem
		}
		return "chan"
	case KindSema:
		return "runtime semaphore"
	}
	return ""
}

// sortHolds orders what each goroutine holds and who holds each resource,
// so that two snapshots of the same state print the same bytes (holders are
// found by walking maps and stacks): one rule for every source.
func sortHolds(snap *Snapshot) {
	for _, g := range snap.Goroutines {
		if len(g.Holds) > 1 {
			sort.Strings(g.Holds)
		}
	}
	for _, r := range snap.Resources {
		if len(r.Holders) > 1 {
			sort.SliceStable(r.Holders, func(i, j int) bool {
				hi, hj := r.Holders[i], r.Holders[j]
				if hi.Goroutine != hj.Goroutine {
					return hi.Goroutine < hj.Goroutine
				}
				return !hi.Read && hj.Read
			})
		}
	}
}

// cachedStack is a converted stack and what the classification asks of it,
// computed once per distinct stack (goroutines with identical stacks share
// one Frames slice).
type cachedStack struct {
	frames     []Frame
	topUser    int
	allRuntime bool
	role       Role // from a finalizer or cleanup loop frame on the stack
}

func newCachedStack(frames []Frame) cachedStack {
	if len(frames) == 0 {
		return cachedStack{frames: frames, topUser: -1, allRuntime: true}
	}
	cs := cachedStack{frames: frames, topUser: -1, allRuntime: true}
	for i, f := range frames {
		if cs.topUser < 0 && IsUserFunc(f.Func) {
			cs.topUser = i
		}
		if cs.allRuntime && !strings.HasPrefix(f.Func, "runtime.") {
			cs.allRuntime = false
		}
		switch f.Func {
		case "runtime.runfinq", "runtime.runFinalizers":
			cs.role = RoleFinalizer
		case "runtime.runCleanups":
			if cs.role == RoleNone {
				cs.role = RoleCleanup
			}
		}
	}
	return cs
}

// classify sets what every source decides the same way from a goroutine's
// stack: its frames, top user frame, role, whether it is a runtime
// goroutine, and its initial verdict. start is the function the goroutine
// started in; exact says it is the runtime's own start PC (memory) rather
// than the outermost frame printed (a dump, a Delve server), where the
// creator (a go statement in package runtime) and a stack of runtime
// frames only say it is a runtime goroutine. g.State and g.WaitReason must
// be set.
func classify(g *Goroutine, cs cachedStack, start string, exact bool, creator string) {
	g.Frames, g.TopUser = cs.frames, cs.topUser
	switch {
	case exact:
		g.System = isSystemStart(start) || (start == "" && cs.allRuntime)
	default:
		g.System = isSystemStart(start) || (len(cs.frames) > 0 && cs.allRuntime) || strings.HasPrefix(creator, "runtime.")
	}
	switch {
	case start == "runtime.runfinq" || start == "runtime.runFinalizers" || cs.role == RoleFinalizer:
		g.Role = RoleFinalizer
	case start == "runtime.runCleanups" || cs.role == RoleCleanup:
		g.Role = RoleCleanup
	}
	if g.Role != RoleNone && g.TopUser >= 0 {
		// Like the runtime: the finalizer goroutine running user code is
		// a user goroutine.
		g.System = false
	}
	g.Verdict = initialVerdict(g)
}

// syncOffsets are where the semaphores sit inside the sync types: read
// from the target's DWARF where there is a binary (targetSyncOffsets), the
// known layout otherwise (knownSyncOffsets: a dump, a Delve server).
type syncOffsets struct {
	mutexSema uint64 // sync.Mutex's sema
	// rwWSema is the RWMutex's inner writer Mutex's sema; writerSem and
	// readerSem its own two (rwOK: the layout is known).
	rwWSema, rwWriterSem, rwReaderSem uint64
	rwOK                              bool
	wgSema                            uint64 // sync.WaitGroup's sema
	wgOK                              bool
	condNotify                        uint64 // sync.Cond's notifyList
	condOK                            bool
}

// knownSyncOffsets are the layouts of every Go release hangtui supports
// (1.22 to 1.27): Mutex{state int32; sema uint32} (since 1.24 through
// internal/sync.Mutex, the same words), RWMutex{w Mutex; writerSem,
// readerSem uint32; ...}, WaitGroup{noCopy; state uint64; sema uint32},
// Cond{noCopy; L Locker; notify notifyList; ...}. TestSyncOffsetsDWARF
// ties them to the DWARF of fixture binaries.
var knownSyncOffsets = syncOffsets{
	mutexSema: 4,
	rwWSema:   4, rwWriterSem: 8, rwReaderSem: 12, rwOK: true,
	wgSema: 8, wgOK: true,
	condNotify: 16, condOK: true,
}

// targetSyncOffsets reads the offsets from the target's DWARF.
func targetSyncOffsets(t *target.Target) syncOffsets {
	var o syncOffsets
	o.mutexSema = t.MutexSemaOffset()
	o.rwWSema, o.rwWriterSem, o.rwReaderSem, o.rwOK = t.RWMutexOffsets()
	o.wgSema, o.wgOK = t.WaitGroupSemaOffset()
	o.condNotify, o.condOK = t.CondNotifyOffset()
	return o
}

// classifySema decides which sync object a semaphore address belongs to,
// from the wait reason the runtime recorded and the sync frames on the
// stack: one rule for memory's semaphore table, the contention sampler and
// a dump's printed semacquire argument. ff (nil: none) looks frames up
// once per distinct stack.
func (o syncOffsets) classifySema(reason string, frames []Frame, ff frameFinder, sema uint64) (Kind, uint64, Op) {
	hasFrame := func(fn string) bool {
		if ff != nil {
			return ff.index(frames, fn) >= 0
		}
		for _, f := range frames {
			if f.Func == fn {
				return true
			}
		}
		return false
	}
	switch {
	case reason == "sync.RWMutex.RLock" && o.rwOK:
		return KindRWMutex, sema - o.rwReaderSem, OpRLock
	case reason == "sync.RWMutex.Lock" && o.rwOK:
		return KindRWMutex, sema - o.rwWriterSem, OpLock
	case reason == "sync.Mutex.Lock":
		if o.rwOK && hasFrame("sync.(*RWMutex).Lock") {
			return KindRWMutex, sema - o.rwWSema, OpLock
		}
		return KindMutex, sema - o.mutexSema, OpLock
	case strings.HasPrefix(reason, "sync.WaitGroup.Wait") || hasFrame("sync.(*WaitGroup).Wait"):
		if o.wgOK {
			return KindWaitGroup, sema - o.wgSema, OpWait
		}
	}
	return KindSema, sema, OpSema
}
