package ikev2

import (
	"bytes"
	"crypto/rand"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestInitRetryUnderCookiePressure: an initiator whose IKE_SA_INIT
// response was lost gets its IKE SA from that first request when the
// responder started to ask for cookies meanwhile. A retransmission of the
// request is answered with the response again, not with a COOKIE (RFC
// 7296 §2.1), and a retry with a cookie for an SPI whose first request is
// half open replaces that half-open SA (RFC 7296 §2.6). Before, the
// retransmission got a COOKIE and the retry with it was dropped as a
// request for a half-open SA with other bytes: the initiator waited until
// it gave its request up (25 s here, a minute with the default timers)
// and began again with a new SPI. The retry with a cookie is the request
// of the half-open SA with a COOKIE put first and all else unchanged (RFC
// 7296 §2.6), so it is answered with that SA's response (§2.1), and the
// initiator's AUTH, which signs the latest version of its request (§2.15),
// is checked against the retry: before, the retry replaced the half-open
// SA, and an initiator that took the response to its first request,
// arriving after it had sent the retry, sent its IKE_AUTH request to an
// SA that was gone and waited until it gave up.
func TestInitRetryUnderCookiePressure(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		// block holds the responder's loop until the initiator has sent
		// a retry with a cookie: its retransmission reached the Manager
		// while the first request waited for the loop, and was asked for
		// a cookie.
		block bool
		// drop is how many of the first half-open SA's IKE_SA_INIT
		// responses are lost.
		drop    int
		cookies bool // a COOKIE is sent on the way
	}{
		// The half-open SA of the first request is what makes the
		// responder ask for cookies (CookieThreshold 1).
		{name: "2.1 retransmission answered again", cfg: Config{CookieThreshold: 1}, drop: 1},
		// MaxHalfOpen 2: the peer's second request in the loop's queue
		// asks for a cookie.
		{name: "2.6 retry with a cookie answered by the half-open SA", cfg: Config{MaxHalfOpen: 2}, block: true, drop: 1, cookies: true},
		// The response to the first request reaches the initiator after
		// it sent its retry, and is taken.
		{name: "2.15 late response to the first request", cfg: Config{MaxHalfOpen: 2}, block: true, cookies: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			n := newFakeNet(t)
			var mu sync.Mutex
			var firstSPIr uint64
			dropped := 0
			n.setPolicy(func(from, _ netip.AddrPort, b []byte) []time.Duration {
				h, _, err := wire.ParseHeader(b)
				if err != nil || from.Addr() != addrB || h.Exchange != wire.IKESAInit || h.SPIr == 0 {
					return []time.Duration{0}
				}
				mu.Lock()
				defer mu.Unlock()
				if firstSPIr == 0 {
					firstSPIr = h.SPIr
				}
				if h.SPIr == firstSPIr && dropped < tc.drop {
					dropped++
					return nil
				}
				return []time.Duration{0}
			})
			pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
			pb.Mode = ModeResponderOnly
			// The initiator keeps retransmitting for 25 s, longer than
			// waitUp waits.
			pa.RetransmitTries = 8
			b := newNode(t, n, "b", addrB, tc.cfg, pb)
			if tc.block {
				release := make(chan struct{})
				var once sync.Once
				open := func() { once.Do(func() { close(release) }) }
				t.Cleanup(open) // before b's Close, which waits for the loop
				blocked := make(chan struct{})
				b.m.conn(pb.Name).post(false, func() { close(blocked); <-release })
				<-blocked
				defer open()
				a := newNode(t, n, "a", addrA, Config{}, pa)
				waitFor(t, 5*time.Second, "a retry with a cookie", func() bool { return cookieRetries(n) > 0 })
				open()
				checkInitRetry(t, n, a, b, tc.cookies)
				return
			}
			a := newNode(t, n, "a", addrA, Config{}, pa)
			checkInitRetry(t, n, a, b, tc.cookies)
		})
	}
}

