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
	f := statFields(fmt.Sprintf("/proc/%d/stat", pid))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// statFields returns the fields of a /proc stat file after the command
// name: state, ppid, ...
func statFields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return nil
	}
	return strings.Fields(s[i+2:])
}

// procState returns the state letter of pid (R, S, T, t, Z, ...).
func procState(pid int) (string, error) {
	f := statFields(fmt.Sprintf("/proc/%d/stat", pid))
	if len(f) < 1 {
		return "", fmt.Errorf("no process %d", pid)
	}
	return f[0], nil
}

// threadStopped reports whether a thread of pid is stopped (T) or in a
// tracing stop (t).
func threadStopped(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	for _, task := range tasks {
		if f := statFields(task); len(f) > 0 && (f[0] == "T" || f[0] == "t") {
			return true
		}
	}
	return false
}

// tracerOf returns the PID tracing pid, 0 if none.
func tracerOf(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
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
