package duty

import (
	"testing"
	"time"
)

// The share of time paused stays under 1/Max over a session whose
// pauses vary, and a pause longer than the last is paid back by the next
// wait.
func TestCycle(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	cases := map[string][]time.Duration{
		"steady":            {500 * ms, 500 * ms, 500 * ms, 500 * ms, 500 * ms},
		"growing":           {100 * ms, 200 * ms, 400 * ms, 800 * ms, 800 * ms, 800 * ms},
		"one long":          {300 * ms, 300 * ms, 1500 * ms, 300 * ms, 300 * ms, 300 * ms},
		"shorter than tick": {10 * ms, 10 * ms, 10 * ms},
	}
	for name, pauses := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var d Cycle
			var paused, total time.Duration
			wait := d.Next(0, pauses[0], time.Second) // the attach: not counted
			if want := max(time.Second, Max*pauses[0]); wait != want {
				t.Fatalf("first wait %v, want %v", wait, want)
			}
			for i, p := range pauses[1:] {
				paused += p
				total += wait + p
				wait = d.Next(wait, p, time.Second)
				if wait < Max*p || wait < time.Second {
					t.Fatalf("refresh %d: wait %v is under %d×%v or the interval", i+1, wait, Max, p)
				}
				// Had the next pause been as long as this one, the share
				// would be within the bound.
				if share := float64(paused+p) / float64(total+wait+p); share > 1.0/Max+1e-9 {
					t.Fatalf("refresh %d: share after the next pause %.3f, want <= %.3f", i+1, share, 1.0/Max)
				}
			}
		})
	}
}
