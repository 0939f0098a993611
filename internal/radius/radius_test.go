package radius

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/mschap"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestFreeRADIUS: FreeRADIUS (Debian's) accepts alice with her password
// and rejects a wrong one; a server with another shared secret is not
// believed (its answers do not check out), and an unreachable first
// server (its port refusing) is passed over for the next once its tries
// are out, a socket that closes is dialled again. NAS-IP-Address is the address the requests come from.
func TestFreeRADIUS(t *testing.T) {
	netnstest.RequireFreeRADIUS(t)
	srvNS, nas := netnstest.New(t, "rad"), netnstest.New(t, "nas")
	netnstest.Link(t, srvNS, "192.0.2.1/24", nas, "192.0.2.2/24")
	fr := netnstest.StartFreeRADIUS(t, srvNS, "s3cr3tshared", map[string]string{"alice": "correct horse battery staple"})
	server := Server{Addr: netip.MustParseAddrPort("192.0.2.1:1812"), Secret: []byte("s3cr3tshared")}
	shortTries(t, 2, time.Second, 6*time.Second)
	ask := func(servers []Server, user, password string) (Answer, error) {
		var a Answer
		err := nas.Do(func() (err error) {
			a, err = Authenticate(context.Background(), servers, Request{User: user, Password: password, CallingStation: "198.51.100.7", NASIdentifier: "hub-gw"})
			return err
		})
		return a, err
	}
	if a, err := ask([]Server{server}, "alice", "correct horse battery staple"); err != nil || !a.Accept {
		t.Fatalf("alice with her password: %+v, %v\n%s", a, err, fr.Output())
	}
	if a, err := ask([]Server{server}, "alice", "wrong"); err != nil || a.Accept {
		t.Errorf("alice with a wrong password: %+v, %v", a, err)
	}
	if a, err := ask([]Server{{Addr: server.Addr, Secret: []byte("another secret")}}, "alice", "correct horse battery staple"); err == nil || a.Accept {
		t.Errorf("a server with another shared secret was believed: %+v, %v", a, err)
	} else if !strings.Contains(err.Error(), "shared secret") {
		t.Errorf("a server with another shared secret (which drops the requests) shows as %q, not naming the secret", err)
	}
	gone := Server{Addr: netip.MustParseAddrPort("192.0.2.1:1999"), Secret: []byte("s3cr3tshared")}
	if a, err := ask([]Server{gone, server}, "alice", "correct horse battery staple"); err != nil || !a.Accept {
		t.Errorf("with the first server gone: %+v, %v", a, err)
	}
	// A socket that goes (the gateway's endpoint replaced) is dialled
	// again.
	dials := 0
	closedFirst := func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, address)
		if dials++; dials == 1 && err == nil {
			c.Close()
		}
		return c, err
	}
	if err := nas.Do(func() error {
		a, err := Authenticate(context.Background(), []Server{server}, Request{User: "alice", Password: "correct horse battery staple", Dial: closedFirst})
		if err == nil && !a.Accept {
			err = errors.New("rejected")
		}
		return err
	}); err != nil || dials != 2 {
		t.Errorf("with the first socket closed: %v after %d dials", err, dials)
	}
	if !strings.Contains(fr.Output(), "198.51.100.7") {
		t.Errorf("FreeRADIUS did not see the Calling-Station-Id")
	}
	if !strings.Contains(fr.Output(), "NAS-IP-Address = 192.0.2.2") {
		t.Errorf("FreeRADIUS was not told the address the requests come from (NAS-IP-Address)")
	}
}

