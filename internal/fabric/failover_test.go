package fabric

import (
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
)

// TestFailover: the packets of a VNet go to the first instance of an
// active-active gateway whose tunnel carries their destination, per
// packet, so that one destination moves to the other instance while
// another stays; with none up, to the first (which drops and counts them).
func TestFailover(t *testing.T) {
	first, second := &batchRecorder{}, &batchRecorder{}
	var firstUp atomic.Bool
	site := netip.MustParsePrefix("192.168.1.0/24")
	f := NewFailover([]Port{first, second}, []func(src, dst netip.Addr) bool{
		func(_, dst netip.Addr) bool { return firstUp.Load() && site.Contains(dst) },
		func(_, dst netip.Addr) bool { return true },
	})
	r := NewRouter()
	r.SetRoutes([]Route{{netip.MustParsePrefix("0.0.0.0/0"), f}})
	const off = 16
	batch := func(dsts ...string) [][]byte {
		var bufs [][]byte
		for _, d := range dsts {
			bufs = append(bufs, append(make([]byte, off), ipv4Packet(d, 64)...))
		}
		return bufs
	}
	firstUp.Store(true)
	r.ForwardBatch(batch("192.168.1.2", "192.168.1.3", "172.16.0.1", "192.168.1.4"), off)
	if !slices.Equal(first.runs, []int{2, 1}) || !slices.Equal(second.runs, []int{1}) {
		t.Fatalf("runs %v to the first instance, %v to the second; want [2 1] and [1]", first.runs, second.runs)
	}
	firstUp.Store(false) // its tunnel went down
	r.ForwardBatch(batch("192.168.1.2", "192.168.1.3"), off)
	r.Forward(ipv4Packet("192.168.1.9", 64))
	if len(first.pkts) != 3 || len(second.pkts) != 4 {
		t.Fatalf("after the first went down: %d and %d packets, want 3 and 4", len(first.pkts), len(second.pkts))
	}
	none := NewFailover([]Port{first, second}, []func(src, dst netip.Addr) bool{
		func(_, _ netip.Addr) bool { return false }, func(_, _ netip.Addr) bool { return false }})
	none.Deliver(ipv4Packet("192.168.1.2", 64))
	none.Deliver([]byte{0x45}) // too short to have a destination
	if len(first.pkts) != 5 {
		t.Fatalf("with no instance up, %d packets to the first, want 5", len(first.pkts))
	}
	// The first instance's tunnel has no prefix pair of the packet's
	// source (ipv4Packet's, 10.1.0.4) up; the second's has.
	bySource := NewFailover([]Port{first, second}, []func(src, dst netip.Addr) bool{
		func(src, _ netip.Addr) bool { return src != netip.MustParseAddr("10.1.0.4") }, func(_, _ netip.Addr) bool { return true }})
	bySource.Deliver(ipv4Packet("192.168.1.2", 64))
	if len(first.pkts) != 5 || len(second.pkts) != 5 {
		t.Fatalf("a packet whose source only the second carries: %d and %d packets, want 5 and 5", len(first.pkts), len(second.pkts))
	}
}

// TestOwnFirst: what an instance's own endpoints send to a destination
// the router gives its gateway goes into the instance's own tunnels while
// they carry it, also when the first instance's carry it too; to the
// other instance's when its own do not; and where the router sends it
// when the route is not the gateway's (a host of the VNet under a learned
// default route its tunnels carry).
func TestOwnFirst(t *testing.T) {
	first, second, host := &batchRecorder{}, &batchRecorder{}, &batchRecorder{}
	var secondUp atomic.Bool
	all := func(_, _ netip.Addr) bool { return true }
	f := NewFailover([]Port{first, second}, []func(src, dst netip.Addr) bool{all, all})
	r := NewRouter()
	r.SetRoutes([]Route{{netip.MustParsePrefix("0.0.0.0/0"), f}, {netip.MustParsePrefix("10.1.0.10/32"), host}})
	own := NewOwnFirst(r, second, func(_, _ netip.Addr) bool { return secondUp.Load() })
	secondUp.Store(true)
	own.ForwardBatch([][]byte{ipv4Packet("192.168.1.2", 64), ipv4Packet("10.1.0.10", 64)}, 0)
	if len(second.pkts) != 1 || len(first.pkts) != 0 || len(host.pkts) != 1 {
		t.Fatalf("own tunnel up: %d packets to the first instance, %d to the second, %d to the host; want 0, 1, 1", len(first.pkts), len(second.pkts), len(host.pkts))
	}
	secondUp.Store(false) // its tunnel went down
	own.Forward(ipv4Packet("192.168.1.2", 64))
	own.Forward(ipv4Packet("192.168.1.3", 1)) // TTL expired at the router
	if len(first.pkts) != 1 || len(second.pkts) != 1 {
		t.Fatalf("own tunnel down: %d packets to the first instance, %d to the second; want 1 and 1", len(first.pkts), len(second.pkts))
	}
}
