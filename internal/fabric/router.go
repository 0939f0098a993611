// Package fabric makes virtual networks real: each VNet is a userspace IP
// router (Router), and the hosts attached to it are network interfaces
// realised as a built-in host on a userspace TCP/IP stack (NetstackHost)
// or as a TUN device in a network namespace. Gateways attach to a router as
// ports too: the router hands them what is routed to connected sites.
//
// Routing follows R42 and R43: traffic to a host of the VNet stays in the
// VNet; traffic to a connected site's or VNet's ranges goes to the gateway;
// anything else is dropped and counted, unless a default route (forced
// tunneling, R25) sends it to the gateway. Between two hosts of the VNet
// the router is no hop (it keeps their TTL, as Azure's VNet does); what
// enters or leaves the VNet through a gateway or the way to the Internet
// it routes as a router. It answers what it drops for its TTL or for want
// of a route with an ICMP error from its address in the sender's subnet
// (icmp.go), so that traceroute and ping show where a packet ended.
package fabric

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vnetgw/vnetgw/internal/sparselog"
	"github.com/vnetgw/vnetgw/internal/wire/icmp"
)

// Port receives the packets a router forwards to it. Deliver is called on
// the goroutine of the sender; pkt is valid only during the call.
type Port interface {
	Deliver(pkt []byte)
}

// batchPort is a Port that takes many packets in one call: those at
// bufs[i][offset:]. It may change the slices in bufs (a TUN device
// coalesces packets into their spare capacity).
type batchPort interface {
	Port
	DeliverBatch(bufs [][]byte, offset int)
}

// Route sends a prefix to a port.
type Route struct {
	Prefix netip.Prefix
	Port   Port
}

// Forwarder takes the packets a host sends into its VNet: a Router, or an
// Ingress of one.
type Forwarder interface {
	Forward(pkt []byte)
	ForwardBatch(bufs [][]byte, offset int)
}

// Router is one VNet's router. Its tables are replaced as a whole and read
// without locks, so Forward runs concurrently from every attachment. The
// hosts of a subnet with user-defined routes (R26) send through an
// Ingress, whose table is the subnet's.
type Router struct {
	table   atomic.Pointer[table]
	ingress atomic.Pointer[map[string]*table]
	subnets atomic.Pointer[subnets]
	icmp    icmp.Limiter
	stats   routerStats
	// egress is the VNet's way to the Internet, whose refusals are the
	// router's no_route in its log (LogDrops); nil: none.
	egress atomic.Pointer[Egress]

	lastMu sync.Mutex // guards last
	// last is what the last packet dropped for each reason left, for
	// LogDrops.
	last  [dropCount]lastDrop
	logMu sync.Mutex // guards lines; taken before lastMu
	lines [dropCount]sparselog.Log
}

type routerStats struct {
	forwarded, noRoute, ttl, malformed atomic.Uint64
	link                               atomic.Uint64 // counted as no_route, logged apart (dropLink)
}

// Stats are a router's counters.
type Stats struct {
	Forwarded uint64
	// Dropped packets by reason: no route (R43: not the VNet's, not a
	// connected range, no forced tunneling), TTL expired, not an IP packet.
	NoRoute, TTLExpired, Malformed uint64
	// Undeliverable counts packets routed to a host that its port did not
	// take (a TUN device that is down): counted in Forwarded by the router,
	// added by the owner of the hosts (TUNHost.Dropped).
	Undeliverable uint64
}

// NewRouter returns a router with an empty table.
func NewRouter() *Router {
	r := &Router{icmp: icmp.Limiter{Rate: icmpRate, Burst: icmpBurst}}
	r.table.Store(&table{})
	r.subnets.Store(&subnets{})
	return r
}

// SetRoutes replaces the routing table. The longest prefix wins.
func (r *Router) SetRoutes(routes []Route) { r.table.Store(newTable(routes)) }

// SetIngressRoutes replaces the tables of the ingresses: what the hosts
// of ingress key send follows byIngress[key], and the router's own table
// when there is none. A route with a nil Port drops what it matches.
func (r *Router) SetIngressRoutes(byIngress map[string][]Route) {
	m := make(map[string]*table, len(byIngress))
	for key, routes := range byIngress {
		m[key] = newTable(routes)
	}
	r.ingress.Store(&m)
}

// Ingress returns where what comes into the VNet through subnet key
// (the gateways' subnet) is sent.
func (r *Router) Ingress(key string) *Ingress { return &Ingress{r: r, key: key} }