// TestFreeRADIUSMSCHAPv2: FreeRADIUS checks alice's MS-CHAP-V2 response
// (RFC 2548) and answers with the authenticator response and the MPPE
// keys that the client computes itself (RFC 2759, RFC 3079): the server's
// receive key is the client's send key. A wrong password gets an
// Access-Reject with error 691.
func TestFreeRADIUSMSCHAPv2(t *testing.T) {
	netnstest.RequireFreeRADIUS(t)
	srvNS, nas := netnstest.New(t, "rad"), netnstest.New(t, "nas")
	netnstest.Link(t, srvNS, "192.0.2.1/24", nas, "192.0.2.2/24")
	fr := netnstest.StartFreeRADIUS(t, srvNS, "s3cr3tshared", map[string]string{"alice": "correct horse battery staple"})
	server := Server{Addr: netip.MustParseAddrPort("192.0.2.1:1812"), Secret: []byte("s3cr3tshared")}
	// The NAS in its namespace, through Dial: the test's goroutines run
	// in the host's.
	dial := func(ctx context.Context, network, address string) (c net.Conn, err error) {
		err = nas.Do(func() (err error) {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, address)
			return err
		})
		return c, err
	}
	ask := func(password string) (MSCHAPv2, [24]byte, MSCHAPv2Answer, error) {
		m := MSCHAPv2{Ident: 7, Challenge: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, PeerChallenge: [16]byte{42, 43}}
		m.NTResponse = mschap.NTResponse(m.Challenge, m.PeerChallenge, "alice", password)
		a, err := AuthenticateMSCHAPv2(context.Background(), []Server{server}, Request{User: "alice", NASIdentifier: "hub-gw", Dial: dial}, m)
		return m, m.NTResponse, a, err
	}
	m, nt, a, err := ask("correct horse battery staple")
	if err != nil || !a.Accept {
		t.Fatalf("alice with her password: %+v, %v\n%s", a, err, fr.Output())
	}
	if want := mschap.AuthenticatorResponse("correct horse battery staple", nt, m.PeerChallenge, m.Challenge, "alice"); !mschap.CheckSuccess(a.Success, want) {
		t.Errorf("the server's authenticator response %q, the client expects %q", a.Success, want)
	}
	send, recv := mschap.ClientKeys("correct horse battery staple", nt)
	if !bytes.Equal(a.Recv, send[:]) || !bytes.Equal(a.Send, recv[:]) {
		t.Errorf("MPPE keys: the server's receive %x and send %x, the client's send %x and receive %x", a.Recv, a.Send, send, recv)
	}
	_, _, a, err = ask("wrong")
	if err != nil || a.Accept || !strings.HasPrefix(a.Error, "E=691") {
		t.Errorf("alice with a wrong password: %+v, %v", a, err)
	}
}

// TestHidePassword: the hidden password is a multiple of 16 bytes, at
// least 16; unhiding it (the same XOR chain) gives it back; over 128
// bytes is refused.
// TestServerNotLogged: a RADIUS server logged (alone or in a list) shows
// its address, never its shared secret.
func TestServerNotLogged(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	s := Server{Addr: netip.MustParseAddrPort("10.1.0.9:1812"), Secret: []byte("hunter2-shared")}
	log.Info("asking", "server", s, "servers", []Server{s})
	log.Info("asking", "server", &s)
	fmt.Fprintf(&b, "%v %+v\n", s, []Server{s})
	secret := fmt.Sprint(s.Secret[:4]) // as fmt prints bytes
	if out := b.String(); strings.Contains(out, "hunter2") || strings.Contains(out, secret[:len(secret)-1]) || !strings.Contains(out, "10.1.0.9:1812") {
		t.Fatalf("log:\n%s", out)
	}
}

func TestHidePassword(t *testing.T) {
	auth := [16]byte{1, 2, 3}
	secret := []byte("xyzzy5461")
	for _, pw := range []string{"", "arctangent", strings.Repeat("p", 16), strings.Repeat("q", 17), strings.Repeat("r", 128)} {
		h, err := HidePassword([]byte(pw), secret, auth)
		if err != nil || len(h)%16 != 0 || len(h) < 16 {
			t.Fatalf("%q: %d bytes, %v", pw, len(h), err)
		}
		// Unhide: the same chain over the hidden blocks.
		plain := make([]byte, len(h))
		prev := auth[:]
		for i := 0; i < len(h); i += 16 {
			x, _ := HidePassword(nil, secret, [16]byte(prev))
			for j := range 16 {
				plain[i+j] = h[i+j] ^ x[j]
			}
			prev = h[i : i+16]
		}
		if got := string(bytes.TrimRight(plain, "\x00")); got != pw {
			t.Errorf("%q came back as %q", pw, got)
		}
	}
	if _, err := HidePassword(make([]byte, 129), secret, auth); err == nil {
		t.Error("a password of 129 bytes was hidden")
	}
}

