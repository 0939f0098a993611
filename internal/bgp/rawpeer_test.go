package bgp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// rawPeer is a peer written by hand with the codec: it sends what a test
// wants, well-formed or not, to a speaker.
type rawPeer struct {
	t   *testing.T
	c   net.Conn
	buf [wire.MaxLen]byte
}

// dialRaw opens a session with speaker n as AS 65002 from addr.
func dialRaw(t *testing.T, n *node, addr netip.Addr, port uint16) *rawPeer {
	t.Helper()
	return dialRawAS(t, n, addr, port, 65002)
}

// acceptedRaw starts a speaker at a (AS 65515, network 10.1.0.0/16) whose
// one peer, "b" of AS 65002 at b, is raw; takes the connection the
// speaker opens to b and answers its OPEN with identifier id. The speaker
// has sent its KEEPALIVE: it waits for the raw peer's.
func acceptedRaw(t *testing.T, a, b, id netip.Addr) (*node, *rawPeer, uint16) {
	t.Helper()
	port := freePort(t, a, b)
	l, err := net.Listen("tcp", netip.AddrPortFrom(b, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "b", Addr: b, AS: 65002}}})
	l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	p.expect(wire.TypeOpen)
	p.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 30, ID: id}.Append(nil))
	p.expect(wire.TypeKeepalive)
	return n, p, port
}

// dialRawAS opens a session with speaker n as AS as from addr.
func dialRawAS(t *testing.T, n *node, addr netip.Addr, port uint16, as uint32) *rawPeer {
	t.Helper()
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	p.send(wire.TypeOpen, wire.Open{AS: as, HoldTime: 30, ID: addr}.Append(nil))
	p.expect(wire.TypeOpen)
	p.send(wire.TypeKeepalive, nil)
	p.expect(wire.TypeKeepalive)
	return p
}

// waitDialFailed waits until speaker n's one dial to its one peer (the
// raw peer, which does not listen) has failed, so that that dial's error
// does not stand for what the test's connection brings.
func waitDialFailed(t *testing.T, n *node) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if ps := n.s.Peers(); len(ps) == 1 && ps[0].State == "Active" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the speaker did not dial: %+v", n.s.Peers())
		}
	}
}

// waitLastError waits until the last error of speaker n's one peer
// contains part, and returns it.
func waitLastError(t *testing.T, n *node, part string) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		ps := n.s.Peers()
		if len(ps) == 1 && strings.Contains(ps[0].LastError, part) {
			return ps[0].LastError
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer without an error of %q: %+v", part, ps)
		}
	}
}

// mustAppend is an UPDATE's Append for one that can be encoded.
func mustAppend(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func (p *rawPeer) send(t wire.Type, body []byte) {
	p.t.Helper()
	if _, err := p.c.Write(mustAppend(wire.AppendMessage(nil, t, body))); err != nil {
		p.t.Fatal(err)
	}
}

// expect reads until a message of type want, and returns its body.
func (p *rawPeer) expect(want wire.Type) []byte {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		typ, body, err := wire.ReadMessage(p.c, &p.buf)
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", want, err)
		}
		if typ == want {
			return body
		}
	}
}

// expectNotification reads until a NOTIFICATION, checks it, and checks
// that the speaker closes the connection after it.
func (p *rawPeer) expectNotification(code, sub uint8) wire.Notification {
	p.t.Helper()
	n, err := wire.ParseNotification(p.expect(wire.TypeNotification))
	if err != nil || n.Code != code || n.Subcode != sub {
		p.t.Fatalf("NOTIFICATION %v (%v), want %d/%d", n, err, code, sub)
	}
	p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	var ne net.Error
	if _, err := p.c.Read(b[:]); err == nil || errors.As(err, &ne) && ne.Timeout() {
		p.t.Fatalf("the connection stays open after the NOTIFICATION: %v", err)
	}
	return n
}

