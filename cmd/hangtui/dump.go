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