// TestParse: lengths are checked; octets past Length are padding.
func TestParse(t *testing.T) {
	p := Packet{Code: CodeAccessAccept, ID: 7, Attrs: []Attr{{AttrReplyMessage, []byte("hello")}}}
	b, err := p.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(append(b, 0, 0, 0))
	if err != nil || got.Code != CodeAccessAccept || got.ID != 7 || len(got.Attrs) != 1 || string(got.Attrs[0].Value) != "hello" {
		t.Fatalf("%+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"short":               b[:10],
		"length past the end": append(append([]byte(nil), b[:2]...), append([]byte{0, 200}, b[4:]...)...),
		"attribute past":      append(append([]byte(nil), b[:len(b)-5]...), 0),
		"attribute length 1":  append(append([]byte{2, 7, 0, 22}, make([]byte, 16)...), 18, 1),
	} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestNASAddress: a request says where it comes from: NAS-IP-Address
// from an IPv4 socket, NAS-IPv6-Address (RFC 3162) from an IPv6 one.
func TestNASAddress(t *testing.T) {
	shortTries(t, 1, 100*time.Millisecond, 100*time.Millisecond)
	for _, local := range []string{"127.0.0.1", "::1"} {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(local, "0"))
		if err != nil {
			t.Skipf("no %s here: %v", local, err)
		}
		defer pc.Close()
		got := make(chan Packet, 1)
		go func() {
			buf := make([]byte, MaxPacket)
			if n, _, err := pc.ReadFrom(buf); err == nil {
				p, _ := Parse(buf[:n])
				got <- p
			}
		}()
		Authenticate(context.Background(), []Server{{Addr: netip.MustParseAddrPort(pc.LocalAddr().String()), Secret: []byte("s")}}, Request{User: "alice", Password: "pw"})
		p := <-got
		v4, ok4 := p.Find(AttrNASIPAddress)
		v6, ok6 := p.Find(AttrNASIPv6Address)
		a := netip.MustParseAddr(local)
		if a.Is4() && (!ok4 || netip.AddrFrom4([4]byte(v4)) != a || ok6) || a.Is6() && (!ok6 || netip.AddrFrom16([16]byte(v6)) != a || ok4) {
			t.Errorf("from %s: NAS-IP-Address %v, NAS-IPv6-Address %v", local, v4, v6)
		}
	}
}

// TestNASAddressAfterRedial: a request sent again on a new socket, after
// the first failed (it closed), names the new socket's address.
func TestNASAddressAfterRedial(t *testing.T) {
	shortTries(t, 2, 300*time.Millisecond, time.Second)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := make(chan Packet, 1)
	go func() {
		buf := make([]byte, MaxPacket)
		if n, _, err := pc.ReadFrom(buf); err == nil {
			p, _ := Parse(buf[:n])
			got <- p
		}
	}()
	// The first socket closes: sending on it fails.
	dials := 0
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		dials++
		from := "127.0.0.3"
		if dials > 1 {
			from = "127.0.0.4"
		}
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}
		c, err := d.DialContext(ctx, network, address)
		if err == nil && dials == 1 {
			c.Close()
		}
		return c, err
	}
	Authenticate(context.Background(), []Server{{Addr: netip.MustParseAddrPort(pc.LocalAddr().String()), Secret: []byte("s")}}, Request{User: "alice", Password: "pw", Dial: dial})
	select {
	case p := <-got:
		if v, ok := p.Find(AttrNASIPAddress); !ok || netip.AddrFrom4([4]byte(v)) != netip.MustParseAddr("127.0.0.4") {
			t.Errorf("after %d dials NAS-IP-Address %v, want 127.0.0.4", dials, v)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("no request after %d dials", dials)
	}
}

// acceptAll is a RADIUS server on loopback that accepts every request,
// with a Message-Authenticator in its answer while sign says so.
func acceptAll(t *testing.T, secret []byte, sign *atomic.Bool) netip.AddrPort {
	return acceptAfter(t, secret, sign, 0)
}

// acceptAfter is acceptAll answering each request delay after it came (a
// second factor), or never when delay is negative (a server that is
// down, its host silent).
func acceptAfter(t *testing.T, secret []byte, sign *atomic.Bool, delay time.Duration) netip.AddrPort {
	return serve(t, "127.0.0.1", func(req Packet) []byte {
		if delay < 0 {
			return nil
		}
		time.Sleep(delay)
		ans := Packet{Code: CodeAccessAccept, ID: req.ID}
		if sign.Load() {
			ans.Attrs = []Attr{{AttrMessageAuthenticator, make([]byte, 16)}}
		}
		b, _ := ans.Append(nil)
		if sign.Load() {
			mac, _ := messageAuthenticator(b, req.Authenticator, secret)
			copy(b[HeaderLen+2:], mac)
		}
		h := md5.New()
		h.Write(b[:4])
		h.Write(req.Authenticator[:])
		h.Write(b[HeaderLen:])
		h.Write(secret)
		copy(b[4:HeaderLen], h.Sum(nil))
		return b
	})
}

// TestSilentServerPassedOver: a server that answers none of its tries
// (its host down) is passed over for the next once they are out, not
// after the whole wait (a second factor's), which the client's
// authentication does not outlast: OpenVPN's hand-window is as long. A
// late answer of the first server is still taken meanwhile.
func TestSilentServerPassedOver(t *testing.T) {
	shortTries(t, 2, 300*time.Millisecond, 20*time.Second)
	secret := []byte("s3cret")
	var unsigned atomic.Bool
	silent := Server{Addr: acceptAfter(t, secret, &unsigned, -1), Secret: secret}
	up := Server{Addr: acceptAll(t, secret, &unsigned), Secret: secret}
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if a, err := Authenticate(ctx, []Server{silent, up}, Request{User: "alice", Password: "pw"}); err != nil || !a.Accept {
		t.Fatalf("the first server silent, the second up, asked for as long as a server is waited for: %+v, %v", a, err)
	}
	late := Server{Addr: acceptAfter(t, secret, &unsigned, 2*time.Second), Secret: secret}
	if a, err := Authenticate(context.Background(), []Server{late, silent}, Request{User: "alice", Password: "pw"}); err != nil || !a.Accept {
		t.Fatalf("the first server answering after its tries, the second silent: %+v, %v", a, err)
	}
}

