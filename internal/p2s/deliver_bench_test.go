package p2s

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// countingClient is a connected client that counts what it is sent: the
// benchmark measures the server's own work per packet, not a link's.
type countingClient struct{ packets atomic.Uint64 }

func (c *countingClient) SendIP([]byte) error {
	c.packets.Add(1)
	return nil
}
func (c *countingClient) connected() bool            { return true }
func (c *countingClient) disconnect()                {}
func (c *countingClient) shutdown()                  {}
func (c *countingClient) remoteAddr() netip.AddrPort { return netip.AddrPort{} }
func (c *countingClient) traffic() (uint64, uint64, uint64, uint64) {
	return 0, c.packets.Load(), 0, 0
}
func (c *countingClient) protocol() string { return ProtocolSSTP }
func (c *countingClient) mtu() int         { return 1500 }

// BenchmarkDeliver is the VNet router's packets to the pool's clients:
// 64 clients connected, each goroutine sending to all of them in turn.
// Run with -cpu 1,2: the packets of two cores at once must not wait for
// each other to find their client.
func BenchmarkDeliver(b *testing.B) {
	s := &Server{cfg: Config{Pool: netip.MustParsePrefix("172.16.201.0/24")}, clients: map[netip.Addr]client{}, ident: map[netip.Addr]string{},
		since: map[netip.Addr]time.Time{}, peers: map[netip.Addr]peer{}}
	var pkts [][]byte
	for range 64 {
		s.mu.Lock()
		a, _ := s.freeLocked()
		s.takeLocked(a, &countingClient{}, peer{name: a.String()})
		s.mu.Unlock()
		pkts = append(pkts, bigPacket(a, 1400, 1, false))
	}
	b.SetBytes(1400)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			s.Deliver(pkts[i%len(pkts)])
		}
	})
	var n uint64
	for _, c := range s.clients {
		n += c.(*countingClient).packets.Load()
	}
	if n != uint64(b.N) {
		b.Fatalf("%d packets delivered of %d", n, b.N)
	}
}
