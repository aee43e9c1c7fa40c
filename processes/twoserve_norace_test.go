//go:build unix && !race

package processes_test

// twoserveRace: see twoserve_race_test.go.
const twoserveRace = false
