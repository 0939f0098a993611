package tunnel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// flowPacket is an IPv4 packet with correct checksums: TCP or UDP from
// src:sport to dst:dport, or an ICMP echo of type dport, request (8) or
// reply (0), with identifier sport.
func flowPacket(proto byte, src string, sport uint16, dst string, dport uint16) []byte {
	pkt := withChecksums(proto, src, dst)
	l4 := pkt[20:]
	switch proto {
	case 1:
		l4[0], l4[1] = byte(dport), 0
		binary.BigEndian.PutUint16(l4[4:], sport)
		l4[2], l4[3] = 0, 0
		binary.BigEndian.PutUint16(l4[2:], checksum(0, l4))
	case 6:
		binary.BigEndian.PutUint16(l4[0:], sport)
		binary.BigEndian.PutUint16(l4[2:], dport)
		l4[13] = 0x10 // ACK
		binary.BigEndian.PutUint16(l4[16:], l4Checksum(pkt, 16))
	case 17:
		binary.BigEndian.PutUint16(l4[0:], sport)
		binary.BigEndian.PutUint16(l4[2:], dport)
		binary.BigEndian.PutUint16(l4[6:], l4Checksum(pkt, 6))
	}
	return pkt
}

// tuple describes a packet as src:sport > dst:dport (ICMP echo: the
// identifier as the port of the requester).
func tuple(pkt []byte) string {
	k := tupleOf(pkt, pkt[20:])
	return fmt.Sprintf("%v:%d > %v:%d", netip.AddrFrom4(k.addr), k.port, netip.AddrFrom4(k.remote), k.rport)
}

// checkSums fails unless every checksum of pkt is what it would be
// computed anew.
func checkSums(t *testing.T, pkt []byte) {
	t.Helper()
	if checksum(0, pkt[:20]) != 0 {
		t.Errorf("%s: IPv4 header checksum is off", tuple(pkt))
	}
	switch pkt[9] {
	case 1:
		if checksum(0, pkt[20:]) != 0 {
			t.Errorf("%s: ICMP checksum is off", tuple(pkt))
		}
	case 6, 17:
		at := map[byte]int{6: 16, 17: 6}[pkt[9]]
		if got, want := binary.BigEndian.Uint16(pkt[20+at:]), l4Checksum(pkt, at); got != want {
			t.Errorf("%s: transport checksum %04x, want %04x", tuple(pkt), got, want)
		}
	}
}

var vnetDynamic = NAT{Internal: netip.MustParsePrefix("10.1.0.0/24"), External: netip.MustParsePrefix("100.65.0.1/32"), Egress: true, Dynamic: true}

