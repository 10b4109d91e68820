package context_test

import (
	"testing"

	. "github.com/hangtui/hangtui/ui/context"

	"github.com/hangtui/hangtui/ui/internal/uitest"
)

func BenchmarkBuild(b *testing.B) {
	snap := uitest.Many(100_000)
	d := Build(snap, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Build(snap, d)
	}
}
