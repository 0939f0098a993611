package p2s

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/netns"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/radius/radiustest"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// openLCP acknowledges the server's LCP request and sends an empty one.
func (x *rawClient) openLCP() ppp.Packet {
	first := x.next(ppp.ProtoLCP)
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: first.ID, Data: first.Data})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1})
	return first
}

// quiet reports whether the server sends nothing of proto for d.
func (x *rawClient) quiet(proto uint16, d time.Duration) bool {
	var buf [sstp.MaxPacket]byte
	x.c.SetReadDeadline(time.Now().Add(d))
	for {
		isControl, body, err := sstp.ReadPacket(x.r, &buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return true
		}
		if err != nil {
			return false
		}
		if isControl {
			continue
		}
		if p, _, err := ppp.ParseFrame(body); err == nil && p == proto {
			return false
		}
	}
}

// negotiatingNow returns how many connections have not authenticated.
func (s *Server) negotiatingNow() int {
	s.negotiating.mu.Lock()
	defer s.negotiating.mu.Unlock()
	return s.negotiating.total
}

// TestUnauthenticatedHoldsNoSlot: a connection that asked for a call and
// never authenticates holds neither an address nor one of the gateway's
// client slots (R11): with room for one client, a client connects
// beside it.
func TestUnauthenticatedHoldsNoSlot(t *testing.T) {
	r := newRegion(t, Config{MaxClients: 1})
	x := dialRaw(t, r.srv.Addr())
	x.next(ppp.ProtoLCP)
	cl, _, err := r.dial(t, r.pki.client)
	if err != nil {
		t.Fatalf("a client beside a connection that does not authenticate: %v", err)
	}
	defer cl.Close()
	if c := r.srv.Clients(); len(c) != 1 {
		t.Errorf("clients %+v, want the one that authenticated", c)
	}
}

// TestClientLeavesDuringRadius: a client that leaves while the gateway
// waits for a RADIUS server (one that never answers) is noticed: its
// connection's goroutine ends at once, not when the wait gives up.
func TestClientLeavesDuringRadius(t *testing.T) {
	for _, more := range []bool{false, true} {
		name := "alone"
		if more {
			name = "with more sent"
		}
		t.Run(name, func(t *testing.T) { clientLeavesDuringRadius(t, more) })
	}
}

// clientLeavesDuringRadius is TestClientLeavesDuringRadius, the client
// sending an LCP Echo-Request right behind its answer when more: a packet
// the gateway holds unread while it waits.
func clientLeavesDuringRadius(t *testing.T, more bool) {
	r := newRegion(t, Config{Radius: []radius.Server{{Addr: radiustest.Silent(t, "127.0.0.1:0"), Secret: []byte("s")}}, RadiusOnly: true})
	x := dialRaw(t, r.srv.Addr())
	x.openLCP()
	ch := x.next(ppp.ProtoCHAP)
	answer := sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPResponse, ID: ch.ID,
		Data: ppp.CHAPValue{Value: ppp.MSCHAPv2Response{}.Append(nil), Name: []byte("bob")}.Append(nil)}.Append(nil)))
	if more {
		answer = sstp.AppendData(answer, ppp.AppendFrame(nil, ppp.ProtoLCP, ppp.Packet{Code: ppp.EchoReq, ID: 9, Data: make([]byte, 4)}.Append(nil)))
	}
	x.c.Write(answer) // in one write: both arrive together
	time.Sleep(200 * time.Millisecond)
	if n := r.srv.negotiatingNow(); n != 1 {
		t.Fatalf("%d connections authenticating, want bob's", n)
	}
	x.c.Close()
	for deadline := time.Now().Add(3 * time.Second); r.srv.negotiatingNow() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection of a client that left still waits for RADIUS 3 s later")
		}
	}
}

// TestNakAfterAckIgnored: once the client acknowledged the gateway's LCP
// request, a Configure-Nak of it (RFC 1661 §5.3) changes nothing: the
// authentication under way (EAP-TLS) is not switched to MS-CHAPv2.
func TestNakAfterAckIgnored(t *testing.T) {
	r := newRegion(t, Config{Radius: []radius.Server{{Addr: radiustest.Silent(t, "127.0.0.1:0"), Secret: []byte("s")}}})
	x := dialRaw(t, r.srv.Addr())
	first := x.openLCP()
	x.next(ppp.ProtoEAP)
	chap := ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptAuthProto, Value: []byte{0xc2, 0x23, 0x81}}})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfNak, ID: first.ID, Data: chap})
	if !x.quiet(ppp.ProtoLCP, time.Second) {
		t.Error("the gateway asked for LCP again after a Nak of the request the client had acknowledged")
	}
}

