package inspect

import (
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// TestContentionPrune: a long run over a program that waits on ever new
// objects keeps at most maxTracked of them plus the ones still waited on,
// and counts those it forgot; waiter-seconds of the kept ones are exact.
func TestContentionPrune(t *testing.T) {
	cs := newContentionSampler(SamplerOptions{Interval: 100 * time.Millisecond})
	cs.prof = &ContentionProfile{}
	cs.classify = func(w *target.SampleWait) (Kind, uint64, Op) { return KindSema, w.Addr, OpSema }
	for n := 1; n <= 2000; n++ {
		// Four new objects per sample, and one waited on throughout.
		smp := &target.Sample{Waits: []target.SampleWait{{Kind: target.WaitSema, Addr: 1, GoID: 1}}}
		for k := 0; k < 4; k++ {
			smp.Waits = append(smp.Waits, target.SampleWait{Kind: target.WaitSema, Addr: uint64(1000 + 4*n + k), GoID: int64(2 + k)})
		}
		cs.prof.Samples = n
		cs.add(smp, 0.1)
	}
	p := cs.Profile()
	if len(p.Resources) > maxTracked+4*100 {
		t.Errorf("%d resources tracked after 8,000 distinct ones", len(p.Resources))
	}
	if p.Forgotten == 0 || p.Forgotten+len(p.Resources) != 8001 {
		t.Errorf("%d forgotten, %d kept: want 8,001 in all", p.Forgotten, len(p.Resources))
	}
	if r := p.Resources[0]; r.Addr != 1 || r.WaitSeconds < 199.9 || r.WaitSeconds > 200.1 || len(r.Series) != SeriesLen {
		t.Errorf("the lock waited on throughout: %+v", r)
	}
}
