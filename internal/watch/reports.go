package watch

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
)

// The files of one report: hangtui-PID.json (the JSON report),
// hangtui-PID.md (the Markdown summary) and hangtui-PID.pb.gz (the
// goroutine profile for go tool pprof), side by side; the Markdown is also
// appended to GitHub's step summary when there is one.

// reportFiles are the paths of one process's reports.
type reportFiles struct {
	JSON, Markdown, Pprof string
}

// filesFor returns the report paths next to the JSON report's path.
func filesFor(jsonPath string) reportFiles {
	base := strings.TrimSuffix(jsonPath, ".json")
	return reportFiles{JSON: jsonPath, Markdown: base + ".md", Pprof: base + ".pb.gz"}
}

// snapshotResult is what rendering a snapshot produced.
type snapshotResult struct {
	// text is the text report.
	text  []byte
	files reportFiles
	// summary is the step summary the Markdown was appended to ("" for
	// none); the errors say why a file could not be written.
	summary                              string
	jsonErr, mdErr, pprofErr, summaryErr error
}

// render writes snap's reports (JSON, Markdown, pprof) next to jsonPath,
// appends the Markdown to the step summary file when summary is set, and
// returns the text report.
func render(jsonPath, summary string, snap *inspect.Snapshot) *snapshotResult {
	files := filesFor(jsonPath)
	res := &snapshotResult{files: files, summary: summary}
	res.jsonErr = writeFile(files.JSON, func(w io.Writer) error { return report.WriteJSONIndent(w, snap) })
	opt := report.MarkdownOptions{Links: report.LinksFromEnv(os.Getenv), Full: filepath.Base(files.JSON)}
	md, err := report.Markdown(snap, opt)
	if err == nil {
		res.mdErr = writeFile(files.Markdown, func(w io.Writer) error { _, err := io.WriteString(w, md); return err })
	} else {
		res.mdErr = err
	}
	res.pprofErr = writeFile(files.Pprof, func(w io.Writer) error { return report.WritePprof(w, snap) })
	if summary != "" && err == nil {
		res.summaryErr = appendSummary(summary, md, snap, opt)
	}
	var text bytes.Buffer
	_ = report.WriteText(&text, snap)
	res.text = text.Bytes()
	return res
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// summaryMargin is left free in a step summary for what the job writes
// after hangtui.
const summaryMargin = 4 << 10

// appendSummary appends the Markdown summary md to a step summary file
// ($GITHUB_STEP_SUMMARY), which GitHub shows only while it is at most
// report.MarkdownLimit: if md does not fit in what is left, a shorter
// summary made for the room left is appended instead (at least the
// headline, when that fits).
func appendSummary(path, md string, snap *inspect.Snapshot, opt report.MarkdownOptions) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	sep := ""
	if st.Size() > 0 {
		sep = "\n"
	}
	room := report.MarkdownLimit - int(st.Size()) - summaryMargin - len(sep)
	if len(md) > room {
		opt.MaxBytes = max(room, 1)
		if md, err = report.Markdown(snap, opt); err != nil {
			f.Close()
			return err
		}
	}
	if md == "" {
		return f.Close()
	}
	if _, err := io.WriteString(f, sep+md); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// written is the line that says where a process's reports are.
func (res *snapshotResult) written() []string {
	var lines, ok []string
	for _, f := range []struct {
		what, path string
		err        error
	}{{"JSON report", res.files.JSON, res.jsonErr}, {"Markdown", res.files.Markdown, res.mdErr}, {"pprof", res.files.Pprof, res.pprofErr}} {
		if f.err != nil {
			lines = append(lines, fmt.Sprintf("cannot write %s: %v", f.path, f.err))
			continue
		}
		ok = append(ok, f.what+" "+f.path)
	}
	if len(ok) > 0 {
		// "JSON report written to" is what scripts have looked for since
		// the JSON file was the only one.
		s := strings.Replace(strings.Join(ok, ", "), "JSON report ", "JSON report written to ", 1)
		if !strings.HasPrefix(s, "JSON report written to") {
			s = "written: " + s
		}
		switch {
		case res.summary == "":
		case res.summaryErr != nil:
			lines = append(lines, fmt.Sprintf("cannot append to the step summary %s: %v", res.summary, res.summaryErr))
		default:
			s += "; the Markdown is in the step summary"
		}
		lines = append([]string{s}, lines...)
	}
	return lines
}