// TestNegotiatingPerSource: one address holds at most
// maxNegotiatingPerSource connections that have not authenticated; the
// next is closed at once; as they go, another is taken.
func TestNegotiatingPerSource(t *testing.T) {
	r := newRegion(t, Config{})
	var conns []net.Conn
	for range maxNegotiatingPerSource {
		c, err := net.Dial("tcp", r.srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for deadline := time.Now().Add(3 * time.Second); r.srv.negotiatingNow() != maxNegotiatingPerSource; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections counted, want %d", r.srv.negotiatingNow(), maxNegotiatingPerSource)
		}
	}
	extra, err := net.Dial("tcp", r.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(3 * time.Second))
	var b [1]byte
	if _, err := extra.Read(b[:]); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection %d from one address: %v, want it closed", maxNegotiatingPerSource+1, err)
	}
	for _, c := range conns {
		c.Close()
	}
	for deadline := time.Now().Add(3 * time.Second); r.srv.negotiatingNow() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still counted after they closed", r.srv.negotiatingNow())
		}
	}
	cl, _, err := r.dial(t, r.pki.client)
	if err != nil {
		t.Fatalf("a client after the others left: %v", err)
	}
	cl.Close()
	if n := r.srv.negotiatingNow(); n != 0 {
		t.Errorf("%d connections counted after the client authenticated and left", n)
	}
}

// TestNegotiatingBehindOneProxy: the users behind one HTTP proxy or NAT
// (R13) share its address; more of them than maxNegotiatingPerSource
// wait for their RADIUS server (a second factor, here one that never
// answers) at once, and each is answered, its call taken: the bound of
// one sender holds only through the TLS handshake and the HTTP request,
// not while a user authenticates. Before, the 17th user's connection was
// closed without a word.
func TestNegotiatingBehindOneProxy(t *testing.T) {
	r := newRegion(t, Config{Listen: netip.MustParseAddrPort("127.191.0.2:0"), Radius: []radius.Server{{Addr: radiustest.Silent(t, "127.0.0.1:0"), Secret: []byte("s")}}, RadiusOnly: true})
	users := maxNegotiatingPerSource + 4
	for i := range users {
		x := dialRaw(t, r.srv.Addr()) // fails the test when the gateway closes the connection
		x.openLCP()
		ch := x.next(ppp.ProtoCHAP)
		x.send(ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPResponse, ID: ch.ID,
			Data: ppp.CHAPValue{Value: ppp.MSCHAPv2Response{}.Append(nil), Name: fmt.Appendf(nil, "user%d", i)}.Append(nil)})
	}
	if n := r.srv.negotiatingNow(); n != users {
		t.Errorf("%d connections counted as authenticating, want %d", n, users)
	}
}

// TestEAPAfterSuccessIgnored: once a client authenticated, an EAP
// response repeated (its last one, which the gateway answered with
// Success) is dropped (RFC 3748 §4.2: the authenticator is done); it does
// not admit the client again. Taken twice, a client held a second address
// of the pool and a second of the gateway's slots (R11), and the first
// stayed listed after it left.
func TestEAPAfterSuccessIgnored(t *testing.T) {
	r := newRegion(t, Config{})
	c, _, err := r.dial(t, r.pki.client)
	if err != nil {
		t.Fatal(err)
	}
	// The client's last EAP-TLS response is an empty one (the
	// acknowledgement of the gateway's last flight): sent again under
	// every Identifier, one of which is the request it answered.
	for id := range 256 {
		c.l.writePPP(ppp.ProtoEAP, ppp.EAP{Code: ppp.EAPResponse, ID: uint8(id), Type: ppp.TypeTLS, Data: ppp.TLSData{}.Append(nil)}.Append(nil))
	}
	time.Sleep(500 * time.Millisecond)
	if cs := r.srv.Clients(); len(cs) != 1 {
		t.Errorf("one client that repeated its last EAP response is listed as %+v", cs)
	}
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); len(r.srv.Clients()) != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the client left 5 s ago; the gateway lists %+v", r.srv.Clients())
		}
	}
}

// TestCloseEndsNegotiations: Close ends the connections that have not
// authenticated too, at once: a TCP connection that sent nothing, and an
// SSTP client in LCP. Close waited for them (up to the negotiation
// timer, two minutes with RADIUS's wait), and the engine's
// reconfiguration, which closes a gateway's server, with it.
func TestCloseEndsNegotiations(t *testing.T) {
	r := newRegion(t, Config{})
	idle, err := net.Dial("tcp", r.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	x := dialRaw(t, r.srv.Addr())
	x.next(ppp.ProtoLCP)
	for deadline := time.Now().Add(3 * time.Second); r.srv.negotiatingNow() != 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections negotiating, want 2", r.srv.negotiatingNow())
		}
	}
	closed := make(chan struct{})
	go func() { r.srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close still waits 3 s later for connections that have not authenticated")
	}
}

