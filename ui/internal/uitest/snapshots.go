// Package uitest has hand-made snapshots and the golden-file helper of the
// TUI's tests. Nothing here attaches to a process.
package uitest

import (
	"fmt"
	"time"

	"github.com/hangtui/hangtui/inspect"
)

const (
	goroot = "/usr/local/go/src/"
	appDir = "/home/dev/bank/"
)

// TakenAt is when the hand-made snapshots were taken; tests fix the clock
// a few seconds later.
var TakenAt = time.Date(2026, 11, 22, 17, 3, 4, 0, time.UTC)

func std(fn, rel string, line int) inspect.Frame {
	return inspect.Frame{Func: fn, File: goroot + rel, Line: line}
}

func app(fn, rel string, line int) inspect.Frame {
	return inspect.Frame{Func: fn, File: appDir + rel, Line: line}
}

func inl(f inspect.Frame) inspect.Frame { f.Inlined = true; return f }

func ptr(f inspect.Frame) *inspect.Frame { return &f }

var (
	gopark = std("runtime.gopark", "runtime/proc.go", 435)
	goexit = std("runtime.goexit", "runtime/asm_amd64.s", 1700)
)

func mutexLock() []inspect.Frame {
	return []inspect.Frame{
		gopark,
		std("runtime.goparkunlock", "runtime/proc.go", 441),
		std("runtime.semacquire1", "runtime/sema.go", 188),
		std("internal/sync.runtime_SemacquireMutex", "runtime/sema.go", 95),
		std("internal/sync.(*Mutex).lockSlow", "internal/sync/mutex.go", 149),
		inl(std("internal/sync.(*Mutex).Lock", "internal/sync/mutex.go", 70)),
		inl(std("sync.(*Mutex).Lock", "sync/mutex.go", 46)),
	}
}

func chanRecv() []inspect.Frame {
	return []inspect.Frame{gopark, std("runtime.chanrecv", "runtime/chan.go", 664), std("runtime.chanrecv1", "runtime/chan.go", 509)}
}

// top sets the frames and TopUser.
func top(g *inspect.Goroutine, frames ...inspect.Frame) *inspect.Goroutine {
	g.Frames = frames
	g.TopUser = -1
	for i, f := range frames {
		if inspect.IsUserFunc(f.Func) {
			g.TopUser = i
			break
		}
	}
	return g
}

func idle() []*inspect.Goroutine {
	gs := []*inspect.Goroutine{
		top(&inspect.Goroutine{ID: 2, State: inspect.StateWaiting, WaitReason: "force gc (idle)", System: true,
			Verdict: inspect.VerdictIdle, CreatedBy: ptr(std("runtime.init.7", "runtime/proc.go", 336))},
			gopark, std("runtime.forcegchelper", "runtime/proc.go", 348), goexit),
		top(&inspect.Goroutine{ID: 3, State: inspect.StateWaiting, WaitReason: "GC sweep wait", System: true,
			Verdict: inspect.VerdictIdle, CreatedBy: ptr(std("runtime.gcenable", "runtime/mgc.go", 204))},
			gopark, std("runtime.bgsweep", "runtime/mgcsweep.go", 279), goexit),
	}
	for id := int64(6); id <= 7; id++ {
		gs = append(gs, top(&inspect.Goroutine{ID: id, State: inspect.StateWaiting, WaitReason: "GC worker (idle)",
			System: true, Verdict: inspect.VerdictIdle, CreatedBy: ptr(std("runtime.gcBgMarkStartWorkers", "runtime/mgc.go", 1373))},
			gopark, std("runtime.gcBgMarkWorker", "runtime/mgc.go", 1463), goexit))
	}
	return gs
}

// Resource ids of Deadlock.
const (
	MuAlice = "mutex:0xc000012340"
	MuBob   = "mutex:0xc000012388"
	MuLedg  = "mutex:0xc0000a2010"
	WG      = "waitgroup:0xc0000140a0"
	AckCh   = "chan:0xc000080060"
	JobCh   = "chan:0xc0000800c0"
)

