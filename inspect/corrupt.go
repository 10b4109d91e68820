package inspect

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// readError makes an error of reading the target's runtime state one line
// a person can act on (#18): inconsistent runtime structures (a corrupt or
// truncated core, memory that changed under a live read) are ErrCorrupt,
// in the form 'the runtime state at ADDR (runtime.X) is inconsistent: ...';
// anything else keeps its message, with Delve's read errors said in
// hangtui's words.
func readError(err error, src SourceKind) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var ce *target.CorruptError
	if errors.As(err, &ce) {
		return &Error{Kind: ErrCorrupt, Msg: ce.Error(), Hint: corruptHint(src), Err: err}
	}
	return &Error{Kind: ErrUnsupported, Msg: "cannot read the target's runtime state: " + plainReadError(err.Error()),
		Hint: "please report this with the target's Go version", Err: err}
}

func corruptHint(src SourceKind) string {
	if src == SourceLive {
		return "read it again; if this repeats, its memory is damaged"
	}
	return "the core is damaged: take a new one, or inspect the live process"
}

// delveReadErrors are the errors of Delve's memory readers, with the
// address they name: what a user sees instead is plainReadError's.
var delveReadErrors = []*regexp.Regexp{
	regexp.MustCompile(`error while reading spliced memory at (0x[0-9a-f]+): .*`),
	regexp.MustCompile(`offset ([0-9]+) did not match any regions`),
	regexp.MustCompile(`hit unmapped area at ([0-9]+) after [0-9]+ bytes`),
	regexp.MustCompile(`could not read memory at (0x[0-9a-f]+).*`),
}

// plainReadError rewrites Delve's memory read errors in a message to "no
// memory at ADDR" (a core does not hold it, a live process has not mapped
// it), and read errors with no address to "unreadable memory".
func plainReadError(msg string) string {
	for _, re := range delveReadErrors {
		msg = re.ReplaceAllStringFunc(msg, func(m string) string {
			a := re.FindStringSubmatch(m)[1]
			if v, err := strconv.ParseUint(a, 0, 64); err == nil {
				return fmt.Sprintf("no memory at %#x", v)
			}
			return "unreadable memory"
		})
	}
	for _, s := range []string{": EOF", ": unexpected EOF", ": short read"} {
		if i := len(msg) - len(s); i >= 0 && msg[i:] == s {
			msg = msg[:i] + ": unreadable memory"
		}
	}
	return msg
}

// plainWarnings applies plainReadError to a snapshot's warnings.
func plainWarnings(ws []string) {
	for i, w := range ws {
		ws[i] = plainReadError(w)
	}
}

// panicError is a panic recovered on the session goroutine as one line:
// the value and where it happened (the frame that panicked), for a report.
func panicError(r any, stack []byte) error {
	site := ""
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		// The frame after the runtime's panic function is the one that
		// panicked; its file:line is on the next line.
		if strings.HasPrefix(l, "panic(") && i+3 < len(lines) {
			fn := lines[i+2]
			if j := strings.LastIndex(fn, "("); j > 0 {
				fn = fn[:j]
			}
			file := strings.TrimSpace(lines[i+3])
			if j := strings.LastIndex(file, " +0x"); j > 0 {
				file = file[:j]
			}
			site = fmt.Sprintf(" in %s at %s", fn, ShortFile(file))
			break
		}
	}
	return fmt.Errorf("internal error: %v%s; please report it with the target's Go version", r, site)
}
