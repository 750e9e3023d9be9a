package benchfmt

import "slices"

// Spread summarizes the samples of one figure (the -count runs of one
// benchmark): the median and the range they cover.
type Spread struct {
	Median, Min, Max float64
	// N is the number of samples.
	N int
}

// SpreadOf returns the spread of v, which it leaves unchanged; the median
// of an even count is the mean of the middle two. An empty v has the zero
// Spread (N is 0).
func SpreadOf(v []float64) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[n-1], N: n}
}
