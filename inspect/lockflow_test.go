package inspect

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockFlow checks the must-hold analysis on testdata/lockflow: each line
// marked "// held: ..." lists what heldAt must return there ("recv@line",
// with " read" / " deferred"; "-" for nothing).
func TestLockFlow(t *testing.T) {
	t.Parallel()
	path, _ := filepath.Abs("testdata/lockflow/cases.go")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	si := newSourceIndex()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		_, want, ok := strings.Cut(sc.Text(), "// held: ")
		if !ok {
			continue
		}
		var got []string
		for _, c := range si.heldAt(path, line, "") {
			s := fmt.Sprintf("%s@%d", c.recv, c.line)
			if c.read {
				s += " read"
			}
			if c.deferred {
				s += " deferred"
			}
			got = append(got, s)
		}
		g := strings.Join(got, ", ")
		if g == "" {
			g = "-"
		}
		if g != want {
			t.Errorf("line %d: held %q, want %q", line, g, want)
		}
	}
}

func TestLockFuncMatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		lf   lockFunc
		fn   string
		want bool
	}{
		{lockFunc{name: "get", recvType: "shard"}, "main.(*shard).get", true},
		{lockFunc{name: "get", recvType: "shard"}, "main.(*other).get", false},
		{lockFunc{name: "F"}, "github.com/x/y.F", true},
		{lockFunc{name: "F"}, "github.com/x/y.G", false},
		{lockFunc{name: "F"}, "main.F[...]", true},
		{lockFunc{enclosing: "F"}, "main.F.func1", true},
		{lockFunc{name: "serve", recvType: "handler"}, "main.(*handler).serve-fm", false},
	}
	for _, c := range cases {
		if got := c.lf.matches(c.fn); got != c.want {
			t.Errorf("%+v matches %q = %v, want %v", c.lf, c.fn, got, c.want)
		}
	}
}

// TestExitPaths checks the paths that leave a lock held, on
// testdata/lockflow/exits.go: each Lock line marked "// exits: ..." lists
// them as "kind@line via line,line" ("-" for none).
func TestExitPaths(t *testing.T) {
	t.Parallel()
	path, _ := filepath.Abs("testdata/lockflow/exits.go")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	si := newSourceIndex()
	for i, text := range strings.Split(string(src), "\n") {
		line := i + 1
		_, want, ok := strings.Cut(text, "// exits: ")
		if !ok {
			continue
		}
		lf := si.lockFuncAt(path, line)
		if lf == nil {
			t.Fatalf("line %d: no function", line)
		}
		var got []string
		for _, p := range lf.exitPaths(si.fset) {
			if p.lockLine != line {
				continue
			}
			s := fmt.Sprintf("%s@%d", p.exitKind, p.exitLine)
			if len(p.via) > 0 {
				var v []string
				for _, l := range p.via {
					v = append(v, fmt.Sprint(l))
				}
				s += " via " + strings.Join(v, ",")
			}
			got = append(got, s)
		}
		g := strings.Join(got, "; ")
		if g == "" {
			g = "-"
		}
		if g != want {
			t.Errorf("line %d: exits %q, want %q", line, g, want)
		}
	}
}
