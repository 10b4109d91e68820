package inspect

import (
	"fmt"
	"time"
)

// Snapshot is everything read from a target at one moment.
type Snapshot struct {
	// Target describes the process or core the snapshot was read from.
	Target Target
	// TakenAt is the wall-clock time at which reading started.
	TakenAt time.Time
	// Pause is how long the target was kept stopped to take this snapshot.
	// Zero for core files.
	Pause time.Duration
	// Goroutines lists every goroutine that exists (dead ones are omitted),
	// sorted by ID.
	Goroutines []*Goroutine
	// Resources lists the synchronization objects that at least one goroutine
	// waits on or holds, sorted by ID.
	Resources []*Resource
	// Cycles are wait-for cycles found by the analysis, sorted.
	Cycles []Cycle
	// Chains are the lock wait chains outside cycles, largest first: who
	// waits, through which locks, for which head goroutine.
	Chains []WaitChain
	// Findings are the problems found, most severe first.
	Findings []Finding
	// Finalizers is the finalizer goroutine, its queue and the cleanup
	// goroutines; nil when it could not be read at all.
	Finalizers *Finalizers
	// Warnings are things that could not be read; the snapshot is still
	// usable but may be incomplete where a warning says so.
	Warnings []string
	// Code is the state of the source analysis that proves waits through
	// package variables (which code could wake a goroutine, and whether
	// anything that can still run gets there); nil when it was not asked
	// for (see Session.StartCodeAnalysis).
	Code *CodeAnalysis

	// facts are what the code-based proof needs from memory, kept from
	// the snapshot (the proof runs after the target is resumed).
	facts *codeFacts
}

// SourceKind says where a snapshot was read from.
type SourceKind string

const (
	// SourceLive is a running process attached to by PID.
	SourceLive SourceKind = "live"
	// SourceCore is a core file together with its executable.
	SourceCore SourceKind = "core"
)

// Target identifies what was inspected.
type Target struct {
	// PID of the process; for a core, the PID recorded in the core (or 0).
	PID int
	// Exe is the path of the executable.
	Exe string
	// GoVersion is the Go release that built the target, e.g. "go1.26.8".
	GoVersion string
	// Source says whether this is a live process or a core file.
	Source SourceKind
}

// State is the scheduler state of a goroutine.
type State string

const (
	// StateRunning: executing on a thread right now.
	StateRunning State = "running"
	// StateRunnable: ready to run, waiting for a thread.
	StateRunnable State = "runnable"
	// StateSyscall: executing a system call (or cgo call).
	StateSyscall State = "syscall"
	// StateWaiting: parked by the runtime; WaitReason says why.
	StateWaiting State = "waiting"
	// StatePreempted: stopped by asynchronous preemption, will run again.
	StatePreempted State = "preempted"
)

// Verdict is what the analysis concludes about whether a goroutine can ever
// make progress again. Only Deadlocked and Leaked are claims that it cannot;
// every other verdict means it can, or that it may.
type Verdict string

const (
	// VerdictDeadlocked: part of, or waiting behind, a wait-for cycle; can
	// provably never run again.
	VerdictDeadlocked Verdict = "deadlocked"
	// VerdictLeaked: stuck forever without a cycle: nothing that can still
	// run can ever wake it.
	VerdictLeaked Verdict = "leaked"
	// VerdictBlocked: parked on something that may still wake it.
	VerdictBlocked Verdict = "blocked"
	// VerdictRunning: executing on a thread.
	VerdictRunning Verdict = "running"
	// VerdictRunnable: ready to run.
	VerdictRunnable Verdict = "runnable"
	// VerdictSyscall: in a system call.
	VerdictSyscall Verdict = "syscall"
	// VerdictSleeping: in time.Sleep; wakes by itself.
	VerdictSleeping Verdict = "sleeping"
	// VerdictIdle: a runtime-internal goroutine parked in its idle loop
	// (GC workers, the scavenger, an idle finalizer goroutine).
	VerdictIdle Verdict = "idle"
)

// Stuck reports whether the verdict claims the goroutine can never run again.
func (v Verdict) Stuck() bool { return v == VerdictDeadlocked || v == VerdictLeaked }

// Frame is one (possibly inlined) call frame.
type Frame struct {
	// Func is the fully qualified function name, e.g. "main.(*Store).Get".
	Func string
	// File is the absolute source path recorded in the binary.
	File string
	// Line is the source line being executed (the call site for outer frames).
	Line int
	// Inlined is true when this frame was inlined into its caller.
	Inlined bool
	// PC is the program counter of the frame (for resolving source later).
	PC uint64
}

