package main

import (
	"context"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

func init() {
	register("chans", "many distinct channels, each with one parked receiver or sender", startChans)
	register("labels", "every goroutine under pprof labels with distinct values", startLabels)
	register("heap", "live heap objects linked from globals and parked stacks (-heap MB)", startHeap)
	register("heapok", "the heap shape with the channel held by a global: a healthy server, nothing leaked", startHeapOK)
	register("finq", "the finalizer goroutine blocked on a lock, -finq finalizers queued behind it", startFinq)
}

type conn struct {
	in  chan []byte
	out chan []byte
}

var conns []*conn

func startChans(n int) {
	conns = make([]*conn, n)
	for i := range conns {
		conns[i] = &conn{in: make(chan []byte), out: make(chan []byte, 1)}
		conns[i].out <- nil // full: a send parks
	}
	spawn(n, func(i int) {
		c := conns[i]
		recurse(i%7, func() {
			parked()
			if i%2 == 0 {
				<-c.in
			} else {
				c.out <- nil
			}
		})
	})
}

var labelMu sync.Mutex

func startLabels(n int) {
	labelMu.Lock()
	spawn(n, func(i int) {
		ctx := pprof.WithLabels(context.Background(), pprof.Labels(
			"request", strconv.Itoa(i), "route", "/api/v1/items/"+strconv.Itoa(i%50), "tenant", "t"+strconv.Itoa(i%7)))
		pprof.SetGoroutineLabels(ctx)
		recurse(i%5, func() {
			parked()
			if i%2 == 0 {
				labelMu.Lock()
			} else {
				time.Sleep(time.Hour)
			}
		})
	})
}

// node is a heap object with pointers: a list of them per goroutine and a
// tree under a global, as a cache would be.
type node struct {
	next, left *node
	payload    [6]uint64
}

var heapRoots []*node

// heapCh, when set (heapok), holds the channel the heap shape's goroutines
// wait on.
var (
	heapCh      chan int
	healthyHeap bool
)

func startHeapOK(n int) {
	healthyHeap = true
	startHeap(n)
}

func startHeap(n int) {
	const nodeSize = 64
	total := flagHeapMB << 20 / nodeSize
	perRoot := 1 << 12
	roots := total / perRoot
	globalRoots := roots / 2
	heapRoots = make([]*node, globalRoots)
	build := func() *node {
		var head *node
		for k := 0; k < perRoot; k++ {
			nd := &node{next: head}
			if head != nil && k%3 == 0 {
				nd.left = head.next
			}
			head = nd
		}
		return head
	}
	for i := range heapRoots {
		heapRoots[i] = build()
	}
	stackRoots := roots - globalRoots
	var ch = make(chan int)
	if healthyHeap {
		heapCh = ch // a global holds it: whoever runs could send
	}
	spawn(n, func(i int) {
		var mine []*node
		for k := i; k < stackRoots; k += n {
			mine = append(mine, build())
		}
		parked()
		<-ch
		runtime.KeepAlive(mine)
	})
}

type resource struct {
	id  int
	buf *[16]byte
}

var finMu sync.Mutex

func startFinq(n int) {
	finMu.Lock() // never unlocked: the first finalizer blocks on it
	for i := 0; i < flagFinq+1; i++ {
		r := &resource{id: i, buf: new([16]byte)}
		runtime.SetFinalizer(r, func(r *resource) {
			finMu.Lock()
			finMu.Unlock()
		})
	}
	runtime.GC()
	runtime.GC()
	spawn(n, func(i int) {
		parked()
		if i%2 == 0 {
			finMu.Lock()
		} else {
			time.Sleep(time.Hour)
		}
	})
}