func rawSpeaker(t *testing.T, base string) (*node, netip.Addr, uint16) {
	t.Helper()
	a, b := netip.MustParseAddr(base+".1"), netip.MustParseAddr(base+".2")
	port := freePort(t, a)
	// the raw peer connects; the speaker waits
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "raw", Addr: b, AS: 65002}}})
	return n, b, port
}

// UPDATEs that cannot be parsed end the session with the NOTIFICATION
// RFC 4271 §6.3 names (RFC 7606 §5.3 and §4 keep it so), and the speaker
// keeps serving: the peer's next session works.
func TestMalformedUpdateEndsSession(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.0.14")
	good := mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}},
		NextHop: addr, NLRI: pfxs("192.168.2.0/24")}.Append(nil, true))
	for _, c := range []struct {
		name string
		body []byte
		sub  uint8
	}{
		{"prefix of 40 bits", func() []byte { b := append([]byte{}, good...); b[len(b)-4] = 40; return b }(), wire.SubBadNetwork},
		{"truncated attributes", good[:10], wire.SubMalformedList},
	} {
		p := dialRaw(t, n, addr, port)
		p.send(wire.TypeUpdate, c.body)
		p.expectNotification(wire.CodeUpdate, c.sub)
		if r := n.s.Best(); len(r) != 0 {
			t.Errorf("%s: routes after a malformed UPDATE: %+v", c.name, r)
		}
		waitDown(t, n)
	}
	p := dialRaw(t, n, addr, port)
	p.send(wire.TypeUpdate, good)
	waitRoutes(t, n, map[string]string{"192.168.2.0/24": "65002"})
}

// An UPDATE with a malformed attribute (a bad ORIGIN) withdraws the routes
// it names and the session stays (RFC 7606 §7.1, treat-as-withdraw): the
// peer's other routes stay, the malformed UPDATE is counted, and the next
// good one is taken.
func TestMalformedAttributeWithdraws(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.0.19")
	path := []wire.Segment{{ASNs: []uint32{65002}}}
	update := func(prefixes ...string) []byte {
		return mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: path, NextHop: addr, NLRI: pfxs(prefixes...)}.Append(nil, true))
	}
	p := dialRaw(t, n, addr, port)
	p.send(wire.TypeUpdate, update("192.168.2.0/24", "192.168.3.0/24"))
	waitRoutes(t, n, map[string]string{"192.168.2.0/24": "65002", "192.168.3.0/24": "65002"})
	bad := update("192.168.3.0/24")
	bad[7] = 9 // ORIGIN 9
	p.send(wire.TypeUpdate, bad)
	waitRoutes(t, n, map[string]string{"192.168.2.0/24": "65002"})
	p.send(wire.TypeUpdate, update("192.168.4.0/24"))
	waitRoutes(t, n, map[string]string{"192.168.2.0/24": "65002", "192.168.4.0/24": "65002"})
	if ps := n.s.Peers(); len(ps) != 1 || ps[0].State != "Established" || ps[0].MalformedUpdates != 1 {
		t.Errorf("peer after a malformed attribute: %+v", ps)
	}
}

// An UPDATE with an attribute whose length overruns the attribute list
// has its routes withdrawn and the session stays (RFC 7606 §4): the NLRI
// are found by the list's length.
func TestAttributeLengthConflictWithdrawsRFC7606Section4(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.137.1")
	update := func(prefixes ...string) []byte {
		return mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: addr, NLRI: pfxs(prefixes...)}.Append(nil, true))
	}
	p := dialRaw(t, n, addr, port)
	p.send(wire.TypeUpdate, update("192.168.2.0/24", "192.168.3.0/24"))
	waitRoutes(t, n, map[string]string{"192.168.2.0/24": "65002", "192.168.3.0/24": "65002"})
	bad := update("192.168.3.0/24")
	bad[19] = 9 // NEXT_HOP, the last attribute, of 9 bytes where 4 are
	p.send(wire.TypeUpdate, bad)
	waitRoutes(t, n, map[string]string{"192.168.2.0/24": "65002"})
	p.send(wire.TypeUpdate, update("192.168.4.0/24"))
	waitRoutes(t, n, map[string]string{"192.168.2.0/24": "65002", "192.168.4.0/24": "65002"})
	if ps := n.s.Peers(); len(ps) != 1 || ps[0].State != "Established" || ps[0].MalformedUpdates != 1 {
		t.Errorf("peer after an attribute overrunning the list: %+v", ps)
	}
}