// checkInitRetry checks that the IKE SA a initiated with its first
// IKE_SA_INIT request comes up on both sides, and that the responder
// keeps no other IKE SA.
func checkInitRetry(t *testing.T, n *fakeNet, a, b *node, cookies bool) {
	t.Helper()
	waitUp(t, a, b, 1)
	checkKeys(t, a, b)
	var first uint64
	for _, d := range n.datagrams() {
		if h, _, err := wire.ParseHeader(d.data); err == nil && isRequest(d.data, wire.IKESAInit) {
			first = h.SPIi
			break
		}
	}
	if got := a.established()[0].SPIi; got != first {
		t.Errorf("IKE SA %016x up, want the one of the first IKE_SA_INIT request, %016x", got, first)
	}
	if sent := b.m.Stats().CookiesSent; (sent > 0) != cookies {
		t.Errorf("%d cookies sent, want them %v", sent, cookies)
	}
	waitFor(t, 5*time.Second, "the responder to hold the one IKE SA", func() bool { return len(b.status().IKESAs) == 1 })
}

// cookieRetries counts the IKE_SA_INIT requests sent with a COOKIE.
func cookieRetries(n *fakeNet) int {
	k := 0
	for _, d := range n.datagrams() {
		m, err := wire.ParseMessage(d.data)
		if err != nil || !isRequest(d.data, wire.IKESAInit) || len(m.Payloads) == 0 {
			continue
		}
		if nt, ok := m.Payloads[0].(*wire.Notify); ok && nt.NotifyType == wire.Cookie {
			k++
		}
	}
	return k
}

// TestClientInitRetransmitUnderCookiePressure: a point-to-site client's
// IKE_SA_INIT request sent again, as when the response was lost, is
// answered with the same response, not with a COOKIE, although the
// client's half-open SA makes the gateway ask for cookies (RFC 7296 §2.1);
// the client then connects.
func TestClientInitRetransmitUnderCookiePressure(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{CookieThreshold: 1})
	if err := g.m.SetClients(pki.clients(g.hooks, p2sPool, 10)); err != nil {
		t.Fatal(err)
	}
	cl := newP2SClient(t, g, clientAt(1))
	cl.init()
	g.m.HandlePacket(p2sGW, cl.addr, cl.initReq)
	if again := cl.await(wire.IKESAInit, 0, 1); !bytes.Equal(again, cl.initResp) {
		what := "another response"
		if m, err := wire.ParseMessage(again); err == nil && notify(m.Payloads, wire.Cookie) != nil {
			what = "a COOKIE"
		}
		t.Fatalf("the request sent again was answered with %s, want the response again", what)
	}
	if addr := cpAddr(cl.request(wire.IKEAuth, cl.auth(pki.client))); addr != poolAddr(1) {
		t.Errorf("the client got %v, want %v", addr, poolAddr(1))
	}
	if sent := g.m.Stats().CookiesSent; sent != 0 {
		t.Errorf("%d cookies sent", sent)
	}
}

