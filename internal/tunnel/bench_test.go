package tunnel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
	"github.com/vnetgw/vnetgw/internal/udp"
	"github.com/vnetgw/vnetgw/internal/udp/udptest"
)

// discard is an Outer that sends nothing.
type discard struct{}

func (discard) WriteBatch(netip.AddrPort, []udp.Message) error { return nil }

func (discard) KernelPathMTU(netip.AddrPort, netip.AddrPort) (int, error) {
	return 0, errors.ErrUnsupported
}

// sinkPair is pair with inner sides that only count, so that nothing but
// the engines allocates.
func sinkPair(t testing.TB, s suite) (a, b *side) {
	t.Helper()
	n := udptest.NewNetwork()
	a = newSide(t, n, addrA, tuntest.NewSink(64), Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16")}}})
	b = newSide(t, n, addrB, tuntest.NewSink(64), Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.1.0.0/16")}}})
	ca, cb := childPair(s, "t", 0xa0000001, 0xb0000001)
	if err := a.e.AddChild(ca); err != nil {
		t.Fatal(err)
	}
	if err := b.e.AddChild(cb); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// batchOf returns an outbound batch of n packets of size bytes to
// 10.2.0.0/16 and a function that puts them back in place (sealing
// overwrites them).
func batchOf(e *Engine, n, size int) (*outBatch, func()) {
	b := newOutBatch(n)
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = packet("10.1.0.1", fmt.Sprintf("10.2.0.%d", i%250+1), size-28)
	}
	return b, func() {
		for i, p := range pkts {
			copy(b.bufs[i][esp.Headroom:], p)
			b.sizes[i] = len(p)
		}
	}
}

// TestZeroAllocs checks the steady state of both directions: a batch
// routed, sealed, sent, opened, checked and written allocates nothing.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			a, b := sinkPair(t, s)
			batch, refill := batchOf(a.e, 64, 1400)
			allocs := testing.AllocsPerRun(100, func() {
				refill()
				a.e.outbound(batch, 64)
			})
			if allocs != 0 {
				t.Errorf("%v allocations per batch, want 0", allocs)
			}
			if got, _, _ := b.inner.Written(); got < 64*100 {
				t.Errorf("B wrote %d packets, want at least %d", got, 64*100)
			}
		})
	}
}

// TestOutboundOrder checks that a batch sealed in parallel goes out in the
// order of its sequence numbers, which is the order it was read in.
func TestOutboundOrder(t *testing.T) {
	cap := &capture{}
	e, err := New(Options{Inner: tuntest.NewSink(64), Outer: cap, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16")}}})
	c, _ := childPair(gcm256, "t", 1, 2)
	e.AddChild(c)
	batch, refill := batchOf(e, 128, 300)
	refill()
	e.outbound(batch, 128)
	sent := cap.wait(t, 128)
	for i, d := range sent {
		if seq := binary.BigEndian.Uint32(d[4:8]); seq != uint32(i+1) {
			t.Fatalf("datagram %d has sequence number %d", i, seq)
		}
	}
}

// BenchmarkOutbound measures route, sequence number and seal per packet,
// in batches of 64, with workers on all cores.
func BenchmarkOutbound(b *testing.B) {
	for _, s := range suites {
		for _, size := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%d", s.name, size), func(b *testing.B) {
				e, err := New(Options{Inner: tuntest.NewSink(64), Outer: discard{}})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16")}}})
				c, _ := childPair(s, "t", 1, 2)
				e.AddChild(c)
				batch, refill := batchOf(e, 64, size)
				b.ReportAllocs()
				b.SetBytes(int64(64 * size))
				for b.Loop() {
					refill()
					e.outbound(batch, 64)
				}
			})
		}
	}
}

// BenchmarkRoundTrip measures a batch of 64 packets of 1400 bytes through
// two engines in memory: seal, copy into B's buffers, open, check.
func BenchmarkRoundTrip(b *testing.B) {
	for _, s := range suites {
		b.Run(s.name, func(b *testing.B) {
			x, _ := sinkPair(b, s)
			batch, refill := batchOf(x.e, 64, 1400)
			b.ReportAllocs()
			b.SetBytes(64 * 1400)
			for b.Loop() {
				refill()
				x.e.outbound(batch, 64)
			}
		})
	}
}

// FuzzHandleESP feeds arbitrary ESP payloads, some with the SPI of a
// child, to an engine: it never panics and never passes what does not
// authenticate.
func FuzzHandleESP(f *testing.F) {
	_, cb := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
	sealer, err := esp.New(cb.In)
	if err != nil {
		f.Fatal(err)
	}
	p := packet("10.1.0.1", "10.2.0.1", 20)
	buf := make([]byte, esp.Headroom+len(p)+esp.Tailroom)
	copy(buf[esp.Headroom:], p)
	valid, err := sealer.Seal(buf, len(p), 4)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.Clone(valid))
	f.Add([]byte{0xb0, 0, 0, 1, 0, 0, 0, 9})
	f.Add([]byte{0xb0, 0, 0, 1})
	f.Add([]byte{})
	n := udptest.NewNetwork()
	inner := tuntest.NewSink(64)
	e, err := New(Options{Inner: inner, Outer: n.Outer(), Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t"}}})
	if err := e.AddChild(cb); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close() })
	f.Fuzz(func(t *testing.T, pkt []byte) {
		before, _, _ := inner.Written()
		msgs := datagrams(pkt, pkt, pkt)
		for i := range msgs {
			msgs[i].N = len(pkt)
		}
		e.HandleESP(addrB, msgs)
		after, _, _ := inner.Written()
		// Only the valid packet authenticates, once (then it is a replay).
		if after-before > 1 {
			t.Fatalf("%d packets passed from %x", after-before, pkt)
		}
	})
}
