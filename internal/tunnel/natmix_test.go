package tunnel

import (
	"net/netip"
	"testing"
)

// A connection with a Static IngressSnat rule (the site's 10.77.0.0/24
// shown as 172.30.0.0/24) and a Dynamic EgressSnat one (the VNet's hosts
// shown as 100.65.0.1): the answer to a flow a VNet host starts to the
// site's translated address comes back to the host.
func TestNATStaticIngressDynamicEgress(t *testing.T) {
	site := NAT{Internal: netip.MustParsePrefix("10.77.0.0/24"), External: netip.MustParsePrefix("172.30.0.0/24")}
	n := newNATTable([]NAT{site, vnetDynamic})
	for _, proto := range []byte{1, 6, 17} {
		dport := uint16(53)
		if proto == 1 {
			dport = 8
		}
		req := flowPacket(proto, "10.1.0.4", 5000, "172.30.0.9", dport)
		if changed, drop := n.out(req, 100); !changed || drop != dropNone {
			t.Fatalf("proto %d: out: changed %v, drop %v", proto, changed, drop)
		}
		checkSums(t, req)
		k := tupleOf(req, req[20:])
		if got := tuple(req); netip.AddrFrom4(k.addr).String() != "100.65.0.1" || netip.AddrFrom4(k.remote).String() != "10.77.0.9" {
			t.Fatalf("proto %d: left as %s", proto, got)
		}
		var reply []byte
		if proto == 1 {
			reply = flowPacket(1, "10.77.0.9", k.port, "100.65.0.1", 0)
		} else {
			reply = flowPacket(proto, "10.77.0.9", dport, "100.65.0.1", k.port)
		}
		changed, drop := n.in(reply, 101)
		if drop != dropNone || !changed {
			t.Fatalf("proto %d: the answer came in as %s, drop %v", proto, tuple(reply), drop)
		}
		want := "172.30.0.9:53 > 10.1.0.4:5000"
		if proto == 1 {
			want = "172.30.0.9:0 > 10.1.0.4:0"
		}
		if proto != 1 && tuple(reply) != want {
			t.Errorf("proto %d: the answer came in as %s, want %s", proto, tuple(reply), want)
		}
		checkSums(t, reply)
		if proto != 17 {
			continue
		}
		// The site's port unreachable about the flow reaches the host,
		// quoting the datagram as the host sent it.
		err := icmpError("10.77.0.9", "100.65.0.1", flowPacket(17, "100.65.0.1", k.port, "10.77.0.9", dport))
		if _, drop := n.in(err, 102); drop != dropNone {
			t.Fatalf("the ICMP error was dropped: %v", drop)
		}
		if to, q := netip.AddrFrom4([4]byte(err[16:20])).String(), tuple(err[28:]); to != "10.1.0.4" || q != "10.1.0.4:5000 > 172.30.0.9:53" {
			t.Errorf("the ICMP error went to %s quoting %s", to, q)
		}
		checkSums(t, err)
	}
}

// The mirror: a Dynamic IngressSnat rule (the site's hosts start flows
// into the VNet from 172.31.9.0/30) and a Static EgressSnat one (the
// VNet's 10.1.0.0/24 shown to the site as 100.70.0.0/24).
func TestNATDynamicIngressStaticEgress(t *testing.T) {
	site := NAT{Internal: netip.MustParsePrefix("10.77.0.0/24"), External: netip.MustParsePrefix("172.31.9.0/30"), Dynamic: true}
	vnet := NAT{Internal: netip.MustParsePrefix("10.1.0.0/24"), External: netip.MustParsePrefix("100.70.0.0/24"), Egress: true}
	n := newNATTable([]NAT{site, vnet})
	req := flowPacket(6, "10.77.0.9", 40000, "100.70.0.4", 443)
	if changed, drop := n.in(req, 100); !changed || drop != dropNone {
		t.Fatalf("in: changed %v, drop %v", changed, drop)
	}
	checkSums(t, req)
	k := tupleOf(req, req[20:])
	if netip.AddrFrom4(k.remote).String() != "10.1.0.4" || !site.External.Contains(netip.AddrFrom4(k.addr)) {
		t.Fatalf("came in as %s", tuple(req))
	}
	reply := flowPacket(6, "10.1.0.4", 443, netip.AddrFrom4(k.addr).String(), k.port)
	if changed, drop := n.out(reply, 101); !changed || drop != dropNone {
		t.Fatalf("the answer left as %s, drop %v", tuple(reply), drop)
	}
	if got := tuple(reply); got != "100.70.0.4:443 > 10.77.0.9:40000" {
		t.Errorf("the answer left as %s", got)
	}
	checkSums(t, reply)
}