// An EgressSnat Dynamic rule shows the VNet's hosts to the site as one
// address: each flow keeps its port while it is free there and gets
// another when not; the answers find their way back; the site cannot
// start a flow.
func TestDynamicNATEgress(t *testing.T) {
	n := newNATTable([]NAT{vnetDynamic})
	for _, proto := range []byte{6, 17} {
		a := flowPacket(proto, "10.1.0.4", 5000, "10.77.0.9", 53)
		b := flowPacket(proto, "10.1.0.5", 5000, "10.77.0.9", 53)
		for _, p := range [][]byte{a, b} {
			if changed, drop := n.out(p, 100); !changed || drop != dropNone {
				t.Fatalf("proto %d: out: changed %v, drop %v", proto, changed, drop)
			}
			checkSums(t, p)
		}
		ka, kb := tupleOf(a, a[20:]), tupleOf(b, b[20:])
		if tuple(a) != "100.65.0.1:5000 > 10.77.0.9:53" || netip.AddrFrom4(kb.addr).String() != "100.65.0.1" || kb.port == 5000 || kb.port < firstNATPort {
			t.Fatalf("proto %d: the flows left as %s and %s", proto, tuple(a), tuple(b))
		}
		for i, want := range []string{"10.77.0.9:53 > 10.1.0.4:5000", "10.77.0.9:53 > 10.1.0.5:5000"} {
			port := []uint16{ka.port, kb.port}[i]
			reply := flowPacket(proto, "10.77.0.9", 53, "100.65.0.1", port)
			if changed, drop := n.in(reply, 101); !changed || drop != dropNone || tuple(reply) != want {
				t.Fatalf("proto %d: the answer to port %d came in as %s (drop %v), want %s", proto, port, tuple(reply), drop, want)
			}
			checkSums(t, reply)
		}
		// From another port of the far host: not the flow's far end.
		stray := flowPacket(proto, "10.77.0.9", 54, "100.65.0.1", 5000)
		if _, drop := n.in(stray, 102); drop != dropNATNoFlow {
			t.Errorf("proto %d: a packet from a port the flow did not go to: drop %v", proto, drop)
		}
	}
	if got := n.Flows(102); got != 4 {
		t.Errorf("%d flows, want 4", got)
	}
	// Echo requests with one identifier from two hosts.
	e1, e2 := flowPacket(1, "10.1.0.4", 77, "10.77.0.9", 8), flowPacket(1, "10.1.0.5", 77, "10.77.0.9", 8)
	n.out(e1, 100)
	n.out(e2, 100)
	checkSums(t, e1)
	id1, id2 := binary.BigEndian.Uint16(e1[24:]), binary.BigEndian.Uint16(e2[24:])
	if id1 != 77 || id2 == 77 {
		t.Fatalf("echo identifiers %d and %d", id1, id2)
	}
	r2 := flowPacket(1, "10.77.0.9", id2, "100.65.0.1", 0)
	if _, drop := n.in(r2, 100); drop != dropNone || netip.AddrFrom4([4]byte(r2[16:20])).String() != "10.1.0.5" || binary.BigEndian.Uint16(r2[24:]) != 77 {
		t.Fatalf("echo reply came in to %v id %d (drop %v)", netip.AddrFrom4([4]byte(r2[16:20])), binary.BigEndian.Uint16(r2[24:]), drop)
	}
	checkSums(t, r2)
	// The site starts nothing.
	if _, drop := n.in(flowPacket(1, "10.77.0.9", 9, "100.65.0.1", 8), 100); drop != dropNATNoFlow {
		t.Errorf("an echo request from the site to the external address: drop %v", drop)
	}
	// Traffic outside the rule passes as it is.
	other := flowPacket(17, "10.2.0.4", 5000, "10.77.0.9", 53)
	if changed, drop := n.out(other, 100); changed || drop != dropNone {
		t.Errorf("a packet from outside the internal space: changed %v, drop %v", changed, drop)
	}
}

// An IngressSnat Dynamic rule: the site's hosts start flows into the VNet
// and appear there from the rule's external space.
func TestDynamicNATIngress(t *testing.T) {
	n := newNATTable([]NAT{{Internal: netip.MustParsePrefix("10.77.0.0/24"), External: netip.MustParsePrefix("172.31.9.0/30"), Dynamic: true}})
	req := flowPacket(6, "10.77.0.9", 40000, "10.1.0.4", 443)
	if _, drop := n.in(req, 0); drop != dropNone || tuple(req) != "172.31.9.1:40000 > 10.1.0.4:443" {
		t.Fatalf("the site's SYN came in as %s (drop %v)", tuple(req), drop)
	}
	resp := flowPacket(6, "10.1.0.4", 443, "172.31.9.1", 40000)
	if _, drop := n.out(resp, 1); drop != dropNone || tuple(resp) != "10.1.0.4:443 > 10.77.0.9:40000" {
		t.Fatalf("the answer went out as %s (drop %v)", tuple(resp), drop)
	}
	checkSums(t, resp)
	if _, drop := n.out(flowPacket(6, "10.1.0.4", 443, "172.31.9.2", 40000), 1); drop != dropNATNoFlow {
		t.Errorf("the VNet started a flow to the site's external space: drop %v", drop)
	}
}

