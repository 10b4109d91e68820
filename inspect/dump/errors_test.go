package dump_test

import (
	"errors"
	"os"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// emptyDir is a source root with nothing in it, for fuzzed dumps.
var emptyDir = func() string {
	d, err := os.MkdirTemp("", "hangtui-fuzz-src-")
	if err != nil {
		panic(err)
	}
	return d
}()
