// Package seat counts point-to-site clients against a limit that more
// than one server may share: a SKU's IKEv2 and OpenVPN clients are one
// figure in Azure's table (R32), while the IKE daemon serves the one and
// the TCP server the other.
package seat

import "sync"

// Count counts clients; its zero value counts none. The servers that
// share one take a seat for each client they admit and give it back when
// the client goes.
type Count struct {
	mu sync.Mutex // guards n; taken last, under the servers' own locks
	n  int
}

// Take counts one more client when fewer than limit+spare are counted
// (spare: clients counted that are on their way out, which the new one
// replaces); it reports how many were counted before, and whether it
// took a seat.
func (c *Count) Take(limit, spare int) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= limit+spare {
		return c.n, false
	}
	c.n++
	return c.n - 1, true
}

// Give gives back the seat of a client that went.
func (c *Count) Give() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
}

// Taken returns how many clients are counted.
func (c *Count) Taken() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
