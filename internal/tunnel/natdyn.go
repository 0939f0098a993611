package tunnel

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
)

// natTable is one tunnel's address translation: its static maps, which
// need no state, and the flows of its dynamic ones. A dynamic map (VPN
// NAT's Dynamic rule, NAPT) lets its Internal side start flows only: their
// source becomes an address of External and, for TCP, UDP and ICMP echo, a
// port (identifier) free there; what comes back to that address and port
// from the flow's far end is translated back. Anything else for External
// is dropped.
type natTable struct {
	maps    []NAT // as configured, to tell a change
	static  []NAT
	dynamic []NAT

	mu    sync.Mutex
	flows map[flowKey]*natFlow // by the Internal side's tuple
	back  map[flowKey]*natFlow // by the translated tuple
	taken map[flowKey]int      // flows with a port from firstNATPort up, by their translated tuple without it
	frags map[fragKey]natFrag  // how the first fragment of a datagram was translated
	swept int64                // unix seconds of the last sweep
}

// Limits of a table. Flows are at most maxNATFlows (a new one past that
// is dropped); each new one looks at up to natAddrTries addresses of
// External.
const (
	maxNATFlows   = 1 << 18
	maxNATFrags   = 1 << 12
	natAddrTries  = 16
	natSweepEvery = 10 // seconds
	fragTimeout   = 30 // seconds, as long as a reassembler waits (RFC 791)
	firstNATPort  = 1024
	natPorts      = 65536 - firstNATPort
)

// flowKey is a flow as one side sees it: protocol, that side's address and
// port, the far end's address and port. Ports are 0 for protocols without.
type flowKey struct {
	proto        byte
	addr, remote [4]byte
	port, rport  uint16
}

// natFlow is one translated flow: inside is the Internal side's tuple,
// outside the same with the translated address and port.
type natFlow struct {
	inside, outside flowKey
	expires         int64 // unix seconds
	closing         bool  // TCP: a FIN was seen
	answered        bool  // a packet came back through it
	egress          bool  // of an EgressSnat map
}

// fragKey is an IPv4 datagram by its reassembly key (RFC 791), as it was
// before translation.
type fragKey struct {
	src, dst [4]byte
	proto    byte
	id       uint16
}

// natFrag is a fragmented datagram's addresses after translation, and
// how much of it passed: the bytes of its fragments, and where it ends
// once its last fragment was seen (0 before).
type natFrag struct {
	src, dst  [4]byte
	expires   int64
	got, size int
}

// newNATTable returns the table of maps, or nil for none.
func newNATTable(maps []NAT) *natTable {
	if len(maps) == 0 {
		return nil
	}
	n := &natTable{maps: slices.Clone(maps)}
	for _, m := range maps {
		if m.Dynamic {
			n.dynamic = append(n.dynamic, m)
		} else {
			n.static = append(n.static, m)
		}
	}
	if n.dynamic != nil {
		n.flows, n.back, n.frags, n.taken = map[flowKey]*natFlow{}, map[flowKey]*natFlow{}, map[fragKey]natFrag{}, map[flowKey]int{}
	}
	return n
}

