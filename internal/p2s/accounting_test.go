package p2s

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/radius"
)

// TestRadiusAccounting: the session of a client its RADIUS server
// (FreeRADIUS) authenticated is reported to the server's accounting (RFC
// 2866), which keeps the records: a Start when it connects and a Stop
// when it ends, of the same Acct-Session-Id, with its user, address, the
// Access-Accept's Class, what it carried (its pings) and why it ended,
// and meanwhile an Interim-Update every Acct-Interim-Interval (1 s
// here, the shortest taken made so for the test); over SSTP with
// MS-CHAPv2 and with EAP, disconnected through the API, and over OpenVPN
// with its password, gone by itself.
func TestRadiusAccounting(t *testing.T) {
	const class = "dept-42"
	old := radius.MinInterim
	radius.MinInterim = time.Second
	t.Cleanup(func() { radius.MinInterim = old })
	cfg, fr := radiusFixtureReplying(t, []string{`Class = "` + class + `"`, "Acct-Interim-Interval = 1"})
	cfg.RadiusOnly, cfg.RadiusAccounting = true, true
	for name, eap := range map[string]bool{"SSTP MS-CHAPv2": false, "SSTP EAP": true} {
		t.Run(name, func(t *testing.T) {
			r := newRegion(t, cfg)
			before := len(fr.Accounting(t))
			c, h, err := r.dial(t, tls.Certificate{}, withPassword("alice", "correct horse battery staple"), func(c *ClientConfig) { c.EAP = eap })
			if err != nil {
				t.Fatal(err)
			}
			const pings = 3
			for range pings {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := h.Ping(ctx, r.web)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
			}
			// An Interim-Update comes with the pings counted.
			for deadline := time.Now().Add(5 * time.Second); !interimAfter(fr.Accounting(t)[before:], c.Addr().String(), pings); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no Interim-Update with %d packets in after 5 s, its Acct-Interim-Interval 1 s; records %v", pings, fr.Accounting(t)[before:])
				}
			}
			if !r.srv.Disconnect(ProtocolSSTP, c.Addr()) {
				t.Fatalf("no client at %v to disconnect", c.Addr())
			}
			start, stop := fr.Session(t, before, c.Addr().String())
			for _, rec := range []map[string]string{start, stop} {
				want := map[string]string{"User-Name": `"alice"`, "NAS-Identifier": `"hub-gw"`, "Framed-IP-Address": c.Addr().String(),
					"Class": "0x" + hex.EncodeToString([]byte(class)), "Acct-Authentic": "RADIUS", "Service-Type": "Framed-User"}
				for k, v := range want {
					if rec[k] != v {
						t.Errorf("%s %s = %q, want %q\nrecord %v", rec["Acct-Status-Type"], k, rec[k], v, rec)
					}
				}
			}
			if stop["Acct-Terminate-Cause"] != "Admin-Reset" {
				t.Errorf("Stop's Acct-Terminate-Cause = %q, want Admin-Reset (disconnected through the API)", stop["Acct-Terminate-Cause"])
			}
			// Its echo requests came in, their replies went out: each
			// at least an IP and an ICMP header.
			for _, k := range []string{"Acct-Input-Packets", "Acct-Output-Packets"} {
				if n, err := strconv.Atoi(stop[k]); err != nil || n < pings {
					t.Errorf("Stop's %s = %q, want at least %d (its pings)", k, stop[k], pings)
				}
			}
			for _, k := range []string{"Acct-Input-Octets", "Acct-Output-Octets"} {
				if n, err := strconv.Atoi(stop[k]); err != nil || n < pings*28 {
					t.Errorf("Stop's %s = %q, want at least %d (its pings)", k, stop[k], pings*28)
				}
			}
			if _, ok := stop["Acct-Session-Time"]; !ok {
				t.Errorf("Stop has no Acct-Session-Time: %v", stop)
			}
		})
	}
	t.Run("OpenVPN", func(t *testing.T) {
		cfg := cfg
		cfg.OpenVPN = true
		r := newRegion(t, cfg)
		before := len(fr.Accounting(t))
		cl := dialTestOVPN(t, r.srv.Addr())
		tc, err := cl.session(0, nil, "alice", "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		mustPush(t, tc, 10*time.Second, "once connected")
		addr := onlyOpenVPNSession(t, r.srv).addr
		cl.c.Close()
		start, stop := fr.Session(t, before, addr.String())
		if start["User-Name"] != `"alice"` || stop["Acct-Terminate-Cause"] != "User-Request" {
			t.Errorf("Start for %s, Stop for cause %s; want alice's, User-Request (the client left)", start["User-Name"], stop["Acct-Terminate-Cause"])
		}
	})
}

