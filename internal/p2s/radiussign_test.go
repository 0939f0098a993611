package p2s

import (
	"crypto/hmac"
	"crypto/md5"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/radius"
)

// signingRadius is a RADIUS server on loopback that accepts every
// request, with a Message-Authenticator in its answer while sign holds.
func signingRadius(t *testing.T, secret []byte, sign *atomic.Bool) netip.AddrPort {
	pc, err := net.ListenPacket("udp", "127.133.0.6:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, radius.MaxPacket)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req, err := radius.Parse(buf[:n])
			if err != nil {
				continue
			}
			ans := radius.Packet{Code: radius.CodeAccessAccept, ID: req.ID, Authenticator: req.Authenticator}
			if sign.Load() {
				ans.Attrs = []radius.Attr{{Type: radius.AttrMessageAuthenticator, Value: make([]byte, 16)}}
			}
			b, _ := ans.Append(nil)
			if sign.Load() {
				// RFC 3579 §3.2, then RFC 2865 §3's Response
				// Authenticator over it.
				m := hmac.New(md5.New, secret)
				m.Write(b)
				copy(b[radius.HeaderLen+2:], m.Sum(nil))
			}
			h := md5.Sum(append(append([]byte(nil), b...), secret...))
			copy(b[4:radius.HeaderLen], h[:])
			pc.WriteTo(b, from)
		}
	}()
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// TestRadiusSignersPerGateway: two gateways asking the same RADIUS
// server, each with its own NAS-Identifier: once the server signed an
// answer to one, that one refuses its unsigned answers as forged
// (BlastRADIUS), the other still takes them, and the first does too once
// its servers change (Update).
func TestRadiusSignersPerGateway(t *testing.T) {
	oldTries, oldTimeout, oldWait := radius.Tries, radius.Timeout, radius.Wait
	radius.Tries, radius.Timeout, radius.Wait = 1, time.Second, 2*time.Second
	t.Cleanup(func() { radius.Tries, radius.Timeout, radius.Wait = oldTries, oldTimeout, oldWait })
	secret := []byte("s3cret")
	var sign atomic.Bool
	servers := []radius.Server{{Addr: signingRadius(t, secret, &sign), Secret: secret}}
	a := newRegion(t, Config{OpenVPN: true, Radius: servers, RadiusOnly: true, NASIdentifier: "gw-a"})
	b := newRegion(t, Config{OpenVPN: true, Radius: servers, RadiusOnly: true, NASIdentifier: "gw-b"})
	connects := func(r *region) bool {
		t.Helper()
		tc, err := dialTestOVPN(t, r.srv.Addr()).session(0, nil, "bob", "pw")
		if err != nil {
			t.Fatal(err)
		}
		got, err := push(tc, 20*time.Second)
		return err == nil && strings.HasPrefix(got, "PUSH_REPLY,")
	}
	sign.Store(true)
	if !connects(a) {
		t.Fatal("gateway A, the server signing: not connected")
	}
	sign.Store(false)
	if connects(a) {
		t.Error("gateway A took an unsigned Accept from the server that signed for it")
	}
	if !connects(b) {
		t.Error("gateway B refused the unsigned Accept of a server that signed for gateway A alone")
	}
	other := radius.Server{Addr: netip.MustParseAddrPort("127.133.0.7:1812"), Secret: secret}
	st := a.srv.settings().Settings
	st.Radius = append(servers[:1:1], other)
	if !a.srv.Update(st) {
		t.Fatal("the servers' change not applied")
	}
	if !connects(a) {
		t.Error("gateway A, its servers changed, refused the unsigned Accept")
	}
}
