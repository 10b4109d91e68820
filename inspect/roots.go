package inspect

import "github.com/hangtui/hangtui/inspect/internal/target"

// Which stacks are roots of the reachability proof (marking.go, leaks.go).
//
// A live goroutine's stack is scanned conservatively: every word that
// points into the heap counts. Most runtime goroutines are live (parked in
// their idle loops, they run again whenever the runtime needs them), and
// their stacks are reused ones: a goroutine that exited left its frames
// behind, and the words of those frames that the new frames have not
// overwritten still point at what the old goroutine used (its channels,
// say). The runtime's precise GC ignores them (stack maps tell it which
// slots are live); a conservative scan does not, and a leaked goroutine
// stays "blocked" behind a word nothing will ever read. (Seen: a GC worker
// started by the first leak-profile GC on the stack of an exited
// noCloseRange sender kept its workers' channel reachable.)

// runtimeIdleLoops are wait reasons of runtime goroutines whose code holds
// no reference to anything of the program's: the GC's background workers,
// sweeper and scavenger, the forced-GC helper and the GOMAXPROCS updater.
// They only ever touch runtime structures (they wake program goroutines, if
// at all, through the runtime's own queues, never through their stacks).
// The finalizer and cleanup goroutines are not among them: program code
// runs on those.
var runtimeIdleLoops = map[string]bool{
	"GC worker (idle)": true, "GC sweep wait": true, "GC scavenge wait": true,
	"force gc (idle)": true, "GOMAXPROCS updater (idle)": true,
}

// stackHoldsNoProgramRefs: g is a runtime goroutine parked in one of those
// idle loops, with no frame of the program's or of a finalizer or cleanup
// on its stack. It is live, but what its stack points at is stale: its
// stack is no root.
func stackHoldsNoProgramRefs(g *Goroutine) bool {
	return g.State == StateWaiting && runtimeIdleLoops[g.WaitReason] && g.System &&
		g.Role == RoleNone && g.TopUser < 0
}

// liveTimers drops from the timers in the Ps' heaps those that are
// stopped, with no run under way (target.TimerStopped): a stopped timer
// stays in its heap until the runtime cleans it up, but it never fires, so
// what it references (a Timer's or Ticker's channel, an AfterFunc's func)
// is no root. Only a Reset arms it again, and that needs the *time.Timer,
// *time.Ticker, which is marked when something that can run reaches it.
// Go 1.22's timers have no such state to read and are all kept.
func liveTimers(t *target.Target, timers []uint64) []uint64 {
	out := timers[:0:0]
	for _, tm := range timers {
		if !t.TimerStopped(tm) {
			out = append(out, tm)
		}
	}
	return out
}