// interimAfter reports whether recs hold an Interim-Update of a session at
// addr that counts at least packets packets from the client.
func interimAfter(recs []map[string]string, addr string, packets int) bool {
	for _, rec := range recs {
		if n, err := strconv.Atoi(rec["Acct-Input-Packets"]); err == nil && n >= packets &&
			rec["Acct-Status-Type"] == "Interim-Update" && rec["Framed-IP-Address"] == addr {
			return true
		}
	}
	return false
}

// TestRadiusFramedIPAddress: a client whose RADIUS server (FreeRADIUS)
// gives it an address (Framed-IP-Address, RFC 2865 §5.8) gets that one,
// not the pool's lowest, and reaches the VNet from it. The same user
// connecting again over SSTP replaces its connection there; over
// OpenVPN, while the SSTP connection holds it, it is refused and told
// why; as is a user whose server gives an address outside the pool.
func TestRadiusFramedIPAddress(t *testing.T) {
	want := netip.MustParseAddr("172.16.201.77")
	cfg, _ := radiusFixtureReplying(t, []string{"Framed-IP-Address = " + want.String()})
	cfg.RadiusOnly, cfg.SSTP, cfg.OpenVPN = true, true, true
	r := newRegion(t, cfg)
	alice := withPassword("alice", "correct horse battery staple")
	first, h, err := r.dial(t, tls.Certificate{}, alice)
	if err != nil {
		t.Fatal(err)
	}
	if first.Addr() != want {
		t.Fatalf("the client got %v, want %v, its RADIUS server's", first.Addr(), want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.Ping(ctx, r.web); err != nil {
		t.Fatal(err)
	}
	second, _, err := r.dial(t, tls.Certificate{}, alice)
	if err != nil || second.Addr() != want {
		t.Fatalf("alice connecting again: %v, %v; want %v", second, err, want)
	}
	select {
	case <-first.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the connection alice's new one replaced goes on")
	}
	refused := func(srv netip.AddrPort, why string) {
		t.Helper()
		cl := dialTestOVPN(t, srv)
		tc, err := cl.session(0, nil, "alice", "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var b [2048]byte
		if n, _ := tc.Read(b[:]); !strings.HasPrefix(string(b[:n]), "AUTH_FAILED") || !strings.Contains(string(b[:n]), why) {
			t.Errorf("an OpenVPN client was told %q, want AUTH_FAILED: …%s", b[:n], why)
		}
	}
	refused(r.srv.Addr(), "is another connection's")

	secret := []byte("s3cret")
	rad := fakeRadiusAnswering(t, secret, 0, func() (byte, []radius.Attr) {
		return radius.CodeAccessAccept, []radius.Attr{{Type: radius.AttrFramedIPAddress, Value: []byte{10, 9, 9, 9}}}
	})
	other := ovpnRadiusRegion(t, rad, secret)
	refused(other.srv.Addr(), "is not one the client address pool 172.16.201.0/24 gives out")
}

// TestOpenVPNRenegotiationRenewsAccounting: an OpenVPN client that
// renegotiates with its password goes on in its session, whose
// accounting carries from then on the Class of the renegotiation's
// Access-Accept (RFC 2865 §5.25): FreeRADIUS, which gives each
// Access-Accept a Class of its own, gets one Start and one Stop, the
// Start with the first Class, the Stop with the second.
func TestOpenVPNRenegotiationRenewsAccounting(t *testing.T) {
	const password = "correct horse battery staple"
	cfg, fr := radiusFixtureReplying(t, []string{`Class = "dept-%{randstr:aaaaaaaaaaaaaaaa}"`})
	cfg.RadiusOnly, cfg.RadiusAccounting, cfg.OpenVPN = true, true, true
	r := newRegion(t, cfg)
	before := len(fr.Accounting(t))
	cl := connectOVPN(t, r.srv.Addr(), "alice", password)
	o := onlyOpenVPNSession(t, r.srv)
	renegotiate(t, cl, o, "alice", password)
	cl.c.Close()
	start, stop := fr.Session(t, before, o.addr.String())
	prefix := "0x" + hex.EncodeToString([]byte("dept-"))
	if !strings.HasPrefix(start["Class"], prefix) || !strings.HasPrefix(stop["Class"], prefix) || start["Class"] == stop["Class"] {
		t.Errorf("Start's Class %s, Stop's %s; want the first Access-Accept's and the renegotiation's, which differ", start["Class"], stop["Class"])
	}
	if start["Acct-Session-Id"] == "" || start["Acct-Session-Id"] != stop["Acct-Session-Id"] {
		t.Errorf("Start's Acct-Session-Id %s, Stop's %s; want one session", start["Acct-Session-Id"], stop["Acct-Session-Id"])
	}
	var starts int
	for _, rec := range fr.Accounting(t)[before:] {
		if rec["Acct-Status-Type"] == "Start" {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("%d Starts, want 1: the renegotiation goes on in the session", starts)
	}
}

// TestOpenVPNRenegotiationRenewsInterim: the Acct-Interim-Interval of an
// OpenVPN client's renegotiation's Access-Accept is its session's from
// then on: Interim-Updates begin when the first Access-Accept had none,
// and end when the renegotiation's has none.
func TestOpenVPNRenegotiationRenewsInterim(t *testing.T) {
	old := radius.MinInterim
	radius.MinInterim = time.Second
	t.Cleanup(func() { radius.MinInterim = old })
	secret := []byte("s3cret")
	every := radius.Attr{Type: radius.AttrAcctInterimInterval, Value: binary.BigEndian.AppendUint32(nil, 1)}
	// interims counts the Interim-Updates of got's requests.
	interims := func(got func() []radius.Packet) (n int) {
		for _, p := range got() {
			if v, _ := p.Find(radius.AttrAcctStatusType); len(v) == 4 && binary.BigEndian.Uint32(v) == 3 {
				n++
			}
		}
		return n
	}
	// connect connects a client whose first Access-Accept has first and
	// its renegotiation's then, and renegotiates once the first has had
	// 1.5 s; it returns the accounting's requests.
	connect := func(t *testing.T, first, then []radius.Attr) (got func() []radius.Packet, before int) {
		var asked atomic.Int32
		rad, got := fakeRadiusAccounting(t, secret, func() (byte, []radius.Attr) {
			if asked.Add(1) == 1 {
				return radius.CodeAccessAccept, first
			}
			return radius.CodeAccessAccept, then
		})
		r := newRegion(t, Config{OpenVPN: true, Radius: []radius.Server{{Addr: rad, Secret: secret}}, RadiusOnly: true, RadiusAccounting: true})
		cl := connectOVPN(t, r.srv.Addr(), "bob", "pw")
		time.Sleep(1500 * time.Millisecond)
		before = interims(got)
		renegotiate(t, cl, onlyOpenVPNSession(t, r.srv), "bob", "pw")
		return got, before
	}
	t.Run("asked for meanwhile", func(t *testing.T) {
		got, before := connect(t, nil, []radius.Attr{every})
		if before != 0 {
			t.Fatalf("%d Interim-Updates before the renegotiation, whose first Access-Accept asked for none", before)
		}
		for deadline := time.Now().Add(5 * time.Second); interims(got) == 0; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no Interim-Update 5 s after a renegotiation whose Access-Accept asks for one a second")
			}
		}
	})
	t.Run("no longer asked for", func(t *testing.T) {
		got, before := connect(t, []radius.Attr{every}, nil)
		if before == 0 {
			t.Fatal("no Interim-Update 1.5 s into a session whose Access-Accept asks for one a second")
		}
		time.Sleep(200 * time.Millisecond) // one sent as the renegotiation was answered
		n := interims(got)
		time.Sleep(2500 * time.Millisecond)
		if m := interims(got); m != n {
			t.Errorf("%d Interim-Updates after a renegotiation whose Access-Accept asks for none", m-n)
		}
	})
}