// Role marks goroutines that do special work for the runtime.
type Role string

const (
	// RoleNone: an ordinary goroutine.
	RoleNone Role = ""
	// RoleFinalizer: the goroutine that runs runtime.SetFinalizer callbacks.
	RoleFinalizer Role = "finalizer"
	// RoleCleanup: a goroutine that runs runtime.AddCleanup callbacks.
	RoleCleanup Role = "cleanup"
)

// Goroutine is one goroutine of the target.
type Goroutine struct {
	// ID is the goroutine id the runtime prints in tracebacks.
	ID int64
	// State is the scheduler state.
	State State
	// WaitReason is the runtime's own text for why a waiting goroutine is
	// parked ("sync.Mutex.Lock", "chan receive", ...); empty otherwise.
	WaitReason string
	// Waiting is how long the goroutine has been parked, as recorded by the
	// runtime. The runtime only records this once a garbage collection has run
	// while the goroutine waited, so it is 0 (unknown) for recently parked
	// goroutines and in core files.
	Waiting time.Duration
	// Frames is the full stack, innermost first. Goroutines with identical
	// stacks share one slice: treat it as read-only.
	Frames []Frame
	// StackTruncated is true when the stack was deeper than was read.
	StackTruncated bool
	// TopUser is the index in Frames of the innermost frame outside the Go
	// standard library and runtime, or -1 when there is none.
	TopUser int
	// CreatedBy is the location of the go statement that started this
	// goroutine (nil for the main goroutine and some runtime ones).
	CreatedBy *Frame
	// ParentID is the id of the goroutine that executed that go statement,
	// 0 when the runtime did not record it.
	ParentID int64
	// Labels are the pprof labels set on the goroutine. Goroutines under
	// the same label context share one map: treat it as read-only.
	Labels map[string]string
	// System is true for goroutines internal to the runtime.
	System bool
	// Role is set for the finalizer and cleanup goroutines (never hidden).
	Role Role
	// Waits lists everything the goroutine is parked on, with the operation:
	// one entry for a lock or a channel operation, one per case for a select.
	Waits []Wait
	// Holds lists the ids of resources this goroutine holds (locks).
	Holds []string
	// Verdict is the analysis' conclusion for this goroutine.
	Verdict Verdict
	// Why explains a deadlocked or leaked verdict in one sentence.
	Why string

	// slot is 1 + the goroutine's index in the builder's list of the
	// target's goroutines (0: none): lookups by position, not through a
	// map of a million ids (builder.rawOf).
	slot int32
}

// BlockedOn returns the id of the resource the goroutine waits on, or "" when
// it waits on nothing known. For a select it is the first of Waits.
func (g *Goroutine) BlockedOn() string {
	if len(g.Waits) == 0 {
		return ""
	}
	return g.Waits[0].Resource
}

// Op is the operation a goroutine waits to perform on a resource.
type Op string

const (
	OpLock  Op = "lock"  // Mutex.Lock or RWMutex.Lock
	OpRLock Op = "rlock" // RWMutex.RLock
	OpWait  Op = "wait"  // WaitGroup.Wait, Cond.Wait
	OpSend  Op = "send"  // channel send
	OpRecv  Op = "recv"  // channel receive
	OpSema  Op = "acquire"
	// OpSelect is a select case, waiting to send or receive (live
	// contention sampling does not tell which).
	OpSelect Op = "select"
)

// Wait is one thing a goroutine is parked on.
type Wait struct {
	// Resource is the Resource.ID waited on.
	Resource string
	// Op is what the goroutine is trying to do to it.
	Op Op
}

// Kind is the kind of a synchronization object.
type Kind string

const (
	KindMutex     Kind = "mutex"     // sync.Mutex
	KindRWMutex   Kind = "rwmutex"   // sync.RWMutex
	KindWaitGroup Kind = "waitgroup" // sync.WaitGroup
	KindCond      Kind = "cond"      // sync.Cond
	KindChan      Kind = "chan"      // a channel
	KindSema      Kind = "sema"      // a bare runtime semaphore
)

