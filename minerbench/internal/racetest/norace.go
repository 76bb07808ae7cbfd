//go:build !race

package racetest

// Scale is how much a latency bound is widened: 20 under the race
// detector, 1 without it.
const Scale = 1
