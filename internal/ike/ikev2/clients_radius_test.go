package ikev2

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/radius"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// fakeRADIUS answers EAP on loopback: a challenge (EAP-MD5 type) to the
// identity, an Accept with MPPE keys and no User-Name to the answer (with
// assert, the request's User-Name); while silent, it answers nothing.
type fakeRADIUS struct {
	addr   netip.AddrPort
	secret []byte
	silent atomic.Bool
	assert atomic.Bool
	// timeout and idle, when not 0, are the Session-Timeout and
	// Idle-Timeout of its Accepts; framed, when not 0, their
	// Framed-IP-Address.
	timeout, idle, framed atomic.Uint32
	msk                   []byte
	// received counts the requests that came, answered or not.
	received atomic.Int64
}

func newFakeRADIUS(t *testing.T) *fakeRADIUS {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	f := &fakeRADIUS{addr: netip.MustParseAddrPort(pc.LocalAddr().String()), secret: []byte("s3cret")}
	recv, send := bytes.Repeat([]byte{0x11}, 32), bytes.Repeat([]byte{0x22}, 32)
	f.msk = append(slices.Clone(recv), send...)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			f.received.Add(1)
			if f.silent.Load() {
				continue
			}
			req, err := radius.Parse(buf[:n])
			if err != nil {
				continue
			}
			var eapIn []byte
			for _, a := range req.Attrs {
				if a.Type == radius.AttrEAPMessage {
					eapIn = append(eapIn, a.Value...)
				}
			}
			m, _ := ppp.ParseEAP(eapIn)
			_, hasState := req.Find(radius.AttrState)
			attrs := []radius.Attr{{Type: radius.AttrMessageAuthenticator, Value: make([]byte, 16)}}
			code := byte(radius.CodeAccessChallenge)
			if !hasState {
				ch := ppp.EAP{Code: ppp.EAPRequest, ID: m.ID + 1, Type: 4, Data: append([]byte{16}, make([]byte, 16)...)}
				attrs = append(attrs, radius.Attr{Type: radius.AttrEAPMessage, Value: ch.Append(nil)},
					radius.Attr{Type: radius.AttrState, Value: []byte("s1")})
			} else {
				code = radius.CodeAccessAccept
				attrs = append(attrs, radius.Attr{Type: radius.AttrEAPMessage, Value: ppp.EAP{Code: ppp.EAPSuccess, ID: m.ID}.Append(nil)},
					msAttr(17, mppe(recv, f.secret, req.Authenticator)), msAttr(16, mppe(send, f.secret, req.Authenticator)))
				if user, ok := req.Find(radius.AttrUserName); ok && f.assert.Load() {
					attrs = append(attrs, radius.Attr{Type: radius.AttrUserName, Value: user})
				}
				if s := f.timeout.Load(); s != 0 {
					attrs = append(attrs, radius.Attr{Type: radius.AttrSessionTimeout, Value: binary.BigEndian.AppendUint32(nil, s)})
				}
				if s := f.idle.Load(); s != 0 {
					attrs = append(attrs, radius.Attr{Type: radius.AttrIdleTimeout, Value: binary.BigEndian.AppendUint32(nil, s)})
				}
				if a := f.framed.Load(); a != 0 {
					attrs = append(attrs, radius.Attr{Type: radius.AttrFramedIPAddress, Value: binary.BigEndian.AppendUint32(nil, a)})
				}
			}
			resp := radius.Packet{Code: code, ID: req.ID, Authenticator: req.Authenticator, Attrs: attrs}
			b, err := resp.Append(nil)
			if err != nil {
				panic(err)
			}
			mac := hmac.New(md5.New, f.secret)
			mac.Write(b)
			copy(b[22:38], mac.Sum(nil))
			h := md5.New()
			h.Write(b[:4])
			h.Write(req.Authenticator[:])
			h.Write(b[20:])
			h.Write(f.secret)
			copy(b[4:20], h.Sum(nil))
			pc.WriteTo(b, from)
		}
	}()
	return f
}

func msAttr(typ byte, v []byte) radius.Attr {
	out := []byte{0, 0, 1, 55, typ, byte(2 + len(v))}
	return radius.Attr{Type: 26, Value: append(out, v...)}
}