// Resource is a synchronization object read from target memory.
type Resource struct {
	// ID is stable for as long as the object lives: "<kind>:<address>".
	ID string
	// Kind of object.
	Kind Kind
	// Addr is the object's address in the target.
	Addr uint64
	// Type is the Go type of the object, and where it is known the struct
	// field or variable that contains it, e.g. "main.Store.mu" or
	// "chan int".
	Type string
	// Mutex, RWMutex, WaitGroup, Chan and Cond hold the state read from
	// memory; exactly the one matching Kind is set.
	Mutex     *MutexState
	RWMutex   *RWMutexState
	WaitGroup *WaitGroupState
	Chan      *ChanState
	Cond      *CondState
	Sema      *SemaState
	// Holders are the goroutines that hold this lock, with evidence.
	Holders []Holder
	// Waiters are the ids of goroutines parked on this resource, sorted.
	Waiters []int64
	// Wakers are, for a channel, WaitGroup or Cond that parked goroutines
	// wait on, the other parked goroutines that can still reach it (the
	// "can be woken by" edges of the wait-for graph). Computed only where
	// the analysis needed them (stuck goroutines and possible deadlocks);
	// nil otherwise.
	Wakers []int64
}

// MutexState is a sync.Mutex's state word, decoded.
type MutexState struct {
	Locked   bool
	Woken    bool
	Starving bool
	// Waiters is the waiter count the mutex itself records.
	Waiters int
}

// RWMutexState is a sync.RWMutex, decoded.
type RWMutexState struct {
	// WriterHeld: a writer holds the lock.
	WriterHeld bool
	// WriterPending: a writer has announced itself and waits for readers.
	WriterPending bool
	// Readers is the number of readers holding the lock now.
	Readers int
	// ReadersWaiting is the number of readers parked waiting for a writer.
	ReadersWaiting int
	// WritersWaiting is the number of writers parked (on the inner mutex or
	// for departing readers).
	WritersWaiting int
}

// WaitGroupState is a sync.WaitGroup, decoded.
type WaitGroupState struct {
	Counter int
	Waiters int
}

// ChanState is a channel's header.
type ChanState struct {
	ElemType string
	Len      int
	Cap      int
	Closed   bool
	// Senders and Receivers are the goroutines queued on the channel.
	Senders   []int64
	Receivers []int64
	// Nil is true for the pseudo-resource of a nil channel.
	Nil bool
}

// CondState is a sync.Cond's notify list.
type CondState struct {
	// Waiters is the number of goroutines parked in Wait.
	Waiters int
}

// SemaState is a runtime semaphore.
type SemaState struct {
	// Value is the semaphore's count.
	Value uint32
}

// Evidence says how a holder of a lock was identified.
type Evidence string

const (
	// EvidenceDefer: a deferred Unlock of this lock is pending in a frame.
	EvidenceDefer Evidence = "defer"
	// EvidenceSource: the frame's function locked it earlier, no unlock since.
	EvidenceSource Evidence = "source"
	// EvidenceReference: the goroutine references the lock and is the only
	// candidate.
	EvidenceReference Evidence = "reference"
)

// Holder is a goroutine holding a lock.
type Holder struct {
	Goroutine int64
	Evidence  Evidence
	// Frame is where the lock was taken (or the frame with the pending defer).
	Frame *Frame
	// Read is true for a reader of an RWMutex.
	Read bool
}

// Cycle is a wait-for cycle.
type Cycle struct {
	// Goroutines in the cycle, in wait-for order starting with the lowest id.
	Goroutines []int64
	// Resources in the cycle, Resources[i] is what Goroutines[i] waits for.
	Resources []string
	// Kind classifies the cycle.
	Kind CycleKind
}

// CycleKind says what a wait-for cycle goes through. The strings are part
// of the JSON report (cycles[].kind).
type CycleKind string

const (
	// CycleLockOrder: goroutines each hold a lock another one waits for
	// (AB-BA and longer lock-order inversions).
	CycleLockOrder CycleKind = "lock-order"
	// CycleSelf: a goroutine waits for a lock it holds itself.
	CycleSelf CycleKind = "self"
	// CycleRWMutexReentry: a read lock taken again while a writer waits
	// for the first one to be released.
	CycleRWMutexReentry CycleKind = "rwmutex-reentry"
	// CycleChannelLock: through locks and channels.
	CycleChannelLock CycleKind = "channel-lock"
	// CycleChannel: through channels only.
	CycleChannel CycleKind = "channel"
	// CycleWaitGroup: through a WaitGroup.
	CycleWaitGroup CycleKind = "waitgroup"
	// CycleCond: through a sync.Cond.
	CycleCond CycleKind = "cond"
	// CycleFinalizer: the finalizer goroutine is in the cycle.
	CycleFinalizer CycleKind = "finalizer"
)