// TestSignedOnceSignedAlways: an answer without a Message-Authenticator
// is believed from a server that never sent one (FreeRADIUS before
// 3.2.5), but not from one that did: it is refused as forged
// (BlastRADIUS).
func TestSignedOnceSignedAlways(t *testing.T) {
	shortTries(t, 1, 300*time.Millisecond, 300*time.Millisecond)
	secret := []byte("s3cret")
	var sign atomic.Bool
	srv := []Server{{Addr: acceptAll(t, secret, &sign), Secret: secret}}
	var signers Signers
	ask := func() (Answer, error) {
		return Authenticate(context.Background(), srv, Request{User: "alice", Password: "pw", Signers: &signers})
	}
	if a, err := ask(); err != nil || !a.Accept {
		t.Fatalf("a server that does not sign: %+v %v", a, err)
	}
	// Answers that must be signed (EAP's, RFC 3579) say nothing of the
	// others: FreeRADIUS 3.2.1 signs those alone.
	sign.Store(true)
	eapAttrs := func([authenticator]byte, []byte) ([]Attr, error) { return []Attr{{AttrUserName, []byte("alice")}}, nil }
	if _, err := roundTrip(context.Background(), srv[0], (&net.Dialer{}).DialContext, query{attrs: eapAttrs, needMA: true, signers: &signers}); err != nil {
		t.Fatal(err)
	}
	sign.Store(false)
	if a, err := ask(); err != nil || !a.Accept {
		t.Fatalf("unsigned after a signed answer that had to be: %+v %v", a, err)
	}
	sign.Store(true)
	if a, err := ask(); err != nil || !a.Accept {
		t.Fatalf("signed: %+v %v", a, err)
	}
	sign.Store(false)
	if a, err := ask(); err == nil && a.Accept {
		t.Error("an unsigned Accept taken from a server that signed before")
	}
}

// TestSignersPerGateway: that a server signs its answers (BlastRADIUS)
// is known by the gateway that heard it: another gateway asking the same
// server still takes its unsigned answers, as the first gateway does once its servers
// change (new Signers); the first gateway, unchanged, refuses them.
func TestSignersPerGateway(t *testing.T) {
	shortTries(t, 1, 300*time.Millisecond, 300*time.Millisecond)
	secret := []byte("s3cret")
	var sign atomic.Bool
	addr := acceptAll(t, secret, &sign)
	a, b := new(Signers), new(Signers)
	ask := func(signers *Signers) bool {
		ans, err := Authenticate(context.Background(), []Server{{Addr: addr, Secret: secret}}, Request{User: "alice", Password: "pw", Signers: signers})
		return err == nil && ans.Accept
	}
	sign.Store(true)
	if !ask(a) {
		t.Fatal("a signed Accept refused")
	}
	sign.Store(false)
	if ask(a) {
		t.Error("gateway A took an unsigned Accept from the server that signed for it")
	}
	if !ask(b) {
		t.Error("gateway B refused the unsigned Accept of a server it never heard sign (gateway A had)")
	}
	if !ask(new(Signers)) {
		t.Error("gateway A, its servers changed, refused an unsigned Accept")
	}
}

// shortTries sets the tries at a server (Tries, Timeout, Wait) for the
// test, as they were after it.
func shortTries(t *testing.T, tries int, timeout, wait time.Duration) {
	oldTries, oldTimeout, oldWait := Tries, Timeout, Wait
	Tries, Timeout, Wait = tries, timeout, wait
	t.Cleanup(func() { Tries, Timeout, Wait = oldTries, oldTimeout, oldWait })
}

