package target

import "fmt"

// Callbacks are the functions the runtime may still call by itself, each
// as the location of its entry: the finalizers registered on live objects
// or queued (they run on the finalizer goroutine), the cleanups registered
// or queued, and the callbacks of the timers in the Ps' heaps (for a
// time.AfterFunc timer, the function given to AfterFunc; otherwise the
// timer's own function: time.sendTime, the netpoller's deadlines, ...).
// The source analysis (which code can still run) starts from them.
type Callbacks struct {
	Finalizers, Cleanups, Timers []Frame
}

// Callbacks reads them. An error means the lists may be incomplete and
// must not be relied on.
func (t *Target) Callbacks() (*Callbacks, error) {
	h, err := t.NewHeap()
	if err != nil {
		return nil, err
	}
	out := &Callbacks{}
	seen := map[uint64]bool{}
	add := func(list *[]Frame, pc uint64) error {
		if pc == 0 || seen[pc] {
			return nil
		}
		loc, ok := t.Location(pc)
		if !ok {
			return fmt.Errorf("no function at %#x", pc)
		}
		seen[pc] = true
		*list = append(*list, loc)
		return nil
	}
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	// Queued finalizers (the running one included: it is on a stack
	// anyway) and queued cleanups.
	_, err = t.walkFinBlocks(t.FingRunning(), func(e finEntry) bool {
		note(add(&out.Finalizers, t.funcvalPC(e.fn)))
		return true
	})
	note(err)
	if head := t.CleanupQueueHead(); head != 0 {
		_, err := t.walkCleanupBlocks(head, func(fn, arg uint64) bool {
			note(add(&out.Cleanups, t.funcvalPC(fn)))
			return true
		})
		note(err)
	}
	// Registered ones: the specials of every in-use span.
	note(h.specialCallbacks(func(cleanup bool, fn uint64) {
		if cleanup {
			note(add(&out.Cleanups, t.funcvalPC(fn)))
		} else {
			note(add(&out.Finalizers, t.funcvalPC(fn)))
		}
	}))
	// Timers.
	_, timers := t.PTimers()
	if len(timers) > 0 {
		tl, err := loadStruct(t.bi, "runtime.timer")
		if err != nil {
			return out, err
		}
		ff, af := tl.Field("f"), tl.Field("arg")
		if !ff.OK || !af.OK {
			return out, fmt.Errorf("runtime.timer has no f or arg")
		}
		goFunc := uint64(0)
		for _, tm := range timers {
			buf, err := t.readSmall(tm, int(tl.Size))
			if err != nil {
				note(err)
				continue
			}
			fv := get(buf, ff)
			if fv == 0 {
				continue
			}
			pc, err := t.readPtr(fv)
			if err != nil {
				note(err)
				continue
			}
			if goFunc == 0 {
				if loc, ok := t.Location(pc); ok && loc.Func == "time.goFunc" {
					goFunc = pc
				}
			}
			if pc == goFunc {
				// arg is the func() given to AfterFunc, as an
				// interface: its data word is the funcval.
				data, err := t.readPtr(tm + uint64(af.Off) + 8)
				if err == nil && data != 0 {
					note(add(&out.Timers, t.funcvalPC(data)))
					continue
				}
				note(fmt.Errorf("AfterFunc timer %#x: no callback", tm))
			}
			note(add(&out.Timers, pc))
		}
	}
	return out, firstErr
}

// specialCallbacks visits the function of every finalizer and cleanup
// registered on an object (span specials).
func (h *Heap) specialCallbacks(visit func(cleanup bool, fn uint64)) error {
	t := h.t
	mh, err := loadStruct(t.bi, "runtime.mheap")
	if err != nil {
		return err
	}
	base, err := t.varAddr("runtime.mheap_")
	if err != nil {
		return err
	}
	all := mh.Field("allspans")
	ptr, _ := t.readPtr(base + uint64(all.Off))
	n, _ := t.readPtr(base + uint64(all.Off) + 8)
	if n > 50_000_000 {
		return fmt.Errorf("implausible allspans length %d", n)
	}
	raw, err := t.read(ptr, int(n*8))
	if err != nil {
		return err
	}
	sp, err := loadStruct(t.bi, "runtime.special")
	if err != nil {
		return err
	}
	sf, _ := loadStruct(t.bi, "runtime.specialfinalizer")
	sc, _ := loadStruct(t.bi, "runtime.specialCleanup")
	next, kind := sp.Field("next"), sp.Field("kind")
	spans := make([]uint64, n)
	for i := range spans {
		spans[i] = decodeUint(raw[i*8 : i*8+8])
	}
	var todo []uint64
	t.readEach(spans, int(h.m.span.Size), func(_ int, buf []byte) {
		if get(buf, h.m.fState) == 1 && get(buf, h.m.fSpecials) != 0 {
			todo = append(todo, get(buf, h.m.fSpecials))
		}
	})
	if len(todo) == 0 {
		return nil
	}
	kindFinalizer, kindCleanup := t.constant("runtime._KindSpecialFinalizer", 1), t.constant("runtime._KindSpecialCleanup", -1)
	for _, rec := range todo {
		for k := 0; rec != 0 && k < 1_000_000; k++ {
			rb, err := t.read(rec, 64)
			if err != nil {
				return err
			}
			switch k := int64(get(rb, kind)); {
			case k == kindFinalizer && sf != nil:
				visit(false, get(rb, sf.Field("fn")))
			case k == kindCleanup && sc != nil:
				fn := get(rb, sc.Field("cleanup.fn"))
				if f := sc.Field("fn"); f.OK && fn == 0 {
					fn = get(rb, f)
				}
				visit(true, fn)
			}
			rec = get(rb, next)
		}
	}
	return nil
}
