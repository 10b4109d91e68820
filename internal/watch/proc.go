package watch

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// descendants returns the PIDs of every process below root (not root
// itself), from the parent links in /proc/PID/stat, sorted.
func descendants(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(pid); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []int
	var walk func(int)
	seen := map[int]bool{}
	walk = func(p int) {
		for _, c := range children[p] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(root)
	sort.Ints(out)
	return out
}

func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, false
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// goProcess says whether pid runs a Go program worth reporting, and its
// executable. The Go toolchain itself (go, compile, link, vet: module path
// "cmd/...") only waits for what it started and is skipped, as are
// programs that are not Go.
func goProcess(pid int) (exe string, ok bool, why string) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return "", false, "cannot read its executable"
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	bi, err := buildinfo.ReadFile(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return exe, false, "not a Go program"
	}
	if strings.HasPrefix(bi.Path, "cmd/") {
		return exe, false, "the Go toolchain (" + filepath.Base(exe) + ")"
	}
	return exe, true, ""
}