// keep gives n, the table of the tunnel's changed maps, the flows of t's
// dynamic maps that n has unchanged, and returns n: a rule added, removed
// or changed beside them leaves their connections be.
func (t *natTable) keep(n *natTable, now int64) *natTable {
	if t == nil || t.dynamic == nil || n == nil || n.dynamic == nil {
		return n
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.flows {
		m := t.dynamicMap(f.inside.addr, f.egress, false)
		if f.expires < now || m == nil || !slices.Contains(n.dynamic, *m) {
			continue
		}
		c := *f
		n.flows[c.inside], n.back[c.outside] = &c, &c
		if c.outside.port >= firstNATPort {
			n.taken[portless(c.outside)]++
		}
	}
	return n
}

// in translates a packet that came through the tunnel, out one that goes
// into it (see natApply); now is in unix seconds. They report whether
// they changed the packet, or why it must be dropped.
func (n *natTable) in(pkt []byte, now int64) (bool, dropReason) {
	return n.apply(pkt, natDirIn, now)
}

func (n *natTable) out(pkt []byte, now int64) (bool, dropReason) {
	return n.apply(pkt, natDirOut, now)
}

func (n *natTable) apply(pkt []byte, d natDir, now int64) (bool, dropReason) {
	if n.dynamic == nil {
		return len(n.static) > 0 && natApply(pkt, n.static, d), dropNone
	}
	// The flows hold the far end as the tunnel shows it: a packet that
	// came through it meets them before the static maps move its far
	// end, one that goes into it after, so that a Static rule of the
	// other direction (the site's hosts IngressSnat, the VNet's Dynamic
	// EgressSnat, or the reverse) keeps the answers on their flow.
	if d == natDirIn {
		c, r := n.applyDynamic(pkt, d, now)
		if r != dropNone {
			return c, r
		}
		return len(n.static) > 0 && natApply(pkt, n.static, d) || c, dropNone
	}
	changed := len(n.static) > 0 && natApply(pkt, n.static, d)
	c, r := n.applyDynamic(pkt, d, now)
	return changed || c, r
}

// Flows returns how many flows the dynamic maps hold at now (unix
// seconds): expired ones go first, also when no packet came to sweep
// them.
func (n *natTable) Flows(now int64) int {
	if n == nil || n.dynamic == nil {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sweep(now)
	return len(n.flows)
}

// dynamicMap returns the dynamic map of the given direction whose
// Internal (or External) space holds a, or nil.
func (n *natTable) dynamicMap(a [4]byte, egress, external bool) *NAT {
	for i := range n.dynamic {
		m := &n.dynamic[i]
		space := m.Internal
		if external {
			space = m.External
		}
		if m.Egress == egress && space.Contains(netip.AddrFrom4(a)) {
			return m
		}
	}
	return nil
}

// applyDynamic: a packet whose source is in a dynamic map's Internal
// space (of the direction's source maps) starts or follows a flow; one
// whose destination is in a dynamic map's External space (of the
// direction's destination maps) must belong to a flow.
func (n *natTable) applyDynamic(pkt []byte, d natDir, now int64) (bool, dropReason) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return false, dropNone
	}
	ihl, total := int(pkt[0]&0x0f)*4, int(binary.BigEndian.Uint16(pkt[2:4]))
	if ihl < 20 || total < ihl || total > len(pkt) {
		return false, dropNone
	}
	pkt = pkt[:total]
	src, dst := [4]byte(pkt[12:16]), [4]byte(pkt[16:20])
	create := n.dynamicMap(src, d.srcEgress, false)
	ret := n.dynamicMap(dst, d.dstEgress, true)
	// An ICMP error from outside the maps' spaces (a router's) about a
	// packet that came back to a flow's Internal side: its quoted packet
	// MUST be reverted (RFC 5508 §4.2, REQ-4); its source, no map's, stays.
	quoting := create == nil && ret == nil && n.quotesInternal(pkt, ihl, d)
	if create == nil && ret == nil && !quoting {
		return false, dropNone
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sweep(now)

	frag := binary.BigEndian.Uint16(pkt[6:8])
	fk := fragKey{src: src, dst: dst, proto: pkt[9], id: binary.BigEndian.Uint16(pkt[4:6])}
	if frag&0x1fff != 0 {
		// A later fragment: its first one was translated, or it is dropped.
		f, ok := n.frags[fk]
		if !ok || f.expires < now {
			return false, dropNATNoFlow
		}
		setAddr(pkt, 12, f.src)
		setAddr(pkt, 16, f.dst)
		// Once every fragment passed, the entry goes: held until it
		// expires, a steady run of fragmented datagrams would fill the
		// table and have the later fragments of the next ones dropped.
		f.got += total - ihl
		if frag&0x2000 == 0 { // the last fragment
			f.size = int(frag&0x1fff)*8 + total - ihl
		}
		if f.size > 0 && f.got >= f.size {
			delete(n.frags, fk)
		} else {
			n.frags[fk] = f
		}
		return true, dropNone
	}
	l4 := pkt[ihl:]
	if isICMPError(pkt[9], l4) {
		if !n.icmpError(pkt, l4, create != nil || quoting, create != nil, now) {
			if quoting {
				return false, dropNone // about no flow: as before, as it is
			}
			return false, dropNATNoFlow
		}
		return true, dropNone
	}
	if ret != nil {
		f := n.back[tupleOf(pkt, l4).reverse()]
		if f == nil || f.expires < now {
			return false, dropNATNoFlow
		}
		n.touch(f, pkt[9], l4, true, now)
		setTuple(pkt, l4, 16, f.inside.addr, f.inside.port, false)
	}
	if create != nil {
		s, _ := portsAt(pkt[9], l4)
		f, ok := n.flow(*create, tupleOf(pkt, l4), s >= 0, now)
		if !ok {
			return false, dropNATFull
		}
		n.touch(f, pkt[9], l4, false, now)
		setTuple(pkt, l4, 12, f.outside.addr, f.outside.port, true)
	}
	if frag&0x2000 != 0 && len(n.frags) < maxNATFrags { // more fragments follow
		n.frags[fk] = natFrag{src: [4]byte(pkt[12:16]), dst: [4]byte(pkt[16:20]), expires: now + fragTimeout, got: total - ihl}
	}
	return true, dropNone
}

// tupleOf returns a packet's flow key as its source sees it.
func tupleOf(pkt, l4 []byte) flowKey {
	k := flowKey{proto: pkt[9], addr: [4]byte(pkt[12:16]), remote: [4]byte(pkt[16:20])}
	s, d := portsAt(pkt[9], l4)
	if s >= 0 {
		k.port = binary.BigEndian.Uint16(l4[s:])
	}
	if d >= 0 {
		k.rport = binary.BigEndian.Uint16(l4[d:])
	}
	return k
}

// reverse is the key of a packet that came from k's far end to k's side.
func (k flowKey) reverse() flowKey {
	return flowKey{proto: k.proto, addr: k.remote, port: k.rport, remote: k.addr, rport: k.port}
}

// portsAt returns where the source's and the destination's ports are in
// the transport header l4, or -1. An ICMP echo's identifier is the
// requester's port.
func portsAt(proto byte, l4 []byte) (src, dst int) {
	switch {
	case (proto == 6 || proto == 17) && len(l4) >= 4:
		return 0, 2
	case proto == 1 && len(l4) >= 8 && l4[0] == 8: // echo request
		return 4, -1
	case proto == 1 && len(l4) >= 8 && l4[0] == 0: // echo reply
		return -1, 4
	}
	return -1, -1
}

// isICMPError reports whether l4 is an ICMP error, which quotes a datagram.
func isICMPError(proto byte, l4 []byte) bool {
	if proto != 1 || len(l4) < 8+20 {
		return false
	}
	switch l4[0] {
	case 3, 4, 5, 11, 12: // unreachable, source quench, redirect, time exceeded, parameter problem
		return true
	}
	return false
}

// setTuple writes address a at pkt[off:] (12: the source, 16: the
// destination) and, where the protocol has one, that side's port.
func setTuple(pkt, l4 []byte, off int, a [4]byte, port uint16, source bool) {
	setAddr(pkt, off, a)
	s, d := portsAt(pkt[9], l4)
	at := d
	if source {
		at = s
	}
	if at < 0 {
		return
	}
	var old, nw [2]byte
	copy(old[:], l4[at:])
	binary.BigEndian.PutUint16(nw[:], port)
	copy(l4[at:], nw[:])
	if c := l4ChecksumAt(pkt[9], l4); c >= 0 {
		l4Update(pkt[9], l4, c, old[:], nw[:])
	}
}

// flow returns the flow of key k (the Internal side's tuple) under map m,
// making it if need be (ported: the protocol has ports); false: no
// address and port is free, or the table is full.
func (n *natTable) flow(m NAT, k flowKey, ported bool, now int64) (*natFlow, bool) {
	if f := n.flows[k]; f != nil && f.expires >= now {
		return f, true
	} else if f != nil {
		n.remove(f)
	}
	if len(n.flows) >= maxNATFlows {
		return nil, false
	}
	out, ok := n.free(m, k, ported)
	if !ok {
		return nil, false
	}
	f := &natFlow{inside: k, outside: out, egress: m.Egress}
	n.flows[k], n.back[out] = f, f
	if out.port >= firstNATPort {
		n.taken[portless(out)]++
	}
	return f, true
}

// free finds the translated tuple of a new flow k under m: the address of
// External with k's host part (RFC 4787 REQ-2: one internal address keeps
// one external address) or the next ones, and k's own port if it is free
// there or else a free one from 1024 up.
func (n *natTable) free(m NAT, k flowKey, ported bool) (flowKey, bool) {
	size := uint64(1) << (32 - m.External.Bits())
	base := uint64(be32(m.External.Masked().Addr().As4()))
	host := uint64(be32(k.addr)) &^ uint64(prefixMask(m.Internal.Bits()))
	for i := range min(size, natAddrTries) {
		o := k
		o.addr = put32(uint32(base + (host+i)%size))
		if n.back[o] == nil {
			return o, true
		}
		if !ported || n.taken[portless(o)] >= natPorts {
			continue
		}
		start := rand.IntN(natPorts)
		for j := range natPorts {
			o.port = uint16(firstNATPort + (start+j)%natPorts)
			if n.back[o] == nil {
				return o, true
			}
		}
	}
	return flowKey{}, false
}

// touch extends flow f by a packet of it (reply: one that came back):
// TCP lives 2 h 4 min once answered (RFC 5382 REQ-5), 4 min before (the
// transitory timeout: a SYN nobody answers, a scan's, holds no flow for
// hours) and once closing, 10 s after a reset; UDP 5 min (RFC 4787
// REQ-5); ICMP 60 s (RFC 5508 REQ-1); other protocols 5 min.
func (n *natTable) touch(f *natFlow, proto byte, l4 []byte, reply bool, now int64) {
	if reply {
		f.answered = true
	}
	life := int64(300)
	switch proto {
	case 6:
		life = 7440
		if len(l4) >= 14 {
			if l4[13]&0x12 == 0x02 && !reply { // SYN without ACK: a new connection on the tuple
				f.closing, f.answered = false, false
			}
			if l4[13]&0x01 != 0 { // FIN
				f.closing = true
			}
			if l4[13]&0x04 != 0 { // RST
				f.expires = now + 10
				return
			}
		}
		if f.closing || !f.answered {
			life = 240
		}
	case 1:
		life = 60
	}
	f.expires = now + life
}

// quotesInternal reports whether pkt (of header length ihl) is an ICMP
// error quoting a packet to a dynamic map's Internal space, one that came
// back to a flow's Internal side, of the maps d's source goes through.
func (n *natTable) quotesInternal(pkt []byte, ihl int, d natDir) bool {
	if pkt[9] != 1 || binary.BigEndian.Uint16(pkt[6:8])&0x1fff != 0 || !isICMPError(1, pkt[ihl:]) {
		return false
	}
	inner := pkt[ihl+8:]
	return inner[0]>>4 == 4 && n.dynamicMap([4]byte(inner[16:20]), d.srcEgress, false) != nil
}

// icmpError translates an ICMP error about a flow: one toward the far
// end (create) about a packet that came back to the Internal side, from
// that side (source: its source moves too) or from outside the maps, or
// one to the translated address about a packet of the flow (RFC 5508
// §4.2). The quoted datagram is translated with the outer packet; the
// ICMP checksum is computed again. It is false when the error is about
// no flow.
func (n *natTable) icmpError(pkt, l4 []byte, create, source bool, now int64) bool {
	inner := l4[8:]
	ihl := int(inner[0]&0x0f) * 4
	if inner[0]>>4 != 4 || ihl < 20 || len(inner) < ihl {
		return false
	}
	iq := inner[ihl:]
	if create {
		// The quoted packet went from the far end to the Internal side.
		f := n.flows[tupleOf(inner, iq).reverse()]
		if f == nil || f.expires < now {
			return false
		}
		if source {
			setAddr(pkt, 12, f.outside.addr)
		}
		setTuple(inner, iq, 16, f.outside.addr, f.outside.port, false)
	} else {
		// The quoted packet went from the translated address out.
		f := n.back[tupleOf(inner, iq)]
		if f == nil || f.expires < now {
			return false
		}
		setAddr(pkt, 16, f.inside.addr)
		setTuple(inner, iq, 12, f.inside.addr, f.inside.port, true)
	}
	l4[2], l4[3] = 0, 0
	binary.BigEndian.PutUint16(l4[2:], checksum(0, l4))
	return true
}

// sweep removes expired flows and fragments, at most once per
// natSweepEvery seconds.
func (n *natTable) sweep(now int64) {
	if now-n.swept < natSweepEvery {
		return
	}
	n.swept = now
	for _, f := range n.flows {
		if f.expires < now {
			n.remove(f)
		}
	}
	for k, f := range n.frags {
		if f.expires < now {
			delete(n.frags, k)
		}
	}
}

func (n *natTable) remove(f *natFlow) {
	delete(n.flows, f.inside)
	delete(n.back, f.outside)
	if f.outside.port >= firstNATPort {
		if k := portless(f.outside); n.taken[k] > 1 {
			n.taken[k]--
		} else {
			delete(n.taken, k)
		}
	}
}

// portless is k without its own port.
func portless(k flowKey) flowKey {
	k.port = 0
	return k
}

func be32(a [4]byte) uint32 { return binary.BigEndian.Uint32(a[:]) }

func put32(v uint32) (a [4]byte) {
	binary.BigEndian.PutUint32(a[:], v)
	return a
}

// prefixMask is the IPv4 network mask of bits ones.
func prefixMask(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}
