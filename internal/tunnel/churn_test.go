package tunnel

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChurnWhileForwarding forwards both ways while the control plane
// rekeys, reconfigures, drains and reads status as fast as it can, as a
// gateway's IKE daemons and reconcile loop do to a busy tunnel. Under
// -race it finds unguarded sharing between the packet path and the
// control path; without, it checks what a user would see: every packet
// that arrives is the one sent (none garbled by an SA swapped mid-batch),
// no packet fails its ICV, and the tunnel carries traffic afterwards.
func TestChurnWhileForwarding(t *testing.T) {
	a, b := pair(t, gcm256)
	toB := packet("10.1.0.1", "10.2.0.1", 200)
	toA := packet("10.2.0.7", "10.1.0.7", 300)
	src, dst := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.2.0.1")

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		got      [2]atomic.Uint64 // at B, at A
		garbled  atomic.Uint64
		receiver = func(i int, s *side, want []byte) {
			for !stop.Load() {
				p, ok := s.inner.Next(50 * time.Millisecond)
				if !ok {
					continue
				}
				got[i].Add(1)
				if !bytes.Equal(p, want) {
					garbled.Add(1)
				}
			}
		}
		sender = func(s *side, p []byte) {
			for !stop.Load() {
				s.inner.Send(p)
				time.Sleep(20 * time.Microsecond)
			}
		}
	)
	wg.Go(func() { receiver(0, b, toB) })
	wg.Go(func() { receiver(1, a, toA) })
	wg.Go(func() { sender(a, toB) })
	wg.Go(func() { sender(b, toA) })
	wg.Go(func() { // the readers of state: status, the API, the IKE daemon
		for !stop.Load() {
			a.e.Status()
			b.e.TunnelStatus("t", "u")
			a.e.Up("t")
			b.e.LastInbound("t")
			a.e.Carries(src, dst)
		}
	})

	// At least 150 rekeys, and on until each way carried 2,000 packets.
	const rekeys, carried = 150, 2000
	cfgA := Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16", "2001:db8:2::/48")}}}
	withU := Config{Tunnels: append(cfgA.Tunnels[:1:1], Tunnel{Name: "u", Routes: prefixes("10.3.0.0/16")})}
	oldA, oldB := uint32(0xa0000001), uint32(0xb0000001)
	for i := uint32(0); i < rekeys || got[0].Load() < carried || got[1].Load() < carried; i++ {
		// RFC 7296 §2.8's order: both ends install the new pair, the
		// initiator sends with it, then the old pair goes. Every fourth
		// time the old one drains first, as on a Delete of it.
		na, nb := childPair(gcm256, "t", 0xa0000002+i, 0xb0000002+i)
		if err := b.e.AddChild(nb); err != nil {
			t.Fatal(err)
		}
		if err := a.e.AddChild(na); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			a.e.DrainChild("t", oldA)
			b.e.DrainChild("t", oldB)
		}
		a.e.RemoveChild("t", oldA)
		b.e.RemoveChild("t", oldB)
		oldA, oldB = na.In.SPI, nb.In.SPI
		// Another tunnel comes and goes, and t changes mode and back.
		cfg := cfgA
		switch i % 3 {
		case 1:
			cfg = withU
		case 2:
			cfg = Config{Tunnels: []Tunnel{{Name: "t", Routes: cfgA.Tunnels[0].Routes, PolicyBased: true}}}
		}
		if err := a.e.Reconfig(cfg); err != nil && !errors.Is(err, ErrNoChanges) {
			t.Fatalf("rekey %d: Reconfig: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()

	if g := garbled.Load(); g != 0 {
		t.Fatalf("%d packets arrived garbled", g)
	}
	if got[0].Load() == 0 || got[1].Load() == 0 {
		t.Fatalf("under churn B got %d packets and A %d: the tunnel carried nothing one way", got[0].Load(), got[1].Load())
	}
	for _, s := range []*side{a, b} {
		d := status(t, s.e, "t").Drops
		if d.Integrity != 0 || d.Padding != 0 || d.Length != 0 || d.Malformed != 0 {
			t.Fatalf("packets failed to open: %+v", d)
		}
	}
	// After the churn the newest pair carries traffic both ways: a packet
	// unlike those of the churn comes through behind whatever is queued.
	for _, dir := range []struct {
		from, to *side
		p        []byte
	}{{a, b, packet("10.1.0.2", "10.2.0.2", 77)}, {b, a, packet("10.2.0.8", "10.1.0.8", 78)}} {
		dir.from.inner.Send(dir.p)
		for {
			p, ok := dir.to.inner.Next(5 * time.Second)
			if !ok {
				t.Fatalf("after the churn %x did not come through", dir.p)
			}
			if bytes.Equal(p, dir.p) {
				break
			}
		}
	}
	t.Logf("under churn B got %d packets, A %d", got[0].Load(), got[1].Load())
}
