package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hangtui/hangtui/internal/fixture"
)

// abbaDump writes a SIGQUIT dump of the AB-BA fixture to a file.
func abbaDump(t *testing.T) string {
	t.Helper()
	_, text := fixture.QuitDump(t, fixture.Build(t, fixture.Default), "abba")
	path := filepath.Join(t.TempDir(), "abba.txt")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReportDump: `hangtui report --dump FILE|-` finds the deadlock (exit
// 3) in text and JSON; bad input is one line and exit 1.
func TestReportDump(t *testing.T) {
	bin := binary(t)
	path := abbaDump(t)

	out, code := runBin(t, bin, nil, "report", "--dump", path)
	if code != 3 || !strings.Contains(out, "Deadlock: 2 goroutines wait for each other's locks (lock-order)") || !strings.Contains(out, "main.Account.mu") {
		t.Errorf("report --dump: exit %d\n%s", code, out)
	}

	in, _ := os.ReadFile(path)
	out, code = runBin(t, bin, in, "report", "--json", "--dump", "-")
	var doc struct {
		Target struct{ Source string }
		Cycles []struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 3 || doc.Target.Source != "dump" || len(doc.Cycles) != 1 {
		t.Errorf("report --json --dump -: exit %d, %v\n%s", code, err, out)
	}

	// Exports of the wait-for graph; --json is --format json.
	if out, code = runBin(t, bin, nil, "report", "--format", "dot", "--dump", path); code != 3 || !strings.Contains(out, "digraph hangtui {") || !strings.Contains(out, "color=red") {
		t.Errorf("--format dot: exit %d\n%s", code, out)
	}
	if out, code = runBin(t, bin, nil, "report", "--format", "mermaid", "--dump", path); code != 3 || !strings.HasPrefix(out, "```mermaid\n") || !strings.Contains(out, "DEADLOCKED") {
		t.Errorf("--format mermaid: exit %d\n%s", code, out)
	}
	if out, code = runBin(t, bin, nil, "report", "--format", "json", "--dump", path); code != 3 || !strings.Contains(out, `"schema":"hangtui.report/v1"`) {
		t.Errorf("--format json: exit %d\n%s", code, out)
	}
	if out, code = runBin(t, bin, nil, "report", "--format", "svg", "--dump", path); code != 2 || !strings.Contains(out, "unknown --format") {
		t.Errorf("--format svg: exit %d\n%s", code, out)
	}

	// Without a terminal, `hangtui --dump FILE` prints the report too.
	if out, code = runBin(t, bin, nil, "--dump", path); code != 3 || !strings.Contains(out, "lock-order") {
		t.Errorf("hangtui --dump without a terminal: exit %d\n%s", code, out)
	}

	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.txt")
	_ = os.WriteFile(garbage, []byte("just a log\nnothing to see\n"), 0o644)
	binFile := filepath.Join(dir, "core")
	_ = os.WriteFile(binFile, []byte("\x7fELF\x02\x01\x01\x00\x00\x00"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report", "--dump", garbage}, 1, "no goroutine dump found"},
		{[]string{"report", "--dump", binFile}, 1, "--core"},
		{[]string{"report", "--dump", filepath.Join(dir, "missing")}, 1, "cannot open dump"},
		{[]string{"report", "--dump", dir}, 1, "is a directory"},
		{[]string{"report", "--dump", path, "123"}, 2, "--dump reads a dump file alone"},
		{[]string{"--dump", garbage}, 1, "no goroutine dump found"},
	} {
		out, code := runBin(t, bin, nil, tc.args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != tc.code || !strings.Contains(out, tc.want) || (code == 1 && len(lines) != 1) {
			t.Errorf("hangtui %v: exit %d (want %d), output:\n%s", tc.args, code, tc.code, out)
		}
	}
}

// TestTUIDump opens the live view on a dump: one static snapshot.
func TestTUIDump(t *testing.T) {
	bin := binary(t)
	path := abbaDump(t)
	cmd := fmt.Sprintf("%s --dump %s; echo \"hangtui exited with $?\"; sleep 600", bin, path)
	s := newTmux(t, 100, 30, []string{"XDG_STATE_HOME=" + t.TempDir(), "TERM=xterm-256color"}, cmd)
	s.waitFor(15*time.Second, "2 goroutines deadlocked in 1 cycle", "lock-order")
	s.keys("q")
	s.waitFor(10*time.Second, "hangtui exited with 0")
}

func runBin(t *testing.T, bin string, stdin []byte, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestWatchAndConnectUsage: bad command lines of watch and --connect.
func TestWatchAndConnectUsage(t *testing.T) {
	bin := binary(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"watch"}, 2, "watch needs a command"},
		{[]string{"watch", "--stall", "1ms", "--", "true"}, 2, "--stall"},
		{[]string{"watch", "--out", "/nonexistent", "--", "true"}, 2, "not a directory"},
		{[]string{"watch", "--", "sh", "-c", "echo hi; exit 5"}, 5, "hi"},
		{[]string{"report", "--connect", "127.0.0.1:1"}, 1, "cannot read from the Delve server"},
		{[]string{"report", "--connect", "127.0.0.1:1", "42"}, 2, "--connect reads through a Delve server alone"},
	} {
		out, code := runBin(t, bin, nil, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) || (code == 1 && strings.Count(strings.TrimSpace(out), "\n") != 0) {
			t.Errorf("hangtui %v: exit %d (want %d):\n%s", tc.args, code, tc.code, out)
		}
	}
}
