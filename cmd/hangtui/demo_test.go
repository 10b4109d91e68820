package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"testing"
)

// TestDemoReport runs `hangtui demo --json`, the README's first command
// without a terminal: the built-in bank demo is read and explained — the
// AB-BA deadlock, and the finalizer goroutine blocked on the pool lock with
// finalizers queued behind it — and the exit code says something is stuck.
func TestDemoReport(t *testing.T) {
	out, err := exec.Command(binary(t), "demo", "--json").Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("demo --json: %v, want exit 3", err)
	}
	var doc struct {
		Schema string `json:"schema"`
		Cycles []struct {
			Kind string `json:"kind"`
		} `json:"cycles"`
		Finalizers struct {
			State   string `json:"state"`
			Pending int    `json:"pending"`
			Running *struct {
				Func string `json:"func"`
			} `json:"running"`
		} `json:"finalizers"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("demo --json output: %v", err)
	}
	if doc.Schema != "hangtui.report/v1" {
		t.Errorf("schema %q", doc.Schema)
	}
	kinds := map[string]bool{}
	for _, c := range doc.Cycles {
		kinds[c.Kind] = true
	}
	if !kinds["lock-order"] {
		t.Errorf("no lock-order cycle in the demo: %+v", doc.Cycles)
	}
	f := doc.Finalizers
	if f.State != "blocked" && f.State != "deadlocked" {
		t.Errorf("finalizer state %q, want blocked", f.State)
	}
	if f.Running == nil || f.Running.Func == "" {
		t.Errorf("running finalizer not named: %+v", f)
	}
	if f.Pending < 2 {
		t.Errorf("pending finalizers %d, want the 2 queued behind the blocked one", f.Pending)
	}
}