// A peer that announces more than MaxPrefixes is told so (Cease, maximum
// number of prefixes reached, with the address family and the bound: RFC
// 4486 §4) and disconnected; its routes go, and it has
// no session again for maxPrefixHold (its routes would flap).
func TestTooManyPrefixes(t *testing.T) {
	defer func(d time.Duration) { maxPrefixHold = d }(maxPrefixHold)
	maxPrefixHold = 3 * time.Second
	n, addr, port := rawSpeaker(t, "127.0.15")
	p := dialRaw(t, n, addr, port)
	sent := 0
	for sent <= MaxPrefixes {
		var ps []netip.Prefix
		for range wire.MaxPrefixesPerUpdate {
			ps = append(ps, netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 100+sent/256, sent%256)))
			sent++
		}
		p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: addr, NLRI: ps}.Append(nil, true)))
	}
	// RFC 4486 §4: AFI 1, SAFI 1 (IPv4 unicast) and the bound, 4000.
	if got := p.expectNotification(wire.CodeCease, wire.SubMaxPrefixes); !bytes.Equal(got.Data, []byte{0, 1, 1, 0, 0, 0x0f, 0xa0}) {
		t.Errorf("Cease data % x, want the address family and the bound 00 01 01 00 00 0f a0", got.Data)
	}
	// The speaker holds the peer back from before it sends the Cease:
	// by now the hold has begun.
	told := time.Now()
	waitRoutes(t, n, map[string]string{})
	// Connecting again at once, it is not let in while it is held back,
	// and told so (Cease, Connection Rejected: RFC 4486 §4); it is let
	// in after.
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	(&rawPeer{t: t, c: c}).expectNotification(wire.CodeCease, wire.SubRejected)
	c.Close()
	if ps := n.s.Peers(); len(ps) != 1 || ps[0].State == "Established" || !strings.Contains(ps[0].LastError, "prefixes") {
		t.Errorf("the peer held back: %+v", ps)
	}
	time.Sleep(time.Until(told.Add(maxPrefixHold + 100*time.Millisecond)))
	dialRaw(t, n, addr, port)
}

// A route whose path holds the speaker's own AS is a loop: dropped.
func TestLoopDropped(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.0.16")
	p := dialRaw(t, n, addr, port)
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002, 65515, 65003}}}, NextHop: addr,
		NLRI: pfxs("10.50.0.0/16")}.Append(nil, true)))
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: addr,
		NLRI: pfxs("10.51.0.0/16")}.Append(nil, true)))
	waitRoutes(t, n, map[string]string{"10.51.0.0/16": "65002"})
	// The speaker announced its network to the raw peer.
	u, err := wire.ParseUpdate(p.expect(wire.TypeUpdate), true)
	if err != nil || len(u.NLRI) != 1 || u.NLRI[0] != netip.MustParsePrefix("10.1.0.0/16") || u.NextHop != n.addr || wire.PathLen(u.ASPath) != 1 {
		t.Errorf("the speaker's announcement: %+v, %v", u, err)
	}
}

