package inspect_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/internal/corefuzz"
	"github.com/hangtui/hangtui/inspect/report"
)

// FuzzCore is hostile memory (#18): the fuzz input picks runtime structures
// in a real core of the fixture's hostile scenario (allgs and its g's, sudog
// chains, channels, semaphore treaps, mheap_, mspans, the arena index,
// heapArenas, finalizer and cleanup blocks, pprof label maps, Ps, Ms,
// stacks, waitReasonStrings, the module data: see corefuzz), fields in them
// and values (0, -1, huge counts, self pointers, pointers to other
// structures, the end of a mapping, random bits), patches the core, and
// reads it as `hangtui report --core` does. It must return within a
// deadline, within a memory budget, never panic, and fail only with one
// line in hangtui's style, never with a Delve internal; the report of what
// it read must render.
//
// Run it: go test -run='^$' -fuzz=FuzzCore -fuzztime=2m ./inspect
// HANGTUI_FUZZ_STATS=FILE appends one JSON line per input (time, memory,
// the error and warnings) to FILE, from every fuzzing process.
func FuzzCore(f *testing.F) {
	h := coreFuzzTarget(f)
	for _, s := range coreSeeds(f, h) {
		f.Add(s)
	}
	f.Cleanup(func() {
		if t := fuzzHarness; t != nil && t.runs > 0 {
			f.Logf("%d mutated cores; worst %v, %d MiB allocated, %d MiB peak heap growth; %d distinct messages:\n%s",
				t.runs, t.worstTime.Round(time.Millisecond), t.worstAlloc>>20, t.worstPeak>>20, len(t.messages), t.messageList())
		}
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		h.load(t)
		h.run(t, in)
	})
}

const (
	// fuzzDeadline bounds one input: opening (when fresh) and reading
	// the core, and rendering the report. An unmutated read takes about
	// 0.1 s; this only catches hangs.
	fuzzDeadline = 2 * time.Minute
	// fuzzAllocBudget bounds the bytes allocated for one input. An
	// unmutated read allocates about 30 MiB.
	fuzzAllocBudget = 512 << 20
)

// delveInternals are phrases of errors from Delve's (and Go's) internals,
// which mean nothing to a user: they must not reach an error or warning.
var delveInternals = []string{
	"did not match any regions", "spliced memory", "hit unmapped area", "EOF", "short read",
	"could not find", "unreadable", "invalid memory address", "nil pointer", "runtime error",
	"index out of range", "slice bounds", "internal error", "panic", "goroutine running on other thread",
	"unknown or invalid", "no such", "bad access", "input/output error",
}

// corruptForm is the one line corrupt state gives.
var corruptForm = regexp.MustCompile(`^the runtime state at 0x[0-9a-f]+ \(runtime\.[A-Za-z_.]+[^)]*\) is inconsistent: corrupt or truncated core, or memory changing under a live read`)

type coreFuzz struct {
	core, exe string // the unmutated fixture core and executable

	once        sync.Once
	loadErr     error
	dir         string
	wcore, wexe string // this process's working copies, patched in place
	files       [2]*os.File
	model       *corefuzz.Model
	sess        *inspect.Session
	runs        int
	worstTime   time.Duration
	worstAlloc  uint64
	worstPeak   uint64
	messages    map[string]int
	mu          sync.Mutex
}

// fuzzHarness is the process's harness (each fuzzing process has one).
var fuzzHarness *coreFuzz

// coreFuzzTarget finds or makes the core. The coordinating process makes
// it and passes it on to the fuzzing processes it starts (they inherit its
// environment); each of those patches working copies of its own.
func coreFuzzTarget(f *testing.F) *coreFuzz {
	core, exe := os.Getenv("HANGTUI_FUZZ_CORE"), os.Getenv("HANGTUI_FUZZ_EXE")
	if core == "" || exe == "" {
		core, exe = sharedCore(f, "hostile")
		os.Setenv("HANGTUI_FUZZ_CORE", core)
		os.Setenv("HANGTUI_FUZZ_EXE", exe)
		// Fuzzing processes are killed when fuzzing ends, before their
		// TestMain can clean up: their working copies go in the
		// coordinator's directory, which its TestMain removes.
		os.Setenv("HANGTUI_FUZZ_WORKDIR", filepath.Dir(core))
	}
	fuzzHarness = &coreFuzz{core: core, exe: exe, messages: map[string]int{}}
	return fuzzHarness
}

// load makes this process's working copies, the model and a session, once.
func (h *coreFuzz) load(t testing.TB) {
	h.once.Do(func() { h.loadErr = h.load1() })
	if h.loadErr != nil {
		t.Fatal(h.loadErr)
	}
}

