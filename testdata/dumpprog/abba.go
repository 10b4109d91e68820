// Command dumpprog sets up the AB-BA deadlock of the fixture (two transfers
// locking two accounts in opposite orders) and writes a goroutine dump the
// way /debug/pprof/goroutine?debug=2 serves it. Its test hangs in the same
// deadlock so that `go test -timeout` prints its panic dump. hangtui's dump
// tests read both.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// Account is a bank account with its own lock.
type Account struct {
	name    string
	mu      sync.Mutex
	balance int
}

// transfer locks from, then to: run concurrently with the arguments swapped
// it deadlocks.
func transfer(ready *sync.WaitGroup, from, to *Account, amount int, proceed <-chan struct{}) {
	from.mu.Lock()
	defer from.mu.Unlock()
	ready.Done()
	<-proceed
	to.mu.Lock()
	defer to.mu.Unlock()
	from.balance -= amount
	to.balance += amount
}

// deadlock starts the two transfers and returns once both are parked in
// their second Lock.
func deadlock() {
	a := &Account{name: "alice", balance: 100}
	b := &Account{name: "bob", balance: 100}
	var ready sync.WaitGroup
	ready.Add(2)
	proceed := make(chan struct{})
	go transfer(&ready, a, b, 10, proceed)
	go transfer(&ready, b, a, 20, proceed)
	ready.Wait()
	close(proceed)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		buf := make([]byte, 1<<16)
		if strings.Count(string(buf[:runtime.Stack(buf, true)]), "[sync.Mutex.Lock]") >= 2 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func main() {
	deadlock()
	if err := pprof.Lookup("goroutine").WriteTo(os.Stdout, 2); err != nil {
		os.Exit(1)
	}
}
