//go:build race

package stats_test

// raceSlack allows for the race detector's builds, which take more memory
// for the same objects (about half as much again in TestMemoryBounded).
const raceSlack = 1.75
