package main

import (
	"fmt"
	"testing"
)

// TestTransfers deadlocks; run it with -timeout to get the panic dump.
func TestTransfers(t *testing.T) {
	fmt.Println("transfers: starting")
	deadlock()
	fmt.Println("transfers: both parked")
	select {}
}
