package main

import (
	"os"
	"testing"

	"github.com/hangtui/hangtui/internal/fixture"
)

// TestMain turns the source analysis off for the commands the tests run
// (HANGTUI_NO_CODE, inherited by the hangtui they start): their fixtures'
// expected reports are what memory proves, and loading the fixture's
// packages for each run would cost tens of seconds. Tests of the source
// analysis clear it for their own commands.
func TestMain(m *testing.M) {
	if os.Getenv("HANGTUI_NO_CODE") == "" {
		os.Setenv("HANGTUI_NO_CODE", "1")
	}
	os.Exit(fixture.Main(m))
}
