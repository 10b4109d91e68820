package cases

import "sync"

type S struct {
	mu sync.Mutex
	rw sync.RWMutex
}

var global sync.Mutex

func block() {}

func straight(s *S) {
	s.mu.Lock()
	block() // held: s.mu@15
	s.mu.Unlock()
	block() // held: -
}

func branch(s *S, c bool) {
	if c {
		s.mu.Lock()
	}
	block() // held: -
}

func bothBranches(s *S, c bool) {
	if c {
		s.mu.Lock()
	} else {
		s.mu.Lock()
	}
	block() // held: s.mu@32
}

func loopUnlock(s *S, ch chan int) {
	s.mu.Lock()
	for range ch { // held: s.mu@42
		s.mu.Unlock()
		block() // held: -
		s.mu.Lock()
	}
}

func loopHeld(s *S, ch chan int) {
	s.mu.Lock()
	for v := range ch { // held: s.mu@47
		_ = v
		block() // held: s.mu@47
	}
}

func earlyReturn(s *S, c bool) {
	s.mu.Lock()
	if c {
		return
	}
	block() // held: s.mu@55
	s.mu.Unlock()
}

func deferred(s *S) {
	s.mu.Lock()
	defer s.mu.Unlock()
	block() // held: s.mu@64 deferred
}

func reassigned(s, t *S) {
	s.mu.Lock()
	s = t
	block() // held: -
}

func readLock(s *S) {
	s.rw.RLock()
	block() // held: s.rw@76 read
	s.rw.RUnlock()
}

func selects(s *S, a, b chan int) {
	global.Lock()
	select { // held: global@82
	case <-a:
	case <-b:
	}
}

func closure(s *S) {
	s.mu.Lock()
	f := func() {
		block() // held: -
	}
	f() // held: s.mu@90
}

func panics(s *S, c bool) {
	if !c {
		s.mu.Lock()
	} else {
		panic("no")
	}
	block() // held: s.mu@99
}

func forLoop(s *S, n int) {
	for i := 0; i < n; i++ {
		s.mu.Lock()
		block() // held: s.mu@108
		s.mu.Unlock()
	}
	block() // held: -
}

func goStmt(s *S) {
	go s.mu.Lock()
	block() // held: -
}
