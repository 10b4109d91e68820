package dump

import (
	"bytes"
	"strconv"
	"strings"
)

type header struct {
	id int64
	g  *Goroutine
}

// parseHeader parses a goroutine header in any of the forms the runtime
// has printed since Go 1.17:
//
//	goroutine 7 [chan receive]:
//	goroutine 7 [chan receive, 3 minutes, locked to thread]:
//	goroutine 7 gp=0xc000007500 m=nil [sync.Mutex.Lock]:
//	goroutine 1 gp=0xc000002380 m=0 mp=0x6c5760 [running]:
//	goroutine 9 [select (leaked)]:
//	goroutine 9 [chan receive (durable), synctest bubble 1]:
//	goroutine 9 [select, labels:{"k": "v"}]:          (Go 1.26)
//	goroutine 9 [select] {k: v}:                      (Go 1.27)
func parseHeader(line []byte) (header, bool) {
	const prefix = "goroutine "
	if !bytes.HasPrefix(line, []byte(prefix)) || line[len(line)-1] != ':' {
		return header{}, false
	}
	rest := line[len(prefix):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 19 || n == len(rest) || rest[n] != ' ' {
		return header{}, false
	}
	id, err := strconv.ParseInt(string(rest[:n]), 10, 64)
	if err != nil {
		return header{}, false
	}
	rest = rest[n+1 : len(rest)-1] // drop the trailing ':'
	open := bytes.IndexByte(rest, '[')
	if open < 0 {
		return header{}, false
	}
	g := &Goroutine{ID: id, M: -1}
	for _, kv := range bytes.Fields(rest[:open]) {
		k, v, _ := bytes.Cut(kv, []byte("="))
		switch string(k) {
		case "gp":
			g.GP, _ = parseHex(string(v))
		case "mp":
			g.MP, _ = parseHex(string(v))
		case "m":
			if m, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				g.M = m
			}
		default:
			return header{}, false
		}
	}
	body := rest[open+1:]
	var labels []byte
	if bytes.HasSuffix(body, []byte("]")) {
		body = body[:len(body)-1]
	} else if i := bytes.Index(body, []byte("] {")); i >= 0 && bytes.HasSuffix(body, []byte("}")) {
		labels = body[i+3 : len(body)-1]
		body = body[:i]
	} else {
		return header{}, false
	}
	if i := bytes.Index(body, []byte(", labels:{")); i >= 0 && bytes.HasSuffix(body, []byte("}")) {
		labels = body[i+len(", labels:{") : len(body)-1]
		body = body[:i]
	}
	parts := strings.Split(string(body), ", ")
	status := parts[0]
	for _, suffix := range []string{" (scan)", " (leaked)", " (durable)"} {
		if s, ok := strings.CutSuffix(status, suffix); ok {
			status = s
			switch suffix {
			case " (leaked)":
				g.Leaked = true
			case " (durable)":
				g.Durable = true
			}
		}
	}
	if strings.HasSuffix(status, " (leaked)") {
		g.Leaked = true
		status = strings.TrimSuffix(status, " (leaked)")
	}
	g.Status = status
	for _, p := range parts[1:] {
		switch {
		case p == "locked to thread":
			g.LockedToThread = true
		case strings.HasSuffix(p, " minutes"):
			g.Minutes, _ = strconv.Atoi(strings.TrimSuffix(p, " minutes"))
		}
	}
	if len(labels) > 0 {
		g.Labels = parseLabels(string(labels))
	}
	return header{id: id, g: g}, true
}

// parseLabels parses `"k": "v", "k2": "v2"` (quoted, Go 1.26) or
// `k: v, k2: "v 2"` (quoted only where needed, Go 1.27).
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		k, rest, ok := labelToken(s)
		if !ok || !strings.HasPrefix(rest, ": ") {
			return out
		}
		v, rest, ok := labelToken(rest[2:])
		if !ok {
			return out
		}
		out[k] = v
		s = strings.TrimPrefix(rest, ", ")
	}
	return out
}

func labelToken(s string) (tok, rest string, ok bool) {
	if strings.HasPrefix(s, `"`) {
		prefix, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", "", false
		}
		tok, err = strconv.Unquote(prefix)
		return tok, s[len(prefix):], err == nil
	}
	end := len(s)
	for _, sep := range []string{": ", ", "} {
		if i := strings.Index(s, sep); i >= 0 && i < end {
			end = i
		}
	}
	return s[:end], s[end:], true
}
