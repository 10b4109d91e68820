package target

import "testing"

// The warm-up grows with the goroutines, by more for the first 10,000,
// and warms what it always did at 100,000 (256 MB, within the 300 MB a
// snapshot of them may take) and beyond.
func TestPrewarmSize(t *testing.T) {
	t.Parallel()
	if got, want := prewarmSize(100_000), uint64(100_000*prewarmPerG); got != want {
		t.Errorf("100,000 goroutines: %d bytes, want %d", got, want)
	}
	if got, want := prewarmSize(1_000_000), uint64(100_000*prewarmPerG+900_000*prewarmPerGMany); got != want {
		t.Errorf("1,000,000 goroutines: %d bytes, want %d", got, want)
	}
	if got, want := prewarmSize(10_000), uint64(10_000*prewarmPerGFew); got != want {
		t.Errorf("10,000 goroutines: %d bytes, want %d", got, want)
	}
	last := uint64(0)
	for _, n := range []uint64{1000, 5000, 10_000, 10_001, 50_000, 99_999, 100_000, 100_001, 2_000_000} {
		got := prewarmSize(n)
		if got <= last {
			t.Errorf("%d goroutines: %d bytes, not more than for fewer (%d)", n, got, last)
		}
		last = got
	}
}
