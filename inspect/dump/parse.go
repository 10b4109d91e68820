package dump

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Errors returned by Parse. Each says what the input was instead, so that
// the command line can print one line that tells the user what to do.
var (
	// ErrBinary: the input has NUL bytes, it is not text.
	ErrBinary = errors.New("binary data, not a text goroutine dump")
	// ErrNoDump: no goroutine header ("goroutine 1 [running]:") was found.
	ErrNoDump = errors.New("no goroutine dump found (expected lines like 'goroutine 1 [running]:')")
	// ErrTooLarge: the input is larger than Options.MaxBytes.
	ErrTooLarge = errors.New("input too large")
)

// Options tune Parse.
type Options struct {
	// MaxBytes stops reading after this many bytes with ErrTooLarge; 0
	// means DefaultMaxBytes.
	MaxBytes int64
}

// DefaultMaxBytes bounds the input: about 40 times the 100,000-goroutine
// dump, far beyond any real dump, so that `--dump /dev/urandom` or a
// runaway log fails fast instead of filling memory.
const DefaultMaxBytes = 4 << 30

// maxLine is the longest line kept; longer lines are skipped (no runtime
// traceback line comes close: the runtime prints at most ~10 argument words).
const maxLine = 64 << 10

// Parse reads a goroutine dump from r.
func Parse(r io.Reader, opts Options) (*Dump, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	p := &parser{
		d:      &Dump{},
		stacks: map[string]*Stack{},
		strs:   map[string]string{},
		seen:   map[int64]bool{},
	}
	br := bufio.NewReaderSize(r, maxLine)
	var read int64
	first := true
	for {
		line, err := br.ReadSlice('\n')
		read += int64(len(line))
		if read > opts.MaxBytes {
			return nil, fmt.Errorf("%w: more than %d MB", ErrTooLarge, opts.MaxBytes>>20)
		}
		if first && len(line) > 0 {
			first = false
			if bytes.IndexByte(line[:min(len(line), 4096)], 0) >= 0 {
				return nil, ErrBinary
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			// An overlong line: skip it to its end.
			for errors.Is(err, bufio.ErrBufferFull) {
				var more []byte
				more, err = br.ReadSlice('\n')
				read += int64(len(more))
				if read > opts.MaxBytes {
					return nil, fmt.Errorf("%w: more than %d MB", ErrTooLarge, opts.MaxBytes>>20)
				}
			}
			p.lineNo++
			p.d.Skipped++
			p.pending = false
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		if len(line) > 0 {
			if bytes.IndexByte(line, 0) >= 0 {
				return nil, fmt.Errorf("%w (NUL byte on line %d)", ErrBinary, p.lineNo+1)
			}
			p.line(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	p.eof()
	if len(p.d.Goroutines) == 0 {
		return nil, ErrNoDump
	}
	return p.d, nil
}

type parser struct {
	d      *Dump
	lineNo int
	// cur is the goroutine being read (nil between goroutines).
	cur *Goroutine
	// frames, args and key accumulate cur's stack; key identifies it for
	// sharing identical stacks.
	frames []Frame
	args   []byte
	key    []byte
	// pending is a function line waiting for its file line.
	pending     bool
	pendFunc    string
	pendArgs    []byte
	pendInlined bool
	// createdBy: the next file line belongs to "created by".
	createdBy bool
	stacks    map[string]*Stack
	strs      map[string]string
	seen      map[int64]bool
	// done is set once the first dump is complete; later goroutines are
	// only counted into further dumps.
	done      bool
	laterSeen map[int64]bool
	// inTests: reading the test names after "running tests:".
	inTests bool
}

func (p *parser) intern(b []byte) string {
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	p.strs[s] = s
	return s
}

func (p *parser) line(raw []byte) {
	p.lineNo++
	line := bytes.TrimRight(raw, "\r\n")
	line = stripTimestamp(line)
	if hdr, ok := parseHeader(line); ok {
		p.header(hdr)
		return
	}
	if p.cur == nil {
		p.outside(line)
		return
	}
	switch {
	case len(line) == 0:
		p.endGoroutine()
	case line[0] == '\t':
		p.fileLine(line[1:])
	case bytes.HasPrefix(line, []byte("created by ")):
		p.pending = false
		p.createdBy = true
		rest := line[len("created by "):]
		if i := bytes.Index(rest, []byte(" in goroutine ")); i >= 0 {
			p.cur.ParentID, _ = strconv.ParseInt(string(rest[i+len(" in goroutine "):]), 10, 64)
			rest = rest[:i]
		}
		p.cur.CreatedBy = &Frame{Func: p.intern(rest)}
	case bytes.HasPrefix(line, []byte("...")) && bytes.HasSuffix(line, []byte("elided...")):
		p.pending = false
		p.cur.Elided = true
		p.key = append(p.key, "\x02elided"...)
	case line[len(line)-1] == ')':
		open := bytes.LastIndexByte(line, '(')
		if open <= 0 {
			p.notFrame()
			return
		}
		p.pending = true
		p.createdBy = false
		p.pendFunc = p.intern(line[:open])
		p.pendArgs = append(p.pendArgs[:0], line[open+1:len(line)-1]...)
		p.pendInlined = string(p.pendArgs) == "..."
	default:
		// Test output or log lines interleaved with the dump; the
		// goroutine continues after them.
		p.notFrame()
	}
}

// notFrame handles a line inside a goroutine that is not part of it.
func (p *parser) notFrame() {
	p.pending = false
	p.createdBy = false
	p.d.Skipped++
}

func (p *parser) fileLine(rest []byte) {
	file, line, ok := splitFileLine(rest)
	switch {
	case !ok:
		p.notFrame()
	case p.createdBy:
		p.createdBy = false
		p.cur.CreatedBy.File = p.intern(file)
		p.cur.CreatedBy.Line = line
	case p.pending:
		p.pending = false
		f := Frame{Func: p.pendFunc, File: p.intern(file), Line: line, Inlined: p.pendInlined}
		if p.d.GoVersion == "" && strings.HasPrefix(f.Func, "runtime.") {
			p.d.GoVersion = GoVersionFromPath(f.File)
		}
		p.frames = append(p.frames, f)
		if len(p.frames) > 1 {
			p.args = append(p.args, '\n')
		}
		if usefulArgs(p.pendArgs) {
			// Arguments that are all "?" or aggregates can never be
			// evidence: not keeping them halves the memory of a large
			// dump.
			p.args = append(p.args, p.pendArgs...)
		}
		p.key = append(p.key, f.Func...)
		p.key = append(p.key, 0)
		p.key = append(p.key, f.File...)
		p.key = strconv.AppendInt(p.key, int64(line), 10)
		if f.Inlined {
			p.key = append(p.key, 'i')
		}
		p.key = append(p.key, 1)
	default:
		p.notFrame()
	}
}

// splitFileLine parses "/path/file.go:123 +0x1d fp=… sp=… pc=…".
func splitFileLine(b []byte) ([]byte, int, bool) {
	if i := bytes.Index(b, []byte(" +0x")); i >= 0 {
		b = b[:i]
	} else if i := bytes.Index(b, []byte(" fp=")); i >= 0 {
		b = b[:i]
	}
	colon := bytes.LastIndexByte(b, ':')
	if colon <= 0 || colon == len(b)-1 {
		return nil, 0, false
	}
	n := 0
	for _, c := range b[colon+1:] {
		if c < '0' || c > '9' || n > 1e8 {
			return nil, 0, false
		}
		n = n*10 + int(c-'0')
	}
	return b[:colon], n, true
}

// header starts a goroutine.
func (p *parser) header(h header) {
	p.endGoroutine()
	if p.done || p.seen[h.id] {
		if !p.done {
			p.done = true
			p.d.Dumps = 1
			p.laterSeen = map[int64]bool{}
		}
		if len(p.laterSeen) == 0 || p.laterSeen[h.id] {
			p.d.Dumps++
			clear(p.laterSeen)
		}
		p.laterSeen[h.id] = true
		return
	}
	if h.id == 0 {
		// goroutine 0 is a thread's system stack (GOTRACEBACK=crash):
		// not a goroutine; its frames are skipped as interleaved lines.
		return
	}
	p.seen[h.id] = true
	g := h.g
	g.Line = p.lineNo
	p.cur = g
	p.frames, p.args, p.key = p.frames[:0], p.args[:0], p.key[:0]
	p.pending, p.createdBy, p.inTests = false, false, false
}

func (p *parser) endGoroutine() {
	g := p.cur
	if g == nil {
		return
	}
	p.cur = nil
	p.pending, p.createdBy = false, false
	st, ok := p.stacks[string(p.key)]
	if !ok {
		st = &Stack{Frames: append([]Frame(nil), p.frames...)}
		p.stacks[string(p.key)] = st
	}
	g.Stack = st
	g.args = string(p.args)
	p.d.Goroutines = append(p.d.Goroutines, g)
}

func (p *parser) eof() {
	if g := p.cur; g != nil {
		// A file cut in the middle of a goroutine (a CI log size limit, a
		// killed process): keep what was read, say so. A complete stack
		// ends in "created by" and its file line, or for the main
		// goroutine in runtime.main.
		complete := !p.pending && !p.createdBy
		switch {
		case g.CreatedBy != nil:
			complete = complete && g.CreatedBy.File != ""
		case len(p.frames) > 0:
			last := p.frames[len(p.frames)-1].Func
			complete = complete && (last == "runtime.main" || last == "runtime.goexit" || last == "runtime.mstart" || last == "main.main")
		default:
			complete = false
		}
		if !complete {
			g.Truncated = true
			p.d.Truncated = true
		}
		p.endGoroutine()
	}
	if p.d.Dumps == 0 && len(p.d.Goroutines) > 0 {
		p.d.Dumps = 1
	}
}

// outside handles a line between goroutines: it records why the dump was
// printed.
func (p *parser) outside(line []byte) {
	if len(line) == 0 {
		return
	}
	if p.done {
		p.d.Skipped++
		return
	}
	s := string(line)
	switch {
	case strings.HasPrefix(s, "fatal error: "), strings.HasPrefix(s, "panic: "),
		strings.HasPrefix(s, "SIG"), strings.HasPrefix(s, "unexpected signal"):
		if len(p.d.Goroutines) == 0 && len(p.d.Header) < 8 {
			p.d.Header = append(p.d.Header, s)
		}
		if strings.Contains(s, "all goroutines are asleep - deadlock!") {
			p.d.AllAsleep = true
		}
		p.inTests = false
	case s == "\trunning tests:":
		p.inTests = len(p.d.Goroutines) == 0
	case p.inTests && strings.HasPrefix(s, "\t\t"):
		name := strings.TrimSpace(s)
		if i := strings.LastIndex(name, " ("); i > 0 {
			name = name[:i]
		}
		p.d.TimedOut = append(p.d.TimedOut, name)
	default:
		p.inTests = false
		p.d.Skipped++
	}
}

// stripTimestamp drops a leading RFC 3339 timestamp and space, as CI
// systems (GitHub Actions, GitLab) put before every log line.
func stripTimestamp(line []byte) []byte {
	if len(line) < 21 || line[4] != '-' || line[7] != '-' || line[10] != 'T' || line[0] < '0' || line[0] > '9' {
		return line
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 19 || sp > 40 {
		return line
	}
	return line[sp+1:]
}

// GoVersionFromPath finds "go1.22.12" in ".../toolchain@v0.0.1-go1.22.12.linux-amd64/src/runtime/x.go"
// or ".../go1.22.12/src/runtime/x.go".
func GoVersionFromPath(file string) string {
	i := strings.Index(file, "go1.")
	if i < 0 || !strings.Contains(file[i:], "/src/runtime/") {
		return ""
	}
	j := i + 4
	for j < len(file) && (file[j] == '.' || (file[j] >= '0' && file[j] <= '9')) {
		j++
	}
	return strings.TrimSuffix(file[i:j], ".")
}

// usefulArgs reports whether an argument list has a top-level word printed
// without "?" (only such words are used as addresses), or is "..." (an
// inlined frame, kept to show it).
func usefulArgs(b []byte) bool {
	if string(b) == "..." {
		return true
	}
	depth, start := 0, 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) {
			switch b[i] {
			case '{':
				depth++
				continue
			case '}':
				depth--
				continue
			case ',':
			default:
				continue
			}
			if depth != 0 {
				continue
			}
		}
		item := bytes.TrimSpace(b[start:i])
		start = i + 1
		if len(item) > 2 && item[0] == '0' && item[1] == 'x' && item[len(item)-1] != '?' {
			return true
		}
	}
	return false
}
