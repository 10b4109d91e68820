package inspect

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect/internal/target"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestSyncOffsetsDWARF ties the semaphore offsets a dump (and a Delve
// server's stacks) is read with, knownSyncOffsets, to the DWARF of the
// fixture built by the local toolchain and by every other supported
// release whose toolchain is already in the module cache (none is
// downloaded; -short: the local one only).
func TestSyncOffsetsDWARF(t *testing.T) {
	t.Parallel()
	variants := []fixture.Variant{fixture.Default}
	if !testing.Short() {
		for _, v := range []string{"go1.22.12", "go1.23.12", "go1.24.13", "go1.25.14", "go1.27.1"} {
			if toolchainCached(v) {
				variants = append(variants, fixture.Variant{Name: v, Toolchain: v})
			} else {
				t.Logf("%s: toolchain not in the module cache, not checked", v)
			}
		}
	}
	for _, v := range variants {
		t.Run(v.Name, func(t *testing.T) {
			tg, err := target.OpenExe(fixture.Build(t, v))
			if err != nil {
				t.Fatal(err)
			}
			got := targetSyncOffsets(tg)
			if got != knownSyncOffsets {
				t.Errorf("DWARF offsets %+v, dump path assumes %+v", got, knownSyncOffsets)
			}
		})
	}
}

// toolchainCached says whether GOTOOLCHAIN=v can run without a download.
func toolchainCached(v string) bool {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return false
	}
	m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "golang.org", "toolchain@v0.0.1-"+v+".*"))
	for _, p := range m {
		if st, err := os.Stat(filepath.Join(p, "bin", "go")); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}
