//go:build !race

package stats_test

const raceSlack = 1.0
