package inspect_test

import (
	"os"
	"testing"

	"github.com/hangtui/hangtui/inspect"
)

// BenchmarkReadDump reads and analyses the dump named by
// HANGTUI_BENCH_DUMP (bench/dump.sh makes a 100,000-goroutine one).
func BenchmarkReadDump(b *testing.B) {
	path := os.Getenv("HANGTUI_BENCH_DUMP")
	if path == "" {
		b.Skip("set HANGTUI_BENCH_DUMP to a goroutine dump (bench/dump.sh makes one)")
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		snap, err := inspect.ReadDump(f, inspect.DumpOptions{Name: path})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(snap.Goroutines)), "goroutines")
	}
}
