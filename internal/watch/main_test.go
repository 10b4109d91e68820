package watch

import (
	"os"
	"testing"

	"github.com/hangtui/hangtui/internal/fixture"
)

// TestMain lets this test binary serve as the hangtui executable that
// watch re-executes for its snapshots (SnapshotCommand).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == SnapshotCommand {
		os.Exit(SnapshotMain(os.Args[2:]))
	}
	os.Exit(fixture.Main(m))
}