// Flows end after their protocol's idle time: a TCP flow 2 h 4 min
// after its last packet once answered, 4 min when nothing answered its
// SYN (RFC 5382's transitory timeout), 10 s after a reset.
func TestDynamicNATExpiry(t *testing.T) {
	n := newNATTable([]NAT{vnetDynamic})
	syn := flowPacket(6, "10.1.0.4", 5000, "10.77.0.9", 22)
	syn[33] = 0x02
	n.out(syn, 0)
	back := func(now int64) dropReason {
		_, drop := n.in(flowPacket(6, "10.77.0.9", 22, "100.65.0.1", 5000), now)
		return drop
	}
	if back(1) != dropNone || back(1+7440) != dropNone || back(1+2*7440) != dropNone {
		t.Fatal("a TCP flow ended while it carried packets")
	}
	if back(1+3*7440+1) != dropNATNoFlow {
		t.Fatal("a TCP flow idle for longer than 2 h 4 min still passed")
	}
	// A SYN nobody answers: its flow goes after 4 min.
	scan := flowPacket(6, "10.1.0.4", 5001, "10.77.0.9", 23)
	scan[33] = 0x02
	n.out(scan, 30000)
	if got := n.Flows(30000 + 241); got != 0 {
		t.Errorf("%d flows 4 min after an unanswered SYN", got)
	}
	// A new connection on the tuple of one that closed is not closing.
	segment := func(flags byte) []byte {
		p := flowPacket(6, "10.1.0.4", 5000, "10.77.0.9", 22)
		p[33] = flags
		return p
	}
	n.out(segment(0x02), 40000)
	back(40000)
	n.out(segment(0x11), 40001) // FIN
	n.out(segment(0x02), 40002) // SYN
	if back(40003) != dropNone || back(40003+600) != dropNone {
		t.Error("a new connection on a closed one's tuple ended as closing after 4 min")
	}
	n.out(syn, 0)
	rst := flowPacket(6, "10.77.0.9", 22, "100.65.0.1", 5000)
	rst[33] = 0x04
	n.in(rst, 1)
	if back(12) != dropNATNoFlow {
		t.Error("a reset flow still passed after 10 s")
	}
	if got := n.Flows(100000); got != 0 {
		t.Errorf("%d flows after all ended", got)
	}
}

// An ICMP error about a flow reaches the host that started it, with the
// quoted datagram as that host sent it (RFC 5508 §4.2); one about no
// flow is dropped.
func TestDynamicNATICMPError(t *testing.T) {
	n := newNATTable([]NAT{vnetDynamic})
	n.out(flowPacket(17, "10.1.0.4", 5000, "10.77.0.9", 53), 0)
	sent := flowPacket(17, "10.1.0.5", 5000, "10.77.0.9", 53)
	n.out(sent, 0)
	port := binary.BigEndian.Uint16(sent[20:])
	err := icmpError("10.77.0.1", "100.65.0.1", flowPacket(17, "100.65.0.1", port, "10.77.0.9", 53))
	if _, drop := n.in(err, 1); drop != dropNone {
		t.Fatalf("the error was dropped: %v", drop)
	}
	q := err[28:]
	if netip.AddrFrom4([4]byte(err[16:20])).String() != "10.1.0.5" || tuple(q) != "10.1.0.5:5000 > 10.77.0.9:53" {
		t.Fatalf("the error went to %v quoting %s", netip.AddrFrom4([4]byte(err[16:20])), tuple(q))
	}
	checkSums(t, err)
	if got, want := binary.BigEndian.Uint16(q[26:]), l4Checksum(q, 6); got != want {
		t.Errorf("quoted UDP checksum %04x, want %04x", got, want)
	}
	stray := icmpError("10.77.0.1", "100.65.0.1", flowPacket(17, "100.65.0.1", 9999, "10.77.0.9", 53))
	if _, drop := n.in(stray, 1); drop != dropNATNoFlow {
		t.Errorf("an error about no flow: drop %v", drop)
	}
}

