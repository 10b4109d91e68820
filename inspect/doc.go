// Package inspect reads a hung Go program and builds a Snapshot: every
// goroutine, every synchronization object somebody waits on, who holds it,
// the wait-for cycles and chains, and a verdict for each goroutine with the
// evidence for it.
//
// # Entry points
//
//   - Attach(pid) stops a live process (ptrace) and returns a Session.
//   - OpenCore(core, exe) reads a core file; the Session never resumes.
//   - Connect(addr, opts) reads through a running Delve server (a Remote:
//     the same Snapshot/Resume/Close methods).
//   - ReadDump(r, opts) analyses a text goroutine dump (SIGQUIT, a `go
//     test` timeout, pprof debug=2) and returns a Snapshot directly.
//   - OpenSampler(pid, opts) and Session.NewSampler sample lock contention
//     without stopping the target (hangtui top).
//
// # Lifecycle
//
// A Session owns the target on one goroutine of its own (Delve is not
// thread-safe); its methods may be called from any goroutine.
//
//	s, err := inspect.Attach(pid) // the target is stopped
//	snap, err := s.Snapshot()      // read while stopped
//	s.Resume()                     // live views: let it run between snapshots
//	s.Explain(snap)                // source-only evidence, off the pause
//	s.Close()                      // detach: the target runs on, always
//
// Close must be called on every path: it detaches and leaves the process
// running as before, also after an error. Snapshot may be called again after
// Resume (it stops the target again).
//
// # Model
//
// The exported API speaks only in this package's own model (Snapshot,
// Goroutine, Resource, Wait, Hold, Cycle, WaitChain, Finding). Delve, which
// does the low-level reading (package internal/target), never shows
// through it: callers can build, test and render snapshots without
// importing a debugger. Only Verdict values VerdictDeadlocked and
// VerdictLeaked claim that a goroutine can never run again, and each such
// claim comes with a Finding that shows its proof.
package inspect