// Deadlock is a bank service: two transfers deadlocked AB-BA (g19, g20),
// main waiting behind them on a WaitGroup (g1), three readers queued on the
// ledger lock (g24-g26) held by g23 which waits for an ack nobody sends
// (leaked), four idle workers on a job channel, a sleeper, a running
// goroutine and idle runtime goroutines.
func Deadlock() *inspect.Snapshot {
	transfer := func(id int64, waits, holds string, other int64, gowrap string) *inspect.Goroutine {
		frames := append(mutexLock(),
			app("main.(*Account).Transfer", "account.go", 31),
			app("main.(*Bank).Move", "bank.go", 27),
			app("main.main."+gowrap, "main.go", 29),
			goexit)
		return top(&inspect.Goroutine{
			ID: id, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Waiting: 4*time.Minute + 31*time.Second,
			CreatedBy: ptr(app("main.main", "main.go", 29)), ParentID: 1,
			Labels: map[string]string{"op": "transfer"},
			Waits:  []inspect.Wait{{Resource: waits, Op: inspect.OpLock}}, Holds: []string{holds},
			Verdict: inspect.VerdictDeadlocked,
			Why:     fmt.Sprintf("in a lock-order deadlock cycle with goroutines 19, 20 (waits for %s, held by goroutine %d)", waits, other),
		}, frames...)
	}
	reader := func(id int64) *inspect.Goroutine {
		return top(&inspect.Goroutine{
			ID: id, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Waiting: 3 * time.Minute,
			CreatedBy: ptr(app("main.(*Server).handle", "server.go", 88)), ParentID: 12,
			Waits:   []inspect.Wait{{Resource: MuLedg, Op: inspect.OpLock}},
			Verdict: inspect.VerdictDeadlocked,
			Why:     "waits for mutex:0xc0000a2010, held by goroutine 23, which can never run again",
		}, append(mutexLock(),
			app("main.(*Ledger).Balance", "ledger.go", 53),
			app("main.(*Server).handle.gowrap2", "server.go", 88),
			goexit)...)
	}
	worker := func(id int64) *inspect.Goroutine {
		return top(&inspect.Goroutine{
			ID: id, State: inspect.StateWaiting, WaitReason: "chan receive",
			CreatedBy: ptr(app("main.startWorkers", "workers.go", 14)), ParentID: 1,
			Waits:   []inspect.Wait{{Resource: JobCh, Op: inspect.OpRecv}},
			Verdict: inspect.VerdictBlocked,
		}, gopark, std("runtime.chanrecv", "runtime/chan.go", 664), std("runtime.chanrecv2", "runtime/chan.go", 514),
			app("main.startWorkers.func1", "workers.go", 16), goexit)
	}
	gs := []*inspect.Goroutine{
		top(&inspect.Goroutine{
			ID: 1, State: inspect.StateWaiting, WaitReason: "sync.WaitGroup.Wait", Waiting: 4*time.Minute + 31*time.Second,
			Waits:   []inspect.Wait{{Resource: WG, Op: inspect.OpWait}},
			Verdict: inspect.VerdictDeadlocked,
			Why:     "waits for waitgroup:0xc0000140a0, which only the deadlocked goroutines 19 and 20 can release",
		}, gopark,
			std("runtime.semacquire1", "runtime/sema.go", 188),
			std("sync.runtime_SemacquireWaitGroup", "runtime/sema.go", 110),
			std("sync.(*WaitGroup).Wait", "sync/waitgroup.go", 118),
			app("main.main", "main.go", 35),
			std("runtime.main", "runtime/proc.go", 283),
			goexit),
		worker(14), worker(15), worker(16), worker(17),
		transfer(19, MuBob, MuAlice, 20, "gowrap1"),
		transfer(20, MuAlice, MuBob, 19, "gowrap2"),
		top(&inspect.Goroutine{
			ID: 23, State: inspect.StateWaiting, WaitReason: "chan receive", Waiting: 3*time.Minute + 2*time.Second,
			CreatedBy: ptr(app("main.(*Server).handle", "server.go", 86)), ParentID: 12,
			Waits:   []inspect.Wait{{Resource: AckCh, Op: inspect.OpRecv}},
			Holds:   []string{MuLedg},
			Verdict: inspect.VerdictLeaked,
			Why:     "receives from chan:0xc000080060, which no goroutine that can still run references",
		}, append(chanRecv(),
			app("main.(*Ledger).Append", "ledger.go", 48),
			app("main.(*Server).handle.gowrap1", "server.go", 86),
			goexit)...),
		reader(24), reader(25), reader(26),
		top(&inspect.Goroutine{
			ID: 27, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Waiting: 2 * time.Minute,
			CreatedBy: ptr(app("main.(*Server).handle", "server.go", 90)), ParentID: 12,
			Waits:   []inspect.Wait{{Resource: MuAlice, Op: inspect.OpLock}},
			Verdict: inspect.VerdictDeadlocked,
			Why:     "waits for mutex:0xc000012340, held by goroutine 19, which is deadlocked",
		}, append(mutexLock(),
			app("main.(*Account).Balance", "account.go", 40),
			app("main.(*Server).handle.gowrap3", "server.go", 90),
			goexit)...),
		top(&inspect.Goroutine{
			ID: 35, State: inspect.StateWaiting, WaitReason: "sleep", Verdict: inspect.VerdictSleeping,
			CreatedBy: ptr(app("main.main", "main.go", 31)), ParentID: 1,
		}, gopark, std("time.Sleep", "runtime/time.go", 338), app("main.(*Bank).audit", "bank.go", 77), goexit),
		top(&inspect.Goroutine{
			ID: 36, State: inspect.StateRunning, Verdict: inspect.VerdictRunning,
			CreatedBy: ptr(app("main.main", "main.go", 32)), ParentID: 1,
		}, app("main.checksum", "bank.go", 90), app("main.(*Bank).rehash", "bank.go", 84), goexit),
	}
	gs = append(gs, idle()...)
	defer1 := func(file string, line int) *inspect.Frame { return ptr(app("main.(*Account).Transfer", file, line)) }
	return &inspect.Snapshot{
		Target:     inspect.Target{PID: 4242, Exe: "/srv/bank/bin/bankd", GoVersion: "go1.26.8", Source: inspect.SourceLive},
		TakenAt:    TakenAt,
		Pause:      12 * time.Millisecond,
		Goroutines: sortByID(gs),
		Resources: []*inspect.Resource{
			{ID: AckCh, Kind: inspect.KindChan, Addr: 0xc000080060, Type: "chan struct {}",
				Chan: &inspect.ChanState{ElemType: "struct {}", Receivers: []int64{23}}, Waiters: []int64{23}},
			{ID: JobCh, Kind: inspect.KindChan, Addr: 0xc0000800c0, Type: "chan main.Job",
				Chan: &inspect.ChanState{ElemType: "main.Job", Cap: 16, Receivers: []int64{14, 15, 16, 17}}, Waiters: []int64{14, 15, 16, 17}},
			{ID: MuLedg, Kind: inspect.KindMutex, Addr: 0xc0000a2010, Type: "main.Ledger.mu",
				Mutex:   &inspect.MutexState{Locked: true, Waiters: 3},
				Holders: []inspect.Holder{{Goroutine: 23, Evidence: inspect.EvidenceDefer, Frame: ptr(app("main.(*Ledger).Append", "ledger.go", 46))}},
				Waiters: []int64{24, 25, 26}},
			{ID: MuAlice, Kind: inspect.KindMutex, Addr: 0xc000012340, Type: "main.Account.mu",
				Mutex:   &inspect.MutexState{Locked: true, Waiters: 1},
				Holders: []inspect.Holder{{Goroutine: 19, Evidence: inspect.EvidenceDefer, Frame: defer1("account.go", 28)}},
				Waiters: []int64{20, 27}},
			{ID: MuBob, Kind: inspect.KindMutex, Addr: 0xc000012388, Type: "main.Account.mu",
				Mutex:   &inspect.MutexState{Locked: true, Waiters: 1},
				Holders: []inspect.Holder{{Goroutine: 20, Evidence: inspect.EvidenceDefer, Frame: defer1("account.go", 28)}},
				Waiters: []int64{19}},
			{ID: WG, Kind: inspect.KindWaitGroup, Addr: 0xc0000140a0, Type: "main.Bank.pending",
				WaitGroup: &inspect.WaitGroupState{Counter: 2, Waiters: 1}, Waiters: []int64{1}},
		},
		Cycles:     []inspect.Cycle{{Goroutines: []int64{19, 20}, Resources: []string{MuBob, MuAlice}, Kind: inspect.CycleLockOrder}},
		Finalizers: &inspect.Finalizers{State: inspect.FinalizerNone},
		Findings: []inspect.Finding{
			{Severity: inspect.SeverityError, Kind: inspect.FindingDeadlock,
				Title: "Deadlock: 2 goroutines wait for each other's locks (lock-order)",
				Details: []string{
					"goroutine 19 (main.(*Account).Transfer at bank/account.go:31) waits to lock mutex 0xc000012388 (main.Account.mu), held by goroutine 20 since bank/account.go:28 (deferred Unlock pending)",
					"goroutine 20 (main.(*Account).Transfer at bank/account.go:31) waits to lock mutex 0xc000012340 (main.Account.mu), held by goroutine 19 since bank/account.go:28 (deferred Unlock pending)",
					"goroutine 1 waits on the WaitGroup main.Bank.pending, which only goroutines 19 and 20 can release",
				},
				Goroutines: []int64{19, 20, 1}, Resources: []string{MuAlice, MuBob, WG}},
			{Severity: inspect.SeverityError, Kind: inspect.FindingLeak,
				Title:      "Goroutine 23 waits forever on a channel nobody else references, holding main.Ledger.mu",
				Details:    []string{"goroutine 23 receives from chan:0xc000080060 (chan struct {}, unbuffered)", "3 goroutines (24, 25, 26) wait for main.Ledger.mu behind it"},
				Goroutines: []int64{23, 24, 25, 26}, Resources: []string{AckCh, MuLedg}},
		},
	}
}

