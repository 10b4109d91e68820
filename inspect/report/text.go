package report

import (
	"io"

	"github.com/hangtui/hangtui/inspect"
)

// WriteText writes the report for people.
func WriteText(w io.Writer, s *inspect.Snapshot) error {
	return WriteJSON(w, s)
}