// TestPathFromAnotherAS: an external peer's route whose path is empty or
// does not begin with the peer's AS is treated as a withdrawal (RFC 4271
// §6.3, RFC 7606 §7.2): it would look like the speaker's own when passed
// on. The session stays.
func TestPathFromAnotherAS(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.0.17")
	p := dialRaw(t, n, addr, port)
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: addr,
		NLRI: pfxs("10.52.0.0/16", "10.53.0.0/16")}.Append(nil, true)))
	waitRoutes(t, n, map[string]string{"10.52.0.0/16": "65002", "10.53.0.0/16": "65002"})
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, NextHop: addr, NLRI: pfxs("10.52.0.0/16")}.Append(nil, true)))
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65009}}}, NextHop: addr,
		NLRI: pfxs("10.53.0.0/16", "10.54.0.0/16")}.Append(nil, true)))
	waitRoutes(t, n, map[string]string{})
	if st := n.s.Peers()[0].State; st != "Established" {
		t.Errorf("the session is %s after routes treated as withdrawn: %+v", st, n.s.Peers()[0])
	}
}

// TestPathFromASTransRFC6793: a peer of a four-octet AS has a session of
// four-octet paths (a two-octet one would have said AS_TRANS in its OPEN,
// which is not the AS configured), so a path of its that begins with
// AS_TRANS (23456) does not begin with its AS: treated as a withdrawal
// (RFC 4271 §6.3, RFC 7606 §7.2). Taken, it went on to the other peers
// without the peer's AS, which their loop detection looks for.
func TestPathFromASTransRFC6793(t *testing.T) {
	a, b := netip.MustParseAddr("127.0.18.1"), netip.MustParseAddr("127.0.18.2")
	port := freePort(t, a)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "raw", Addr: b, AS: 4200000002}}})
	p := dialRawAS(t, n, b, port, 4200000002)
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{wire.ASTrans, 65100}}}, NextHop: b,
		NLRI: pfxs("10.56.0.0/16")}.Append(nil, true)))
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{4200000002}}}, NextHop: b,
		NLRI: pfxs("10.55.0.0/16")}.Append(nil, true)))
	waitRoutes(t, n, map[string]string{"10.55.0.0/16": "4200000002"})
}

// waitDown waits until the speaker has let go of the session, so that the
// next connection is not a collision with an established one (RFC 4271
// §6.8: the established one would stay).
func waitDown(t *testing.T, n *node) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n.s.Peers()[0].State == "Established" {
		if time.Now().After(deadline) {
			t.Fatal("the session stays established after its NOTIFICATION")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMultiprotocolWithdrawal: the speaker offers the multiprotocol
// capability for IPv4 unicast, so a peer may withdraw a route in
// MP_UNREACH_NLRI (RFC 4760): it goes.
func TestMultiprotocolWithdrawal(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.0.92")
	p := dialRaw(t, n, addr, port)
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: addr, NLRI: pfxs("10.52.0.0/16")}.Append(nil, true)))
	waitRoutes(t, n, map[string]string{"10.52.0.0/16": "65002"})
	attr := []byte{0x80, 15, 6, 0, 1, 1, 16, 10, 52} // MP_UNREACH_NLRI, AFI 1, SAFI 1: 10.52.0.0/16
	p.send(wire.TypeUpdate, append([]byte{0, 0, 0, byte(len(attr))}, attr...))
	waitRoutes(t, n, map[string]string{})
}