func (h *coreFuzz) load1() error {
	var err error
	if h.model, err = corefuzz.Open(h.core, h.exe); err != nil {
		return fmt.Errorf("corefuzz: %v", err)
	}
	h.dir, err = os.MkdirTemp(os.Getenv("HANGTUI_FUZZ_WORKDIR"), "hangtui-fuzzcore-")
	if err != nil {
		return err
	}
	fuzzDirs = append(fuzzDirs, h.dir)
	h.wcore, h.wexe = filepath.Join(h.dir, "core"), filepath.Join(h.dir, "exe")
	for i, c := range [][2]string{{h.core, h.wcore}, {h.exe, h.wexe}} {
		if err := sparseCopy(c[0], c[1]); err != nil {
			return err
		}
		if h.files[i], err = os.OpenFile(c[1], os.O_RDWR, 0); err != nil {
			return err
		}
	}
	if err := os.Chmod(h.wexe, 0o755); err != nil {
		return err
	}
	if h.sess, err = inspect.OpenCore(h.wcore, h.wexe); err != nil {
		return fmt.Errorf("the unmutated core: %v", err)
	}
	return nil
}

var statsMu sync.Mutex

// writeFuzzStats appends a JSON line to $HANGTUI_FUZZ_STATS, if set (from
// every fuzzing process: each line is one write).
func writeFuzzStats(v map[string]any) {
	p := os.Getenv("HANGTUI_FUZZ_STATS")
	if p == "" {
		return
	}
	statsMu.Lock()
	defer statsMu.Unlock()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	line, _ := json.Marshal(v)
	_, _ = f.Write(append(line, '\n'))
}

// fuzzDirs are removed when the test binary ends.
var fuzzDirs []string

