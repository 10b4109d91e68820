package context

import (
	"time"

	"github.com/hangtui/hangtui/inspect"
)

// StallAfter is how long the finalizer goroutine must stay blocked in the
// same finalizer, while finalizers are queued behind it, before the TUI
// warns that the finalizer queue is stalled.
const StallAfter = 5 * time.Second

// maxFinSamples bounds the finalizer history: the sparklines show at most
// this many refreshes.
const maxFinSamples = 120

// FinSample is the finalizer machinery at one refresh.
type FinSample struct {
	At time.Time
	// Pending finalizers and cleanups, as read from the queues.
	Pending, CleanupsPending int
	// Queued and Executed are the runtime's counters (Go 1.25+, HasCounts).
	Queued, Executed uint64
	HasCounts        bool
}

// FinHistory follows the finalizer goroutine across refreshes: the queue
// length and counters for the sparklines, and since when it has been
// blocked in the same finalizer.
type FinHistory struct {
	// Samples are the last refreshes, oldest first.
	Samples []FinSample
	// BlockedSince is the first refresh at which the finalizer goroutine was
	// seen blocked in the finalizer it is blocked in now (zero when it is
	// not blocked); BlockedPending is how many were pending then.
	BlockedSince   time.Time
	BlockedPending int
	blockedKey     string
}

// nextFinHistory extends prev with snap's finalizer state.
func nextFinHistory(prev *FinHistory, snap *inspect.Snapshot) *FinHistory {
	h := &FinHistory{}
	if prev != nil {
		n := len(prev.Samples)
		start := max(0, n-(maxFinSamples-1))
		h.Samples = append(make([]FinSample, 0, n-start+1), prev.Samples[start:]...)
		h.BlockedSince, h.BlockedPending, h.blockedKey = prev.BlockedSince, prev.BlockedPending, prev.blockedKey
	}
	f := snap.Finalizers
	if f == nil {
		h.BlockedSince, h.blockedKey = time.Time{}, ""
		return h
	}
	s := FinSample{At: snap.TakenAt, Pending: f.Pending, Queued: f.Queued, Executed: f.Executed, HasCounts: f.HasCounts}
	if f.Cleanups != nil {
		s.CleanupsPending = f.Cleanups.Pending
	}
	h.Samples = append(h.Samples, s)
	key := ""
	if f.State == inspect.FinalizerBlocked {
		key = "?"
		if f.Running != nil {
			key = f.Running.Func
		}
	}
	switch {
	case key == "":
		h.BlockedSince, h.BlockedPending = time.Time{}, 0
	case key != h.blockedKey || h.BlockedSince.IsZero():
		h.BlockedSince, h.BlockedPending = snap.TakenAt, f.Pending
		// The runtime may already know it has been parked longer.
		if f.Waiting > 0 {
			h.BlockedSince = snap.TakenAt.Add(-f.Waiting)
		}
	}
	h.blockedKey = key
	return h
}

// Last is the newest sample (zero when there is none).
func (h *FinHistory) Last() FinSample {
	if h == nil || len(h.Samples) == 0 {
		return FinSample{}
	}
	return h.Samples[len(h.Samples)-1]
}

// BlockedFor is how long the finalizer goroutine has been blocked in the
// same finalizer as of the newest sample (0 when it is not blocked).
func (h *FinHistory) BlockedFor() time.Duration {
	if h == nil || h.BlockedSince.IsZero() {
		return 0
	}
	return h.Last().At.Sub(h.BlockedSince)
}

// Growing reports whether the queue got longer while the finalizer
// goroutine was blocked.
func (h *FinHistory) Growing() bool {
	return h != nil && !h.BlockedSince.IsZero() && h.Last().Pending > h.BlockedPending
}

// Stalled reports whether the finalizer goroutine has been blocked for at
// least StallAfter with finalizers queued behind it that keep coming.
func (h *FinHistory) Stalled() bool {
	return h.BlockedFor() >= StallAfter && h.Last().Pending > 0 && h.Growing()
}

// Rate is the change per second of a counter between the last two samples
// that have it (ok false when fewer than two do).
func (h *FinHistory) Rate(counter func(FinSample) float64) (perSec float64, ok bool) {
	if h == nil || len(h.Samples) < 2 {
		return 0, false
	}
	a, b := h.Samples[len(h.Samples)-2], h.Samples[len(h.Samples)-1]
	dt := b.At.Sub(a.At).Seconds()
	if dt <= 0 {
		return 0, false
	}
	return (counter(b) - counter(a)) / dt, true
}

// Series returns a counter over the samples, oldest first.
func (h *FinHistory) Series(counter func(FinSample) float64) []float64 {
	if h == nil {
		return nil
	}
	out := make([]float64, len(h.Samples))
	for i, s := range h.Samples {
		out[i] = counter(s)
	}
	return out
}

// RateSeries returns a counter's per-second rate between consecutive
// samples, oldest first (one fewer than the samples).
func (h *FinHistory) RateSeries(counter func(FinSample) float64) []float64 {
	if h == nil || len(h.Samples) < 2 {
		return nil
	}
	out := make([]float64, 0, len(h.Samples)-1)
	for i := 1; i < len(h.Samples); i++ {
		a, b := h.Samples[i-1], h.Samples[i]
		dt := b.At.Sub(a.At).Seconds()
		v := 0.0
		if dt > 0 && counter(b) >= counter(a) {
			v = (counter(b) - counter(a)) / dt
		}
		out = append(out, v)
	}
	return out
}
