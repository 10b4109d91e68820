package main

import (
	"sync"
	"time"
)

func init() {
	register("holders", "locks held deep in stacks (deferred and plain Unlock), one goroutine holding 256 locks, a crowd behind one holder, many distinct mutexes", startHolders)
}

type account struct {
	mu      sync.Mutex
	rw      sync.RWMutex
	balance int
}

// holdDeep recurses depth frames, locks a at the bottom and sleeps there.
//
//go:noinline
func holdDeep(depth int, a *account, deferred bool) {
	if depth > 0 {
		holdDeep(depth-1, a, deferred)
		return
	}
	if deferred {
		a.mu.Lock()
		defer a.mu.Unlock()
		parked()
		time.Sleep(time.Hour)
		return
	}
	a.mu.Lock()
	parked()
	time.Sleep(time.Hour)
	a.mu.Unlock()
}

// holdMany locks accounts[i] in frame i of a recursion, so one goroutine
// holds every lock, each taken by a frame of its own.
//
//go:noinline
func holdMany(accts []*account, i int) {
	if i == len(accts) {
		parked()
		time.Sleep(time.Hour)
		return
	}
	a := accts[i]
	if i%2 == 0 {
		a.mu.Lock()
		defer a.mu.Unlock()
	} else {
		a.rw.Lock()
	}
	holdMany(accts, i+1)
	if i%2 == 1 {
		a.rw.Unlock()
	}
}

//go:noinline
func (a *account) deposit(v int) {
	a.mu.Lock()
	a.balance += v
	a.mu.Unlock()
}

//go:noinline
func (a *account) audit() int {
	a.rw.RLock()
	defer a.rw.RUnlock()
	return a.balance
}

func startHolders(n int) {
	// One goroutine holds 256 locks; a waiter parks on each.
	many := make([]*account, 256)
	for i := range many {
		many[i] = &account{}
	}
	ready := make(chan struct{})
	spawn(1, func(int) { close(ready); holdMany(many, 0) })
	<-ready
	time.Sleep(50 * time.Millisecond)
	rest := n - 1
	k := min(len(many), rest)
	spawn(k, func(i int) {
		parked()
		if i%2 == 0 {
			many[i].deposit(1)
		} else {
			many[i].audit()
		}
	})
	rest -= k
	if rest <= 0 {
		return
	}
	// A crowd of a quarter of the rest behind one deep holder.
	crowd := &account{}
	held := make(chan struct{})
	spawn(1, func(int) {
		go func() { time.Sleep(20 * time.Millisecond); close(held) }()
		holdDeep(30, crowd, false)
	})
	<-held
	rest--
	c := rest / 4
	spawn(c, func(int) { parked(); recurse(10, func() { crowd.deposit(1) }) })
	rest -= c
	// The others in pairs: a holder deep in its stack and one waiter, each
	// pair on its own mutex.
	pairs := rest / 2
	accts := make([]*account, pairs)
	for i := range accts {
		accts[i] = &account{}
		accts[i].mu.Lock() // released to the holder below
	}
	spawn(pairs, func(i int) {
		a := accts[i]
		a.mu.Unlock()
		holdDeep(5+i%20, a, i%3 == 0)
	})
	// Wait until the holders have the locks, then queue a waiter on each.
	for _, a := range accts {
		for a.mu.TryLock() {
			a.mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}
	spawn(pairs, func(i int) { parked(); accts[i].deposit(i) })
	if odd := rest - 2*pairs; odd > 0 {
		spawn(odd, func(int) { parked(); time.Sleep(time.Hour) })
	}
}