// sparseCopy copies a file, leaving holes where it has zeros (cores are
// mostly holes).
func sparseCopy(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	defer out.Close()
	buf := make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 {
			if !allZero(buf[:n]) {
				if _, werr := out.WriteAt(buf[:n], off); werr != nil {
					return werr
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return out.Truncate(off)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// fuzzResult is what one input gave.
type fuzzResult struct {
	err      error
	warnings []string
	took     time.Duration
	panicked string
	// leaked is a phrase of Delve's read errors found in the report.
	leaked string
}

// delveReadErrors are Delve's words for memory it could not read.
var delveReadErrors = []string{"did not match any regions", "spliced memory", "hit unmapped area"}

func (h *coreFuzz) run(t *testing.T, in []byte) {
	patches, fresh := h.model.Mutations(in)
	if fresh && testing.Short() {
		// Opening a core again takes seconds (minutes under -race):
		// the full run covers these.
		t.Skip("needs a fresh session; not with -short")
	}
	restore, err := h.apply(patches)
	defer func() {
		if err := restore(); err != nil {
			t.Fatalf("restoring the core: %v", err)
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, p := range patches {
		desc = append(desc, p.Desc)
	}
	alloc0, heap0 := memNow()
	peak := startPeak(heap0)
	done := make(chan fuzzResult, 1)
	start := time.Now()
	go func() {
		var r fuzzResult
		defer func() {
			// A panic outside the session (rendering) would end the
			// fuzzing process without a word: report it.
			if p := recover(); p != nil {
				r.panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
			}
			done <- r
		}()
		sess := h.sess
		if fresh {
			s, err := inspect.OpenCore(h.wcore, h.wexe)
			if err != nil {
				r.err = err
				return
			}
			defer s.Close()
			sess = s
		}
		snap, err := sess.Snapshot()
		if err != nil {
			r.err = err
			return
		}
		r.warnings = snap.Warnings
		// What was read must render, whatever it is, and say nothing of
		// Delve's read errors anywhere.
		var out bytes.Buffer
		for _, write := range []func(io.Writer, *inspect.Snapshot) error{report.WriteJSON, report.WriteText, report.WriteDOT, report.WriteMermaid} {
			if err := write(&out, snap); err != nil {
				r.err = fmt.Errorf("rendering: %w", err)
				return
			}
		}
		for _, p := range delveReadErrors {
			if bytes.Contains(out.Bytes(), []byte(p)) {
				r.leaked = p
			}
		}
	}()
	var r fuzzResult
	select {
	case r = <-done:
	case <-time.After(fuzzDeadline):
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("no answer within %v (a hang) with %q\n%s", fuzzDeadline, desc, buf)
	}
	r.took = time.Since(start)
	peakHeap := peak()
	alloc1, _ := memNow()
	alloc := alloc1 - alloc0

	h.mu.Lock()
	h.runs++
	h.worstTime = max(h.worstTime, r.took)
	h.worstAlloc = max(h.worstAlloc, alloc)
	h.worstPeak = max(h.worstPeak, peakHeap)
	msgs := r.warnings
	if r.err != nil {
		msgs = append([]string{"error: " + r.err.Error()}, msgs...)
	}
	for _, m := range msgs {
		h.messages[normalizeMessage(m)]++
	}
	h.mu.Unlock()
	writeFuzzStats(map[string]any{"kind": "core", "ms": r.took.Milliseconds(), "alloc_mib": alloc >> 20, "peak_mib": peakHeap >> 20,
		"fresh": fresh, "err": errString(r.err), "warnings": r.warnings, "patches": desc})

	if alloc > fuzzAllocBudget {
		t.Errorf("%d MiB allocated (budget %d MiB) with %q", alloc>>20, fuzzAllocBudget>>20, desc)
	}
	if r.err != nil {
		checkFuzzError(t, r.err, desc)
	}
	if r.panicked != "" {
		t.Errorf("panic with %q: %s", desc, r.panicked)
	}
	if r.leaked != "" {
		t.Errorf("the report has Delve's %q, with %q", r.leaked, desc)
	}
	for _, w := range r.warnings {
		if bad := badMessage(w); bad != "" {
			t.Errorf("warning %q: %s, with %q", w, bad, desc)
		}
	}
}

func checkFuzzError(t *testing.T, err error, desc []string) {
	t.Helper()
	msg := err.Error()
	if bad := badMessage(msg); bad != "" {
		t.Errorf("error %q: %s, with %q", msg, bad, desc)
	}
	var e *inspect.Error
	if !errors.As(err, &e) {
		t.Errorf("error %q is not an *inspect.Error, with %q", msg, desc)
		return
	}
	if e.Kind == inspect.ErrCorrupt && !corruptForm.MatchString(msg) {
		t.Errorf("corrupt-state error %q is not in the form %q, with %q", msg, corruptForm, desc)
	}
}

// badMessage says what is wrong with a message a user would see.
func badMessage(m string) string {
	if strings.Contains(m, "\n") {
		return "not one line"
	}
	for _, p := range delveInternals {
		if strings.Contains(m, p) {
			return fmt.Sprintf("it has %q", p)
		}
	}
	return ""
}

var (
	hexRE = regexp.MustCompile(`0x[0-9a-f]+`)
	numRE = regexp.MustCompile(`\b[0-9]+\b`)
)

// normalizeMessage makes messages that differ by addresses and numbers one.
func normalizeMessage(m string) string {
	return numRE.ReplaceAllString(hexRE.ReplaceAllString(m, "ADDR"), "N")
}

func (h *coreFuzz) messageList() string {
	ms := make([]string, 0, len(h.messages))
	for m := range h.messages {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "  %5d× %s\n", h.messages[m], m)
	}
	return b.String()
}

// apply writes the patches into the working copies and returns what
// undoes them (in reverse order: patches may overlap).
func (h *coreFuzz) apply(patches []corefuzz.Patch) (func() error, error) {
	type undo struct {
		f   *os.File
		off int64
		old []byte
	}
	var undos []undo
	restore := func() error {
		for i := len(undos) - 1; i >= 0; i-- {
			u := undos[i]
			if _, err := u.f.WriteAt(u.old, u.off); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range patches {
		f := h.files[p.File]
		old := make([]byte, len(p.New))
		if _, err := f.ReadAt(old, p.Off); err != nil {
			return restore, err
		}
		if _, err := f.WriteAt(p.New, p.Off); err != nil {
			return restore, err
		}
		undos = append(undos, undo{f, p.Off, old})
	}
	return restore, nil
}

// memNow is the bytes allocated so far and the heap's objects now.
func memNow() (allocs, heap uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// startPeak samples the heap until the returned function is called, which
// gives the largest growth over base seen.
func startPeak(base uint64) func() uint64 {
	stop := make(chan struct{})
	res := make(chan uint64, 1)
	go func() {
		var peak uint64
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			_, h := memNow()
			if h > base {
				peak = max(peak, h-base)
			}
			select {
			case <-stop:
				res <- peak
				return
			case <-tk.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		return <-res
	}
}

// coreSeeds are inputs for what broke before (#18): huge counts, cycles,
// pointers to the end of a mapping, in each structure.
func coreSeeds(f *testing.F, h *coreFuzz) [][]byte {
	h.load(f)
	m := h.model
	kind := func(name string) int {
		for i, k := range m.Kinds {
			if k.Name == name {
				return i
			}
		}
		f.Fatalf("no kind %s", name)
		return 0
	}
	leaf := func(k int, name string) int {
		for i, l := range m.Kinds[k].Leaves {
			if l.Name == name {
				return i
			}
		}
		return -1
	}
	// Value kinds of corefuzz.Model.value.
	const (
		vZero, vOnes, vHuge, vCount, vSelf, vField, vOther, vOff, vFlip, vUnmapped, vSegEnd, vRandom = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
	)
	var seeds [][]byte
	rec := func(kindName, leafName string, inst, elem int, vk byte, arg uint16) []byte {
		k := kind(kindName)
		l := leaf(k, leafName)
		if l < 0 {
			return nil // not in this release's layout
		}
		r, ok := m.Encode(k, min(inst, len(m.Kinds[k].Insts)-1), l, elem, vk, arg)
		if !ok {
			return nil
		}
		return r
	}
	add := func(kindName, leafName string, inst, elem int, vk byte, arg uint16) {
		if r := rec(kindName, leafName, inst, elem, vk, arg); r != nil {
			seeds = append(seeds, append([]byte{0}, r...))
		}
	}
	add("vars", "runtime.allgs.len", 0, 0, vCount, 2) // 50,000,000 goroutines
	add("vars", "runtime.allgs.len", 0, 0, vCount, 4) // 2^40
	add("vars", "runtime.allgs.array", 0, 0, vSegEnd, 0)
	add("vars", "runtime.allglen", 0, 0, vOnes, 0)
	add("allgs.array", "[]", 0, 3, vOnes, 0)
	add("allgs.array", "[]", 0, 1, vSegEnd, 3)
	add("g", "waiting", 20, 0, vSelf, 0)
	add("g", "labels", 30, 0, vSegEnd, 0)
	add("g", "stack.hi", 20, 0, vHuge, 0)
	add("g", "sched.sp", 20, 0, vOff, 8)
	add("sudog", "waitlink", 0, 0, vSelf, 0)
	add("sudog", "next", 1, 0, vSelf, 0)
	add("sudog", "prev", 2, 0, vSelf, 0)
	add("sudog", "c", 3, 0, vUnmapped, 0)
	add("hchan", "recvq.first", 0, 0, vSelf, 0)
	add("hchan", "elemtype", 1, 0, vRandom, 0)
	add("semtable", "[].root.treap", 0, 0, vSegEnd, 5)
	add("mheap", "allspans.len", 0, 0, vCount, 2)
	add("mheap", "allspans.array", 0, 0, vSegEnd, 1)
	add("mspan", "npages", 3, 0, vHuge, 0)
	add("mspan", "elemsize", 3, 0, vZero, 0)
	add("mspan", "specials", 4, 0, vSelf, 0)
	if k := m.Kinds[kind("arenaL2")]; len(k.Leaves) > 1 {
		add("arenaL2", k.Leaves[1].Name, 0, 0, vOnes, 0)
	}
	add("heapArena", "spans[]", 0, 5, vRandom, 0)
	add("special", "next", 0, 0, vSelf, 0)
	add("finBlock", "cnt", 0, 0, vCount, 2)
	add("finBlock", "alllink", 0, 0, vSelf, 0)
	add("cleanupBlock", "cleanupBlockHeader.n", 0, 0, vCount, 4)
	add("cleanupBlock", "cleanupBlockHeader.alllink", 0, 0, vSelf, 0)
	add("labelMap", "Set.List.len", 0, 0, vCount, 4)
	add("labelMap", "Set.List.array", 0, 0, vSegEnd, 2)
	add("labelList", "Key.len", 0, 0, vHuge, 0)
	add("p", "timers.heap.len", 0, 0, vCount, 2)
	add("m", "alllink", 0, 0, vSelf, 0)
	add("stack", "word", 5, 1, vRandom, 0)
	add("timer", "when", 0, 0, vOnes, 0)
	add("waitReasonStrings", "[].len", 0, 7, vHuge, 0)
	add("waitReasonStrings", "[].str", 0, 2, vUnmapped, 0)
	add("moduledata", "ftab.len", 0, 0, vCount, 2)
	add("syncword", "sema-8", 0, 0, vOnes, 0)
	add("syncword", "sema-8", 1, 0, vField, 0)
	_ = vOther
	_ = vFlip
	// A few at once.
	var several []byte
	for _, r := range [][]byte{rec("g", "waiting", 5, 0, vRandom, 0x201), rec("sudog", "next", 1, 0, vOther, 0x807),
		rec("mspan", "npages", 9, 0, vCount, 1), rec("finBlock", "cnt", 0, 0, vSegEnd, 0)} {
		several = append(several, r...)
	}
	seeds = append(seeds, append([]byte{3}, several...))
	return seeds
}

func init() {
	// The working copies go when the test binary ends (see TestMain).
	cleanups = append(cleanups, func() {
		for _, d := range fuzzDirs {
			os.RemoveAll(d)
		}
	})
}
