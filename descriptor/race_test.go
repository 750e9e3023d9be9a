//go:build race

package descriptor_test

const raceEnabled = true
