package main

import (
	"io"
	"os"

	"github.com/hangtui/hangtui/inspect"
)

// readDump reads a text goroutine dump from a file or, for "-", standard
// input.
func readDump(path, srcRoot string) (*inspect.Snapshot, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, &inspect.Error{Kind: inspect.ErrBadDump, Msg: "cannot open dump: " + err.Error()}
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return nil, &inspect.Error{Kind: inspect.ErrBadDump, Msg: path + " is a directory", Hint: "give the dump file"}
		}
		r = f
	}
	return inspect.ReadDump(r, inspect.DumpOptions{Name: path, SourceRoot: srcRoot})
}

// staticSource shows one snapshot that never changes (a dump): the UI's
// engine reads it once and, as the target is not live, never refreshes on
// its own.
type staticSource struct{ snap *inspect.Snapshot }

func (s staticSource) Snapshot() (*inspect.Snapshot, error) { return s.snap, nil }
func (s staticSource) Resume() error                        { return nil }
func (s staticSource) Close() error                         { return nil }
