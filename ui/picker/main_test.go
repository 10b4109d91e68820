package picker

import (
	"os"
	"testing"

	"github.com/hangtui/hangtui/internal/fixture"
)

// TestMain removes the fixtures this package's tests built once they end.
func TestMain(m *testing.M) { os.Exit(fixture.Main(m)) }