// An ICMP error from outside a Dynamic map's internal space (the VNet
// router's address in the GatewaySubnet, a site router outside the site's
// rule) about an answer that came back to a flow's host reaches the flow's
// far end quoting the answer as that end sent it, to the translated
// address and port (RFC 5508 §4.2, REQ-4), so that its path MTU discovery
// and its stack find the flow; the error's source, which no map holds,
// stays. One about no flow passes as it is.
func TestDynamicNATICMPErrorFromOutsideTheMap(t *testing.T) {
	for _, c := range []struct {
		name          string
		maps          []NAT
		in            bool   // the flow comes in through the tunnel (IngressSnat)
		host, other   string // other takes the host's port at the translated address first
		far           string
		hport, fport  uint16
		router, wantQ string
	}{
		{"EgressSnat", []NAT{vnetDynamic}, false, "10.1.0.5", "10.1.0.4", "10.77.0.9", 5000, 53, "10.1.255.1", "10.77.0.9:53 > 100.65.0.1:%d"},
		{"IngressSnat", []NAT{{Internal: netip.MustParsePrefix("10.77.0.0/24"), External: netip.MustParsePrefix("172.31.9.0/30"), Dynamic: true}}, true, "10.77.0.9", "10.77.0.13", "10.1.0.4", 40000, 443, "10.78.0.1", "10.1.0.4:443 > 172.31.9.1:%d"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNATTable(c.maps)
			// The error goes the way the flow's packets go: the answer
			// it quotes went the other.
			start := n.out
			if c.in {
				start = n.in
			}
			start(flowPacket(17, c.other, c.hport, c.far, c.fport), 0)
			req := flowPacket(17, c.host, c.hport, c.far, c.fport)
			if _, drop := start(req, 0); drop != dropNone {
				t.Fatalf("the flow: drop %v", drop)
			}
			port := tupleOf(req, req[20:]).port
			if port == c.hport {
				t.Fatalf("the flow kept port %d, which the other host took", port)
			}
			// The router quotes the answer as it reached the host.
			err := icmpError(c.router, c.far, flowPacket(17, c.far, c.fport, c.host, c.hport))
			changed, drop := start(err, 1)
			if drop != dropNone || !changed {
				t.Fatalf("the error: changed %v, drop %v", changed, drop)
			}
			from, to := netip.AddrFrom4([4]byte(err[12:16])).String(), netip.AddrFrom4([4]byte(err[16:20])).String()
			if q := tuple(err[28:]); from != c.router || to != c.far || q != fmt.Sprintf(c.wantQ, port) {
				t.Errorf("the error went from %s to %s quoting %s, want from %s to %s quoting "+c.wantQ, from, to, q, c.router, c.far, port)
			}
			checkSums(t, err)
			if got, want := binary.BigEndian.Uint16(err[28+26:]), l4Checksum(err[28:], 6); got != want {
				t.Errorf("quoted UDP checksum %04x, want %04x", got, want)
			}
			// About no flow: as it is.
			stray := icmpError(c.router, c.far, flowPacket(17, c.far, c.fport, c.host, 9999))
			orig := string(stray)
			if changed, drop := start(stray, 1); changed || drop != dropNone || string(stray) != orig {
				t.Errorf("an error about no flow: changed %v, drop %v", changed, drop)
			}
		})
	}
}

