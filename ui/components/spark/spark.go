// Package spark draws sparklines: a series of numbers as one line of block
// characters, scaled from zero to the largest value shown.
package spark

import "strings"

var bars = []rune("▁▂▃▄▅▆▇█")

// Line draws the last width values of vs. Zero draws as the lowest bar, so
// an empty queue still shows a baseline; the largest value is the full
// block. Fewer values than width give a shorter line.
func Line(vs []float64, width int) string {
	if width <= 0 || len(vs) == 0 {
		return ""
	}
	if len(vs) > width {
		vs = vs[len(vs)-width:]
	}
	top := 0.0
	for _, v := range vs {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range vs {
		i := 0
		if top > 0 && v > 0 {
			i = int(v / top * float64(len(bars)-1))
			if i == 0 {
				i = 1 // anything above zero is visible
			}
		}
		b.WriteRune(bars[min(i, len(bars)-1)])
	}
	return b.String()
}