// TestForgedAnswersDropped: an answer that is not the server's to this
// request is dropped and counted, and the request waits on for the
// server's own (RFC 2865 §3: the Identifier matches, the Response
// Authenticator checks out, else the answer is silently discarded; RFC
// 3579 §3.2: EAP's answers carry a Message-Authenticator): an Accept
// with the Identifier of another request (a late or duplicate answer),
// an Accept whose Response Authenticator is wrong (another secret), an
// unsigned Accept to EAP. The server's own answer, a Reject, comes after.
func TestForgedAnswersDropped(t *testing.T) {
	secret := []byte("s3cret")
	for _, tc := range []struct {
		name         string
		eap          bool
		forge        func(req Packet) []byte
		wrongID, bad uint64
	}{
		{"another identifier", false, func(req Packet) []byte {
			return answer(CodeAccessAccept, req.ID+1, req.Authenticator, secret, false)
		}, 1, 0},
		{"another secret", false, func(req Packet) []byte {
			return answer(CodeAccessAccept, req.ID, req.Authenticator, []byte("guess"), false)
		}, 0, 1},
		{"unsigned to EAP", true, func(req Packet) []byte {
			return answer(CodeAccessAccept, req.ID, req.Authenticator, secret, false)
		}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			go func() {
				buf := make([]byte, MaxPacket)
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				req, err := Parse(buf[:n])
				if err != nil {
					return
				}
				pc.WriteTo(tc.forge(req), from)
				pc.WriteTo(answer(CodeAccessReject, req.ID, req.Authenticator, secret, true), from)
			}()
			s := Server{Addr: netip.MustParseAddrPort(pc.LocalAddr().String()), Secret: secret}
			id0, bad0 := Drops()
			attrs := func([authenticator]byte, []byte) ([]Attr, error) { return []Attr{{AttrUserName, []byte("alice")}}, nil }
			resp, err := roundTrip(context.Background(), s, (&net.Dialer{}).DialContext, query{attrs: attrs, needMA: tc.eap})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Code != CodeAccessReject {
				t.Errorf("answer %d taken, want the server's Reject", resp.Code)
			}
			if id, bad := Drops(); id-id0 < tc.wrongID || bad-bad0 < tc.bad {
				t.Errorf("dropped answers counted: %d of another identifier, %d unverified; want %d, %d", id-id0, bad-bad0, tc.wrongID, tc.bad)
			}
		})
	}
}

// TestAnotherSecretNamed: a server whose secret is not the gateway's
// and answers anyway (one that does not check the requests'
// Message-Authenticator) has its answers dropped, and the error of the
// request that ends unanswered says why: its Response Authenticator does
// not check out. It said no answer came, as if the server were down.
func TestAnotherSecretNamed(t *testing.T) {
	shortTries(t, 2, 200*time.Millisecond, time.Second)
	addr := serve(t, "127.0.0.1", func(req Packet) []byte {
		return answer(CodeAccessReject, req.ID, req.Authenticator, []byte("the server's"), true)
	})
	s := Server{Addr: addr, Secret: []byte("the gateway's")}
	_, bad0 := Drops()
	a, err := Authenticate(context.Background(), []Server{s}, Request{User: "alice", Password: "pw"})
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("with another secret: %+v, %v; want no verdict", a, err)
	}
	if !strings.Contains(err.Error(), "Response Authenticator does not check out") || !strings.Contains(err.Error(), "shared secret") {
		t.Errorf("the error does not say the answers came with another secret: %v", err)
	}
	if _, bad := Drops(); bad-bad0 < 2 {
		t.Errorf("%d answers counted as dropped; want one for each of 2 tries", bad-bad0)
	}
}

// answer is an answer with code and id to a request of auth, its
// Response Authenticator made with secret, signed if sign.
func answer(code, id byte, auth [authenticator]byte, secret []byte, sign bool) []byte {
	return answerWith(code, id, auth, secret, sign, nil)
}

// answerWith is answer holding attrs too.
func answerWith(code, id byte, auth [authenticator]byte, secret []byte, sign bool, attrs []Attr) []byte {
	ans := Packet{Code: code, ID: id}
	if sign {
		ans.Attrs = []Attr{{AttrMessageAuthenticator, make([]byte, 16)}}
	}
	ans.Attrs = append(ans.Attrs, attrs...)
	b, _ := ans.Append(nil)
	if sign {
		mac, _ := messageAuthenticator(b, auth, secret)
		copy(b[HeaderLen+2:], mac)
	}
	h := md5.New()
	h.Write(b[:4])
	h.Write(auth[:])
	h.Write(b[HeaderLen:])
	h.Write(secret)
	copy(b[4:HeaderLen], h.Sum(nil))
	return b
}

// TestEmptySecretNotAsked: a server without a shared secret is not asked
// (RFC 2865 §3: the secret MUST NOT be empty), since anyone can make its
// answers: one such server alone is no answer, naming it, and the next
// server is asked in its place.
func TestEmptySecretNotAsked(t *testing.T) {
	shortTries(t, 2, 5*time.Second, 20*time.Second)
	var unsigned atomic.Bool
	forger := Server{Addr: acceptAll(t, nil, &unsigned)} // its answers made with the empty secret
	a, err := Authenticate(context.Background(), []Server{forger}, Request{User: "alice", Password: "pw"})
	if !errors.Is(err, ErrNoAnswer) || a.Accept || !strings.Contains(err.Error(), forger.Addr.String()) || !strings.Contains(err.Error(), "no shared secret") {
		t.Fatalf("a server without a secret: %+v, %v", a, err)
	}
	secret := []byte("s3cret")
	up := Server{Addr: acceptAll(t, secret, &unsigned), Secret: secret}
	if a, err := Authenticate(context.Background(), []Server{forger, up}, Request{User: "alice", Password: "pw"}); err != nil || !a.Accept {
		t.Fatalf("the next server: %+v, %v", a, err)
	}
}