// The later fragments of a datagram follow its first one's translation;
// those of a datagram whose first fragment was not seen are dropped.
func TestDynamicNATFragments(t *testing.T) {
	n := newNATTable([]NAT{vnetDynamic})
	first := flowPacket(17, "10.1.0.4", 5000, "10.77.0.9", 53)
	binary.BigEndian.PutUint16(first[4:], 0x1234)
	first[6] = 0x20 // more fragments
	first[10], first[11] = 0, 0
	binary.BigEndian.PutUint16(first[10:], checksum(0, first[:20]))
	n.out(first, 0)
	later := withChecksums(17, "10.1.0.4", "10.77.0.9")
	binary.BigEndian.PutUint16(later[4:], 0x1234)
	binary.BigEndian.PutUint16(later[6:], 5) // offset 40 bytes
	later[10], later[11] = 0, 0
	binary.BigEndian.PutUint16(later[10:], checksum(0, later[:20]))
	data := string(later[20:])
	if changed, drop := n.out(later, 1); !changed || drop != dropNone || netip.AddrFrom4([4]byte(later[12:16])).String() != "100.65.0.1" || string(later[20:]) != data {
		t.Fatalf("later fragment: changed %v drop %v source %v", changed, drop, netip.AddrFrom4([4]byte(later[12:16])))
	}
	if checksum(0, later[:20]) != 0 {
		t.Error("the later fragment's header checksum is off")
	}
	binary.BigEndian.PutUint16(later[4:], 0x9999)
	copy(later[12:], []byte{10, 1, 0, 4})
	if _, drop := n.out(later, 1); drop != dropNATNoFlow {
		t.Errorf("a later fragment without its first: drop %v", drop)
	}
}

// When every port of the external address is taken for one far end, a
// new flow there is dropped as full, and one to another far end passes.
func TestDynamicNATFull(t *testing.T) {
	n := newNATTable([]NAT{vnetDynamic})
	for i := range natPorts {
		p := flowPacket(17, fmt.Sprintf("10.1.0.%d", 1+i%250), uint16(2000+i/250), "10.77.0.9", 53)
		if _, drop := n.out(p, 0); drop != dropNone {
			t.Fatalf("flow %d: drop %v", i, drop)
		}
	}
	if _, drop := n.out(flowPacket(17, "10.1.0.251", 2000, "10.77.0.9", 53), 0); drop != dropNATFull {
		t.Errorf("flow %d to one far end: drop %v", natPorts+1, drop)
	}
	if _, drop := n.out(flowPacket(17, "10.1.0.251", 2000, "10.77.0.9", 54), 0); drop != dropNone {
		t.Errorf("a flow to another far end: drop %v", drop)
	}
}

func FuzzDynamicNAT(f *testing.F) {
	f.Add(icmpError("10.77.0.1", "100.65.0.1", flowPacket(17, "100.65.0.1", 5000, "10.77.0.9", 53)), false)
	f.Add(flowPacket(6, "10.1.0.4", 5000, "10.77.0.9", 22), true)
	f.Add(flowPacket(1, "10.1.0.4", 1, "10.77.0.9", 8), true)
	f.Add([]byte{0x45, 0, 0, 20}, false)
	n := newNATTable([]NAT{vnetDynamic, {Internal: netip.MustParsePrefix("10.77.0.0/24"), External: netip.MustParsePrefix("172.31.9.0/30"), Dynamic: true}})
	f.Fuzz(func(t *testing.T, pkt []byte, out bool) {
		if out {
			n.out(pkt, 0)
		} else {
			n.in(pkt, 0)
		}
	})
}

