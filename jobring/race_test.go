//go:build race

package jobring_test

const raceEnabled = true