// TestRequestTooLongIsNoSilence: an EAP response too long for an
// Access-Request (RFC 2865 §3: 4,096 bytes) is an error of the request,
// saying why, not the servers' silence (ErrNoAnswer, which the carriers
// answer by telling the client nothing, for it to try again).
func TestRequestTooLongIsNoSilence(t *testing.T) {
	shortTries(t, 1, 5*time.Second, 20*time.Second)
	secret := []byte("s3cret")
	var unsigned atomic.Bool
	servers := []Server{{Addr: acceptAll(t, secret, &unsigned), Secret: secret}, {Addr: acceptAll(t, secret, &unsigned), Secret: secret}}
	eap := append([]byte{2, 5, 0x13, 0x88, 13}, make([]byte, 4995)...) // an EAP-TLS response of 5,000 bytes
	_, err := NewEAP(servers, Request{User: "alice"}).Exchange(context.Background(), eap)
	if err == nil || errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), "at most 4096") {
		t.Fatalf("an EAP response of 5000 bytes: %v", err)
	}
}

// goneAfterRead is a socket that fails at its first read once got is
// closed (the gateway's endpoint replaced while a request waits).
type goneAfterRead struct {
	net.Conn
	got <-chan struct{}
}

func (c goneAfterRead) Read(b []byte) (int, error) {
	<-c.got
	return 0, errors.New("the socket went")
}

// TestRedialNewIdentifier: a request sent again on a new socket, from
// another address (its NAS-IP-Address changed), has a new Identifier and
// Request Authenticator (RFC 5080 §2.2.1: the Identifier changes with the
// attributes), and the answer to it is taken.
func TestRedialNewIdentifier(t *testing.T) {
	shortTries(t, 2, 10*time.Second, 30*time.Second)
	secret := []byte("s3cret")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got, reqs := make(chan struct{}), make(chan Packet, 4)
	go func() {
		buf := make([]byte, MaxPacket)
		for n := 0; ; n++ {
			m, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			p, err := Parse(bytes.Clone(buf[:m]))
			if err != nil {
				continue
			}
			reqs <- p
			if n == 0 {
				close(got) // the first socket fails now
				continue
			}
			pc.WriteTo(answer(CodeAccessAccept, p.ID, p.Authenticator, secret, true), from)
		}
	}()
	dials := 0
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		dials++
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(fmt.Sprintf("127.130.0.%d", dials))}}
		c, err := d.DialContext(ctx, network, address)
		if err != nil || dials > 1 {
			return c, err
		}
		return goneAfterRead{c, got}, nil
	}
	s := Server{Addr: netip.MustParseAddrPort(pc.LocalAddr().String()), Secret: secret}
	a, err := Authenticate(context.Background(), []Server{s}, Request{User: "alice", Password: "pw", Dial: dial})
	if err != nil || !a.Accept {
		t.Fatalf("after %d dials: %+v, %v", dials, a, err)
	}
	first, again := <-reqs, <-reqs
	for _, r := range []struct {
		p    Packet
		want string
	}{{first, "127.130.0.1"}, {again, "127.130.0.2"}} {
		if v, ok := r.p.Find(AttrNASIPAddress); !ok || netip.AddrFrom4([4]byte(v)).String() != r.want {
			t.Fatalf("NAS-IP-Address %v, want %s", v, r.want)
		}
	}
	if first.ID == again.ID || first.Authenticator == again.Authenticator {
		t.Errorf("sent again from another address with Identifier %d and Request Authenticator %x, as before", again.ID, again.Authenticator)
	}
}

// counted is a RADIUS server on loopback at addr that counts the
// requests it gets (one sent again counts once, and is not answered
// again) and accepts each, delay(its user) after it came (a second
// factor), while up says so (else it is silent, its host down). seen
// returns the count of those sent so far: a request sent on loopback is
// in the server's socket before its send returns, and seen reads up to a
// mark the test sends after them.
func counted(t *testing.T, addr string, secret []byte, up *atomic.Bool, delay func(user string) time.Duration) (netip.AddrPort, func() int) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	marks := make(chan int)
	go func() {
		n := 0
		got := map[[authenticator]byte]bool{}
		buf := make([]byte, MaxPacket)
		for {
			m, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if string(buf[:m]) == "mark" {
				marks <- n
				continue
			}
			req, err := Parse(buf[:m])
			if err != nil || got[req.Authenticator] {
				continue
			}
			got[req.Authenticator] = true
			n++
			if up.Load() {
				user, _ := req.Find(AttrUserName)
				b := answer(CodeAccessAccept, req.ID, req.Authenticator, secret, true)
				time.AfterFunc(delay(string(user)), func() { pc.WriteTo(b, from) })
			}
		}
	}()
	seen := func() int {
		c, err := net.Dial("udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("mark")); err != nil {
			t.Fatal(err)
		}
		return <-marks
	}
	return netip.MustParseAddrPort(pc.LocalAddr().String()), seen
}