// HostIngress returns where the hosts of subnet key send. What they send
// to another host keeps its TTL whatever its source: a host that forwards
// (a virtual appliance, R26) is the hop itself, the VNet is none.
func (r *Router) HostIngress(key string) *Ingress { return &Ingress{r: r, key: key, hosts: true} }

// Ingress is the entry into a router of one subnet: of its hosts, or of
// the gateways in it.
type Ingress struct {
	r     *Router
	key   string
	hosts bool // the subnet's hosts send through it (HostIngress)
}

// tableOf returns the table of ingress key.
func (r *Router) tableOf(key string) *table {
	if m := r.ingress.Load(); m != nil {
		if t := (*m)[key]; t != nil {
			return t
		}
	}
	return r.table.Load()
}

// Forward is Router.Forward with the ingress's table; ICMP errors come
// from the router's address in the ingress's subnet.
func (in *Ingress) Forward(pkt []byte) {
	if p, pkt := in.r.route(in.r.tableOf(in.key), in.key, in.hosts, pkt); p != nil {
		p.Deliver(pkt)
	}
}

// ForwardBatch is Router.ForwardBatch with the ingress's table.
func (in *Ingress) ForwardBatch(bufs [][]byte, offset int) {
	in.r.forwardBatch(in.r.tableOf(in.key), in.key, in.hosts, bufs, offset)
}

func newTable(routes []Route) *table {
	t := &table{}
	for _, rt := range routes {
		p := rt.Prefix.Masked()
		switch {
		case !p.IsValid():
			// Of length -1, it would hold every IPv6 address.
			continue
		case p.Addr().Is4():
			t.v4.add(p, rt.Port)
		default:
			t.v6.add(p, rt.Port)
		}
	}
	return t
}

// Lookup returns the port for a destination address, or nil.
func (r *Router) Lookup(dst netip.Addr) Port {
	return r.table.Load().lookup(dst)
}

// Holds reports whether the router has a route for dst other than a
// default route: the VNet's ranges, its hosts, and what its gateways
// reach (connected sites and VNets, learned routes), not forced
// tunneling's 0.0.0.0/0 to a default site.
func (r *Router) Holds(dst netip.Addr) bool {
	t := r.table.Load()
	l := &t.v6
	if dst.Is4() {
		l = &t.v4
	}
	_, bits, ok := l.match(dst)
	return ok && bits > 0
}

// Stats returns the router's counters.
func (r *Router) Stats() Stats {
	return Stats{Forwarded: r.stats.forwarded.Load(), NoRoute: r.stats.noRoute.Load() + r.stats.link.Load(),
		TTLExpired: r.stats.ttl.Load(), Malformed: r.stats.malformed.Load()}
}

// Forward routes one IP packet: it looks up the destination, decrements
// the TTL (or hop limit) unless the packet goes from one host of the VNet
// to another, and delivers the packet to its port, or drops and counts it,
// and answers the sender with an ICMP error when the TTL ran out or there
// is no route. pkt is modified in place.
func (r *Router) Forward(pkt []byte) {
	if p, pkt := r.route(r.table.Load(), "", false, pkt); p != nil {
		p.Deliver(pkt)
	}
}

// ForwardBatch routes the packets at bufs[i][offset:] as Forward does, in
// order, and hands each port the runs of packets that go to it: a port
// that takes batches (a TUN host) gets a run in one call. It may change
// the slices in bufs; the packets are valid only during the call.
func (r *Router) ForwardBatch(bufs [][]byte, offset int) {
	r.forwardBatch(r.table.Load(), "", false, bufs, offset)
}

func (r *Router) forwardBatch(t *table, key string, fromHost bool, bufs [][]byte, offset int) {
	var port Port
	start := 0
	for i, b := range bufs {
		p, pkt := r.route(t, key, fromHost, b[offset:])
		bufs[i] = b[:offset+len(pkt)]
		if p != nil && p == port {
			continue
		}
		deliverRun(port, bufs[start:i], offset)
		port, start = p, i
		if p == nil {
			start = i + 1
		}
	}
	deliverRun(port, bufs[start:], offset)
}

