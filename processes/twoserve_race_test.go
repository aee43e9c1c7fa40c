//go:build unix && race

package processes_test

// twoserveRace: this test binary has the race detector, and so do the
// serve processes TestTwoServeProcessesLoseNoStateUpdate runs (a race
// they find makes them exit with status 66, which fails the test).
const twoserveRace = true
