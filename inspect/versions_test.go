package inspect_test

import (
	"testing"

	"github.com/hangtui/hangtui/internal/fixture"
)

// goVersions are the toolchains whose targets hangtui must read. The Go
// command fetches each through the module proxy on first use.
var goVersions = []string{"go1.22.12", "go1.23.12", "go1.24.13", "go1.25.14", "go1.27.1"}

// TestGoVersions reads the same scenarios from programs built by every
// supported Go release: waiters, holders, cycles and verdicts. Go 1.26 is
// the local toolchain, which builds the fixture for every other test.
func TestGoVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fixture with several toolchains")
	}
	for _, v := range goVersions {
		t.Run(v, func(t *testing.T) {
			exe := fixture.Build(t, fixture.Variant{Name: v, Toolchain: v})
			for _, sc := range []string{"abba", "rwmutex", "waitgroup", "cond", "select", "chan-leak", "source-lock", "finalizer-lock", "healthy-pool", "cond-cycle", "finalizer-cycle"} {
				t.Run(sc, func(t *testing.T) {
					p := fixture.Start(t, exe, sc)
					snap := settledSnapshot(t, p)
					if snap.Target.GoVersion != p.Manifest.Go {
						t.Errorf("go version %q, want %q", snap.Target.GoVersion, p.Manifest.Go)
					}
					checkWaits(t, snap, p.Manifest)
					checkHolders(t, snap, p.Manifest)
					checkVerdicts(t, snap, p.Manifest)
				})
			}
		})
	}
}