// route returns the port of pkt's destination and the packet, cut at its
// IP length, or a nil port when it is dropped (and counted). A packet
// between two hosts of the VNet keeps its TTL: as in Azure, where the VNet
// is no hop (traceroute from one VM to another shows the other alone), the
// router is none between them; so does one to a gateway's own address,
// which is where it ends, not a hop. A packet is from a host when fromHost
// says so (it came through a HostIngress: also what an appliance forwards
// from a site) or, where the entry does not tell, when its source is a
// host's address. What comes in through a gateway or from the Internet,
// or leaves that way, has its TTL decremented, as a router does (RFC 1812
// §5.3.1: a router MUST decrement it), once: a site's packet that a
// gateway subnet's route sends through an appliance to a host passes the
// gateway and the appliance, two hops. A packet dropped for its TTL or for
// want of a route is answered with an ICMP error as it came in, from the
// router's address in ingress key's subnet.
func (r *Router) route(t *table, key string, fromHost bool, pkt []byte) (Port, []byte) {
	dst, ttl, n := parse(pkt)
	if n == 0 {
		r.dropped(dropMalformed, netip.Addr{}, netip.Addr{}, len(pkt))
		r.stats.malformed.Add(1)
		return nil, nil
	}
	pkt = pkt[:n]
	src := source(pkt)
	if !routable(src, dst) {
		r.dropped(dropLink, src, dst, n)
		r.stats.link.Add(1)
		return nil, nil
	}
	p := t.lookup(dst)
	if p == nil {
		r.dropped(dropNoRoute, src, dst, n)
		r.stats.noRoute.Add(1)
		kind := unreachable
		if r.subnets.Load().holds(dst) && r.table.Load().lookup(dst) == nil {
			// Not a route the ingress's table drops (a user route to
			// None), but an address of a subnet that no host has.
			kind = hostUnreachable
		}
		r.icmpError(key, pkt, kind, 0)
		return nil, nil
	}
	if isHost(p) && (own(p) || fromHost || isHost(r.table.Load().lookup(src))) {
		r.stats.forwarded.Add(1)
		return p, pkt
	}
	if ttl <= 1 {
		// RFC 1812 §5.3.1 (RFC 8200 §3 for IPv6): reduced to zero, it
		// MUST be discarded.
		r.dropped(dropTTL, src, dst, n)
		r.stats.ttl.Add(1)
		r.icmpError(key, pkt, timeExceeded, 0)
		return nil, nil
	}
	decrementTTL(pkt)
	r.stats.forwarded.Add(1)
	return p, pkt
}

// routable reports whether a packet from src to dst may be routed at all,
// whatever the routes: not what a host sends to its link (an IPv6
// router solicitation, neighbor discovery, a multicast listener report,
// mDNS, SSDP), which a default route (forced tunneling, a default route
// learned over BGP) would otherwise take to a site. Azure's VNet carries
// no multicast or broadcast. IPv4 link-local addresses are routed: they
// are the APIPA addresses of the gateways' BGP speakers.
func routable(src, dst netip.Addr) bool {
	// RFC 1812 §5.3.5.1: limited broadcast MUST NOT be forwarded.
	broadcast := dst == netip.AddrFrom4([4]byte{255, 255, 255, 255})
	// RFC 4291 §2.5.6: a router MUST NOT forward a packet with a
	// link-local source or destination address to other links.
	linkLocal := src.Is6() && (src.IsLinkLocalUnicast() || dst.IsLinkLocalUnicast())
	// RFC 4291 §2.5.2, RFC 1812 §5.3.7: nor the unspecified address.
	unspecified := src.IsUnspecified() || dst.IsUnspecified()
	// RFC 1812 §5.3.7: a router SHOULD NOT forward a packet from or to
	// network 127; RFC 4291 §2.5.3: ::1 MUST NOT be forwarded.
	loopback := src.IsLoopback() || dst.IsLoopback()
	return !dst.IsMulticast() && !broadcast && !linkLocal && !unspecified && !loopback
}

// isHost reports whether p is a host of the VNet: a built-in host or a
// gateway's endpoint in its subnet (NetstackHost), or a TUN host.
func isHost(p Port) bool {
	switch p.(type) {
	case *NetstackHost, *TUNHost:
		return true
	}
	return false
}

// own reports whether p is an address of the gateway's own (its BGP
// speaker's, its RADIUS source), which a packet through the gateway
// reaches rather than passes: RFC 1122 §3.2.1.7, a host MUST NOT discard
// a datagram just because it was received with TTL less than 2.
func own(p Port) bool {
	h, ok := p.(*NetstackHost)
	return ok && h.own
}

// deliverRun hands port the packets at run[i][offset:].
func deliverRun(port Port, run [][]byte, offset int) {
	if port == nil || len(run) == 0 {
		return
	}
	if bp, ok := port.(batchPort); ok {
		bp.DeliverBatch(run, offset)
		return
	}
	for _, b := range run {
		port.Deliver(b[offset:])
	}
}

// table is an immutable longest-prefix-match table per address family.
type table struct{ v4, v6 lpm }

func (t *table) lookup(dst netip.Addr) Port {
	if dst.Is4() {
		return t.v4.lookup(dst)
	}
	return t.v6.lookup(dst)
}

