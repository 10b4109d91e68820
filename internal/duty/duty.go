// Package duty keeps a live target paused at most a tenth of the time
// across refreshes (the live view, and the benchmark that measures it).
package duty

import "time"

// Max bounds the share of time a live target is kept stopped to 1/Max:
// after a snapshot that paused it for p, it runs at least Max·p before the
// next one — one p more than the bound needs, since the next pause may be
// a little longer than the last (at 100,000 goroutines, (Max-1)·p measured
// 10.1-10.2%) — and longer when earlier pauses took more than their share.
// A 100,000-goroutine service paused 0.5 s is read every 5 s, not every
// 2 s.
const Max = 10

// Cycle holds a live target to being paused at most 1/Max of the
// time over the refreshes of a session. After each snapshot the target
// runs at least Max times that snapshot's pause; and when the pauses
// so far add up to more than their share (a refresh paused longer than
// the one before it, or the user asked for one), the next wait is
// stretched until the next pause, if it is as long as the last, brings the
// share back under the bound. The first snapshot (the attach the user
// asked for) is not counted.
type Cycle struct {
	counting bool
	paused   time.Duration // pauses of the refreshes counted
	total    time.Duration // their pauses and the time the target ran before each
}

// Next records a snapshot that paused the target for pause, after it had
// run for ran since the previous one, and says how long to let it run
// before the next automatic one (at least interval).
func (d *Cycle) Next(ran, pause, interval time.Duration) time.Duration {
	if d.counting {
		d.paused += pause
		d.total += ran + pause
	}
	d.counting = true
	// With the next pause as long as this one (p), after waiting w:
	// (paused + p) / (total + w + p) <= 1/Max.
	repay := Max*(d.paused+pause) - d.total - pause
	return max(interval, Max*pause, repay)
}
