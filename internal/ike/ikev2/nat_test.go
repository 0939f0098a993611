package ikev2

import (
	"net/netip"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestNATInFrontOfResponder covers RFC 7296 §2.23 with the NAT on the
// responder's side (a gateway on a host with a 1:1 NAT, as a cloud VM's
// public address is): the initiator detects it and moves to port 4500 for
// IKE_AUTH, and the responder follows it there, IKE and ESP alike. It
// stayed on port 500, behind a NAT as it is: its child SAs sent ESP in UDP
// to the initiator's port 500, where no ESP is taken, and its own requests
// (liveness checks, rekeys) went there too.
func TestNATInFrontOfResponder(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	public := netip.MustParseAddr("198.51.100.2")
	n.nat = &fakeNAT{inside: addrB, public: public,
		ports: map[uint16]uint16{500: 500, 4500: 4500}, back: map[uint16]uint16{500: 500, 4500: 4500}}
	pa, pb := basePeer("to-b", addrA, public), basePeer("to-a", addrB, addrA)
	pa.RemoteID = IPIdentity(addrB) // the identity is not translated
	pb.Mode = ModeResponderOnly
	pb.DPDInterval = 100 * time.Millisecond
	b := newNode(t, n, "b", addrB, Config{}, pb)
	a := newNode(t, n, "a", addrA, Config{}, pa)
	waitUp(t, a, b, 1)
	checkKeys(t, a, b)
	sa, sb := a.established()[0], b.established()[0]
	if sa.NATLocal || !sa.NATRemote || !sb.NATLocal || sb.NATRemote {
		t.Errorf("NAT flags: a %v/%v, b %v/%v", sa.NATLocal, sa.NATRemote, sb.NATLocal, sb.NATRemote)
	}
	if sb.Local.Port() != 4500 || sb.Remote != netip.AddrPortFrom(addrA, 4500) {
		t.Errorf("b's IKE SA between %v and %v, want port 4500 on both sides", sb.Local, sb.Remote)
	}
	for _, c := range b.dp.list() {
		if !c.Encap || c.Local.Port() != 4500 || c.Remote != netip.AddrPortFrom(addrA, 4500) {
			t.Errorf("b's child SA %v-%v encap %v, want ESP in UDP on port 4500", c.Local, c.Remote, c.Encap)
		}
	}
	// b's liveness checks reach a's IKE SA where it is, which stays there.
	checks := n.requests(wire.Informational)
	waitFor(t, 5*time.Second, "b's liveness checks", func() bool { return n.requests(wire.Informational) >= checks+3 })
	for _, d := range n.datagrams() {
		h, _, err := wire.ParseHeader(d.data)
		if err == nil && d.from.Addr() == addrB && h.Exchange == wire.Informational && d.to.Port() != 4500 {
			t.Fatalf("b sent an INFORMATIONAL request to %v", d.to)
		}
	}
	if e := a.established(); len(e) != 1 || e[0].Remote != netip.AddrPortFrom(public, 4500) {
		t.Errorf("a's IKE SA: %+v", e)
	}
}