// TestNegotiationsBySender: connections that have not authenticated are
// counted by sender, IPv6 addresses by /64, so that one host, which is
// given a /64 and may take any address of it, holds
// maxNegotiatingPerSource of them and not the whole of maxNegotiating;
// IPv4 addresses are counted apart, an IPv4-mapped one as its IPv4
// address.
func TestNegotiationsBySender(t *testing.T) {
	var n negotiations
	at := func(i int) netip.Addr {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x87, 14: byte(i >> 8), 15: byte(i)})
	}
	for i := range maxNegotiatingPerSource {
		if n.begin(at(i)) != nil {
			t.Fatalf("connection %d from 2001:db8:87::/64 refused", i+1)
		}
	}
	if n.begin(at(maxNegotiatingPerSource)) == nil {
		t.Errorf("connection %d from 2001:db8:87::/64 (from an address of its own) taken, want refused", maxNegotiatingPerSource+1)
	}
	if other := netip.MustParseAddr("2001:db8:87:1::1"); n.begin(other) != nil {
		t.Errorf("a connection from the next /64, %v, refused", other)
	}
	n.handshook(at(0)) // it waits for its authentication now
	if n.begin(at(maxNegotiatingPerSource)) != nil {
		t.Error("a connection from 2001:db8:87::/64 refused after one of its others finished its handshake")
	}

	v4, mapped := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("::ffff:192.0.2.1")
	for i := range maxNegotiatingPerSource {
		a := v4
		if i%2 == 1 {
			a = mapped
		}
		if n.begin(a) != nil {
			t.Fatalf("connection %d from %v refused", i+1, v4)
		}
	}
	if n.begin(mapped) == nil {
		t.Errorf("connection %d from %v, IPv4-mapped, taken, want refused", maxNegotiatingPerSource+1, v4)
	}
	if n.begin(netip.MustParseAddr("192.0.2.2")) != nil {
		t.Error("a connection from the next IPv4 address refused")
	}
}

// TestNegotiationsInAll: the connections that have not authenticated
// are bounded in all too, whatever their senders: with maxNegotiating
// of them, each sender under its own share, one from a sender not yet
// seen is refused, and taken once another ended.
func TestNegotiationsInAll(t *testing.T) {
	var n negotiations
	at := func(i int) netip.Addr {
		return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	for i := range maxNegotiating {
		if n.begin(at(i/(maxNegotiatingPerSource/2))) != nil {
			t.Fatalf("connection %d refused", i+1)
		}
	}
	fresh := netip.MustParseAddr("192.0.2.9")
	if n.begin(fresh) == nil {
		t.Errorf("connection %d, from %v, taken, want refused", maxNegotiating+1, fresh)
	}
	n.handshook(at(0))
	if n.begin(fresh) == nil {
		t.Errorf("connection %d, from %v, taken when another finished its handshake, want refused until one authenticated", maxNegotiating+1, fresh)
	}
	n.end()
	if n.begin(fresh) != nil {
		t.Errorf("a connection from %v refused after another ended", fresh)
	}
}

// TestNegotiatingPerIPv6Prefix: over real sockets, in a namespace where
// a /64 is local (as a host's prefix is to it), connections from
// maxNegotiatingPerSource addresses of the /64 fill its share, and one
// from yet another address of it is closed at once.
func TestNegotiatingPerIPv6Prefix(t *testing.T) {
	netnstest.Require(t, "ip", "sysctl")
	ns := netnstest.New(t, "n64")
	ns.Run("sysctl", "-qw", "net.ipv6.ip_nonlocal_bind=1")
	ns.Run("ip", "-6", "route", "add", "local", "2001:db8:87::/64", "dev", "lo")
	pki := newPKI(t)
	var srv *Server
	err := netns.Do(netns.Path(ns.Name), func() (err error) {
		srv, err = Start(Config{
			Listen: netip.MustParseAddrPort("[2001:db8:87::1]:0"), Cert: pki.server, Router: fabric.NewRouter(),
			Pool: netip.MustParsePrefix("172.16.201.0/24"), Roots: []*x509.Certificate{pki.root.Certificate},
			SSTP: true, Logger: testLogger(t),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	dial := func(i int) net.Conn {
		t.Helper()
		var c net.Conn
		err := netns.Do(netns.Path(ns.Name), func() (err error) {
			from := &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("2001:db8:87::%x", 0x100+i))}
			c, err = (&net.Dialer{LocalAddr: from}).Dial("tcp", srv.Addr().String())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for i := range maxNegotiatingPerSource {
		dial(i)
	}
	for deadline := time.Now().Add(10 * time.Second); srv.negotiatingNow() != maxNegotiatingPerSource; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections counted, want %d", srv.negotiatingNow(), maxNegotiatingPerSource)
		}
	}
	extra := dial(maxNegotiatingPerSource)
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := extra.Read(b[:]); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection %d from 2001:db8:87::/64, from %v: %v, want it closed", maxNegotiatingPerSource+1, extra.LocalAddr(), err)
	}
}
