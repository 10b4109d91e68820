package cases

import "errors"

type gossip struct {
	mu    S
	peers []string
}

func (g *gossip) bootstrap() {
	for _, p := range g.peers {
		g.mu.mu.Lock() // exits: return@19 via 14; end@21 via 14
		if p == "" {
			break
		}
		g.mu.mu.Unlock()
	}
	if len(g.peers) > 3 {
		return
	}
}

func earlyReturn(s *S) error {
	s.mu.Lock() // exits: return@26
	if s == nil {
		return errors.New("nil")
	}
	s.mu.Unlock()
	return nil
}

func panics(s *S, x int) {
	s.mu.Lock() // exits: panic@35
	if x < 0 {
		panic("negative")
	}
	s.mu.Unlock()
}

func fine(s *S) {
	s.mu.Lock() // exits: -
	defer s.mu.Unlock()
	block()
}

func alsoFine(s *S, c bool) {
	s.mu.Lock() // exits: -
	if c {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
}

// lockIt returns holding the lock: its caller is to unlock.
func lockIt(s *S) {
	s.mu.Lock() // exits: end@58
}

func gotoOut(s *S, n int) {
	for i := 0; i < n; i++ {
		s.rw.RLock() // exits: end@70 via 64
		if i == 3 {
			goto out
		}
		s.rw.RUnlock()
	}
out:
	block()
}