func mppe(key, secret []byte, reqAuth [16]byte) []byte {
	p := append([]byte{byte(len(key))}, key...)
	for len(p)%16 != 0 {
		p = append(p, 0)
	}
	salt := []byte{0x80, 0x01}
	out := slices.Clone(salt)
	prev := append(reqAuth[:], salt...)
	for i := 0; i < len(p); i += 16 {
		h := md5.Sum(append(slices.Clone(secret), prev...))
		for j := range 16 {
			p[i+j] ^= h[j]
		}
		out = append(out, p[i:i+16]...)
		prev = slices.Clone(p[i : i+16])
	}
	return out
}

// beginEAP starts cl's connection as an EAP user of IKE identity id
// (its IKE_AUTH without AUTH, RFC 7296 §2.16), asking for an address and a
// child of ESP SPI spi, and returns the gateway's first EAP request.
func beginEAP(t *testing.T, cl *p2sClient, id *wire.ID, initialContact bool, spi []byte) ppp.EAP {
	t.Helper()
	cl.init()
	any4 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	ps := []wire.Payload{id}
	if initialContact {
		ps = append(ps, &wire.Notify{NotifyType: wire.InitialContact})
	}
	ps = append(ps, &wire.CP{CFGType: wire.CFGRequest, Attributes: []wire.CPAttribute{{Type: wire.InternalIP4Address}}},
		saPayload(mustProposals(t, wire.ProtocolESP, "aes256gcm16"), spi, false),
		tsPayload(false, any4), tsPayload(true, any4))
	resp := cl.request(wire.IKEAuth, ps)
	p, ok := find[*wire.EAP](resp)
	if !ok {
		t.Fatalf("no EAP: %v", resp)
	}
	m, _ := ppp.ParseEAP(p.Data)
	return m
}

// radiusConnect runs a client through EAP relayed to f with EAP identity
// user and IKE identity idi; it returns the final answer.
func radiusConnect(t *testing.T, cl *p2sClient, f *fakeRADIUS, idi Identity, user string, initialContact bool) []wire.Payload {
	t.Helper()
	m := beginEAP(t, cl, idi.payload(false), initialContact, []byte{0x10, 1, 2, 3})
	m, _ = cl.eapRequest(ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeIdentity, Data: []byte(user)})
	if m.Code != ppp.EAPRequest {
		t.Fatalf("after identity: %+v", m)
	}
	m, _ = cl.eapRequest(ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: 4, Data: append([]byte{16}, make([]byte, 16)...)})
	if m.Code != ppp.EAPSuccess {
		t.Fatalf("EAP ended with %+v", m)
	}
	idp := idi.payload(false)
	signed, _ := suite.SignedOctets(cl.s.PRF, cl.initReq, cl.nr, cl.keys.PI, idp.AppendBody(nil))
	mac, _ := suite.PSKAuth(cl.s.PRF, f.msk, signed)
	return cl.request(wire.IKEAuth, []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: mac}})
}

func radiusGateway(t *testing.T) (*p2sGateway, *fakeRADIUS) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	f := newFakeRADIUS(t)
	cfg := pki.clients(g.hooks, p2sPool, 10)
	cfg.Radius = []radius.Server{{Addr: f.addr, Secret: f.secret}}
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	return g, f
}

// TestUnassertedIdentityReplacesNone: two users who give the same outer
// EAP identity (as PEAP and TTLS clients may: "anonymous") and the same
// IDi (Windows sends its private address), accepted by a RADIUS server
// that names neither (no User-Name in its Accept), are two clients: the
// second one's INITIAL_CONTACT does not delete the first's IKE SA.
func TestUnassertedIdentityReplacesNone(t *testing.T) {
	g, f := radiusGateway(t)
	idi := IPIdentity(netip.MustParseAddr("192.168.1.10"))
	alice := newP2SClient(t, g, clientAt(1))
	if a := cpAddr(radiusConnect(t, alice, f, idi, "anonymous", true)); !a.IsValid() {
		t.Fatal("alice got no address")
	}
	bob := newP2SClient(t, g, clientAt(2))
	if a := cpAddr(radiusConnect(t, bob, f, idi, "anonymous", true)); !a.IsValid() {
		t.Fatal("bob got no address")
	}
	time.Sleep(200 * time.Millisecond)
	if alice.deletedByGW() {
		t.Errorf("bob's INITIAL_CONTACT deleted alice's IKE SA (clients now %v)", g.clientAddrs())
	}
}

