package target

// Target memory is untrusted input (#18): a debugger running as root reads
// structures the target controls, and a core may be corrupt or truncated.
// Everything read here is bounded by what the target could plausibly hold:
// lengths and counts are checked against the memory it has before
// anything is allocated for them, list walks detect cycles and are capped,
// and a structure that does not hold together is reported as a
// CorruptError, one line naming the address and the runtime type, never
// with the error of the read underneath (Delve's, which means nothing to a
// user).

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CorruptError says that runtime state read from the target is
// inconsistent: a pointer to memory the target does not have, a length or
// count larger than its memory could hold, a list that loops.
type CorruptError struct {
	// Addr is where the inconsistent value was read (or what it points at).
	Addr uint64
	// Type is the runtime type or variable, with the field when known:
	// "runtime.sudog.waitlink", "runtime.allgs".
	Type string
	// Read says what had been read before it, e.g. "12 of 40 goroutines";
	// empty when nothing.
	Read string
	// Why is what did not hold, for tests and debugging (not shown).
	Why string
	// Err is the error of the read underneath, if any (not shown).
	Err error
}

// CorruptMsg is how every CorruptError begins.
const CorruptMsg = "is inconsistent: corrupt or truncated core, or memory changing under a live read"

func (e *CorruptError) Error() string {
	s := fmt.Sprintf("the runtime state at %#x (%s) %s", e.Addr, e.Type, CorruptMsg)
	if e.Read != "" {
		s += "; read before it: " + e.Read
	}
	return s
}

func (e *CorruptError) Unwrap() error { return e.Err }

// corrupt makes a CorruptError for the value at addr of type typ.
func corrupt(addr uint64, typ, why string, err error) *CorruptError {
	return &CorruptError{Addr: addr, Type: typ, Why: why, Err: err}
}

// withRead adds what had been read before the inconsistency.
func (e *CorruptError) withRead(format string, args ...any) *CorruptError {
	e.Read = fmt.Sprintf(format, args...)
	return e
}

// IsCorrupt reports whether err says the target's runtime state is
// inconsistent.
func IsCorrupt(err error) bool {
	var ce *CorruptError
	return errors.As(err, &ce)
}

// ---- how much memory the target has ----

// memBounds is what is known of the target's memory: the total size of
// its readable mappings, 0 when unknown.
type memBounds struct {
	total uint64
	at    time.Time
}

// memTotalFallback bounds a target whose mappings cannot be listed (64 GiB
// is more than any goroutine table or list hangtui reads).
const memTotalFallback = 64 << 30

// boundsOf are the memory bounds of each Target, by Target (kept out of
// the Target struct, which other work changes). Marking on another
// goroutine (NewPrivateHeap) asks too: hence the lock.
var boundsOf = struct {
	sync.Mutex
	m map[*Target]*memBounds
}{m: map[*Target]*memBounds{}}

// SetCoreFiles tells the Target which files it reads (OpenCore): the
// core's segments and the executable's are all of its memory.
func (t *Target) SetCoreFiles(corePath, exePath string) {
	var total uint64
	for _, p := range []string{corePath, exePath} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_LOAD {
				total += prog.Filesz
			}
		}
		f.Close()
	}
	if total > 0 {
		boundsOf.Lock()
		boundsOf.m[t] = &memBounds{total: total}
		boundsOf.Unlock()
	}
}

// Forget drops what is kept about t outside it (its memory bounds, the
// struct layouts of its binary, which hold the binary's DWARF); call it
// once t is detached or closed.
func (t *Target) Forget() {
	boundsOf.Lock()
	delete(boundsOf.m, t)
	boundsOf.Unlock()
	if t.bi == nil {
		return
	}
	layoutCache.Lock()
	for k := range layoutCache.m {
		if k.bi == t.bi {
			delete(layoutCache.m, k)
		}
	}
	layoutCache.Unlock()
}

// memTotal is the total size of the target's readable memory: no table
// or list in it can be larger. For a live process it is read from
// /proc/PID/maps, again when older than a second (the process may have
// grown while it ran).
func (t *Target) memTotal() uint64 {
	boundsOf.Lock()
	defer boundsOf.Unlock()
	b := boundsOf.m[t]
	if b != nil && (!t.live || time.Since(b.at) < time.Second) {
		return b.total
	}
	total := uint64(memTotalFallback)
	if t.live && runtime.GOOS == "linux" {
		if n := procMapsTotal(t.pid); n > 0 {
			total = n
		}
	}
	boundsOf.m[t] = &memBounds{total: total, at: time.Now()}
	return total
}

