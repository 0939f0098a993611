package p2s

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/peakrate"
)

// udpFrom is an IPv4 UDP packet of n bytes from src to dst.
func udpFrom(src, dst netip.Addr, n int) []byte {
	pkt := bigPacket(dst, n, 7, false)
	copy(pkt[12:16], src.AsSlice())
	setHeaderChecksum(pkt)
	return pkt
}

// TestClientPeakRate: the client list (getVpnClientConnectionHealth's
// maxBandwidth and maxPacketsPerSecond) shows a client's highest rate
// over a second, both ways together: a burst it sent and was sent
// within well under a second shows whole, and never more than the
// client's traffic in all; a client that sent nothing shows none.
func TestClientPeakRate(t *testing.T) {
	r := newRegion(t, Config{Listen: netip.MustParseAddrPort("127.213.0.1:0")})
	site := siteOf(r)
	var got atomic.Int64
	cl, _, err := r.dial(t, r.pki.client, func(c *ClientConfig) { c.OnIP = func([]byte) { got.Add(1) } })
	if err != nil {
		t.Fatal(err)
	}
	idle, _, err := r.dial(t, r.pki.client, func(c *ClientConfig) { c.OnIP = func([]byte) {} })
	if err != nil {
		t.Fatal(err)
	}
	untilTrue(t, "the gateway's links up", func() bool {
		r.srv.mu.Lock()
		defer r.srv.mu.Unlock()
		a, ok := r.srv.clients[cl.Addr()].(*link)
		b, ok2 := r.srv.clients[idle.Addr()].(*link)
		return ok && ok2 && a.up.Load() && b.up.Load()
	})
	status := func(a netip.Addr) ClientStatus {
		for _, c := range r.srv.Clients() {
			if c.Addr == a {
				return c
			}
		}
		t.Fatalf("%v is not listed", a)
		return ClientStatus{}
	}
	const n, size = 200, 500
	site10 := netip.MustParseAddr("10.2.0.9")
	start := time.Now()
	for range n {
		if err := cl.Send(udpFrom(cl.Addr(), site10, size)); err != nil {
			t.Fatal(err)
		}
		r.router.Forward(bigPacket(cl.Addr(), size, 1, false))
	}
	untilTrue(t, "the burst counted both ways", func() bool {
		c := status(cl.Addr())
		return c.PacketsIn >= n && c.PacketsOut >= n
	})
	took := time.Since(start)
	var atSite int
	untilTrue(t, "the site and the client got the burst", func() bool {
		atSite += len(site.take())
		return atSite >= n && got.Load() >= n
	})
	// A burst that took less than a second but a tick falls in one
	// window whole; one that took longer (a slow machine) may fall in
	// parts.
	wantPPS, wantBytes := uint64(2*n), uint64(2*n*size)
	if took > time.Second-peakrate.Tick {
		t.Logf("the burst took %v: only some of it is sure to fall in one window", took)
		wantPPS, wantBytes = 1, 1
	}
	untilTrue(t, "the peak shown", func() bool {
		p := status(cl.Addr()).Peak
		return p.PacketsPerSecond >= wantPPS && p.BytesPerSecond >= wantBytes
	})
	time.Sleep(time.Second) // a few more ticks: the peak stays
	c := status(cl.Addr())
	t.Logf("burst of %d packets each way in %v: peak %d packets/s, %d bytes/s", n, took, c.Peak.PacketsPerSecond, c.Peak.BytesPerSecond)
	if c.Peak.PacketsPerSecond < wantPPS || c.Peak.BytesPerSecond < wantBytes {
		t.Errorf("the peak went down: %+v", c.Peak)
	}
	if c.Peak.PacketsPerSecond > c.PacketsIn+c.PacketsOut || c.Peak.BytesPerSecond > c.BytesIn+c.BytesOut {
		t.Errorf("peak %+v is more than the client's traffic in all (%d packets, %d bytes)", c.Peak, c.PacketsIn+c.PacketsOut, c.BytesIn+c.BytesOut)
	}
	if c := status(idle.Addr()); c.Peak.PacketsPerSecond != 0 || c.Peak.BytesPerSecond != 0 {
		t.Errorf("an idle client's peak: %+v (traffic %d/%d packets)", c.Peak, c.PacketsIn, c.PacketsOut)
	}
}

// TestClientPeakRateLateSample: two bursts to a client more than a
// second apart are not taken for one second's traffic when the counters
// are sampled late (here the server's lock is held meanwhile): the
// sample's time is when the counters were read. It was the tick's,
// before the wait, so that both bursts counted as within the second
// before it.
func TestClientPeakRateLateSample(t *testing.T) {
	r := newRegion(t, Config{Listen: netip.MustParseAddrPort("127.217.0.1:0")})
	siteOf(r)
	var got atomic.Int64
	cl, _, err := r.dial(t, r.pki.client, func(c *ClientConfig) { c.OnIP = func([]byte) { got.Add(1) } })
	if err != nil {
		t.Fatal(err)
	}
	r.waitLinkUp(t, cl.Addr())
	time.Sleep(2 * peakrate.Tick) // sampled a few times
	const n, size = 100, 500
	burst := func(want int64) time.Time {
		for range n {
			r.router.Forward(bigPacket(cl.Addr(), size, 1, false))
		}
		untilTrue(t, "the client got the burst", func() bool { return got.Load() >= want })
		return time.Now()
	}
	r.srv.mu.Lock()
	first := burst(n)
	time.Sleep(1500 * time.Millisecond)
	second := burst(2 * n)
	r.srv.mu.Unlock()
	status := func() (c ClientStatus) {
		for _, s := range r.srv.Clients() {
			if s.Addr == cl.Addr() {
				c = s
			}
		}
		return c
	}
	for deadline := time.Now().Add(10 * time.Second); status().Peak.PacketsPerSecond == 0 && time.Now().Before(deadline); {
		time.Sleep(peakrate.Tick)
	}
	time.Sleep(4 * peakrate.Tick) // sampled again, a few times
	c := status()
	t.Logf("two bursts of %d packets %v apart: peak %d packets/s, %d bytes/s", n, second.Sub(first), c.Peak.PacketsPerSecond, c.Peak.BytesPerSecond)
	if c.Peak.PacketsPerSecond == 0 {
		t.Errorf("no peak after %d packets", c.PacketsOut)
	}
	if all, bytes := c.PacketsIn+c.PacketsOut, c.BytesIn+c.BytesOut; c.Peak.PacketsPerSecond >= all || c.Peak.BytesPerSecond >= bytes {
		t.Errorf("peak %+v: both bursts, more than a second apart (%d packets, %d bytes in all), counted as within one second", c.Peak, all, bytes)
	}
}
