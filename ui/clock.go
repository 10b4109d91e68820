package ui

import "time"

// Clock is where the engine gets the time and its timers from: the real
// clock by default, a fake one in tests (which then assert on what the
// engine does when the time comes, not on sleeps).
type Clock interface {
	Now() time.Time
	// After is time.After: the channel receives once, d from now.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
