package ikev2

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
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
// and began again with a new SPI.
func TestInitRetryUnderCookiePressure(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		// block holds the responder's loop until the initiator has sent
		// a retry with a cookie: its retransmission reached the Manager
		// while the first request waited for the loop, and was asked for
		// a cookie.
		block bool
		// dropAll: every response of the first half-open SA is lost, not
		// only the first copy.
		dropAll bool
		cookies bool // a COOKIE is sent on the way
	}{
		// The half-open SA of the first request is what makes the
		// responder ask for cookies (CookieThreshold 1).
		{name: "2.1 retransmission answered again", cfg: Config{CookieThreshold: 1}},
		// MaxHalfOpen 2: the peer's second request in the loop's queue
		// asks for a cookie. An initiator that took the first SA's
		// response after sending its retry would be out of step with the
		// responder, which replaced that SA: it is lost here.
		{name: "2.6 retry with a cookie replaces the half-open SA", cfg: Config{MaxHalfOpen: 2}, block: true, dropAll: true, cookies: true},
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
				if h.SPIr == firstSPIr && (tc.dropAll || dropped == 0) {
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
