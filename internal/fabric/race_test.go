//go:build race

package fabric

// raceEnabled: the race detector allocates on its own and makes sync.Pool
// drop items, so allocation counts mean nothing.
const raceEnabled = true