// TestRouteRefresh: the speaker announces the route refresh capability
// and answers a ROUTE-REFRESH for IPv4 unicast with its routes again; one
// for another address family is ignored (RFC 2918 §4), and one too short
// to name a family ends the session.
func TestRouteRefresh(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.0.93")
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	p.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 30, ID: addr}.Append(nil))
	if open := p.expect(wire.TypeOpen); !bytes.Contains(open, []byte{2, 0}) { // capability 2, no value
		t.Errorf("the speaker's OPEN announces no route refresh: % x", open)
	}
	p.send(wire.TypeKeepalive, nil)
	p.expect(wire.TypeKeepalive)
	p.expect(wire.TypeUpdate)                         // its routes, once
	p.send(wire.TypeRouteRefresh, []byte{0, 2, 0, 1}) // IPv6 unicast: not announced
	c.SetReadDeadline(time.Now().Add(time.Second))
	for {
		typ, _, err := wire.ReadMessage(c, &p.buf)
		if err != nil {
			break // the deadline: nothing
		}
		if typ == wire.TypeUpdate {
			t.Fatal("a refresh of IPv6 unicast, not announced, was answered")
		}
	}
	p.send(wire.TypeRouteRefresh, []byte{0, 1, 0, 1})
	u, err := wire.ParseUpdate(p.expect(wire.TypeUpdate), true)
	if err != nil || !slices.Contains(u.NLRI, netip.MustParsePrefix("10.1.0.0/16")) {
		t.Fatalf("the answer to a refresh of IPv4 unicast: %+v, %v", u, err)
	}
	p.send(wire.TypeRouteRefresh, []byte{0, 1})
	// RFC 4271 §6.1: the data is the erroneous length field.
	if n := p.expectNotification(wire.CodeHeader, wire.SubBadLength); !bytes.Equal(n.Data, []byte{0, 21}) {
		t.Errorf("NOTIFICATION data %x, want the length field 0015", n.Data)
	}
}

// An OPEN with an optional parameter other than capabilities is refused
// with Unsupported Optional Parameters (RFC 4271 §6.2), and the peer's
// status says why.
func TestUnsupportedOptionalParameterRFC4271Section6_2(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.137.2")
	waitDialFailed(t, n)
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	open := wire.Open{AS: 65002, HoldTime: 30, ID: addr}.Append(nil)
	open[9] += 4
	open = append(open, 1, 2, 0, 0) // parameter 1 (authentication) of 2 bytes
	p.send(wire.TypeOpen, open)
	p.expect(wire.TypeOpen)
	p.expectNotification(wire.CodeOpen, wire.SubUnsupportedParam)
	// The session records its error after it has sent the NOTIFICATION.
	waitLastError(t, n, "unsupported optional parameter 1")
	if ps := n.s.Peers(); ps[0].State == "Established" {
		t.Errorf("peer after an OPEN with parameter 1: %+v", ps)
	}
}

// TestUpdateErrorDataRFC4271Section6_3: the NOTIFICATION for an UPDATE
// that ends the session carries what RFC 4271 §6.3 says its data MUST
// be: the erroneous attribute, type, length and value (an unrecognised
// well-known attribute, a flags error of MP_REACH_NLRI, an attribute
// overrunning the list of an UPDATE without routes).
func TestUpdateErrorDataRFC4271Section6_3(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.141.3")
	good := mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}},
		NextHop: addr, NLRI: pfxs("192.168.2.0/24")}.Append(nil, true))
	// Attributes start at offset 4: ORIGIN (4 bytes), AS_PATH (3+6),
	// NEXT_HOP (3+4), then the NLRI.
	insert := func(attr []byte) []byte {
		b := append(bytes.Clone(good[:24]), append(attr, good[24:]...)...)
		b[3] += byte(len(attr))
		return b
	}
	for _, c := range []struct {
		name string
		body []byte
		sub  uint8
		data []byte
	}{
		{"unrecognised well-known attribute", insert([]byte{0x40, 99, 2, 7, 7}), 2, []byte{0x40, 99, 2, 7, 7}},
		{"MP_REACH_NLRI transitive", insert([]byte{0x40, 14, 1, 0}), 4, []byte{0x40, 14, 1, 0}},
		{"NEXT_HOP overruns a list without routes", func() []byte { b := bytes.Clone(good[:24]); b[19] = 9; return b }(), 5, []byte{0x40, 3, 9, 127, 141, 3, 2}},
	} {
		p := dialRaw(t, n, addr, port)
		p.send(wire.TypeUpdate, c.body)
		if got := p.expectNotification(wire.CodeUpdate, c.sub); !bytes.Equal(got.Data, c.data) {
			t.Errorf("%s: NOTIFICATION data % x, want % x", c.name, got.Data, c.data)
		}
		waitDown(t, n)
	}
}
