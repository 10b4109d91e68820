package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// goldenLinks are the source links of the golden Markdown: the fixtures'
// program lives in /home/dev/bank.
var goldenLinks = &SourceLinks{Root: "/home/dev/bank", URL: "https://github.com/acme/bank/blob/0123456789abcdef0123456789abcdef01234567"}

// TestMarkdownGolden: the Markdown summary of the report fixtures against
// testdata/NAME.md (go test -update rewrites them).
func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := WriteMarkdownOptions(&b, fx.snap(), MarkdownOptions{Links: goldenLinks, Full: "hangtui-" + fx.name + ".json"}); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", fx.name+".md")
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
			if b.String() != string(want) {
				t.Errorf("Markdown differs from %s (go test -update rewrites it):\n%s", path, b.String())
			}
		})
	}
}