// TestRadiusUserConnectsAgainFromElsewhere: a user the RADIUS server
// names (User-Name in its Accept) who connects again with INITIAL_CONTACT
// from another network replaces its stale connection (RFC 7296 §2.4),
// also when its IDi changed with it (Windows sends its private address,
// which no one authenticates); another user's INITIAL_CONTACT replaces
// nothing.
func TestRadiusUserConnectsAgainFromElsewhere(t *testing.T) {
	g, f := radiusGateway(t)
	f.assert.Store(true)
	stale := newP2SClient(t, g, clientAt(1))
	if a := cpAddr(radiusConnect(t, stale, f, IPIdentity(netip.MustParseAddr("192.168.1.10")), "alice", true)); a != poolAddr(1) {
		t.Fatalf("alice got %v", a)
	}
	again := newP2SClient(t, g, clientAt(2))
	if a := cpAddr(radiusConnect(t, again, f, IPIdentity(netip.MustParseAddr("10.0.0.7")), "alice", true)); a != poolAddr(2) {
		t.Fatalf("alice connecting again got %v", a)
	}
	waitFor(t, 5*time.Second, "the stale connection to be gone", func() bool {
		return slices.Equal(g.clientAddrs(), []netip.Addr{poolAddr(2)})
	})
	if !stale.deletedByGW() {
		t.Error("the stale IKE SA was not deleted with a Delete")
	}
	bob := newP2SClient(t, g, clientAt(3))
	if a := cpAddr(radiusConnect(t, bob, f, IPIdentity(netip.MustParseAddr("10.0.0.7")), "bob", true)); !a.IsValid() {
		t.Fatal("bob got no address")
	}
	time.Sleep(200 * time.Millisecond)
	if again.deletedByGW() {
		t.Errorf("bob's INITIAL_CONTACT deleted alice's IKE SA (clients now %v)", g.clientAddrs())
	}
}

// TestClientsWhileRadiusWaits: the gateway's list of clients comes at
// once while a client's connection waits for a RADIUS server (here its
// second IKE SA, a reauthentication from the same endpoint).
func TestClientsWhileRadiusWaits(t *testing.T) {
	oldWait, oldTimeout := radius.Wait, radius.Timeout
	radius.Wait, radius.Timeout = 3*time.Second, time.Second
	t.Cleanup(func() { radius.Wait, radius.Timeout = oldWait, oldTimeout })
	g, f := radiusGateway(t)
	idi := IPIdentity(netip.MustParseAddr("192.168.1.10"))
	alice := newP2SClient(t, g, clientAt(1))
	if a := cpAddr(radiusConnect(t, alice, f, idi, "alice", true)); !a.IsValid() {
		t.Fatal("alice got no address")
	}
	// Reauthentication (strongSwan's make-before-break) from the same
	// endpoint; the RADIUS server is slow.
	re := newP2SClient(t, g, clientAt(1))
	m := beginEAP(t, re, idi.payload(false), false, []byte{0x10, 1, 2, 4})
	f.silent.Store(true)
	g.m.HandlePacket(p2sGW, re.addr, re.seal(wire.IKEAuth, re.nextID,
		[]wire.Payload{&wire.EAP{Data: ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeIdentity, Data: []byte("alice")}.Append(nil)}}))
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	n := len(g.m.Clients())
	if d := time.Since(start); d > time.Second || n != 1 {
		t.Errorf("Manager.Clients took %v and listed %d clients, want alice at once (not after the RADIUS round)", d.Round(100*time.Millisecond), n)
	}
}

