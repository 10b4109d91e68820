package uitest

import (
	"time"

	"github.com/hangtui/hangtui/inspect"
)

// PoolMu is the pool lock the finalizer of FinalizerStall waits for.
const PoolMu = "mutex:0x6e4568"

// FinalizerStall is a process whose finalizer goroutine (g5) is blocked in
// a connection's finalizer on the pool lock, held by the pool maintainer
// (g17, parked on a channel), while connections keep being collected:
// pending finalizers are queued behind it. step counts refreshes (0 first):
// each adds 7 to the queue and one second to the clock.
func FinalizerStall(step int) *inspect.Snapshot {
	fin := top(&inspect.Goroutine{
		ID: 5, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Role: inspect.RoleFinalizer,
		CreatedBy: ptr(std("runtime.createfing", "runtime/mfinal.go", 174)),
		Waits:     []inspect.Wait{{Resource: PoolMu, Op: inspect.OpLock}},
		Verdict:   inspect.VerdictBlocked,
	}, append(mutexLock(),
		app("main.(*Conn).release", "pool.go", 88),
		std("runtime.call16", "runtime/asm_amd64.s", 775),
		std("runtime.runFinalizers", "runtime/mfinal.go", 256),
		goexit)...)
	holder := top(&inspect.Goroutine{
		ID: 17, State: inspect.StateWaiting, WaitReason: "chan receive", Waiting: 2 * time.Minute,
		CreatedBy: ptr(app("main.main", "main.go", 21)), ParentID: 1,
		Waits:   []inspect.Wait{{Resource: "chan:0xc000080120", Op: inspect.OpRecv}},
		Holds:   []string{PoolMu},
		Verdict: inspect.VerdictBlocked,
	}, append(chanRecv(), app("main.(*Pool).maintain", "pool.go", 61), goexit)...)
	cleanup := top(&inspect.Goroutine{
		ID: 6, State: inspect.StateWaiting, WaitReason: "cleanup wait", Role: inspect.RoleCleanup, System: true,
		Verdict: inspect.VerdictIdle, CreatedBy: ptr(std("runtime.(*cleanupQueue).createGs", "runtime/mcleanup.go", 671)),
	}, gopark, std("runtime.(*cleanupQueue).dequeue", "runtime/mcleanup.go", 522), std("runtime.runCleanups", "runtime/mcleanup.go", 718), goexit)
	gs := append([]*inspect.Goroutine{fin, holder, cleanup}, idle()...)
	pending := 3 + 7*step
	queued := uint64(120 + 7*step)
	return &inspect.Snapshot{
		Target:     inspect.Target{PID: 4242, Exe: "/srv/pool/bin/poold", GoVersion: "go1.26.8", Source: inspect.SourceLive},
		TakenAt:    TakenAt.Add(time.Duration(step) * time.Second),
		Pause:      9 * time.Millisecond,
		Goroutines: sortByID(gs),
		Resources: []*inspect.Resource{
			{ID: "chan:0xc000080120", Kind: inspect.KindChan, Addr: 0xc000080120, Type: "main.Pool.returned (chan int)",
				Chan: &inspect.ChanState{ElemType: "int", Receivers: []int64{17}}, Waiters: []int64{17}},
			{ID: PoolMu, Kind: inspect.KindMutex, Addr: 0x6e4568, Type: "main.Pool.mu",
				Mutex:   &inspect.MutexState{Locked: true, Waiters: 1},
				Holders: []inspect.Holder{{Goroutine: 17, Evidence: inspect.EvidenceDefer, Frame: ptr(app("main.(*Pool).maintain", "pool.go", 58))}},
				Waiters: []int64{5}},
		},
		Findings: []inspect.Finding{{Severity: inspect.SeverityWarning, Kind: inspect.FindingFinalizerBlocked,
			Title:      "Finalizer goroutine 5 is blocked in finalizer main.(*Conn).release (pool.go:88): finalizers queued behind it",
			Details:    []string{"waits to lock mutex 0x6e4568 (main.Pool.mu), held by goroutine 17 since pool.go:58 (deferred Unlock pending)"},
			Goroutines: []int64{5, 17}, Resources: []string{PoolMu}}},
		Finalizers: &inspect.Finalizers{
			Goroutine: 5, State: inspect.FinalizerBlocked,
			Running:   &inspect.FinalizerCall{Func: "main.(*Conn).release", File: "/src/pool/pool.go", Line: 88, Type: "*main.Conn"},
			BlockedOn: []inspect.Wait{{Resource: PoolMu, Op: inspect.OpLock}},
			Pending:   pending,
			PendingByFunc: []inspect.FinalizerGroup{
				{Func: "main.(*Conn).release", File: "/src/pool/pool.go", Line: 85, Type: "*main.Conn", Count: pending - 1},
				{Func: "os.(*file).close", File: "/usr/local/go/src/os/file_unix.go", Line: 240, Type: "*os.file", Count: 1},
			},
			Queued: queued, Executed: 117, HasCounts: true,
			Cleanups: &inspect.Cleanups{Goroutines: []int64{6}, Queued: 40, Executed: 40, HasCounts: true},
		},
	}
}
