package spark

import "testing"

func TestLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vs    []float64
		width int
		want  string
	}{
		{nil, 5, ""},
		{[]float64{0, 0, 0}, 5, "▁▁▁"},
		{[]float64{0, 1, 2, 4, 8}, 5, "▁▂▂▄█"},
		{[]float64{0, 0.1, 100}, 5, "▁▂█"},
		{[]float64{1, 2, 3, 4, 5, 6}, 3, "▅▆█"},
		{[]float64{3, 3}, 4, "██"},
	} {
		if got := Line(tc.vs, tc.width); got != tc.want {
			t.Errorf("Line(%v, %d) = %q, want %q", tc.vs, tc.width, got, tc.want)
		}
	}
}