// TestStaleClientWaitingForRadiusEnds: a client that connects again with
// INITIAL_CONTACT replaces its stale connection (RFC 7296 §2.4) at once,
// also while that connection waits for a RADIUS server (here for a second
// IKE SA at its endpoint, a reauthentication with EAP): the wait is cut
// short, the stale IKE SA is deleted and its address given back. It
// lingered, listed as a second client and holding its address, until the
// server's answer or its timeout (a minute).
func TestStaleClientWaitingForRadiusEnds(t *testing.T) {
	oldWait, oldTimeout := radius.Wait, radius.Timeout
	radius.Wait, radius.Timeout = 60*time.Second, time.Second
	t.Cleanup(func() { radius.Wait, radius.Timeout = oldWait, oldTimeout })
	g, f := radiusGateway(t)
	pki := newPKI(t)
	cfg := pki.clients(g.hooks, p2sPool, 10)
	cfg.Radius = []radius.Server{{Addr: f.addr, Secret: f.secret}}
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	stale := newP2SClient(t, g, clientAt(1))
	if _, addr := stale.connect(pki.client); addr != poolAddr(1) {
		t.Fatalf("got %v", addr)
	}
	// A second IKE SA at the stale connection's endpoint waits for a
	// RADIUS server that does not answer.
	re := newP2SClient(t, g, clientAt(1))
	m := beginEAP(t, re, dnOf(pki.client).payload(false), false, []byte{0x10, 1, 2, 4})
	f.silent.Store(true)
	asked := f.received.Load()
	g.m.HandlePacket(p2sGW, re.addr, re.seal(wire.IKEAuth, re.nextID,
		[]wire.Payload{&wire.EAP{Data: ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeIdentity, Data: []byte("client1")}.Append(nil)}}))
	waitFor(t, 10*time.Second, "the RADIUS server to be asked", func() bool { return f.received.Load() > asked })

	// The client connects again from elsewhere, with INITIAL_CONTACT.
	again := newP2SClient(t, g, clientAt(2))
	if _, addr := again.connect(pki.client); addr != poolAddr(2) {
		t.Fatalf("the client connecting again got %v", addr)
	}
	waitFor(t, 15*time.Second, "the stale connection to be gone", func() bool {
		return slices.Equal(g.clientAddrs(), []netip.Addr{poolAddr(2)})
	})
	if !stale.deletedByGW() {
		t.Error("the stale IKE SA was not deleted with a Delete")
	}
}

// TestRadiusDownIsNoRefusal: when no RADIUS server answers a client's
// EAP, the gateway has no verdict on its password and does not say it
// refused it (an EAP Failure, after which strongSwan and Windows give up
// as for a wrong password): the request goes unanswered, also when the
// client retransmits it, and the IKE SA is gone, so that the client
// deems it failed (RFC 7296 §2.1) and starts again; then it connects.
func TestRadiusDownIsNoRefusal(t *testing.T) {
	oldTries, oldTimeout, oldWait := radius.Tries, radius.Timeout, radius.Wait
	radius.Tries, radius.Timeout, radius.Wait = 1, 200*time.Millisecond, 500*time.Millisecond
	t.Cleanup(func() { radius.Tries, radius.Timeout, radius.Wait = oldTries, oldTimeout, oldWait })
	g, f := radiusGateway(t)
	cl := newP2SClient(t, g, clientAt(1))
	idi := IPIdentity(netip.MustParseAddr("192.168.1.10"))
	m := beginEAP(t, cl, idi.payload(false), false, []byte{0x10, 1, 2, 3})
	f.silent.Store(true)
	id := cl.nextID
	req := cl.seal(wire.IKEAuth, id, []wire.Payload{&wire.EAP{Data: ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeIdentity, Data: []byte("alice")}.Append(nil)}})
	g.m.HandlePacket(p2sGW, cl.addr, req)
	waitFor(t, 30*time.Second, "the client's connection to go", func() bool { return g.clientConns() == 0 })
	// Retransmitted, as the client does until it gives up: the IKE SA
	// is gone, and it is dropped.
	g.m.HandlePacket(p2sGW, cl.addr, req)
	if got := cl.fromGW(wire.IKEAuth, id, true); len(got) != 0 {
		m := ppp.EAP{}
		if p, ok := find[*wire.EAP](cl.open(got[0])); ok {
			m, _ = ppp.ParseEAP(p.Data)
		}
		t.Fatalf("the gateway answered the EAP no RADIUS server had a verdict on (EAP code %d)", m.Code)
	}
	f.silent.Store(false)
	again := newP2SClient(t, g, clientAt(1))
	if a := cpAddr(radiusConnect(t, again, f, idi, "alice", true)); !a.IsValid() {
		t.Fatal("the client starting again got no address")
	}
}

