//go:build race

package descriptor

// raceEnabled is true in a build with the race detector (go build -race),
// as the standard library's internal/race.Enabled.
const raceEnabled = true
