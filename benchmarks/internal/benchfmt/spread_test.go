package benchfmt

import (
	"slices"
	"testing"
)

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Spread
	}{
		{"none", nil, Spread{}},
		{"one", []float64{3}, Spread{3, 3, 3, 1}},
		{"odd", []float64{9, 1, 5}, Spread{5, 1, 9, 3}},
		{"even", []float64{4, 1, 10, 2}, Spread{3, 1, 10, 4}},
		{"outlier", []float64{10, 11, 12, 1000, 9}, Spread{11, 9, 1000, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			if got := SpreadOf(in); got != tc.want {
				t.Errorf("SpreadOf(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("SpreadOf reordered its input: %v, was %v", in, tc.in)
			}
		})
	}
}
