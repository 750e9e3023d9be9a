//go:build !race

package descriptor_test

const raceEnabled = false