// Through two engines: A's VNet hosts reach B's side as 100.65.0.1 (a
// Dynamic EgressSnat map on A's tunnel), B's answers come back to each
// host and port while A sends more (the engine's inbound and outbound
// paths share the table), and what B starts is dropped and counted.
func TestDynamicNATThroughTunnel(t *testing.T) {
	a, b := pair(t, gcm256)
	if err := a.e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16"), NAT: []NAT{vnetDynamic}}}}); err != nil {
		t.Fatal(err)
	}
	// B sees A's side as the external address.
	if err := b.e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("100.65.0.1/32")}}}); err != nil {
		t.Fatal(err)
	}
	const flows = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range flows {
			a.inner.Send(flowPacket(17, fmt.Sprintf("10.1.0.%d", 1+i%4), 5000, "10.2.0.7", 53))
		}
	}()
	seen := map[uint16]bool{}
	for range flows / 4 * 4 {
		got, ok := b.inner.Next(5 * time.Second)
		if !ok {
			t.Fatal("B got no packet")
		}
		checkSums(t, got)
		k := tupleOf(got, got[20:])
		if netip.AddrFrom4(k.addr).String() != "100.65.0.1" {
			t.Fatalf("B got a packet from %s", tuple(got))
		}
		if seen[k.port] {
			continue // a host's later packet of its flow
		}
		seen[k.port] = true
		b.inner.Send(flowPacket(17, "10.2.0.7", 53, "100.65.0.1", k.port))
	}
	<-done
	if len(seen) != 4 {
		t.Fatalf("B saw %d flows from the 4 hosts", len(seen))
	}
	hosts := map[string]bool{}
	for range 4 {
		got, ok := a.inner.Next(5 * time.Second)
		if !ok {
			t.Fatal("an answer did not come back")
		}
		checkSums(t, got)
		if k := tupleOf(got, got[20:]); k.rport != 5000 {
			t.Errorf("an answer came back as %s", tuple(got))
		}
		hosts[netip.AddrFrom4([4]byte(got[16:20])).String()] = true
	}
	if len(hosts) != 4 {
		t.Errorf("answers reached %v", hosts)
	}
	b.inner.Send(flowPacket(17, "10.2.0.7", 53, "100.65.0.1", 9))
	eventually(t, "the drop of B's own flow", func() bool { return status(t, a.e, "t").Drops.NATNoFlow == 1 })
	if st := status(t, a.e, "t"); st.NATFlows != 4 {
		t.Errorf("%d NAT flows, want 4", st.NATFlows)
	}
}

// A VNet host sends, through a Dynamic EgressSnat map, more fragmented
// datagrams (UDP larger than the path MTU) than the table holds
// fragments, in less than the 30 s a reassembler may wait: every
// fragment of each reaches the far side, a datagram's translation being
// let go once its fragments passed, not held for those 30 s.
func TestDynamicNATManyFragmentedDatagrams(t *testing.T) {
	a, b := pair(t, gcm256)
	if err := a.e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16"), NAT: []NAT{vnetDynamic}}}}); err != nil {
		t.Fatal(err)
	}
	const datagrams = maxNATFrags + 1000
	go func() {
		for i := range datagrams {
			id := uint16(i)
			first := flowPacket(17, "10.1.0.4", 5000, "10.2.0.7", 53)
			binary.BigEndian.PutUint16(first[2:], 20+40) // of 80 bytes of UDP
			binary.BigEndian.PutUint16(first[4:], id)
			first[6] = 0x20 // more fragments
			binary.BigEndian.PutUint16(first[24:], 80)
			first[26], first[27] = 0, 0 // no UDP checksum
			first[10], first[11] = 0, 0
			binary.BigEndian.PutUint16(first[10:], checksum(0, first[:20]))
			last := withChecksums(17, "10.1.0.4", "10.2.0.7")
			binary.BigEndian.PutUint16(last[4:], id)
			binary.BigEndian.PutUint16(last[6:], 5) // offset 40 bytes, the last
			last[10], last[11] = 0, 0
			binary.BigEndian.PutUint16(last[10:], checksum(0, last[:20]))
			a.inner.Send(first)
			a.inner.Send(last)
		}
	}()
	eventually(t, "every fragment through A", func() bool {
		p, _, _ := b.inner.Written()
		st := status(t, a.e, "t")
		return p+st.Drops.NATNoFlow == 2*datagrams
	})
	if st := status(t, a.e, "t"); st.Drops.NATNoFlow != 0 {
		p, _, _ := b.inner.Written()
		t.Errorf("%d fragments dropped as nat_no_flow, %d of %d reached the far side", st.Drops.NATNoFlow, p, 2*datagrams)
	}
}