// Severity orders findings.
type Severity int

const (
	// SeverityInfo: worth knowing, nothing is wrong for sure (a wait
	// chain, a queue).
	SeverityInfo Severity = iota
	// SeverityWarning: likely a problem, not proven (a lock nobody can be
	// shown to hold, a possible deadlock).
	SeverityWarning
	// SeverityError: proven: goroutines that can never run again.
	SeverityError
)

// String is "info", "warning" or "error", as in the JSON report.
func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	case SeverityInfo:
		return "info"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Finding is a problem found by the analysis, with the evidence for it.
type Finding struct {
	Severity Severity
	// Kind is what the finding is about.
	Kind FindingKind
	// Title is one line for people.
	Title string
	// Details are the steps of the argument, one line each.
	Details []string
	// Goroutines and Resources involved, in every instance.
	Goroutines []int64
	Resources  []string
	// Sites are places in the source the finding points at: for a lock
	// nobody holds, the Lock calls with a way out of their function
	// that leaves it locked.
	Sites []SourceSite
	// Instances are the other occurrences of the same pattern (the same
	// kind of finding, with goroutines parked at the same code locations
	// on the same kinds of resource): Title and Details describe the
	// first one. Empty when the pattern occurred once.
	Instances []FindingInstance
	// Wakers are, for a verdict proven from the source, every operation
	// in the program that could wake the goroutines (a send, a close, an
	// Unlock, a Done, a Signal...), each with why nothing that can still
	// run gets there.
	Wakers []WakerSite
}

// WakerSite is an operation in the source that could wake a goroutine
// parked on a resource.
type WakerSite struct {
	// Resource is the id of the resource it would wake.
	Resource string
	// Op is "send", "receive", "close", "Unlock", "RUnlock", "Done",
	// "Add", "Signal" or "Broadcast".
	Op string
	// Func is the function it is in, File and Line where; Code is the
	// source line.
	Func string
	File string
	Line int
	Code string
	// Finalizer: only the finalizer goroutine gets there (Func is, or is
	// called by, a finalizer).
	Finalizer bool
	// Unknown: the operation's channel or lock is not followed in the
	// code (it comes through an interface, reflection or unsafe): it may
	// be any object of its type. Reflection: Func is a reflect function
	// that operates on whatever channel it is handed.
	Unknown, Reflection bool
	// Reachers are the goroutines whose code can still get there; all of
	// them are proven stuck themselves.
	Reachers []int64
	// Why says, in one line, why no goroutine that can run gets there.
	Why string
}

// FindingKind is a finding's machine-readable name. The strings are part
// of the JSON report (findings[].kind).
type FindingKind string

const (
	// FindingDeadlock: a wait-for cycle; its members can never run again.
	FindingDeadlock FindingKind = "deadlock"
	// FindingDeadlockBehind: goroutines waiting for a lock held by a
	// deadlocked goroutine.
	FindingDeadlockBehind FindingKind = "deadlock-behind"
	// FindingLeak: goroutines stuck forever without a cycle (nothing that
	// can run can wake them).
	FindingLeak FindingKind = "leak"
	// FindingPossibleDeadlock: a wait-for cycle through something a global
	// variable also reaches: not proven.
	FindingPossibleDeadlock FindingKind = "possible-deadlock"
	// FindingOrphanedLock: a lock with waiters that no goroutine can be
	// shown to hold (an Unlock missing on some path).
	FindingOrphanedLock FindingKind = "orphaned-lock"
	// FindingWaitChain: goroutines queued through locks behind one head
	// goroutine (information).
	FindingWaitChain FindingKind = "wait-chain"
	// FindingFinalizerBlocked: the finalizer goroutine is parked inside a
	// finalizer with evidence it is not a passing moment.
	FindingFinalizerBlocked FindingKind = "finalizer-blocked"
	// FindingCleanupBlocked: the same for a cleanup goroutine.
	FindingCleanupBlocked FindingKind = "cleanup-blocked"
	// FindingParkedByDesign: main.main parked in select {} (a daemon
	// whose work runs in other goroutines): information, not a leak.
	FindingParkedByDesign FindingKind = "parked-by-design"
)

// FindingInstance is one more occurrence of a finding's pattern.
type FindingInstance struct {
	Goroutines []int64
	Resources  []string
}