// Healthy has no cycle and nothing stuck: a chain of goroutines waiting
// behind a lock holder that sleeps.
func Healthy() *inspect.Snapshot {
	const mu, mu2 = "mutex:0xc000100000", "mutex:0xc000100040"
	gs := []*inspect.Goroutine{
		top(&inspect.Goroutine{ID: 1, State: inspect.StateWaiting, WaitReason: "select", Verdict: inspect.VerdictBlocked},
			gopark, std("runtime.selectgo", "runtime/select.go", 351), app("main.main", "main.go", 40), goexit),
		top(&inspect.Goroutine{ID: 8, State: inspect.StateWaiting, WaitReason: "sleep", Verdict: inspect.VerdictSleeping,
			Holds: []string{mu}, CreatedBy: ptr(app("main.main", "main.go", 22)), ParentID: 1},
			gopark, std("time.Sleep", "runtime/time.go", 338), app("main.(*Cache).refresh", "cache.go", 61), goexit),
		top(&inspect.Goroutine{ID: 9, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Verdict: inspect.VerdictBlocked,
			Waits: []inspect.Wait{{Resource: mu, Op: inspect.OpLock}}, Holds: []string{mu2},
			CreatedBy: ptr(app("main.main", "main.go", 23)), ParentID: 1},
			append(mutexLock(), app("main.(*Cache).Get", "cache.go", 30), goexit)...),
		top(&inspect.Goroutine{ID: 10, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Verdict: inspect.VerdictBlocked,
			Waits: []inspect.Wait{{Resource: mu2, Op: inspect.OpLock}}, CreatedBy: ptr(app("main.main", "main.go", 24)), ParentID: 1},
			append(mutexLock(), app("main.(*Index).Lookup", "index.go", 12), goexit)...),
		top(&inspect.Goroutine{ID: 11, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Verdict: inspect.VerdictBlocked,
			Waits: []inspect.Wait{{Resource: mu2, Op: inspect.OpLock}}, CreatedBy: ptr(app("main.main", "main.go", 24)), ParentID: 1},
			append(mutexLock(), app("main.(*Index).Lookup", "index.go", 12), goexit)...),
	}
	gs = append(gs, idle()...)
	return &inspect.Snapshot{
		Target:     inspect.Target{PID: 777, Exe: "/usr/bin/cached", GoVersion: "go1.25.3", Source: inspect.SourceLive},
		TakenAt:    TakenAt,
		Pause:      3 * time.Millisecond,
		Goroutines: sortByID(gs),
		Resources: []*inspect.Resource{
			{ID: mu, Kind: inspect.KindMutex, Addr: 0xc000100000, Type: "main.Cache.mu", Mutex: &inspect.MutexState{Locked: true, Waiters: 1},
				Holders: []inspect.Holder{{Goroutine: 8, Evidence: inspect.EvidenceSource, Frame: ptr(app("main.(*Cache).refresh", "cache.go", 58))}},
				Waiters: []int64{9}},
			{ID: mu2, Kind: inspect.KindMutex, Addr: 0xc000100040, Type: "main.Index.mu", Mutex: &inspect.MutexState{Locked: true, Waiters: 2},
				Holders: []inspect.Holder{{Goroutine: 9, Evidence: inspect.EvidenceDefer, Frame: ptr(app("main.(*Cache).Get", "cache.go", 27))}},
				Waiters: []int64{10, 11}},
		},
	}
}

