package target

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/go-delve/delve/pkg/proc"
	"github.com/hangtui/hangtui/internal/fixture"
)

// labelVersions are the toolchains of the version matrix ("" is the local
// one, Go 1.26), which keep labels in three different shapes.
func labelVersions(t *testing.T) []string {
	if testing.Short() {
		return []string{""}
	}
	return []string{"go1.22.12", "go1.23.12", "go1.24.13", "go1.25.14", "", "go1.27.1"}
}

// TestLabelsMatchDelve reads the labels scenario's goroutines on every Go
// version and compares them with what the fixture set and with Delve's
// G.Labels for every goroutine of the process. It also checks that the
// layout was understood (no Delve fallback), that goroutines sharing a
// labels pointer share one map for one snapshot, and that memory that does
// not hold labels is read without panics and within bounds.
func TestLabelsMatchDelve(t *testing.T) {
	for _, v := range labelVersions(t) {
		name, variant := v, fixture.Variant{Name: v, Toolchain: v}
		if v == "" {
			name, variant = "local", fixture.Default
		}
		t.Run(name, func(t *testing.T) {
			exe := fixture.Build(t, variant)
			p := fixture.Start(t, exe, "labels")
			tg := attachTo(t, p.PID)
			ll := tg.labelsLayout()
			want := labelsList
			if minor := goMinor(p.Manifest.Go); minor > 0 && minor < 24 {
				want = labelsHashmap
			}
			if ll.kind != want {
				t.Fatalf("%s: labels layout kind %d (%s), want %d", p.Manifest.Go, ll.kind, ll.why, want)
			}

			tg.ClearCaches()
			gs, _, err := tg.Goroutines()
			if err != nil {
				t.Fatal(err)
			}
			byID := map[int64]*G{}
			for _, g := range gs {
				byID[g.ID] = g
			}
			if len(p.Manifest.Labels) == 0 {
				t.Fatal("the manifest lists no labels")
			}
			for ids, exp := range p.Manifest.Labels {
				id, _ := strconv.ParseInt(ids, 10, 64)
				g := byID[id]
				if g == nil {
					t.Errorf("goroutine %d: not found", id)
					continue
				}
				if msg := diffLabels(g.Labels, exp); msg != "" {
					t.Errorf("goroutine %d (%s): %s", id, groupOf(p.Manifest, id), msg)
				}
			}

			// Shared pointers, shared maps; a second read in the same
			// snapshot returns the same maps, a new snapshot new ones.
			kids := p.Manifest.Groups["child"]
			if len(kids) != 2 || byID[kids[0]] == nil || byID[kids[1]] == nil {
				t.Fatalf("children %v", kids)
			}
			a, b := byID[kids[0]], byID[kids[1]]
			if a.regs.labels == 0 || a.regs.labels != b.regs.labels || !sameMap(a.Labels, b.Labels) {
				t.Errorf("children: labels pointers %#x %#x, same map %v", a.regs.labels, b.regs.labels, sameMap(a.Labels, b.Labels))
			}
			if par := byID[p.Manifest.Groups["parent"][0]]; par == nil || par.regs.labels == a.regs.labels {
				t.Errorf("the parent still has its children's labels pointer")
			}
			again, _, err := tg.Goroutines()
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range again {
				if g.ID == a.ID && !sameMap(g.Labels, a.Labels) {
					t.Errorf("same snapshot: labels read again")
				}
			}
			tg.ClearCaches()
			fresh, _, err := tg.Goroutines()
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range fresh {
				if g.ID == a.ID && sameMap(g.Labels, a.Labels) {
					t.Errorf("new snapshot: labels map kept from the previous one")
				}
			}

			// Every goroutine against Delve.
			tg.ClearCaches()
			dgs, _, err := proc.GoroutinesInfo(tg.t, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			compared := 0
			for _, dg := range dgs {
				g := byID[dg.ID]
				if g == nil || dg.Unreadable != nil {
					continue
				}
				compared++
				if msg := diffDelveLabels(g.Labels, dg.Labels(), ll.kind == labelsHashmap); msg != "" {
					t.Errorf("goroutine %d (%s): %s", g.ID, groupOf(p.Manifest, g.ID), msg)
				}
			}
			t.Logf("%s: %d goroutines compared with Delve, %d with the manifest", p.Manifest.Go, compared, len(p.Manifest.Labels))

			checkCorruptLabels(t, tg, ll)
		})
	}
}

func goMinor(v string) int {
	v = strings.TrimPrefix(v, "go1.")
	if i := strings.IndexAny(v, ".-rcbeta"); i >= 0 {
		v = v[:i]
	}
	n, _ := strconv.Atoi(v)
	return n
}

func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func groupOf(m *fixture.Manifest, id int64) string {
	for name, ids := range m.Groups {
		for _, x := range ids {
			if x == id {
				return name
			}
		}
	}
	return "-"
}

// diffLabels compares labels read with the ones the fixture set: equal,
// or, past maxLabels, maxLabels of them.
func diffLabels(got, want map[string]string) string {
	if (got == nil) != (want == nil) {
		return fmt.Sprintf("labels %v, want %v", short(got), short(want))
	}
	if len(want) > maxLabels {
		if len(got) != maxLabels {
			return fmt.Sprintf("%d labels, want %d of %d", len(got), maxLabels, len(want))
		}
	} else if len(got) != len(want) {
		return fmt.Sprintf("%d labels, want %d: %v, want %v", len(got), len(want), short(got), short(want))
	}
	for k, v := range got {
		if w, ok := want[k]; !ok || w != v {
			return fmt.Sprintf("label %q = %q, want %q (present %v)", k, trunc(v), trunc(w), ok)
		}
	}
	return ""
}

// diffDelveLabels compares labels read with Delve's. Delve loads strings
// up to 64 bytes and, from a map (Go 1.22/1.23), 64 entries; both read at
// most maxLabels.
func diffDelveLabels(got, delve map[string]string, hashmap bool) string {
	if (got == nil) != (delve == nil) {
		return fmt.Sprintf("labels %v, Delve %v", short(got), short(delve))
	}
	const delveMax = 64
	switch {
	case len(got) == len(delve):
	case hashmap && len(delve) == delveMax && len(got) > delveMax:
	default:
		return fmt.Sprintf("%d labels, Delve %d", len(got), len(delve))
	}
	for k, dv := range delve {
		v, ok := got[k]
		switch {
		case !ok && len(got) == maxLabels:
			// Both read maxLabels of a larger map, not the same ones.
		case !ok:
			return fmt.Sprintf("label %q missing; Delve has %q", k, trunc(dv))
		case v == dv:
		case len(dv) == delveMax && strings.HasPrefix(v, dv):
		default:
			return fmt.Sprintf("label %q = %q, Delve %q", k, trunc(v), trunc(dv))
		}
	}
	return ""
}

func short(m map[string]string) string {
	if len(m) > 8 {
		return fmt.Sprintf("(%d labels)", len(m))
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+trunc(v))
	}
	return fmt.Sprint(parts)
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// ---- memory that does not hold labels ----

// fakeMem is a sparse memory: reads of pages never written fail.
type fakeMem struct{ pages map[uint64][]byte }

func (m *fakeMem) page(addr uint64, alloc bool) []byte {
	p := m.pages[addr&^4095]
	if p == nil && alloc {
		p = make([]byte, 4096)
		m.pages[addr&^4095] = p
	}
	return p
}

func (m *fakeMem) ReadMemory(buf []byte, addr uint64) (int, error) {
	for i := range buf {
		p := m.page(addr+uint64(i), false)
		if p == nil {
			return i, fmt.Errorf("unmapped %#x", addr+uint64(i))
		}
		buf[i] = p[(addr+uint64(i))&4095]
	}
	return len(buf), nil
}

func (m *fakeMem) WriteMemory(addr uint64, data []byte) (int, error) {
	for i, b := range data {
		m.page(addr+uint64(i), true)[(addr+uint64(i))&4095] = b
	}
	return len(data), nil
}

func (m *fakeMem) word(addr uint64, f field, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, _ = m.WriteMemory(addr+uint64(f.Off), b[:f.Size])
}

// checkCorruptLabels reads labels through the target's layout from
// memory made to mislead: random words, and structures with lengths,
// bucket counts and overflow chains that do not check out. Nothing may
// panic, and what comes out stays within the bounds.
func checkCorruptLabels(t *testing.T, tg *Target, ll *labelsLayout) {
	t.Helper()
	fake := func(mem *fakeMem) *Target {
		return &Target{bi: tg.bi, mem: mem, lay: &layouts{}, bin: binaryCache{unw: &unwinder{}}}
	}
	check := func(what string, maps []map[string]string, n int) {
		t.Helper()
		if len(maps) != n {
			t.Fatalf("%s: %d maps for %d pointers", what, len(maps), n)
		}
		for _, m := range maps {
			if m == nil || len(m) > maxLabels {
				t.Fatalf("%s: map %v", what, short(m))
			}
			for k, v := range m {
				if len(k) > maxLabelString || len(v) > maxLabelString {
					t.Fatalf("%s: a string of %d bytes", what, max(len(k), len(v)))
				}
			}
		}
	}
	// Random words, many of them pointers into the same memory, small
	// numbers or tophash-like bytes.
	const base, size = 0x10000000, 1 << 16
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		mem := &fakeMem{pages: map[uint64][]byte{}}
		for a := uint64(base); a < base+size; a += 8 {
			var w uint64
			switch rng.Intn(4) {
			case 0:
				w = base + uint64(rng.Intn(size))&^7
			case 1:
				w = uint64(rng.Intn(2000))
			case 2:
				w = rng.Uint64()
			default:
				w = uint64(rng.Intn(256)) * 0x0101010101010101
			}
			mem.word(a, field{Size: 8}, w)
		}
		ptrs := make([]uint64, 300)
		for i := range ptrs {
			ptrs[i] = base + uint64(rng.Intn(size))&^7
		}
		ptrs = append(ptrs, 8, 1<<63, base+size-8) // unmapped, absurd, straddling the end
		maps, _ := fake(mem).readLabelMaps(ll, ptrs)
		check(fmt.Sprintf("random memory, seed %d", seed), maps, len(ptrs))
	}

	// Structures that look right but lie.
	mem := &fakeMem{pages: map[uint64][]byte{}}
	const lm, hm, arr, str = 0x20000000, 0x20100000, 0x20200000, 0x20300000
	_, _ = mem.WriteMemory(str, []byte("keyvalue"))
	var ptrs []uint64
	var wantLens []int
	add := func(p uint64, n int) { ptrs, wantLens = append(ptrs, p), append(wantLens, n) }
	switch ll.kind {
	case labelsList:
		entry := func(list uint64, i int, k, kn, v, vn uint64) {
			e := list + uint64(i)*uint64(ll.elemSize)
			mem.word(e, ll.key, k)
			mem.word(e, ll.keyLen, kn)
			mem.word(e, ll.val, v)
			mem.word(e, ll.valLen, vn)
		}
		header := func(p, list, n uint64) {
			mem.word(p, ll.listPtr, list)
			mem.word(p, ll.listLen, n)
		}
		// A good one: key=value.
		header(lm, arr, 1)
		entry(arr, 0, str, 3, str+3, 5)
		add(lm, 1)
		// A length of 2^40: maxLabels entries are read, and the list
		// is not that long (the memory after it is unmapped): no labels.
		header(lm+0x100, arr, 1<<40)
		add(lm+0x100, 0)
		// A negative length, a nil list.
		header(lm+0x200, arr, ^uint64(0))
		add(lm+0x200, 0)
		header(lm+0x300, 0, 3)
		add(lm+0x300, 0)
		// Strings too long, unmapped, nil: entries skipped.
		header(lm+0x400, arr+0x1000, 4)
		entry(arr+0x1000, 0, str, maxLabelString+1, str, 1)
		entry(arr+0x1000, 1, 0x30000000, 8, str, 1)
		entry(arr+0x1000, 2, 0, 3, str, 1)
		entry(arr+0x1000, 3, str, 3, str+3, 5)
		add(lm+0x400, 1)
	case labelsHashmap:
		bucket := func(b uint64, slot int, k, kn, v, vn uint64, top byte, overflow uint64) {
			_, _ = mem.WriteMemory(b+uint64(ll.bTophash)+uint64(slot), []byte{top})
			kh := b + uint64(ll.bKeys) + uint64(slot)*uint64(ll.kStride)
			vh := b + uint64(ll.bVals) + uint64(slot)*uint64(ll.vStride)
			mem.word(kh, ll.strPtr, k)
			mem.word(kh, ll.strLen, kn)
			mem.word(vh, ll.strPtr, v)
			mem.word(vh, ll.strLen, vn)
			mem.word(b, ll.bOverflow, overflow)
		}
		hmap := func(p, h, count, b, buckets, old uint64) {
			mem.word(p, field{Size: 8}, h)
			mem.word(h, ll.hCount, count)
			mem.word(h, ll.hB, b)
			mem.word(h, ll.hBuckets, buckets)
			mem.word(h, ll.hOldbuckets, old)
		}
		// A good one.
		hmap(lm, hm, 1, 0, arr, 0)
		bucket(arr, 0, str, 3, str+3, 5, 200, 0)
		add(lm, 1)
		// B far beyond what count needs: no labels.
		hmap(lm+0x100, hm+0x100, 1, 40, arr, 0)
		add(lm+0x100, 0)
		// An overflow chain that loops back on itself, with a count of
		// 2^40: ends, with the one entry.
		hmap(lm+0x200, hm+0x200, 1<<40, 0, arr+0x1000, 0)
		bucket(arr+0x1000, 0, str, 3, str+3, 5, 200, arr+0x1000)
		add(lm+0x200, 1)
		// A nil hmap, an unmapped one, a negative count.
		hmap(lm+0x300, 0, 0, 0, 0, 0)
		add(lm+0x300, 0)
		mem.word(lm+0x400, field{Size: 8}, 0x30000000)
		add(lm+0x400, 0)
		hmap(lm+0x500, hm+0x500, ^uint64(0), 0, arr, 0)
		add(lm+0x500, 0)
		// Growing: an evacuated old bucket is skipped, the other one
		// read; bad strings skipped.
		hmap(lm+0x600, hm+0x600, 3, 1, arr+0x2000, arr+0x3000)
		bucket(arr+0x3000, 0, str, 3, str+3, 2, hmapEvacuatedX, 0) // evacuated: "key"="va" not read
		bucket(arr+0x2000, 0, str, 3, str+3, 5, 99, 0)             // its new home
		bucket(arr+0x2000, 1, str, maxLabelString+1, str, 1, 99, 0)
		bucket(arr+0x2000, 2, 0, 3, str, 1, 99, 0)
		add(lm+0x600, 1)
	}
	maps, over := fake(mem).readLabelMaps(ll, ptrs)
	check("made-up structures", maps, len(ptrs))
	if over {
		t.Errorf("made-up structures: over the budget")
	}
	for i, m := range maps {
		if len(m) != wantLens[i] || (len(m) == 1 && m["key"] != "value") {
			t.Errorf("made-up labelMap %d at %#x: %v, want %d labels", i, ptrs[i], m, wantLens[i])
		}
	}
	// A budget too small for them: fewer labels, a warning.
	defer func(b int64) { labelBudget = b }(labelBudget)
	labelBudget = 64
	maps, over = fake(mem).readLabelMaps(ll, ptrs)
	check("made-up structures, small budget", maps, len(ptrs))
	if !over {
		t.Errorf("made-up structures, small budget: not over the budget")
	}
}

