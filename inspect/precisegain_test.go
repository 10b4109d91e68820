package inspect_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestPreciseGain measures what GC-precise marking adds: for every fixture
// scenario, the goroutines called deadlocked or leaked with precise marking
// and with conservative marking (HANGTUI_CONSERVATIVE=1), same process, one
// snapshot each. A measurement, not a check of numbers (soundness is checked
// by the verdict tests): HANGTUI_PRECISE_GAIN=1 go test ./inspect -run
// TestPreciseGain -v.
func TestPreciseGain(t *testing.T) {
	if os.Getenv("HANGTUI_PRECISE_GAIN") == "" {
		t.Skip("a measurement: set HANGTUI_PRECISE_GAIN=1")
	}
	exe := fixture.Build(t, fixture.Default)
	out, err := exec.Command(exe, "-list").Output()
	if err != nil {
		t.Fatal(err)
	}
	stuck := func(snap *inspect.Snapshot) int {
		n := 0
		for _, g := range snap.Goroutines {
			if g.Verdict.Stuck() {
				n++
			}
		}
		return n
	}
	var rows []string
	var tp, tc int
	for _, sc := range strings.Fields(string(out)) {
		if leakDiffSkip[sc] || sc == "many" {
			continue
		}
		var precise, conservative int
		t.Run(sc, func(t *testing.T) {
			p := fixture.Start(t, exe, sc)
			precise = stuck(settledSnapshot(t, p))
			t.Setenv("HANGTUI_CONSERVATIVE", "1")
			conservative = stuck(snapshotOf(t, p))
		})
		tp, tc = tp+precise, tc+conservative
		if precise != conservative {
			rows = append(rows, fmt.Sprintf("  %-24s stuck: precise %4d, conservative %4d", sc, precise, conservative))
		}
	}
	rows = append(rows, fmt.Sprintf("  %-24s stuck: precise %4d, conservative %4d", "total", tp, tc))
	t.Logf("scenarios where precise marking changes the stuck count:\n%s", strings.Join(rows, "\n"))
}
