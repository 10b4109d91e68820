package inspect

import (
	"fmt"
	"time"
)

// stallEvidenceWait is how long a finalizer goroutine must be known to have
// been parked before a parked finalizer is reported on that ground alone.
const stallEvidenceWait = time.Second

// maxGroupsShown bounds the queue lines in a finding.
const maxGroupsShown = 5

// finalizerFindings reports the finalizer goroutine (and the cleanup
// goroutines) parked inside user code when there is evidence that this is
// more than a passing moment: it is provably stuck (error), or finalizers are
// queued behind it, or the runtime recorded it parked for a while, or the
// lock it waits for is held by a goroutine that is itself parked. A finalizer
// caught briefly waiting for a lock its holder is about to release is shown
// as blocked in the finalizer state, not reported.
func (a *analysis) finalizerFindings() {
	f := a.s.Finalizers
	if f == nil {
		return
	}
	if f.State == FinalizerBlocked {
		if g := a.gs[f.Goroutine]; g != nil {
			a.stalled(g, f.Running, f.Pending, f.PendingByFunc, "finalizer")
		}
	}
	if c := f.Cleanups; c != nil && !c.OnFinalizerGoroutine {
		for _, id := range c.Blocked {
			if g := a.gs[id]; g != nil {
				a.stalled(g, runningCall(g), c.Pending, c.PendingByFunc, "cleanup")
			}
		}
	}
}

// stalled builds the finding for one finalizer or cleanup goroutine.
func (a *analysis) stalled(g *Goroutine, call *FinalizerCall, pending int, groups []FinalizerGroup, what string) {
	if call != nil && call.Cleanup {
		what = "cleanup"
	}
	holderParked := false
	for _, w := range g.Waits {
		if r := a.rs[w.Resource]; r != nil {
			for _, h := range r.Holders {
				if hg := a.gs[h.Goroutine]; hg != nil && hg.State == StateWaiting {
					holderParked = true
				}
			}
		}
	}
	stuck := g.Verdict.Stuck()
	if !stuck && pending == 0 && g.Waiting < stallEvidenceWait && !holderParked {
		return
	}
	f := Finding{Severity: SeverityWarning, Kind: FindingKind(what + "-blocked"), Goroutines: []int64{g.ID}}
	if stuck {
		f.Severity = SeverityError
	}
	runner := "Finalizer goroutine"
	if g.Role == RoleCleanup {
		runner = "Cleanup goroutine"
	}
	fn := "a " + what
	if call != nil {
		fn = fmt.Sprintf("%s %s (%s:%d)", what, ShortFunc(call.Func), ShortFile(call.File), call.Line)
	}
	f.Title = fmt.Sprintf("%s %d is blocked in %s", runner, g.ID, fn)
	switch {
	case stuck && g.Role == RoleFinalizer:
		f.Title += ": it can never return, so no finalizer runs again"
	case stuck:
		f.Title += ": it can never return"
	case pending > 0:
		f.Title += ": " + Plural(pending, "finalizer") + " queued behind it"
		if g.Role == RoleCleanup {
			f.Title = fmt.Sprintf("%s %d is blocked in %s: %s wait", runner, g.ID, fn, Plural(pending, "queued cleanup"))
		}
	case g.Role == RoleFinalizer:
		f.Title += ": no other finalizer can run"
	case a.s.Finalizers.Cleanups != nil && len(a.s.Finalizers.Cleanups.Goroutines) == 1:
		f.Title += ": no other cleanup can run"
	}
	if call != nil {
		line := fmt.Sprintf("running %s at %s:%d", ShortFunc(call.Func), ShortFile(call.File), call.Line)
		if call.Type != "" {
			line = fmt.Sprintf("running %s for a %s at %s:%d", ShortFunc(call.Func), ShortType(call.Type), ShortFile(call.File), call.Line)
		}
		f.Details = append(f.Details, line)
	}
	if len(g.Waits) == 0 && g.WaitReason != "" {
		f.Details = append(f.Details, "parked: "+g.WaitReason)
	}
	for _, w := range g.Waits {
		r := a.rs[w.Resource]
		if r == nil {
			continue
		}
		line := fmt.Sprintf("%s %s", w.Op.WaitsTo(), describeResource(r))
		for _, h := range r.Holders {
			line += ", held by " + DescribeHolder(h)
		}
		f.Details = append(f.Details, line)
		f.Resources = append(f.Resources, r.ID)
		// The holder's own wait is what keeps the queue stalled: if only a
		// finalizer would end it, this is a deadlock through the finalizer
		// goroutine (background: PyMongo's __del__).
		for _, h := range r.Holders {
			hg := a.gs[h.Goroutine]
			if hg == nil || hg.State != StateWaiting {
				continue
			}
			if len(hg.Waits) == 0 {
				f.Details = append(f.Details, fmt.Sprintf("goroutine %d%s is itself parked (%s)", hg.ID, where(hg), hg.WaitReason))
				f.Goroutines = appendUniqueID(f.Goroutines, hg.ID)
				continue
			}
			hr := a.rs[hg.Waits[0].Resource]
			if hr == nil || stuck {
				// A proven deadlock says why below (g.Why).
				continue
			}
			f.Details = append(f.Details, fmt.Sprintf("goroutine %d%s itself %s %s: if only a finalizer would end that wait, it is a deadlock through the finalizer goroutine",
				hg.ID, where(hg), hg.Waits[0].Op.WaitsTo(), describeResource(hr)))
			f.Goroutines = appendUniqueID(f.Goroutines, hg.ID)
		}
	}
	if g.Waiting > 0 {
		f.Details = append(f.Details, fmt.Sprintf("parked for at least %s (recorded by the runtime)", roundWait(g.Waiting)))
	}
	if stuck && g.Why != "" {
		f.Details = append(f.Details, g.Why)
	}
	if pending > 0 {
		f.Details = append(f.Details, fmt.Sprintf("%d queued behind it:", pending))
		for i, grp := range groups {
			if i == maxGroupsShown {
				f.Details = append(f.Details, fmt.Sprintf("  … and %d more functions", len(groups)-i))
				break
			}
			line := fmt.Sprintf("  %d × %s", grp.Count, ShortFunc(grp.Func))
			if grp.Type != "" {
				line += " (" + ShortType(grp.Type) + ")"
			}
			if grp.Cleanup && what == "finalizer" {
				line += " [cleanup]"
			}
			f.Details = append(f.Details, line)
		}
	}
	a.s.Findings = append(a.s.Findings, f)
}

// roundWait prints a wait time the way people read it: 2m, 45s, 1.2s.
func roundWait(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Minute).String()
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