// after is a delay of every user's answer.
func after(d time.Duration) func(string) time.Duration {
	return func(string) time.Duration { return d }
}

// shortLive sets Live for the test, as it was after it.
func shortLive(t *testing.T, d time.Duration) {
	old := Live
	Live = d
	t.Cleanup(func() { Live = old })
}

// TestDeadServerAskedLast: a server passed over (none of its tries
// answered, its host down) is asked after the others by the gateway's
// next logins, which do not wait out its tries again (RFC 3539 §3.4:
// failover), until it answers, asked when the others are down in turn
// (and found dead once silent for Live, as they answered before), or
// Dead is over (failback). Another gateway, which did not find it dead,
// asks it first.
func TestDeadServerAskedLast(t *testing.T) {
	shortTries(t, 1, 200*time.Millisecond, 20*time.Second)
	shortLive(t, time.Second)
	secret := []byte("s3cret")
	var aUp, bUp atomic.Bool
	bUp.Store(true)
	aAddr, aSeen := counted(t, "127.148.0.1:0", secret, &aUp, after(0))
	bAddr, bSeen := counted(t, "127.148.0.1:0", secret, &bUp, after(0))
	servers := []Server{{Addr: aAddr, Secret: secret}, {Addr: bAddr, Secret: secret}}
	gw := new(Failover)
	login := func(f *Failover, servers []Server) {
		t.Helper()
		if a, err := Authenticate(context.Background(), servers, Request{User: "alice", Password: "pw", Failover: f}); err != nil || !a.Accept {
			t.Fatalf("login: %+v, %v", a, err)
		}
	}
	login(gw, servers)
	if a, b := aSeen(), bSeen(); a != 1 || b != 1 {
		t.Fatalf("the first login, A down: A got %d requests, B %d; want 1, 1", a, b)
	}
	login(gw, servers)
	login(gw, servers)
	if a, b := aSeen(), bSeen(); a != 1 || b != 3 {
		t.Fatalf("two more logins, A found dead: A got %d requests, B %d; want 1 (A not asked again), 3", a, b)
	}
	login(new(Failover), servers)
	if a, b := aSeen(), bSeen(); a != 2 || b != 4 {
		t.Fatalf("a login at another gateway: A got %d requests, B %d; want 2 (A asked first), 4", a, b)
	}
	// A is back, B goes down: A, asked after B, answers and is alive
	// again; B is dead now.
	aUp.Store(true)
	bUp.Store(false)
	login(gw, servers)
	if a, b := aSeen(), bSeen(); a != 3 || b != 5 {
		t.Fatalf("A back, B down: A got %d requests, B %d; want 3, 5", a, b)
	}
	login(gw, servers)
	if a, b := aSeen(), bSeen(); a != 4 || b != 5 {
		t.Fatalf("A back: A got %d requests, B %d; want 4 (A first), 5", a, b)
	}
	// B, dead, is asked after A even when it comes first, until Dead
	// is over.
	bUp.Store(true)
	reversed := []Server{servers[1], servers[0]}
	login(gw, reversed)
	if a, b := aSeen(), bSeen(); a != 5 || b != 5 {
		t.Fatalf("B dead and listed first: A got %d requests, B %d; want 5, 5 (B not asked)", a, b)
	}
	old := Dead
	Dead = 0
	t.Cleanup(func() { Dead = old })
	login(gw, reversed)
	if a, b := aSeen(), bSeen(); a != 5 || b != 6 {
		t.Fatalf("once Dead is over: A got %d requests, B %d; want 5, 6 (B asked first)", a, b)
	}
}