// Many is n goroutines in a few groups (for the virtualisation tests).
func Many(n int) *inspect.Snapshot {
	const ch = "chan:0xc000200000"
	gs := make([]*inspect.Goroutine, 0, n)
	for i := 0; i < n; i++ {
		id := int64(100 + i)
		g := &inspect.Goroutine{ID: id, State: inspect.StateWaiting, WaitReason: "chan receive",
			Verdict: inspect.VerdictBlocked, Waits: []inspect.Wait{{Resource: ch, Op: inspect.OpRecv}}, Waiting: time.Duration(i%600) * time.Second,
			Labels: map[string]string{"shard": fmt.Sprint(i % 7)}}
		fn := fmt.Sprintf("main.worker%d", i%5)
		gs = append(gs, top(g, gopark, std("runtime.chanrecv2", "runtime/chan.go", 514), app(fn, "worker.go", 10+i%5), goexit))
	}
	return &inspect.Snapshot{
		Target:     inspect.Target{PID: 9999, Exe: "/srv/fanout", GoVersion: "go1.26.8", Source: inspect.SourceLive},
		TakenAt:    TakenAt,
		Pause:      850 * time.Millisecond,
		Goroutines: gs,
		Resources:  []*inspect.Resource{{ID: ch, Kind: inspect.KindChan, Addr: 0xc000200000, Type: "chan int", Chan: &inspect.ChanState{ElemType: "int"}}},
	}
}

func sortByID(gs []*inspect.Goroutine) []*inspect.Goroutine {
	for i := 1; i < len(gs); i++ {
		for j := i; j > 0 && gs[j].ID < gs[j-1].ID; j-- {
			gs[j], gs[j-1] = gs[j-1], gs[j]
		}
	}
	return gs
}
