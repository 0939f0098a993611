package fabric

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func newHost(t testing.TB, name, addr string, r Forwarder) *NetstackHost {
	t.Helper()
	h, err := NewNetstackHost(name, netip.MustParseAddr(addr), 0, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestHostsInOneVNet covers R42 inside a VNet: hosts reach each other by
// private address with ping, TCP echo and HTTP.
func TestHostsInOneVNet(t *testing.T) {
	r := NewRouter()
	a := newHost(t, "web", "10.1.0.4", r)
	b := newHost(t, "db", "10.1.0.5", r)
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.0.4/32"), a}, {netip.MustParsePrefix("10.1.0.5/32"), b}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, b.Addr()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ping(ctx, a.Addr()); err != nil {
		t.Fatal(err)
	}
	body, err := a.HTTPGet(ctx, b.Addr())
	if err != nil || !strings.Contains(body, "hello from db") {
		t.Fatalf("HTTP from web to db: %q, %v", body, err)
	}
	c, err := b.Dial(ctx, netip.AddrPortFrom(a.Addr(), EchoPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := strings.Repeat("echo through the vnet ", 1000)
	go c.Write([]byte(msg))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("TCP echo: %v", err)
	}
	if s := r.Stats(); s.Forwarded == 0 {
		t.Fatalf("router counted nothing: %+v", s)
	}
}

// TestUnroutedTrafficIsDroppedAndCounted covers R43: traffic to an address
// that is neither a host of the VNet nor a connected range goes nowhere.
func TestUnroutedTrafficIsDroppedAndCounted(t *testing.T) {
	r := NewRouter()
	a := newHost(t, "web", "10.1.0.4", r)
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.0.4/32"), a}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := a.Ping(ctx, netip.MustParseAddr("8.8.8.8")); err == nil {
		t.Fatal("a ping to the Internet was answered")
	}
	if s := r.Stats(); s.NoRoute == 0 {
		t.Fatalf("the drop was not counted: %+v", s)
	}
}

// recorder is a Port that keeps what it is given.
type recorder struct{ pkts [][]byte }

func (r *recorder) Deliver(p []byte) { r.pkts = append(r.pkts, append([]byte(nil), p...)) }

func ipv4Packet(dst string, ttl byte) []byte {
	p := make([]byte, 20)
	p[0], p[8], p[9] = 0x45, ttl, 17
	copy(p[12:16], netip.MustParseAddr("10.1.0.4").AsSlice())
	copy(p[16:20], netip.MustParseAddr(dst).AsSlice())
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(p[i])<<8 | uint32(p[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	cs := ^uint16(sum)
	p[10], p[11] = byte(cs>>8), byte(cs)
	return p
}

func checksumOK(p []byte) bool {
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(p[i])<<8 | uint32(p[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

func TestLongestPrefixAndTTL(t *testing.T) {
	r := NewRouter()
	site, gw, other := &recorder{}, &recorder{}, &recorder{}
	r.SetRoutes([]Route{
		{netip.MustParsePrefix("0.0.0.0/0"), gw},         // forced tunneling (R25)
		{netip.MustParsePrefix("192.168.0.0/16"), site},  // a connected site
		{netip.MustParsePrefix("192.168.7.0/24"), other}, // a longer prefix wins
		{netip.MustParsePrefix("fd00::/64"), other},
	})
	tests := []struct {
		dst  string
		want *recorder
	}{
		{"192.168.1.1", site},
		{"192.168.7.9", other},
		{"1.1.1.1", gw},
	}
	for _, tc := range tests {
		before := len(tc.want.pkts)
		r.Forward(ipv4Packet(tc.dst, 64))
		if len(tc.want.pkts) != before+1 {
			t.Fatalf("%s did not reach its port", tc.dst)
		}
		p := tc.want.pkts[len(tc.want.pkts)-1]
		if p[8] != 63 || !checksumOK(p) {
			t.Fatalf("%s: TTL %d, checksum ok=%v after forwarding", tc.dst, p[8], checksumOK(p))
		}
	}
	r.Forward(ipv4Packet("192.168.1.1", 1))
	r.Forward([]byte{0x45, 0})
	if s := r.Stats(); s.TTLExpired != 1 || s.Malformed != 1 {
		t.Fatalf("drops: %+v", s)
	}
}

// batchRecorder takes packets in runs, as a TUN host does.
type batchRecorder struct {
	recorder
	runs []int // the length of each run delivered
}

func (b *batchRecorder) DeliverBatch(bufs [][]byte, offset int) {
	b.runs = append(b.runs, len(bufs))
	for _, buf := range bufs {
		b.Deliver(buf[offset:])
	}
}

// TestForwardBatchRuns: a batch is routed packet by packet, in order; a
// port that takes batches gets each run of packets to it in one call, and
// a dropped packet or one to another port ends a run.
func TestForwardBatchRuns(t *testing.T) {
	r := NewRouter()
	tunHost, plain := &batchRecorder{}, &recorder{}
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.0.4/32"), tunHost}, {netip.MustParsePrefix("10.1.0.5/32"), plain}})
	const off = 16
	var bufs [][]byte
	for _, dst := range []string{"10.1.0.4", "10.1.0.4", "10.1.0.4", "10.9.9.9", "10.1.0.4", "10.1.0.5", "10.1.0.5", "10.1.0.4"} {
		bufs = append(bufs, append(make([]byte, off), ipv4Packet(dst, 64)...))
	}
	r.ForwardBatch(bufs, off)
	if want := []int{3, 1, 1}; !slices.Equal(tunHost.runs, want) {
		t.Fatalf("runs to the batch port %v, want %v", tunHost.runs, want)
	}
	if len(tunHost.pkts) != 5 || len(plain.pkts) != 2 {
		t.Fatalf("delivered %d and %d packets, want 5 and 2", len(tunHost.pkts), len(plain.pkts))
	}
	for _, p := range append(tunHost.pkts, plain.pkts...) {
		if p[8] != 63 || !checksumOK(p) {
			t.Fatalf("TTL %d, checksum ok=%v after forwarding", p[8], checksumOK(p))
		}
	}
	if s := r.Stats(); s.Forwarded != 7 || s.NoRoute != 1 {
		t.Fatalf("counters %+v", s)
	}
}

type discard struct{}

func (discard) Deliver([]byte) {}

func FuzzForward(f *testing.F) {
	f.Add(ipv4Packet("192.168.1.1", 64))
	f.Add([]byte{0x60, 0, 0, 0, 0, 0, 0, 64})
	r := NewRouter()
	r.SetRoutes([]Route{{netip.MustParsePrefix("0.0.0.0/0"), discard{}}, {netip.MustParsePrefix("::/0"), discard{}}})
	f.Fuzz(func(t *testing.T, p []byte) {
		r.ForwardBatch([][]byte{append(make([]byte, 4), p...)}, 4)
		r.Forward(p)
	})
}

func TestGatewayPortQueuesAndForwards(t *testing.T) {
	r := NewRouter()
	host := &recorder{}
	p := NewGatewayPort(r)
	r.SetRoutes([]Route{{netip.MustParsePrefix("192.168.0.0/16"), p}, {netip.MustParsePrefix("10.1.0.4/32"), host}})
	// Toward the tunnel: routed to the port, read in one batch.
	for range 3 {
		r.Forward(ipv4Packet("192.168.1.1", 64))
	}
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes := make([]int, 8)
	n, err := p.Read(bufs, sizes, 16)
	if err != nil || n != 3 || sizes[0] != 20 || bufs[0][16+8] != 63 {
		t.Fatalf("Read = %d, %v, sizes %v", n, err, sizes[:n])
	}
	// From the tunnel: written packets are forwarded to the host.
	in := ipv4Packet("10.1.0.4", 64)
	buf := append(make([]byte, 16), in...)
	if _, err := p.Write([][]byte{buf}, 16); err != nil || len(host.pkts) != 1 {
		t.Fatalf("Write: %v, host got %d", err, len(host.pkts))
	}
	// A full queue drops and counts.
	for range portQueue + 5 {
		p.Deliver(ipv4Packet("192.168.1.1", 64))
	}
	if p.Dropped() != 5 {
		t.Fatalf("dropped %d, want 5", p.Dropped())
	}
	p.Close()
	for {
		if _, err := p.Read(bufs, sizes, 0); err != nil {
			break
		}
	}
}

// TestIngressRoutes: the hosts of a subnet with user-defined routes (R26)
// send by their subnet's table, the others by the router's; a route with
// no port drops and counts what it matches.
func TestIngressRoutes(t *testing.T) {
	r := NewRouter()
	b, nva := &recorder{}, &recorder{}
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.2.4/32"), b}, {netip.MustParsePrefix("10.1.1.4/32"), nva}})
	r.SetIngressRoutes(map[string][]Route{"a": {{netip.MustParsePrefix("10.1.1.4/32"), nva},
		{netip.MustParsePrefix("10.1.2.0/24"), nva}, {netip.MustParsePrefix("10.9.0.0/16"), nil}}})
	r.Ingress("a").Forward(ipv4Packet("10.1.2.4", 64))
	r.Ingress("a").ForwardBatch([][]byte{append(make([]byte, 16), ipv4Packet("10.1.2.4", 64)...)}, 16)
	r.Ingress("other").Forward(ipv4Packet("10.1.2.4", 64))
	r.Forward(ipv4Packet("10.1.2.4", 64))
	r.Ingress("a").Forward(ipv4Packet("10.9.0.1", 64))
	if len(nva.pkts) != 2 || len(b.pkts) != 2 {
		t.Fatalf("%d packets through the appliance, %d straight to B; want 2 and 2", len(nva.pkts), len(b.pkts))
	}
	if s := r.Stats(); s.NoRoute != 1 || s.Forwarded != 4 {
		t.Fatalf("counters %+v", s)
	}
}

// TestNoHopWithinVNet: between two hosts of the VNet (built-in hosts,
// TUN hosts, a gateway's endpoint in its subnet) a packet keeps its TTL,
// also a TTL of 1, as in Azure, whose VNet is no hop (traceroute from one
// VM to another shows the other alone); what leaves the VNet for a
// gateway or the Internet, or comes in from them, has it decremented
// (RFC 1812 §5.3.1), and dropped at 1. Routing allocates nothing.
func TestNoHopWithinVNet(t *testing.T) {
	r := NewRouter() // without subnets: no ICMP errors to the hosts, which are not running
	a, b, tunHost, endpoint := &NetstackHost{}, &NetstackHost{}, &TUNHost{}, &NetstackHost{}
	gw, eg := NewGatewayPort(r), &Egress{}
	defer gw.Close()
	r.SetRoutes([]Route{
		{netip.MustParsePrefix("10.1.1.4/32"), a}, {netip.MustParsePrefix("10.1.2.4/32"), b},
		{netip.MustParsePrefix("10.1.2.5/32"), tunHost}, {netip.MustParsePrefix("10.1.255.4/32"), endpoint},
		{netip.MustParsePrefix("fd00:1:1::4/128"), a}, {netip.MustParsePrefix("fd00:1:2::4/128"), b},
		{netip.MustParsePrefix("192.168.0.0/16"), gw}, {netip.MustParsePrefix("fd00:99::/64"), gw},
		{netip.MustParsePrefix("0.0.0.0/0"), eg},
	})
	tests := []struct {
		name    string
		pkt     []byte
		to      Port
		ttl     byte // after routing; 0: dropped for its TTL
		ttlByte int
	}{
		{"host to host", ipv4With("10.1.1.4", "10.1.2.4", 17, 64, filled(8)), b, 64, 8},
		{"host to host, TTL 1", ipv4With("10.1.1.4", "10.1.2.4", 17, 1, filled(8)), b, 1, 8},
		{"host to TUN host, TTL 1", ipv4With("10.1.1.4", "10.1.2.5", 17, 1, filled(8)), tunHost, 1, 8},
		{"TUN host to the gateway's endpoint, TTL 1", ipv4With("10.1.2.5", "10.1.255.4", 6, 1, filled(20)), endpoint, 1, 8},
		{"host to host, IPv6, hop limit 1", ipv6With("fd00:1:1::4", "fd00:1:2::4", 17, 1, filled(8)), b, 1, 7},
		{"host to a site", ipv4With("10.1.1.4", "192.168.1.1", 17, 64, filled(8)), gw, 63, 8},
		{"host to a site, TTL 1", ipv4With("10.1.1.4", "192.168.1.1", 17, 1, filled(8)), nil, 0, 8},
		{"host to a site, IPv6", ipv6With("fd00:1:1::4", "fd00:99::1", 17, 64, filled(8)), gw, 63, 7},
		{"site to host", ipv4With("192.168.1.1", "10.1.2.4", 17, 64, filled(8)), b, 63, 8},
		{"site to host, TTL 1", ipv4With("192.168.1.1", "10.1.2.4", 17, 1, filled(8)), nil, 0, 8},
		{"host to the Internet", ipv4With("10.1.1.4", "198.51.100.7", 17, 64, filled(8)), eg, 63, 8},
		{"the Internet to host", ipv4With("198.51.100.7", "10.1.2.4", 17, 64, filled(8)), b, 63, 8},
		{"a source of no host to host", ipv4With("10.1.1.9", "10.1.2.4", 17, 64, filled(8)), b, 63, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Stats().TTLExpired
			p := bytes.Clone(tc.pkt)
			got := r.route(r.table.Load(), "a", p)
			if got != tc.to {
				t.Fatalf("routed to %T %p, want %T %p", got, got, tc.to, tc.to)
			}
			if tc.ttl == 0 {
				if r.Stats().TTLExpired != before+1 {
					t.Fatal("not counted as dropped for its TTL")
				}
				return
			}
			if p[tc.ttlByte] != tc.ttl || (p[0]>>4 == 4 && !checksumOK(p)) {
				t.Fatalf("TTL %d after routing (checksum ok %v), want %d", p[tc.ttlByte], checksumOK(p), tc.ttl)
			}
		})
	}

	if raceEnabled {
		return
	}
	within, out := ipv4With("10.1.1.4", "10.1.2.4", 17, 64, filled(8)), ipv4With("10.1.1.4", "192.168.1.1", 17, 64, filled(8))
	tbl := r.table.Load()
	if allocs := testing.AllocsPerRun(1000, func() {
		r.route(tbl, "a", within)
		out[8] = 64
		r.route(tbl, "a", out)
	}); allocs != 0 {
		t.Errorf("%v allocations per two packets routed, want 0", allocs)
	}
}
