package report

import (
	"time"

	"github.com/hangtui/hangtui/inspect"
)

// Hand-built snapshots: no target process is needed to test rendering.

const (
	goroot = "/usr/local/go/src/"
	appDir = "/home/dev/bank/"
	modDir = "/home/dev/go/pkg/mod/"
)

var takenAt = time.Date(2026, 11, 22, 17, 3, 4, 0, time.UTC)

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

// mutexLockFrames is the stack of sync.Mutex.Lock down to the caller.
func mutexLockFrames() []inspect.Frame {
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

// withTop appends frames and sets TopUser to the first program frame.
func withTop(g *inspect.Goroutine, frames ...inspect.Frame) *inspect.Goroutine {
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

// runtimeIdle returns the idle runtime goroutines every Go program has.
func runtimeIdle() []*inspect.Goroutine {
	gs := []*inspect.Goroutine{
		withTop(&inspect.Goroutine{ID: 2, State: inspect.StateWaiting, WaitReason: "force gc (idle)", System: true,
			Verdict: inspect.VerdictIdle, CreatedBy: ptr(std("runtime.init.7", "runtime/proc.go", 336))},
			gopark, std("runtime.forcegchelper", "runtime/proc.go", 348), goexit),
		withTop(&inspect.Goroutine{ID: 3, State: inspect.StateWaiting, WaitReason: "GC sweep wait", System: true,
			Verdict: inspect.VerdictIdle, CreatedBy: ptr(std("runtime.gcenable", "runtime/mgc.go", 204))},
			gopark, std("runtime.goparkunlock", "runtime/proc.go", 441), std("runtime.bgsweep", "runtime/mgcsweep.go", 279),
			std("runtime.gcenable.gowrap1", "runtime/mgc.go", 204), goexit),
		withTop(&inspect.Goroutine{ID: 4, State: inspect.StateWaiting, WaitReason: "GC scavenge wait", System: true,
			Verdict: inspect.VerdictIdle, CreatedBy: ptr(std("runtime.gcenable", "runtime/mgc.go", 205))},
			gopark, std("runtime.goparkunlock", "runtime/proc.go", 441),
			std("runtime.(*scavengerState).park", "runtime/mgcscavenge.go", 425),
			std("runtime.bgscavenge", "runtime/mgcscavenge.go", 653), goexit),
		withTop(&inspect.Goroutine{ID: 5, State: inspect.StateWaiting, WaitReason: "finalizer wait", System: true,
			Role: inspect.RoleFinalizer, Verdict: inspect.VerdictIdle,
			CreatedBy: ptr(std("runtime.createfing", "runtime/mfinal.go", 166))},
			gopark, std("runtime.runfinq", "runtime/mfinal.go", 196), goexit),
	}
	for id := int64(6); id <= 9; id++ {
		gs = append(gs, withTop(&inspect.Goroutine{ID: id, State: inspect.StateWaiting, WaitReason: "GC worker (idle)",
			System: true, Verdict: inspect.VerdictIdle, CreatedBy: ptr(std("runtime.gcBgMarkStartWorkers", "runtime/mgc.go", 1373))},
			gopark, std("runtime.gcBgMarkWorker", "runtime/mgc.go", 1463), goexit))
	}
	return gs
}

// deadlockSnapshot: two transfers lock two accounts in opposite order
// (AB-BA), main waits for them on a WaitGroup, and a notification goroutine
// leaked on an unbuffered channel nobody reads.
func deadlockSnapshot() *inspect.Snapshot {
	const (
		muA = "mutex:0xc000012340"
		muB = "mutex:0xc000012388"
		wg  = "waitgroup:0xc0000140a0"
		ch  = "chan:0xc000080060"
	)
	transfer := func(id int64, waits, holds, other string) *inspect.Goroutine {
		frames := append(mutexLockFrames(),
			app("main.(*Account).Transfer", "account.go", 31),
			app("main.main.func1", "main.go", 27),
			app("main.main.gowrap1", "main.go", 29),
			goexit)
		return withTop(&inspect.Goroutine{
			ID: id, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Waiting: 4*time.Minute + 31*time.Second,
			CreatedBy: ptr(app("main.main", "main.go", 25)), ParentID: 1,
			Labels: map[string]string{"op": "transfer"},
			Waits:  []inspect.Wait{{Resource: waits, Op: inspect.OpLock}}, Holds: []string{holds},
			Verdict: inspect.VerdictDeadlocked,
			Why:     "waits for " + waits + ", held by goroutine " + other + ", which waits for " + holds + ", held by this goroutine",
		}, frames...)
	}
	gs := []*inspect.Goroutine{
		withTop(&inspect.Goroutine{
			ID: 1, State: inspect.StateWaiting, WaitReason: "sync.WaitGroup.Wait", Waiting: 4*time.Minute + 31*time.Second,
			Waits:   []inspect.Wait{{Resource: wg, Op: inspect.OpWait}},
			Verdict: inspect.VerdictDeadlocked,
			Why:     "waits for " + wg + ", which only the deadlocked goroutines 19 and 20 can release",
		},
			gopark,
			std("runtime.semacquire1", "runtime/sema.go", 188),
			std("sync.runtime_SemacquireWaitGroup", "runtime/sema.go", 110),
			std("sync.(*WaitGroup).Wait", "sync/waitgroup.go", 118),
			app("main.main", "main.go", 35),
			std("runtime.main", "runtime/proc.go", 283),
			goexit),
		transfer(19, muB, muA, "20"),
		transfer(20, muA, muB, "19"),
		withTop(&inspect.Goroutine{
			ID: 33, State: inspect.StateWaiting, WaitReason: "chan send",
			CreatedBy: ptr(app("main.(*Bank).Deposit", "bank.go", 52)), ParentID: 21,
			Waits:   []inspect.Wait{{Resource: ch, Op: inspect.OpSend}},
			Verdict: inspect.VerdictLeaked,
			Why:     "sends on " + ch + ", which no goroutine that can still run references",
		},
			gopark,
			std("runtime.chansend", "runtime/chan.go", 283),
			std("runtime.chansend1", "runtime/chan.go", 161),
			app("main.(*Bank).notify", "notify.go", 18),
			app("main.(*Bank).Deposit.gowrap1", "bank.go", 52),
			goexit),
		withTop(&inspect.Goroutine{
			ID: 34, State: inspect.StateWaiting, WaitReason: "IO wait", Waiting: 12 * time.Minute,
			CreatedBy: ptr(inspect.Frame{Func: "github.com/acme/metrics.Start",
				File: modDir + "github.com/acme/metrics@v1.4.0/exporter.go", Line: 40}), ParentID: 1,
			Verdict: inspect.VerdictBlocked,
		},
			gopark,
			std("runtime.netpollblock", "runtime/netpoll.go", 575),
			std("internal/poll.runtime_pollWait", "runtime/netpoll.go", 351),
			std("internal/poll.(*pollDesc).wait", "internal/poll/fd_poll_runtime.go", 84),
			inl(std("internal/poll.(*pollDesc).waitRead", "internal/poll/fd_poll_runtime.go", 89)),
			std("internal/poll.(*FD).Accept", "internal/poll/fd_unix.go", 613),
			std("net.(*netFD).accept", "net/fd_unix.go", 161),
			std("net.(*TCPListener).accept", "net/tcpsock_posix.go", 159),
			std("net.(*TCPListener).Accept", "net/tcpsock.go", 380),
			std("net/http.(*Server).Serve", "net/http/server.go", 3424),
			inspect.Frame{Func: "github.com/acme/metrics.(*Exporter).run",
				File: modDir + "github.com/acme/metrics@v1.4.0/exporter.go", Line: 88},
			goexit),
		withTop(&inspect.Goroutine{
			ID: 35, State: inspect.StateWaiting, WaitReason: "sleep", Verdict: inspect.VerdictSleeping,
			CreatedBy: ptr(app("main.main", "main.go", 31)), ParentID: 1,
		},
			gopark,
			std("time.Sleep", "runtime/time.go", 338),
			app("main.(*Bank).audit", "bank.go", 77),
			goexit),
		withTop(&inspect.Goroutine{
			ID: 36, State: inspect.StateRunning, Verdict: inspect.VerdictRunning,
			CreatedBy: ptr(app("main.main", "main.go", 32)), ParentID: 1,
		},
			app("main.checksum", "bank.go", 90),
			app("main.(*Bank).rehash", "bank.go", 84),
			goexit),
	}
	gs = append(gs, runtimeIdle()...)

	return &inspect.Snapshot{
		Target:     inspect.Target{PID: 4242, Exe: "/srv/bank/bin/bankd", GoVersion: "go1.26.8", Source: inspect.SourceLive},
		TakenAt:    takenAt,
		Pause:      134 * time.Millisecond,
		Goroutines: gs,
		Resources: []*inspect.Resource{
			{ID: ch, Kind: inspect.KindChan, Addr: 0xc000080060, Type: "chan main.event",
				Chan:    &inspect.ChanState{ElemType: "main.event", Senders: []int64{33}},
				Waiters: []int64{33}},
			{ID: muA, Kind: inspect.KindMutex, Addr: 0xc000012340, Type: "main.Account.mu",
				Mutex:   &inspect.MutexState{Locked: true, Waiters: 1},
				Holders: []inspect.Holder{{Goroutine: 19, Evidence: inspect.EvidenceDefer, Frame: ptr(app("main.(*Account).Transfer", "account.go", 28))}},
				Waiters: []int64{20}},
			{ID: muB, Kind: inspect.KindMutex, Addr: 0xc000012388, Type: "main.Account.mu",
				Mutex:   &inspect.MutexState{Locked: true, Waiters: 1},
				Holders: []inspect.Holder{{Goroutine: 20, Evidence: inspect.EvidenceDefer, Frame: ptr(app("main.(*Account).Transfer", "account.go", 28))}},
				Waiters: []int64{19}},
			{ID: wg, Kind: inspect.KindWaitGroup, Addr: 0xc0000140a0, Type: "sync.WaitGroup",
				WaitGroup: &inspect.WaitGroupState{Counter: 2, Waiters: 1},
				Waiters:   []int64{1}},
		},
		Cycles: []inspect.Cycle{{Goroutines: []int64{19, 20}, Resources: []string{muB, muA}, Kind: inspect.CycleLockOrder}},
		// Deliberately not in report order.
		Findings: []inspect.Finding{
			{Severity: inspect.SeverityWarning, Kind: "leak-risk",
				Title:      "main.(*Bank).Deposit starts a goroutine per deposit that can block forever",
				Details:    []string{"every Deposit sends a notification on " + ch + " from a new goroutine (bank.go:52)", "nothing receives from it: its only reader was goroutine 12, which has exited"},
				Goroutines: []int64{33}, Resources: []string{ch}},
			{Severity: inspect.SeverityError, Kind: inspect.FindingLeak,
				Title:      "Goroutine 33 is blocked forever sending on a channel nobody receives from",
				Details:    []string{"goroutine 33 sends on " + ch + " (chan main.event, unbuffered, open)", "no goroutine that can still run references the channel"},
				Goroutines: []int64{33}, Resources: []string{ch}},
			{Severity: inspect.SeverityError, Kind: inspect.FindingDeadlock,
				Title: "Lock-order deadlock: goroutines 19 and 20 each hold the mutex the other one wants",
				Details: []string{
					"goroutine 19 holds " + muA + " (main.Account.mu, deferred Unlock at account.go:28) and waits for " + muB,
					"goroutine 20 holds " + muB + " (main.Account.mu, deferred Unlock at account.go:28) and waits for " + muA,
					"goroutine 1 waits on " + wg + ", whose counter only goroutines 19 and 20 can decrement",
					"fix: always lock accounts in the same order (for example by account id)",
				},
				Goroutines: []int64{20, 19, 1}, Resources: []string{muA, muB, wg}},
		},
		Warnings: []string{"semaphore table: 2 of 251 buckets unreadable; a waiter may be missing"},
	}
}

// workersSnapshot: 10,000 identical workers idle on a job channel, plus a
// few others, none stuck.
func workersSnapshot() *inspect.Snapshot {
	const (
		jobs  = "chan:0xc000100000"
		sig   = "chan:0xc000090000"
		poolM = "mutex:0xc0000a0010"
		cache = "rwmutex:0xc0000b0000"
	)
	gs := []*inspect.Goroutine{
		withTop(&inspect.Goroutine{ID: 1, State: inspect.StateWaiting, WaitReason: "chan receive",
			Waiting: 3*time.Hour + 7*time.Minute, Verdict: inspect.VerdictBlocked,
			Waits: []inspect.Wait{{Resource: sig, Op: inspect.OpRecv}}},
			gopark,
			std("runtime.chanrecv", "runtime/chan.go", 664),
			std("runtime.chanrecv1", "runtime/chan.go", 506),
			app("main.main", "cmd/pool/main.go", 41),
			std("runtime.main", "runtime/proc.go", 283),
			goexit),
		// The cleanup goroutine stuck in a user cleanup: always shown.
		withTop(&inspect.Goroutine{ID: 11, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock",
			Waiting: 2 * time.Minute, System: true, Role: inspect.RoleCleanup, Verdict: inspect.VerdictBlocked,
			Waits: []inspect.Wait{{Resource: poolM, Op: inspect.OpLock}}},
			append(mutexLockFrames(),
				app("main.(*conn).release", "pool.go", 88),
				std("runtime.(*cleanupQueue).call", "runtime/mcleanup.go", 512),
				std("runtime.runCleanups", "runtime/mcleanup.go", 640),
				goexit)...),
		withTop(&inspect.Goroutine{ID: 15, State: inspect.StateWaiting, WaitReason: "sleep", Verdict: inspect.VerdictSleeping,
			CreatedBy: ptr(app("main.main", "cmd/pool/main.go", 30)), ParentID: 1},
			gopark, std("time.Sleep", "runtime/time.go", 338), app("main.stats", "stats.go", 12), goexit),
	}
	// Readers waiting for the cache while a writer holds it.
	for id := int64(40); id <= 42; id++ {
		gs = append(gs, withTop(&inspect.Goroutine{ID: id, State: inspect.StateWaiting, WaitReason: "sync.RWMutex.RLock",
			Waiting: 90 * time.Second, Verdict: inspect.VerdictBlocked,
			Waits:     []inspect.Wait{{Resource: cache, Op: inspect.OpRLock}},
			CreatedBy: ptr(app("main.serve", "serve.go", 20)), ParentID: 1},
			gopark,
			std("runtime.semacquire1", "runtime/sema.go", 188),
			std("sync.runtime_SemacquireRWMutexR", "runtime/sema.go", 100),
			std("sync.(*RWMutex).RLock", "sync/rwmutex.go", 74),
			app("main.(*cache).get", "cache.go", 31),
			app("main.handle", "serve.go", 44),
			goexit))
	}
	// Callers waiting for replies on their own channels.
	for id := int64(50); id <= 55; id++ {
		gs = append(gs, withTop(&inspect.Goroutine{ID: id, State: inspect.StateWaiting, WaitReason: "chan receive",
			Verdict:   inspect.VerdictBlocked,
			Waits:     []inspect.Wait{{Resource: replyChan(id), Op: inspect.OpRecv}},
			CreatedBy: ptr(app("main.serve", "serve.go", 20)), ParentID: 1},
			gopark,
			std("runtime.chanrecv", "runtime/chan.go", 664),
			std("runtime.chanrecv1", "runtime/chan.go", 506),
			app("main.(*Pool).Do", "pool.go", 61),
			app("main.handle", "serve.go", 47),
			goexit))
	}
	for i := int64(0); i < 10000; i++ {
		gs = append(gs, withTop(&inspect.Goroutine{ID: 100 + i, State: inspect.StateWaiting, WaitReason: "chan receive",
			Waiting: 4*time.Minute + time.Duration(i)*(8*time.Minute)/9999, Verdict: inspect.VerdictBlocked,
			Waits:     []inspect.Wait{{Resource: jobs, Op: inspect.OpRecv}},
			Labels:    map[string]string{"pool": "default"},
			CreatedBy: ptr(app("main.(*Pool).Start", "pool.go", 22)), ParentID: 1},
			gopark,
			std("runtime.chanrecv", "runtime/chan.go", 664),
			std("runtime.chanrecv2", "runtime/chan.go", 511),
			app("main.(*Pool).worker", "pool.go", 35),
			app("main.(*Pool).Start.gowrap1", "pool.go", 22),
			goexit))
	}
	gs = append(gs,
		withTop(&inspect.Goroutine{ID: 10100, State: inspect.StateRunnable, Verdict: inspect.VerdictRunnable,
			Holds: []string{cache}, CreatedBy: ptr(app("main.main", "cmd/pool/main.go", 33)), ParentID: 1},
			std("runtime.mapassign_faststr", "internal/runtime/maps/runtime_faststr.go", 263),
			app("main.(*cache).refresh", "cache.go", 58),
			app("main.refresher", "cache.go", 49),
			goexit),
		withTop(&inspect.Goroutine{ID: 10101, State: inspect.StateSyscall, Verdict: inspect.VerdictSyscall,
			Holds: []string{poolM}, CreatedBy: ptr(app("main.main", "cmd/pool/main.go", 34)), ParentID: 1},
			std("syscall.Syscall", "syscall/syscall_linux.go", 73),
			std("syscall.read", "syscall/zsyscall_linux_amd64.go", 736),
			inl(std("syscall.Read", "syscall/syscall_unix.go", 183)),
			std("internal/poll.ignoringEINTRIO", "internal/poll/fd_unix.go", 745),
			std("internal/poll.(*FD).Read", "internal/poll/fd_unix.go", 161),
			std("os.(*File).read", "os/file_posix.go", 29),
			std("os.(*File).Read", "os/file.go", 124),
			app("main.(*Pool).dial", "pool.go", 97),
			app("main.(*Pool).grow", "pool.go", 80),
			goexit),
	)
	gs = append(gs, runtimeIdle()...)

	res := []*inspect.Resource{
		{ID: sig, Kind: inspect.KindChan, Addr: 0xc000090000, Type: "chan os.Signal",
			Chan: &inspect.ChanState{ElemType: "os.Signal", Cap: 1, Receivers: []int64{1}}, Waiters: []int64{1}},
		{ID: poolM, Kind: inspect.KindMutex, Addr: 0xc0000a0010, Type: "main.Pool.mu",
			Mutex: &inspect.MutexState{Locked: true, Waiters: 1},
			Holders: []inspect.Holder{{Goroutine: 10101, Evidence: inspect.EvidenceSource,
				Frame: ptr(app("main.(*Pool).grow", "pool.go", 76))}},
			Waiters: []int64{11}},
		{ID: cache, Kind: inspect.KindRWMutex, Addr: 0xc0000b0000, Type: "main.cache.mu",
			RWMutex: &inspect.RWMutexState{WriterHeld: true, ReadersWaiting: 3},
			Holders: []inspect.Holder{{Goroutine: 10100, Evidence: inspect.EvidenceReference,
				Frame: ptr(app("main.(*cache).refresh", "cache.go", 58))}},
			Waiters: []int64{40, 41, 42}},
	}
	jobsRes := &inspect.Resource{ID: jobs, Kind: inspect.KindChan, Addr: 0xc000100000, Type: "chan main.job",
		Chan: &inspect.ChanState{ElemType: "main.job", Cap: 64}}
	for i := int64(0); i < 10000; i++ {
		jobsRes.Waiters = append(jobsRes.Waiters, 100+i)
		jobsRes.Chan.Receivers = append(jobsRes.Chan.Receivers, 100+i)
	}
	res = append(res, jobsRes)
	for id := int64(50); id <= 55; id++ {
		res = append(res, &inspect.Resource{ID: replyChan(id), Kind: inspect.KindChan, Addr: replyAddr(id),
			Type: "chan main.reply", Chan: &inspect.ChanState{ElemType: "main.reply", Receivers: []int64{id}},
			Waiters: []int64{id}})
	}
	return &inspect.Snapshot{
		Target:     inspect.Target{PID: 31337, Exe: "/opt/pool/pool", GoVersion: "go1.26.8", Source: inspect.SourceLive},
		TakenAt:    takenAt,
		Pause:      1840 * time.Millisecond,
		Goroutines: gs,
		Resources:  res,
	}
}

func replyAddr(id int64) uint64 { return 0xc000200000 + uint64(id-50)*0x60 }

func replyChan(id int64) string { return inspect.ResourceID(inspect.KindChan, replyAddr(id)) }

// healthySnapshot: a core file of a program that was just computing.
func healthySnapshot() *inspect.Snapshot {
	gs := []*inspect.Goroutine{
		withTop(&inspect.Goroutine{ID: 1, State: inspect.StateRunning, Verdict: inspect.VerdictRunning},
			app("main.fib", "main.go", 9),
			app("main.fib", "main.go", 11),
			app("main.main", "main.go", 20),
			std("runtime.main", "runtime/proc.go", 283),
			goexit),
	}
	gs = append(gs, runtimeIdle()...)
	return &inspect.Snapshot{
		Target:     inspect.Target{PID: 777, Exe: "/home/dev/bank/fib", GoVersion: "go1.26.8", Source: inspect.SourceCore},
		TakenAt:    takenAt,
		Goroutines: gs,
	}
}

// leakOnlySnapshot: one leaked goroutine and nothing else of note.
func leakOnlySnapshot() *inspect.Snapshot {
	s := healthySnapshot()
	s.Goroutines = append(s.Goroutines, withTop(&inspect.Goroutine{ID: 12, State: inspect.StateWaiting,
		WaitReason: "chan receive (nil chan)", Verdict: inspect.VerdictLeaked, Why: "receives from a nil channel",
		Waits: []inspect.Wait{{Resource: "chan:0x0", Op: inspect.OpRecv}}},
		gopark, std("runtime.chanrecv", "runtime/chan.go", 530), std("runtime.chanrecv1", "runtime/chan.go", 506),
		app("main.wait", "main.go", 30), goexit))
	s.Resources = []*inspect.Resource{{ID: "chan:0x0", Kind: inspect.KindChan, Type: "chan int",
		Chan: &inspect.ChanState{ElemType: "int", Nil: true, Receivers: []int64{12}}, Waiters: []int64{12}}}
	return s
}
