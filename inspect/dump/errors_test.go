package dump_test

import (
	"errors"
	"os"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// fuzzSrc is a source root with only the fixture's mutex.go in it (as
// fixture/mutex.go), so fuzzed dumps exercise the holder evidence without
// reading arbitrary files.
var fuzzSrc = func() string {
	d, err := os.MkdirTemp("", "hangtui-fuzz-src-")
	if err != nil {
		panic(err)
	}
	b, err := os.ReadFile("../../testdata/fixture/mutex.go")
	if err == nil {
		_ = os.MkdirAll(d+"/fixture", 0o755)
		_ = os.WriteFile(d+"/fixture/mutex.go", b, 0o644)
	}
	return d
}()