// TestSameRequest: an IKE_SA_INIT request with a COOKIE put first, or
// another COOKIE, all else unchanged, is a retry of the request without
// it (RFC 7296 §2.6); a copy without the cookie is the same request but
// no retry; another nonce or key exchange is another request.
func TestSameRequest(t *testing.T) {
	ni, dh, spi := newIKEOffer(t)
	ni2, _, _ := newIKEOffer(t)
	req := func(cookie, nonce []byte) []byte {
		t.Helper()
		msg := wire.Message{
			Header: wire.Header{SPIi: spi, MajorVersion: wire.MajorVersion, Exchange: wire.IKESAInit, Flags: wire.FlagInitiator},
			Payloads: []wire.Payload{
				saPayload(mustProposals(t, wire.ProtocolIKE, clientIKE), nil, true),
				&wire.KE{Group: wire.DHCurve25519, Data: dh.PublicKey()},
				&wire.Nonce{Data: nonce},
			},
		}
		if cookie != nil {
			msg.Payloads = append([]wire.Payload{&wire.Notify{NotifyType: wire.Cookie, Data: cookie}}, msg.Payloads...)
		}
		b, err := msg.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name            string
		prev, req       []byte
		wantRetry, want bool
	}{
		{"retransmission", req(nil, ni), req(nil, ni), false, true},
		{"retry with a cookie", req(nil, ni), req([]byte("cookie"), ni), true, true},
		{"retry with another cookie", req([]byte("cookie"), ni), req([]byte("cookie2"), ni), true, true},
		{"copy of the request before the retry", req([]byte("cookie"), ni), req(nil, ni), false, true},
		{"another nonce", req(nil, ni), req([]byte("cookie"), ni2), false, false},
		{"not a request", req(nil, ni), []byte("junk"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			retry, ok := sameRequest(tc.prev, tc.req)
			if retry != tc.wantRetry || ok != tc.want {
				t.Errorf("sameRequest = %v, %v, want %v, %v", retry, ok, tc.wantRetry, tc.want)
			}
		})
	}
}

// TestInitStaleCookies: COOKIE answers to copies of an IKE_SA_INIT request
// that the initiator sent before its retry with that cookie (its
// retransmissions, or copies the network made) are stale. They are
// ignored, neither sending the retry again nor counting against the
// retries an initiator makes (RFC 7296 §2.6). Before, each was taken for
// a new COOKIE: the initiator sent its retry again each time and, after
// maxInitTries of them, refused the next as an unusable COOKIE and no
// longer retransmitted, so that with the responses to those retries lost
// it gave the IKE SA up and began again with a new SPI.
func TestInitStaleCookies(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	var mu sync.Mutex
	lost := 0
	n.setPolicy(func(from, _ netip.AddrPort, b []byte) []time.Duration {
		m, err := wire.ParseMessage(b)
		if err != nil || from.Addr() != addrB || m.Header.Exchange != wire.IKESAInit {
			return []time.Duration{0}
		}
		if notify(m.Payloads, wire.Cookie) != nil {
			// Six copies of each COOKIE answer.
			return []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond, 5 * time.Millisecond}
		}
		mu.Lock()
		defer mu.Unlock()
		if lost < maxInitTries {
			lost++
			return nil
		}
		return []time.Duration{0}
	})
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	pb.Mode = ModeResponderOnly
	b := newNode(t, n, "b", addrB, Config{CookieThreshold: -1}, pb)
	a := newNode(t, n, "a", addrA, Config{}, pa)
	checkInitRetry(t, n, a, b, true)
	if k := cookieRetries(n); k > 1+maxInitTries {
		t.Errorf("%d retries with a cookie sent, want the first and its retransmissions", k)
	}
}

