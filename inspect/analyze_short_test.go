package inspect

import "testing"

func TestShortType(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"*github.com/hangtui/hangtui/internal/demo.Conn": "*demo.Conn",
		"main.poolMu": "main.poolMu",
		"github.com/a/b.Var (chan github.com/a/b.Event)": "b.Var (chan b.Event)",
		"[]*example.com/x/y.T":                           "[]*y.T",
		"map[string]gopkg.in/yaml.v3.Node":               "map[string]yaml.v3.Node",
	} {
		if got := ShortType(in); got != want {
			t.Errorf("ShortType(%q) = %q, want %q", in, got, want)
		}
	}
}
