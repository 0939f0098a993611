// Package peakrate keeps, per point-to-site client, the highest rate of
// its traffic over one-second windows since it connected: what
// getVpnClientConnectionHealth answers as maxBandwidth and
// maxPacketsPerSecond. Its owner samples the clients' counters every
// Tick, from one goroutine; the packets' own path does no work for it.
package peakrate

import (
	"sync"
	"time"
)

// Tick is how often the counters are sampled. A window is the last
// second: Window ticks. A burst shorter than a second less one Tick
// falls in one window whole, wherever it starts.
const (
	Tick   = 250 * time.Millisecond
	Window = 4
)

// Counters are a client's traffic since it connected, both ways
// together.
type Counters struct {
	Bytes, Packets uint64
}

// Peak is a client's highest rate: bytes (both ways) per second, and
// packets (both ways) per second.
type Peak struct {
	BytesPerSecond, PacketsPerSecond uint64
}

// sample is a client's counters at a time.
type sample struct {
	at time.Time
	c  Counters
}

// client is what a Tracker keeps of one client: its last Window+1
// samples, oldest first, and its peak.
type client struct {
	samples []sample
	peak    Peak
}

// Tracker keeps the peaks of the clients, by a key of K that names one
// connection (a new connection at the same address is another key).
type Tracker[K comparable] struct {
	mu      sync.Mutex
	clients map[K]*client
}

// Sample records the counters of every client connected now, read at
// now: the time they were read, not that of the tick that asked for them
// (one taken late would count what came since as within the window); the
// clients not among them are forgotten. A client seen for the
// first time is taken to have had no traffic a Tick before: what it
// sent since it connected counts in its first window. So is one whose
// counters went down: another connection under its key (a tunnel made
// again for the next client of its name), whose peak starts again.
func (t *Tracker[K]) Sample(now time.Time, counters map[K]Counters) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clients == nil {
		t.clients = map[K]*client{}
	}
	for k := range t.clients {
		if _, ok := counters[k]; !ok {
			delete(t.clients, k)
		}
	}
	for k, c := range counters {
		cl := t.clients[k]
		if cl != nil {
			if last := cl.samples[len(cl.samples)-1].c; c.Bytes < last.Bytes || c.Packets < last.Packets {
				cl = nil
			}
		}
		if cl == nil {
			cl = &client{samples: []sample{{at: now.Add(-Tick)}}}
			t.clients[k] = cl
		}
		if len(cl.samples) > Window {
			cl.samples = append(cl.samples[:0], cl.samples[1:]...)
		}
		cl.samples = append(cl.samples, sample{at: now, c: c})
		first := cl.samples[0]
		// The window is a second, or longer when the ticks came late:
		// the rate is then its average over the longer window, never
		// more than was counted in it.
		d := max(now.Sub(first.at), time.Second)
		rate := func(n, was uint64) uint64 {
			return uint64(float64(n-was) * float64(time.Second) / float64(d))
		}
		cl.peak.BytesPerSecond = max(cl.peak.BytesPerSecond, rate(c.Bytes, first.c.Bytes))
		cl.peak.PacketsPerSecond = max(cl.peak.PacketsPerSecond, rate(c.Packets, first.c.Packets))
	}
}

// Run samples every Tick what read returns, the counters of the clients
// connected, until stop is closed. Each sample is timed when read
// returned, not at its tick: a tick served late (read waited for a lock)
// would count what came meanwhile as within the window.
func (t *Tracker[K]) Run(stop <-chan struct{}, read func() map[K]Counters) {
	tick := time.NewTicker(Tick)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			c := read()
			t.Sample(time.Now(), c)
		}
	}
}

// Peak returns the peak of the client k; none (zero) when it was not
// sampled yet.
func (t *Tracker[K]) Peak(k K) Peak {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cl := t.clients[k]; cl != nil {
		return cl.peak
	}
	return Peak{}
}