// TestInitCookieRetriesBounded: an initiator whose every IKE_SA_INIT
// request is answered with a new COOKIE, as forged ones would be, retries
// maxInitTries times, each time with a cookie answered, and then gives the
// IKE SA up (RFC 7296 §2.6: the initiator limits the cookie
// exchanges it tries).
func TestInitCookieRetriesBounded(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	var am atomic.Pointer[Manager]
	var mu sync.Mutex
	var spis []uint64             // the initiator's SPIs, in order
	reqs := map[uint64][]string{} // the distinct requests of each SPI
	answered := map[string]bool{} // the cookies answered
	n.setPolicy(func(from, to netip.AddrPort, b []byte) []time.Duration {
		h, _, err := wire.ParseHeader(b)
		if err != nil || from.Addr() != addrA || !isRequest(b, wire.IKESAInit) {
			return []time.Duration{0}
		}
		cookie := make([]byte, 16)
		_, _ = rand.Read(cookie)
		resp, err := errorResponse(h, &wire.Notify{NotifyType: wire.Cookie, Data: cookie})
		if err != nil {
			t.Error(err)
			return nil
		}
		mu.Lock()
		if _, ok := reqs[h.SPIi]; !ok {
			spis = append(spis, h.SPIi)
		}
		if !slices.Contains(reqs[h.SPIi], string(b)) {
			reqs[h.SPIi] = append(reqs[h.SPIi], string(b))
		}
		answered[string(cookie)] = true
		mu.Unlock()
		time.AfterFunc(0, func() {
			if m := am.Load(); m != nil {
				m.HandlePacket(from, to, resp)
			}
		})
		return nil // the responder never sees it
	})
	a := newNode(t, n, "a", addrA, Config{}, basePeer("to-b", addrA, addrB))
	am.Store(a.m)
	waitFor(t, 5*time.Second, "a second IKE SA to be initiated", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(spis) > 1
	})
	mu.Lock()
	defer mu.Unlock()
	first := reqs[spis[0]]
	if len(first) != 1+maxInitTries {
		t.Fatalf("%d IKE_SA_INIT requests for the first IKE SA, want %d", len(first), 1+maxInitTries)
	}
	for i, b := range first[1:] {
		m, err := wire.ParseMessage([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		if c, ok, _ := splitCookie(m.Payloads); !ok || !answered[string(c)] {
			t.Errorf("retry %d does not carry a COOKIE answered", i+1)
		}
	}
}

// TestClientInitRetransmitDuringEAP: once the IKE_AUTH request of a
// point-to-site client came, its IKE_SA_INIT request sent again, or its
// retry with a cookie arriving late, is ignored (RFC 7296 §2.1), through
// the several IKE_AUTH exchanges of EAP (RFC 7296 §2.16) and after: no
// IKE_SA_INIT response goes out again, no other IKE SA is made and EAP
// goes on to the client's address. Before, the request sent again was
// answered with the IKE_SA_INIT response during EAP.
func TestClientInitRetransmitDuringEAP(t *testing.T) {
	for _, tc := range []struct {
		name string
		// floated: the client is behind a NAT and moves to the NAT-T
		// port for IKE_AUTH (RFC 7296 §2.23); its IKE_SA_INIT requests
		// come from port 500 still.
		floated bool
	}{
		{name: "one endpoint"},
		{name: "moved to the NAT-T port", floated: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pki := newPKI(t)
			g := pki.gateway(t)
			roots := pki.roots()
			cl := newP2SClient(t, g, clientAt(1))
			from := cl.addr
			if tc.floated {
				cl.behind = netip.MustParseAddrPort("10.0.0.2:500")
			}
			cl.init()
			initReq := cl.initReq
			cl.cookie = []byte("a cookie asked for meanwhile")
			retry := cl.initRequest()
			cl.cookie = nil
			again := func() {
				t.Helper()
				g.m.HandlePacket(p2sGW, from, initReq)
				g.m.HandlePacket(p2sGW, from, retry)
			}
			if tc.floated {
				cl.addr = netip.AddrPortFrom(from.Addr(), DefaultNATTPort)
			}
			_, first := cl.beginEAP(pki.client)
			again()
			end, msk := cl.eapTLS(first, pki.client, roots)
			if end.Code != ppp.EAPSuccess {
				t.Fatalf("EAP ended with code %d", end.Code)
			}
			again()
			if addr := cpAddr(cl.macAuth(pki.client, msk)); addr != poolAddr(1) {
				t.Fatalf("the client got %v, want %v", addr, poolAddr(1))
			}
			again()
			cl.request(wire.Informational, nil) // the loop has seen what came before
			var inits int
			for _, d := range g.tr.to(from) {
				if h, _, err := wire.ParseHeader(d.data); err == nil && h.Exchange == wire.IKESAInit {
					inits++
				}
			}
			if inits != 1 {
				t.Errorf("%d IKE_SA_INIT responses, want the first alone", inits)
			}
			if n := g.clientConns(); n != 1 {
				t.Errorf("%d client connections, want 1", n)
			}
		})
	}
}
