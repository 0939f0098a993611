package fabric

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vnetgw/vnetgw/internal/tun"
)

// readHeadroom is about what the tunnel engine leaves in front of each
// packet it reads (esp.Headroom); the fabric does not import esp for it.
const readHeadroom = 64

// toGateway is a VNet with its gateway port, a batch of packets to it as
// a TUN host's pump hands them to the router, and buffers shaped like the
// tunnel engine's to read them into.
type toGateway struct {
	r     *Router
	p     *GatewayPort
	hdr   []byte   // the header every packet starts with, TTL 64
	in    [][]byte // the batch, each packet at in[i][tun.WriteOffset:]
	out   [][]byte // the reader's buffers
	sizes []int
}

func newToGateway(batch, size int) *toGateway {
	r := NewRouter()
	p := NewGatewayPort(r)
	r.SetRoutes([]Route{{netip.MustParsePrefix("192.168.0.0/16"), p}})
	g := &toGateway{r: r, p: p, hdr: ipv4Packet("192.168.1.1", 64), sizes: make([]int, portBatch)}
	binary.BigEndian.PutUint16(g.hdr[2:4], uint16(size))
	rechecksum(g.hdr)
	for range batch {
		g.in = append(g.in, make([]byte, tun.WriteOffset+size))
	}
	for range portBatch {
		g.out = append(g.out, make([]byte, readHeadroom+portBufSize))
	}
	return g
}

// forward routes the first n packets of the batch to the gateway. Each
// starts with a fresh header, since the router decrements the TTL.
func (g *toGateway) forward(n int) {
	for _, b := range g.in[:n] {
		copy(b[tun.WriteOffset:], g.hdr)
	}
	g.r.ForwardBatch(g.in[:n], tun.WriteOffset)
}

// BenchmarkToGateway measures the VNet-to-gateway path: batches of 128
// packets routed by Router.ForwardBatch to a GatewayPort and taken out with
// Read into buffers like the tunnel engine's. One op is one packet.
// "serial" forwards and reads on one goroutine (the port queues every
// packet); "concurrent" reads on a second goroutine, as the engine does,
// with the sender at most half a queue ahead, so that nothing is dropped.
func BenchmarkToGateway(b *testing.B) {
	const batch = 128
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprintf("serial/%d", size), func(b *testing.B) {
			g := newToGateway(batch, size)
			defer g.p.Close()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for sent := 0; sent < b.N; {
				n := min(batch, b.N-sent)
				g.forward(n)
				if st := g.r.Stats(); st.Forwarded != uint64(sent+n) {
					// Read would wait for ever for what the router dropped.
					b.Fatalf("the router forwarded %d of %d: %+v", st.Forwarded, sent+n, st)
				}
				for got := 0; got < n; {
					k, err := g.p.Read(g.out, g.sizes, readHeadroom)
					if err != nil {
						b.Fatal(err)
					}
					got += k
				}
				sent += n
			}
		})
		b.Run(fmt.Sprintf("concurrent/%d", size), func(b *testing.B) {
			g := newToGateway(batch, size)
			var read atomic.Int64
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					k, err := g.p.Read(g.out, g.sizes, readHeadroom)
					read.Add(int64(k))
					if err != nil {
						return
					}
				}
			})
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for sent := 0; sent < b.N; {
				for int64(sent)-read.Load() > portQueue/2 {
					runtime.Gosched()
				}
				n := min(batch, b.N-sent)
				g.forward(n)
				sent += n
			}
			for read.Load()+int64(g.p.Dropped()) < int64(b.N) {
				runtime.Gosched()
			}
			b.StopTimer()
			g.p.Close()
			wg.Wait()
			if d := g.p.Dropped(); d != 0 {
				b.Fatalf("%d of %d packets dropped", d, b.N)
			}
		})
	}
}

// discard is a Port that drops what it is given.
type discard struct{}

func (discard) Deliver([]byte) {}

// BenchmarkForward measures the router alone: Router.Forward of one packet
// toward a site (its header validated, its route looked up, its TTL
// decremented) to a port that takes it without a copy.
func BenchmarkForward(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			r := NewRouter()
			r.SetRoutes([]Route{{netip.MustParsePrefix("192.168.0.0/16"), discard{}}})
			hdr := ipv4With("10.1.1.4", "192.168.1.1", 17, 64, filled(size-20))[:20]
			pkt := ipv4With("10.1.1.4", "192.168.1.1", 17, 64, filled(size-20))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				copy(pkt, hdr)
				r.Forward(pkt)
			}
			if s := r.Stats(); s.Forwarded == 0 || s.Malformed != 0 {
				b.Fatalf("counters %+v", s)
			}
		})
	}
}