// TestRadiusLimitEndsClient: a client a RADIUS server accepted with a
// Session-Timeout is told in IKE_AUTH how long it has before it must
// authenticate again (AUTH_LIFETIME, RFC 4478 §3), one with an
// Idle-Timeout is told nothing (AUTH_LIFETIME is the session's limit);
// one that neither authenticates again nor sends (no ESP) has its IKE SA
// deleted, with a Delete, once that time is over, and its address goes
// back to the pool.
func TestRadiusLimitEndsClient(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attr     func(*fakeRADIUS) *atomic.Uint32
		lifetime bool // told an AUTH_LIFETIME
	}{
		{"Session-Timeout", func(f *fakeRADIUS) *atomic.Uint32 { return &f.timeout }, true},
		{"Idle-Timeout", func(f *fakeRADIUS) *atomic.Uint32 { return &f.idle }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, f := radiusGateway(t)
			tc.attr(f).Store(1)
			cl := newP2SClient(t, g, clientAt(1))
			start := time.Now()
			resp := radiusConnect(t, cl, f, IPIdentity(netip.MustParseAddr("192.168.1.10")), "alice", true)
			if a := cpAddr(resp); a != poolAddr(1) {
				t.Fatalf("alice got %v", a)
			}
			n := notify(resp, wire.AuthLifetime)
			if told := n != nil && len(n.Data) == 4 && binary.BigEndian.Uint32(n.Data) == 1; told != tc.lifetime || n != nil && !told {
				t.Errorf("IKE_AUTH's AUTH_LIFETIME: %+v, want one of 1 s: %v", n, tc.lifetime)
			}
			waitFor(t, 10*time.Second, "the client to be gone", func() bool { return len(g.clientAddrs()) == 0 })
			if took := time.Since(start); took < 900*time.Millisecond {
				t.Errorf("the client went after %v, before its %s of 1 s", took, tc.name)
			}
			if !cl.deletedByGW() {
				t.Error("the client's IKE SA was not deleted with a Delete")
			}
		})
	}
}

// TestRadiusFramedIPAddress: a client whose RADIUS server gives it an
// address (Framed-IP-Address) gets that one, not the pool's lowest; the
// same user connecting again with INITIAL_CONTACT gets it back from its
// stale connection; another user given it meanwhile gets none
// (INTERNAL_ADDRESS_FAILURE), as does one given an address outside the
// pool.
func TestRadiusFramedIPAddress(t *testing.T) {
	g, f := radiusGateway(t)
	f.assert.Store(true)
	give := func(a netip.Addr) { f.framed.Store(binary.BigEndian.Uint32(a.AsSlice())) }
	want := poolAddr(5)
	give(want)
	idi := IPIdentity(netip.MustParseAddr("192.168.1.10"))
	if a := cpAddr(radiusConnect(t, newP2SClient(t, g, clientAt(1)), f, idi, "alice", true)); a != want {
		t.Fatalf("alice got %v, want %v, her RADIUS server's", a, want)
	}
	if a := cpAddr(radiusConnect(t, newP2SClient(t, g, clientAt(2)), f, idi, "alice", true)); a != want {
		t.Fatalf("alice connecting again got %v, want %v", a, want)
	}
	for _, tc := range []struct {
		user string
		addr netip.Addr
	}{{"bob", want}, {"carol", netip.MustParseAddr("192.0.2.9")}} {
		give(tc.addr)
		resp := radiusConnect(t, newP2SClient(t, g, clientAt(3)), f, idi, tc.user, true)
		if a := cpAddr(resp); a.IsValid() || notify(resp, wire.InternalAddressFailure) == nil {
			t.Errorf("%s, given %v, got %v (%v); want INTERNAL_ADDRESS_FAILURE", tc.user, tc.addr, a, resp)
		}
	}
	if got := g.clientAddrs(); !slices.Equal(got, []netip.Addr{want}) {
		t.Errorf("clients at %v, want alice's alone at %v", got, want)
	}
}
