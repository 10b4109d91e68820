package report

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
)

// TestGraphGolden: the DOT and Mermaid exports of the report fixtures,
// against testdata/NAME.dot and NAME.mmd (go test -update rewrites them).
func TestGraphGolden(t *testing.T) {
	t.Parallel()
	for _, ex := range []struct {
		ext   string
		write func(io.Writer, *inspect.Snapshot) error
	}{{"dot", WriteDOT}, {"mmd", WriteMermaid}} {
		for _, fx := range fixtures {
			t.Run(fx.name+"."+ex.ext, func(t *testing.T) {
				t.Parallel()
				var b bytes.Buffer
				if err := ex.write(&b, fx.snap()); err != nil {
					t.Fatal(err)
				}
				got := b.String()
				path := filepath.Join("testdata", fx.name+"."+ex.ext)
				if *update {
					if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("%s export differs from %s (go test -update rewrites it):\n%s", ex.ext, path, got)
				}
				if strings.Count(got, "{") != strings.Count(got, "}") || strings.Count(got, "[") != strings.Count(got, "]") {
					t.Errorf("unbalanced brackets:\n%s", got)
				}
			})
		}
	}
}

// TestMermaidDeadlock: the cycle's edges and goroutines are marked.
func TestMermaidDeadlock(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteMermaid(&b, deadlockSnapshot()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"```mermaid\n", "flowchart LR", "DEADLOCKED", "class ", "linkStyle ", "-->|\"held by\"|"} {
		if !strings.Contains(out, want) {
			t.Errorf("Mermaid lacks %q:\n%s", want, out)
		}
	}
}