// BenchmarkLabels times reading every goroutine's labels (after the
// stacks, as Goroutines does) in a process given by HANGTUI_BENCH_PID, e.g.
// benchgen -n 10000 -shape labels. "delve" is the path before labels.go
// (Delve's G and G.Labels per goroutine), run when HANGTUI_BENCH_DELVE is
// set: it takes seconds at 10,000 goroutines.
func BenchmarkLabels(b *testing.B) {
	pid, err := strconv.Atoi(os.Getenv("HANGTUI_BENCH_PID"))
	if err != nil {
		b.Skip("set HANGTUI_BENCH_PID to a process with labelled goroutines")
	}
	tg := attachTo(b, pid)
	gs, _, err := tg.Goroutines()
	if err != nil {
		b.Fatal(err)
	}
	ptrs, labels := map[uint64]bool{}, 0
	for _, g := range gs {
		if g.regs.labels != 0 {
			ptrs[g.regs.labels] = true
		}
		labels += len(g.Labels)
	}
	b.Logf("%d goroutines, %d distinct labels pointers, %d labels, layout kind %d", len(gs), len(ptrs), labels, tg.labelsLayout().kind)
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tg.ClearCaches()
			tg.readLabels(gs)
		}
	})
	if os.Getenv("HANGTUI_BENCH_DELVE") != "" {
		b.Run("delve", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tg.ClearCaches()
				for _, g := range gs {
					g.dg = nil
					if g.regs.labels != 0 {
						if dg, err := tg.delveG(g); err == nil {
							g.Labels = dg.Labels()
						}
					}
				}
			}
		})
	}
}
