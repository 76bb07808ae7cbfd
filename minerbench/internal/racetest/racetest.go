//go:build race

// Package racetest tells tests whether the race detector is on.
//
// Code runs several times slower under the race detector. A test that
// asserts a latency bound, which the issue it proves names in real time,
// asserts it as named without the detector, and scaled by Scale with it:
// there it proves the outcome, not the speed.
package racetest

// Scale is how much a latency bound is widened: 20 under the race
// detector, 1 without it.
const Scale = 20