// Once every port of the external address is taken for one far end (a
// busy client's connections to one server), a new flow there is refused
// as nat_full about as fast as one elsewhere is translated: the table,
// which the tunnel's other flows wait for in both directions, is not held
// while each of the 64,512 ports is tried again for every packet.
func TestDynamicNATFullRefusedQuickly(t *testing.T) {
	a, b := pair(t, gcm256)
	if err := a.e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16"), NAT: []NAT{vnetDynamic}}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := range natPorts {
			a.inner.Send(flowPacket(17, fmt.Sprintf("10.1.0.%d", 1+i%250), uint16(2000+i/250), "10.2.0.7", 53))
		}
	}()
	wait := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for deadline := start.Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %+v", what, status(t, a.e, "t").Drops)
			}
		}
		return time.Since(start)
	}
	wait("the flows that take every port", func() bool { p, _, _ := b.inner.Written(); return p == natPorts })
	const more = 1000
	send := func(dport uint16) {
		for i := range more {
			a.inner.Send(flowPacket(17, "10.1.0.251", uint16(3000+i), "10.2.0.7", dport))
		}
	}
	go send(54)
	elsewhere := wait("new flows to another far end", func() bool { p, _, _ := b.inner.Written(); return p == natPorts+more })
	go send(53)
	refused := wait("new flows to the full far end refused", func() bool { return status(t, a.e, "t").Drops.NATFull == more })
	// Side by side, with room for a loaded machine: each refusal tried
	// every port, 1,000 took seconds where 1,000 translations take
	// milliseconds.
	if refused > 100*elsewhere+time.Second {
		t.Errorf("%d new flows to the full far end took %v to refuse, %d elsewhere %v to translate", more, refused, more, elsewhere)
	}
}

// A connection's rules change while a VNet host's flow runs through its
// Dynamic EgressSnat map: a map added beside it (a Static IngressSnat
// rule for another part of the site), or one of them changed, leaves the
// flow be, its answers coming back to the host; only a change of the
// Dynamic map itself lets its flows go.
func TestDynamicNATFlowsOutliveOtherRulesChanges(t *testing.T) {
	a, b := pair(t, gcm256)
	reconfig := func(maps ...NAT) {
		t.Helper()
		if err := a.e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16"), NAT: maps}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("100.65.0.0/24")}}}); err != nil {
		t.Fatal(err)
	}
	reconfig(vnetDynamic)
	a.inner.Send(flowPacket(6, "10.1.0.4", 5000, "10.2.0.7", 22))
	got, ok := b.inner.Next(5 * time.Second)
	if !ok {
		t.Fatal("B got no packet")
	}
	port := tupleOf(got, got[20:]).port
	answer := func(step string) {
		t.Helper()
		b.inner.Send(flowPacket(6, "10.2.0.7", 22, "100.65.0.1", port))
		got, ok := a.inner.Next(5 * time.Second)
		if !ok {
			t.Fatalf("%s: the answer to the host's flow did not come back (%+v, %d flows)", step, status(t, a.e, "t").Drops, status(t, a.e, "t").NATFlows)
		}
		if tuple(got) != "10.2.0.7:22 > 10.1.0.4:5000" {
			t.Fatalf("%s: the answer came back as %s", step, tuple(got))
		}
	}
	answer("before")
	other := NAT{Internal: netip.MustParsePrefix("10.2.9.0/24"), External: netip.MustParsePrefix("172.31.9.0/24")}
	reconfig(vnetDynamic, other)
	answer("a Static rule added")
	other.External = netip.MustParsePrefix("172.31.19.0/24")
	reconfig(other, vnetDynamic)
	answer("the Static rule changed")
	second := NAT{Internal: netip.MustParsePrefix("10.1.1.0/24"), External: netip.MustParsePrefix("100.65.0.2/32"), Egress: true, Dynamic: true}
	reconfig(other, vnetDynamic, second)
	answer("a Dynamic rule added")
	if st := status(t, a.e, "t"); st.NATFlows != 1 {
		t.Errorf("%d NAT flows, want 1", st.NATFlows)
	}
	// The Dynamic map changed: its flows go.
	changed := vnetDynamic
	changed.External = netip.MustParsePrefix("100.65.0.3/32")
	reconfig(other, changed, second)
	if st := status(t, a.e, "t"); st.NATFlows != 0 {
		t.Errorf("%d NAT flows after their map changed, want 0", st.NATFlows)
	}
}
