//go:build race

package esp

// raceEnabled is true under the race detector, which makes sync.Pool drop
// items on purpose, so allocation counts mean nothing there.
const raceEnabled = true
