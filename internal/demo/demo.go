// Package demo is the hung program behind `hangtui demo`: a small "bank"
// service with the classic hangs people meet in real Go services. The
// hangtui binary re-executes itself in a hidden mode to run it, so the demo
// works from a release binary without a Go toolchain.
package demo

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"
)

// Account is a bank account guarded by its own lock.
type Account struct {
	ID      string
	mu      sync.Mutex
	balance int
}

// Transfer moves money, locking the source first and the destination second:
// two opposite transfers at once lock in opposite orders (AB-BA).
func Transfer(from, to *Account, amount int, bothLocked *sync.WaitGroup) {
	from.mu.Lock()
	defer from.mu.Unlock()
	bothLocked.Done()
	bothLocked.Wait() // make the bad interleaving certain, for the demo
	to.mu.Lock()
	defer to.mu.Unlock()
	from.balance -= amount
	to.balance += amount
}

// Ledger keeps the audit log; Append waits for the auditor to acknowledge
// while it holds the ledger lock, and the auditor never answers.
type Ledger struct {
	mu      sync.Mutex
	entries []string
	acks    chan struct{}
}

// Append records an entry and waits for an acknowledgement, holding mu.
func (l *Ledger) Append(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	<-l.acks
}

// Balance reads the ledger; it queues behind Append.
func (l *Ledger) Balance() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Conn is a pooled connection whose finalizer returns it to the pool: the
// finalizer takes pool.mu, which the pool janitor holds while it waits for
// the finalizer to report a freed connection.
type Conn struct {
	id   int
	addr string // a pointer field keeps Conn out of the tiny allocator, whose shared blocks may never be finalized
}

// Pool is the connection pool.
type Pool struct {
	mu    sync.Mutex
	freed chan int
}

func (p *Pool) janitor(started chan<- struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(started)
	<-p.freed // waits for a finalizer that needs p.mu first
}

func (p *Pool) release(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.freed <- c.id
}

// fetchReport starts a producer that gives up early without closing its
// channel: the consumer ranges over it forever.
func fetchReport() {
	results := make(chan string)
	go func() {
		// the producer hit an error and returned without close(results)
	}()
	for r := range results {
		_ = r
	}
}

// workerPool is healthy: workers wait for jobs from a producer that sleeps
// between jobs.
func workerPool() {
	jobs := make(chan int)
	for i := 0; i < 4; i++ {
		go func() {
			for j := range jobs {
				_ = j * j
			}
		}()
	}
	go func() {
		for i := 0; ; i++ {
			jobs <- i
			time.Sleep(250 * time.Millisecond)
		}
	}()
}

var (
	alice, bob = &Account{ID: "alice", balance: 100}, &Account{ID: "bob", balance: 100}
	ledger     = &Ledger{acks: make(chan struct{})}
	pool       = &Pool{freed: make(chan int)}
	shutdown   sync.WaitGroup
)

// Run starts every scenario, prints "ready" to out once all of them are
// parked, and never returns.
func Run(out io.Writer) {
	var bothLocked sync.WaitGroup
	bothLocked.Add(2)
	go Transfer(alice, bob, 10, &bothLocked)
	go Transfer(bob, alice, 20, &bothLocked)

	go ledger.Append("alice→bob 10")
	waitFor(func() bool {
		if ledger.mu.TryLock() {
			ledger.mu.Unlock()
			return false
		}
		return true
	})
	for i := 0; i < 3; i++ {
		go ledger.Balance()
	}

	started := make(chan struct{})
	go pool.janitor(started)
	<-started
	for i := 0; i < 3; i++ {
		c := &Conn{id: i, addr: "db:5432"}
		runtime.SetFinalizer(c, func(c *Conn) { pool.release(c) })
	}
	for i := 0; i < 5; i++ {
		runtime.GC()
	}

	go fetchReport()

	// Shutdown waits for a worker that is parked waiting for work.
	idle := make(chan func())
	shutdown.Add(1)
	go func() {
		defer shutdown.Done()
		for f := range idle {
			f()
		}
	}()
	go func() { shutdown.Wait() }()

	workerPool()
	time.Sleep(300 * time.Millisecond)
	fmt.Fprintln(out, "ready")
	for {
		time.Sleep(time.Hour)
	}
}

func waitFor(cond func() bool) {
	for i := 0; i < 1000 && !cond(); i++ {
		time.Sleep(time.Millisecond)
	}
}
