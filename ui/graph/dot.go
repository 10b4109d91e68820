package graph

import (
	"io"

	"github.com/hangtui/hangtui/inspect/report"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// WriteDOT writes the wait-for graph of d in Graphviz DOT; it is the same
// export as `hangtui report --format dot` (inspect/report.WriteDOT).
func WriteDOT(w io.Writer, d *uictx.Data) error {
	return report.WriteDOT(w, d.Snap)
}