// TestSlowServerAskedAlone: a server that answered the gateway before
// and holds its answer to a login past its tries (NPS waiting for the
// user to approve a second factor on the phone) is waited for alone,
// within Live: the next server is not asked, which would prompt the
// user again, and the first is not found dead, so that the next logins
// ask it first as configured, though the second answers at once.
func TestSlowServerAskedAlone(t *testing.T) {
	shortTries(t, 3, 100*time.Millisecond, 20*time.Second)
	secret := []byte("s3cret")
	var up atomic.Bool
	up.Store(true)
	bobApproves := func(user string) time.Duration {
		if user == "bob" {
			return 1500 * time.Millisecond
		}
		return 0
	}
	aAddr, aSeen := counted(t, "127.193.0.1:0", secret, &up, bobApproves)
	bAddr, bSeen := counted(t, "127.193.0.2:0", secret, &up, after(0))
	servers := []Server{{Addr: aAddr, Secret: secret}, {Addr: bAddr, Secret: secret}}
	gw := new(Failover)
	login := func(user string) {
		t.Helper()
		if a, err := Authenticate(context.Background(), servers, Request{User: user, Password: "pw", Failover: gw}); err != nil || !a.Accept {
			t.Fatalf("%s's login: %+v, %v", user, a, err)
		}
	}
	login("alice")
	login("bob")
	login("bob")
	if a, b := aSeen(), bSeen(); a != 3 || b != 0 {
		t.Fatalf("alice's login, then bob's twice, each approved after 1.5 s, past the first server's tries (0.3 s): it got %d requests, the second %d; want 3, 0 (one prompt each)", a, b)
	}
	login("alice")
	if a, b := aSeen(), bSeen(); a != 4 || b != 0 {
		t.Fatalf("alice's login after bob's: the first server got %d requests, the second %d; want 4, 0 (the configured order)", a, b)
	}
}

// TestBusyServerWaitedFor: a server that answers other logins while one
// waits for its user's second factor, past Live, is alive: that login is
// not passed over to the next server.
func TestBusyServerWaitedFor(t *testing.T) {
	shortTries(t, 1, 100*time.Millisecond, 20*time.Second)
	shortLive(t, 2*time.Second)
	secret := []byte("s3cret")
	var up atomic.Bool
	up.Store(true)
	carolApproves := func(user string) time.Duration {
		if user == "carol" {
			return 4 * time.Second
		}
		return 0
	}
	aAddr, _ := counted(t, "127.193.0.3:0", secret, &up, carolApproves)
	bAddr, bSeen := counted(t, "127.193.0.4:0", secret, &up, after(0))
	servers := []Server{{Addr: aAddr, Secret: secret}, {Addr: bAddr, Secret: secret}}
	gw := new(Failover)
	login := func(user string) error {
		a, err := Authenticate(context.Background(), servers, Request{User: user, Password: "pw", Failover: gw})
		if err == nil && !a.Accept {
			err = errors.New("rejected")
		}
		return err
	}
	if err := login("alice"); err != nil {
		t.Fatal(err)
	}
	carol := make(chan error, 1)
	go func() { carol <- login("carol") }()
	for {
		select {
		case err := <-carol:
			if err != nil {
				t.Fatalf("carol's login: %v", err)
			}
			if b := bSeen(); b != 0 {
				t.Fatalf("the second server got %d requests; want 0 (the first answered alice's logins while carol's waited)", b)
			}
			return
		case <-time.After(200 * time.Millisecond):
			if err := login("alice"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestAliveServerGoneFailsOver: a server that answered before and goes
// down is found dead once it has answered nothing for Live, and the
// login goes to the next server; the next logins ask it last. Once Dead
// is over it is asked first again, and, still silent, passed over once
// its tries are out: it has not shown it is alive since.
func TestAliveServerGoneFailsOver(t *testing.T) {
	shortTries(t, 2, 100*time.Millisecond, 20*time.Second)
	shortLive(t, time.Second)
	secret := []byte("s3cret")
	var aUp, bUp atomic.Bool
	aUp.Store(true)
	bUp.Store(true)
	aAddr, aSeen := counted(t, "127.193.0.5:0", secret, &aUp, after(0))
	bAddr, bSeen := counted(t, "127.193.0.6:0", secret, &bUp, after(0))
	servers := []Server{{Addr: aAddr, Secret: secret}, {Addr: bAddr, Secret: secret}}
	gw := new(Failover)
	login := func(what string) {
		t.Helper()
		if a, err := Authenticate(context.Background(), servers, Request{User: "alice", Password: "pw", Failover: gw}); err != nil || !a.Accept {
			t.Fatalf("%s: %+v, %v", what, a, err)
		}
	}
	login("both up")
	aUp.Store(false)
	login("the first server gone")
	if a, b := aSeen(), bSeen(); a != 2 || b != 1 {
		t.Fatalf("the first server gone: it got %d requests, the second %d; want 2, 1", a, b)
	}
	login("the first server found dead")
	if a, b := aSeen(), bSeen(); a != 2 || b != 2 {
		t.Fatalf("the first server found dead: it got %d requests, the second %d; want 2 (not asked), 2", a, b)
	}
	// Waited for Live again, the login would have no time left for the
	// second server.
	old := Dead
	Dead = 0
	t.Cleanup(func() { Dead = old })
	shortLive(t, Wait)
	login("once Dead is over, the first server still gone")
	if a, b := aSeen(), bSeen(); a != 3 || b != 3 {
		t.Fatalf("once Dead is over: the first server got %d requests, the second %d; want 3, 3", a, b)
	}
}
