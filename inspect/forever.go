package inspect

import "fmt"

// Goroutines whose wait can never end, whatever any other goroutine does:
// a receive from or send on a nil channel, `select {}`, and a select whose
// every case channel is nil. Nothing can wake them, so they can never run
// again: the reachability proof (marking.go, leaks.go) does not count their
// stacks as roots, exactly as the runtime's own goroutine leak detector
// does not. What only they reference is unreachable for everyone else.
//
// One of them is not a bug: main.main parked in `select {}` is how a daemon
// whose work runs in other goroutines keeps the process alive. It gets the
// verdict idle, an info finding, and no share in the exit code (the runtime's
// leak profile leaves it out too); every other goroutine in `select {}` is
// leaked.

// foreverReasons are waits nothing can ever end.
var foreverReasons = map[string]string{
	"chan receive (nil chan)": "receives from a nil channel",
	"chan send (nil chan)":    "sends on a nil channel",
	"select (no cases)":       "is in a select with no cases",
}

// nilSelect is what a goroutine does that is parked in a select whose
// every case channel is nil.
const nilSelect = "is in a select whose every case channel is nil"

// neverWakes says what g waits for when that wait can never end ("" when it
// may). For a live target it also recognizes a select over only nil
// channels: parked in "select" with no wait record at all (the runtime
// queues a select's goroutine on every non-nil case channel, through
// g.waiting, before it parks, and clears g.waiting only once it runs again).
func (b *builder) neverWakes(g *Goroutine) string {
	if g.State != StateWaiting {
		return ""
	}
	if what, ok := foreverReasons[g.WaitReason]; ok {
		return what
	}
	if rg := b.rawOf(g); rg != nil && g.WaitReason == "select" && rg.Waiting == 0 && len(g.Waits) == 0 {
		return nilSelect
	}
	return ""
}

// foreverWaits returns what each goroutine parked for good waits on.
func (b *builder) foreverWaits() map[int64]string {
	out := map[int64]string{}
	for _, g := range b.snap.Goroutines {
		if what := b.neverWakes(g); what != "" {
			out[g.ID] = what
		}
	}
	return out
}

// isMainParkedByDesign: g is the main goroutine parked in `select {}`,
// past the package initializers (main.main is on its stack). The main
// goroutine is goroutine 1 (the runtime's own test: goid 1), started by
// runtime.main; a traceback leaves runtime.main out, so a dump's goroutine 1
// ends in main.main.
func isMainParkedByDesign(g *Goroutine) bool {
	if g.State != StateWaiting || g.WaitReason != "select (no cases)" || len(g.Frames) == 0 {
		return false
	}
	bottom := len(g.Frames) - 1
	if g.Frames[bottom].Func == "runtime.goexit" && bottom > 0 {
		bottom--
	}
	switch g.Frames[bottom].Func {
	case "runtime.main":
	case "main.main":
		if g.ID != 1 {
			return false // go main(): not the main goroutine
		}
	default:
		return false
	}
	for _, f := range g.Frames[:bottom+1] {
		if f.Func == "main.main" {
			return true
		}
	}
	return false
}

// foreverParked marks goroutines leaked whose wait can never end whatever
// other goroutines do; main.main in `select {}` is idle (parked by design).
func (a *analysis) foreverParked() {
	var ids []int64
	what := func(g *Goroutine) string {
		if w, ok := foreverReasons[g.WaitReason]; ok && g.State == StateWaiting {
			return w
		}
		return a.forever[g.ID]
	}
	for _, g := range a.s.Goroutines {
		w := what(g)
		if w == "" || g.Verdict.Stuck() {
			continue
		}
		if isMainParkedByDesign(g) {
			a.parkedByDesign(g)
			continue
		}
		g.Verdict = VerdictLeaked
		g.Why = w + ": nothing can ever wake it"
		ids = append(ids, g.ID)
	}
	if len(ids) == 0 {
		return
	}
	f := Finding{Severity: SeverityError, Kind: FindingLeak, Goroutines: ids,
		Title: fmt.Sprintf("%d goroutine(s) parked forever on a nil channel or an empty select", len(ids))}
	for _, id := range ids {
		g := a.gs[id]
		f.Details = append(f.Details, fmt.Sprintf("goroutine %d%s %s", id, where(g), what(g)))
	}
	a.s.Findings = append(a.s.Findings, f)
}

// parkedByDesign gives main.main in `select {}` its verdict and finding.
func (a *analysis) parkedByDesign(g *Goroutine) {
	g.Verdict = VerdictIdle
	g.Why = "main goroutine parked in select {} by design (a daemon): it never runs again, and the program runs on in its other goroutines"
	f := Finding{Severity: SeverityInfo, Kind: FindingParkedByDesign, Goroutines: []int64{g.ID},
		Title: fmt.Sprintf("main goroutine %d parked in select {} by design (a daemon): not a leak", g.ID),
		Details: []string{
			fmt.Sprintf("goroutine %d%s is in a select with no cases: it never runs again, and the program runs on in its other goroutines", g.ID, where(g)),
			"not counted as stuck (exit code) and not called leaked; the Go runtime's goroutine leak profile leaves it out too",
		}}
	if a.forever != nil { // a live target: the reachability proof runs
		f.Details = append(f.Details, "what only main references is still proven unreachable: goroutines waiting on it are leaked")
	}
	a.s.Findings = append(a.s.Findings, f)
}