// lpm holds one map per prefix length, tried from the longest.
type lpm struct {
	lens  []int // prefix lengths present, longest first
	byLen map[int]map[netip.Addr]Port
}

func (l *lpm) add(p netip.Prefix, port Port) {
	if l.byLen == nil {
		l.byLen = map[int]map[netip.Addr]Port{}
	}
	m := l.byLen[p.Bits()]
	if m == nil {
		m = map[netip.Addr]Port{}
		l.byLen[p.Bits()] = m
		l.lens = append(l.lens, p.Bits())
		slices.Sort(l.lens)
		slices.Reverse(l.lens)
	}
	m[p.Addr()] = port
}

func (l *lpm) lookup(dst netip.Addr) Port {
	port, _, _ := l.match(dst)
	return port
}

// match returns the longest prefix that holds dst: its port (nil for a
// range of the VNet without a host) and length.
func (l *lpm) match(dst netip.Addr) (port Port, bits int, ok bool) {
	for _, bits := range l.lens {
		p, _ := dst.Prefix(bits)
		if port, ok := l.byLen[bits][p.Addr()]; ok {
			return port, bits, true
		}
	}
	return nil, 0, false
}

// parse returns pkt's destination, its TTL (or hop limit) and its length
// by its IP header, no more than len(pkt); n is 0 when the packet is
// malformed.
func parse(pkt []byte) (dst netip.Addr, ttl byte, n int) {
	if len(pkt) < 1 {
		return netip.Addr{}, 0, 0
	}
	switch pkt[0] >> 4 {
	case 4:
		// RFC 1812 §5.2.2: a header shorter than 20 bytes, a checksum that
		// does not hold, or a total length that does not hold the header
		// MUST be silently discarded; so is a packet shorter than its total
		// length (truncated).
		hl := int(pkt[0]&0x0f) * 4
		if len(pkt) < 20 || hl < 20 || len(pkt) < hl {
			return netip.Addr{}, 0, 0
		}
		n = int(binary.BigEndian.Uint16(pkt[2:4]))
		if n < hl || n > len(pkt) || !checksumHolds(pkt[:hl]) {
			return netip.Addr{}, 0, 0
		}
		return netip.AddrFrom4([4]byte(pkt[16:20])), pkt[8], n
	case 6:
		if len(pkt) < 40 {
			return netip.Addr{}, 0, 0
		}
		// RFC 8200 §3: the payload length counts what follows the header,
		// which a truncated packet does not hold. A length of 0 before a
		// Hop-by-Hop Options header is a jumbogram's (RFC 2675 §3), of more
		// than 65,535 bytes, which no VNet's link carries.
		plen := int(binary.BigEndian.Uint16(pkt[4:6]))
		if n = 40 + plen; n > len(pkt) || plen == 0 && pkt[6] == 0 {
			return netip.Addr{}, 0, 0
		}
		return netip.AddrFrom16([16]byte(pkt[24:40])), pkt[7], n
	}
	return netip.Addr{}, 0, 0
}

// checksumHolds reports whether the one's complement sum of an IPv4
// header, its checksum included, is all ones (RFC 1071), adding 32 bits at
// a time.
func checksumHolds(hdr []byte) bool {
	var sum uint64
	for ; len(hdr) >= 4; hdr = hdr[4:] {
		sum += uint64(binary.BigEndian.Uint32(hdr))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

// source returns the source address of pkt, which parse found well
// formed.
func source(pkt []byte) netip.Addr {
	if pkt[0]>>4 == 4 {
		return netip.AddrFrom4([4]byte(pkt[12:16]))
	}
	return netip.AddrFrom16([16]byte(pkt[8:24]))
}

// destination returns the destination address of a packet whose header
// is there.
func destination(pkt []byte) netip.Addr {
	if pkt[0]>>4 == 4 {
		return netip.AddrFrom4([4]byte(pkt[16:20]))
	}
	return netip.AddrFrom16([16]byte(pkt[24:40]))
}

// decrementTTL decrements the IPv4 TTL (fixing the header checksum
// incrementally, RFC 1624) or the IPv6 hop limit of a packet header found
// well formed, its TTL above 1.
func decrementTTL(pkt []byte) {
	if pkt[0]>>4 == 6 {
		pkt[7]--
		return
	}
	// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m the word holding the TTL.
	m := binary.BigEndian.Uint16(pkt[8:10])
	pkt[8]--
	sum := uint32(^binary.BigEndian.Uint16(pkt[10:12])) + uint32(^m) + uint32(binary.BigEndian.Uint16(pkt[8:10]))
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(pkt[10:12], ^uint16(sum))
}