// procMapsTotal sums the sizes of the readable mappings of a process.
func procMapsTotal(pid int) uint64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.HasPrefix(fields[1], "r") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && b > a {
			total += b - a
		}
	}
	return total
}

// plausibleCount reports whether n objects of size bytes each fit in the
// target's memory.
func (t *Target) plausibleCount(n, size uint64) bool {
	if size == 0 {
		size = 1
	}
	return n <= t.memTotal()/size
}

// maxChunk is the most readArray reads at once.
const maxChunk = 1 << 20

// readArray reads n elements of size bytes at addr, an array whose length
// the target gave: the length is checked against the target's memory
// before anything is allocated, and the array is read a chunk at a time,
// so that an unreadable one fails before much is allocated. typ names it
// for the error ("runtime.allgs").
func (t *Target) readArray(addr, n, size uint64, typ string) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if !t.plausibleCount(n, size) || addr == 0 || addr+n*size < addr {
		return nil, corrupt(addr, typ, fmt.Sprintf("%d elements of %d bytes", n, size), nil)
	}
	total := n * size
	out := make([]byte, 0, min(total, maxChunk))
	for off := uint64(0); off < total; {
		c := min(total-off, maxChunk)
		buf, err := t.read(addr+off, int(c))
		if err != nil {
			return nil, corrupt(addr+off, typ, "unreadable", err)
		}
		out = append(out, buf...)
		off += c
	}
	return out, nil
}

// ---- walking lists ----

// chainWalk follows a linked list of the target with cycle detection and a
// cap: next(addr) reports whether addr is new (then it is visited), false
// for a repeat (a cycle) or when the cap is reached.
type chainWalk struct {
	seen map[uint64]struct{}
	max  int
	// Cycle and Capped say why the walk stopped early.
	Cycle, Capped bool
	Last          uint64
}

func newChainWalk(max int) *chainWalk {
	return &chainWalk{seen: map[uint64]struct{}{}, max: max}
}

func (c *chainWalk) next(addr uint64) bool {
	if _, dup := c.seen[addr]; dup {
		c.Cycle, c.Last = true, addr
		return false
	}
	if len(c.seen) >= c.max {
		c.Capped, c.Last = true, addr
		return false
	}
	c.seen[addr] = struct{}{}
	return true
}

// n is how many elements were visited.
func (c *chainWalk) n() int { return len(c.seen) }

// readSliceOf reads the pointers of a []*T slice whose header is at hdr
// (each pointing at an object of elemSize bytes, so that their number is
// bounded by the target's memory): the raw pointer words and their number.
func (t *Target) readSliceOf(hdr, elemSize uint64, typ string) ([]byte, uint64, error) {
	b, err := t.read(hdr, 16)
	if err != nil {
		return nil, 0, corrupt(hdr, typ, "unreadable slice header", err)
	}
	ptr, n := decodeUint(b[:8]), decodeUint(b[8:16])
	if !t.plausibleCount(n, elemSize) {
		return nil, 0, corrupt(hdr+8, typ, fmt.Sprintf("length %d", n), nil)
	}
	raw, err := t.readArray(ptr, n, 8, typ)
	return raw, n, err
}

// plausibleSpan reports whether an mspan's bounds and object size can be
// those of a span of the target's heap: [start, end) not empty, not
// wrapping, no larger than the target's memory; objects no larger than
// the span.
func (t *Target) plausibleSpan(start, end, elem uint64) bool {
	return end > start && end-start <= t.memTotal() && elem <= end-start
}

// checkGlobals checks the data and bss ranges of the module data (Globals)
// before they are scanned: in order, no larger than the target's memory,
// and readable at both ends.
func (t *Target) checkGlobals(md *structLayout, ranges [][2]uint64) error {
	base, _ := t.varAddr("runtime.firstmoduledata")
	for i, r := range ranges {
		field := []string{"data", "bss"}[i]
		lo, hi := r[0], r[1]
		ok := lo <= hi && hi-lo <= t.memTotal()
		if ok && hi > lo {
			_, err1 := t.read(lo&^7, 8)
			_, err2 := t.read((hi-1)&^7, 8)
			ok = err1 == nil && err2 == nil
		}
		if !ok {
			return corrupt(base+uint64(md.Field(field).Off), "runtime.firstmoduledata."+field, fmt.Sprintf("[%#x, %#x)", lo, hi), nil)
		}
	}
	return nil
}
