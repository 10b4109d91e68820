package main

import (
	"sync"
	"time"
)

func init() {
	register("varied", "deep, varied stacks: many distinct functions, closures, generics, method values, inlined frames (25 to 120 frames, ~6,000 distinct stacks)", startVaried)
}

// step is one level of the walk; the table makes each level a different
// function, as a real call path through a server's layers would be.
type step func(path []int, leaf func())

var steps []step

func init() {
	steps = []step{
		layer0, layer1, layer2, layer3, layer4, layer5, layer6, layer7,
		genericLayer[int8], genericLayer[int64], genericLayer[[3]int32], genericLayer[struct{ a, b string }],
		closureLayer, methodLayer, inlinedLayer, deferLayer,
	}
}

// next calls the step path[0] names, or the leaf at the end of the path.
//
//go:noinline
func next(path []int, leaf func()) {
	if len(path) == 0 {
		leaf()
		return
	}
	steps[path[0]%len(steps)](path[1:], leaf)
}

//go:noinline
func layer0(p []int, leaf func()) { next(p, leaf) }

//go:noinline
func layer1(p []int, leaf func()) { next(p, leaf) }

//go:noinline
func layer2(p []int, leaf func()) { next(p, leaf) }

//go:noinline
func layer3(p []int, leaf func()) { next(p, leaf) }

//go:noinline
func layer4(p []int, leaf func()) { next(p, leaf) }

//go:noinline
func layer5(p []int, leaf func()) { next(p, leaf) }

//go:noinline
func layer6(p []int, leaf func()) { next(p, leaf) }

//go:noinline
func layer7(p []int, leaf func()) { next(p, leaf) }

// genericLayer is instantiated with types of different GC shapes, so each
// instantiation is its own function.
//
//go:noinline
func genericLayer[T any](p []int, leaf func()) {
	var zero [2]T
	_ = zero
	next(p, leaf)
}

func closureLayer(p []int, leaf func()) {
	depth := len(p)
	f := func() {
		if depth >= 0 {
			next(p, leaf)
		}
	}
	f()
}

type handler struct{ id int }

//go:noinline
func (h *handler) serve(p []int, leaf func()) { next(p, leaf) }

func methodLayer(p []int, leaf func()) {
	h := &handler{id: len(p)}
	fn := h.serve // a method value
	fn(p, leaf)
}

// inlinedLayer's helpers are small enough to inline: the traceback shows
// them as frames of their own at the same PC.
func inlinedLayer(p []int, leaf func()) { inlineA(p, leaf) }
func inlineA(p []int, leaf func())      { inlineB(p, leaf) }
func inlineB(p []int, leaf func())      { next(p, leaf) }

var variedMu sync.Mutex

func deferLayer(p []int, leaf func()) {
	defer func() { _ = len(p) }()
	next(p, leaf)
}

var (
	variedCh   = make(chan int)
	variedWG   sync.WaitGroup
	variedCond = sync.NewCond(&sync.Mutex{})
)

func startVaried(n int) {
	variedMu.Lock() // locked by a function that returned: no holder frame
	variedWG.Add(1)
	spawn(n, func(i int) {
		// A path of 8..40 steps (about 25 to 120 frames), a different
		// mix per goroutine class (x*7 mod 97 walks the table in a
		// fixed, varied order): some 6,000 distinct stacks.
		depth := 8 + i%33
		path := make([]int, depth)
		for k := range path {
			path[k] = (i%37 + k*7) % 97
		}
		var leaf func()
		switch i % 5 {
		case 0:
			leaf = func() { parked(); variedMu.Lock() }
		case 1:
			leaf = func() { parked(); <-variedCh }
		case 2:
			leaf = func() { parked(); variedWG.Wait() }
		case 3:
			leaf = func() {
				variedCond.L.Lock()
				parked()
				variedCond.Wait()
			}
		default:
			leaf = func() { parked(); time.Sleep(time.Hour) }
		}
		next(path, leaf)
	})
}
