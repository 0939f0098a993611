package p2s

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// testOVPN is a minimal OpenVPN-over-TCP client written against the
// server's protocol (the control channel, TLS, key method 2), for tests of
// what a real client does not do: leave mid-way, renegotiate early, send
// what the server does not read.

type testKeyState struct {
	id              int
	in              []byte
	nextIn, nextOut uint32
	// readBy is the read deadline of the key state's testOVPNConn (zero:
	// none), and wake the timer that wakes its Read then; testOVPN.mu
	// guards both.
	readBy time.Time
	wake   *time.Timer
	// acked are the ids of our packets the gateway acknowledged
	// (testOVPN.mu).
	acked map[uint32]bool
}

type testOVPN struct {
	t            *testing.T
	c            net.Conn
	sid, peerSID uint64
	wmu          sync.Mutex
	mu           sync.Mutex
	cond         *sync.Cond
	ks           map[int]*testKeyState
	done         chan struct{}
	// peerInfo is what key method 2 says of the client (empty: an
	// OpenVPN 2.6's IV_PROTO, request-push among its bits).
	peerInfo string
}

func dialTestOVPN(t *testing.T, addr netip.AddrPort) *testOVPN {
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	cl := &testOVPN{t: t, c: c, sid: 0x1122334455667788, ks: map[int]*testKeyState{}, done: make(chan struct{})}
	cl.cond = sync.NewCond(&cl.mu)
	cl.ks[0] = &testKeyState{id: 0, nextOut: 1}
	cl.send(openvpn.Control{Opcode: openvpn.ControlHardResetClientV2, SessionID: cl.sid})
	go cl.reader()
	return cl
}

func (cl *testOVPN) send(c openvpn.Control) error {
	b := c.Append(make([]byte, 2, 64+len(c.Payload)))
	binary.BigEndian.PutUint16(b, uint16(len(b)-2))
	cl.wmu.Lock()
	defer cl.wmu.Unlock()
	_, err := cl.c.Write(b)
	return err
}

func (cl *testOVPN) reader() {
	defer func() {
		// Under mu, so that a Read sees done closed or is woken.
		cl.mu.Lock()
		close(cl.done)
		cl.cond.Broadcast()
		cl.mu.Unlock()
	}()
	var l [2]byte
	buf := make([]byte, 65536)
	for {
		if _, err := io.ReadFull(cl.c, l[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(cl.c, buf[:n]); err != nil {
			return
		}
		pkt := buf[:n]
		if openvpn.Opcode(pkt[0]) == openvpn.DataV2 {
			continue
		}
		c, err := openvpn.ParseControl(pkt)
		if err != nil {
			cl.t.Logf("client: bad control: %v", err)
			return
		}
		cl.mu.Lock()
		cl.peerSID = c.SessionID
		ks := cl.ks[c.KeyID]
		if ks != nil {
			for _, a := range c.Acks {
				if ks.acked == nil {
					ks.acked = map[uint32]bool{}
				}
				ks.acked[a] = true
			}
			cl.cond.Broadcast()
		}
		if c.Opcode == openvpn.AckV1 || ks == nil {
			cl.mu.Unlock()
			continue
		}
		if c.PacketID == ks.nextIn {
			ks.nextIn++
			ks.in = append(ks.in, c.Payload...)
			cl.cond.Broadcast()
		}
		cl.mu.Unlock()
		cl.send(openvpn.Control{Opcode: openvpn.AckV1, KeyID: c.KeyID, SessionID: cl.sid, Acks: []uint32{c.PacketID}, RemoteSessionID: c.SessionID})
	}
}

type testOVPNConn struct {
	cl *testOVPN
	ks *testKeyState
}

func (c testOVPNConn) Read(p []byte) (int, error) {
	cl := c.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for len(c.ks.in) == 0 {
		select {
		case <-cl.done:
			return 0, io.EOF
		default:
		}
		if by := c.ks.readBy; !by.IsZero() && !time.Now().Before(by) {
			return 0, os.ErrDeadlineExceeded
		}
		cl.cond.Wait()
	}
	n := copy(p, c.ks.in)
	c.ks.in = c.ks.in[n:]
	return n, nil
}

func (c testOVPNConn) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += 1200 {
		chunk := p[off:min(off+1200, len(p))]
		c.cl.mu.Lock()
		pid := c.ks.nextOut
		c.ks.nextOut++
		c.cl.mu.Unlock()
		if err := c.cl.send(openvpn.Control{Opcode: openvpn.ControlV1, KeyID: c.ks.id, SessionID: c.cl.sid, PacketID: pid, Payload: chunk}); err != nil {
			return off, err
		}
	}
	return len(p), nil
}
func (testOVPNConn) Close() error                     { return nil }
func (testOVPNConn) LocalAddr() net.Addr              { return ovpnAddr{} }
func (testOVPNConn) RemoteAddr() net.Addr             { return ovpnAddr{} }
func (c testOVPNConn) SetDeadline(t time.Time) error  { return c.SetReadDeadline(t) }
func (testOVPNConn) SetWriteDeadline(time.Time) error { return nil }

// SetReadDeadline has a Read waiting at t return os.ErrDeadlineExceeded,
// as a net.Conn's does; a zero t waits for good.
func (c testOVPNConn) SetReadDeadline(t time.Time) error {
	cl := c.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	c.ks.readBy = t
	if c.ks.wake != nil {
		c.ks.wake.Stop()
		c.ks.wake = nil
	}
	if !t.IsZero() {
		c.ks.wake = time.AfterFunc(time.Until(t), func() {
			cl.mu.Lock()
			cl.cond.Broadcast()
			cl.mu.Unlock()
		})
	}
	return nil
}

// push sends PUSH_REQUEST on a client's session and returns what the
// gateway answers within wait.
func push(tc *tls.Conn, wait time.Duration) (string, error) {
	tc.Write([]byte("PUSH_REQUEST\x00"))
	tc.SetReadDeadline(time.Now().Add(wait))
	var b [2048]byte
	n, err := tc.Read(b[:])
	return string(b[:n]), err
}

// mustPush fails t unless the gateway answers the session's PUSH_REQUEST
// with a PUSH_REPLY within wait, and returns it; when says when it was sent.
func mustPush(t *testing.T, tc *tls.Conn, wait time.Duration, when string) string {
	t.Helper()
	got, err := push(tc, wait)
	if err != nil || !strings.HasPrefix(got, "PUSH_REPLY,") {
		t.Fatalf("%s, PUSH_REQUEST was answered %q, %v", when, got, err)
	}
	return got
}

// authToken is the auth-token a push gives, or "".
func authToken(reply string) string {
	for opt := range strings.SplitSeq(strings.TrimRight(reply, "\x00"), ",") {
		if v, ok := strings.CutPrefix(opt, "auth-token "); ok {
			return v
		}
	}
	return ""
}

// session runs TLS and key method 2 on key state id.
func (cl *testOVPN) session(id int, cert *tls.Certificate, user, pass string) (*tls.Conn, error) {
	cl.mu.Lock()
	ks := cl.ks[id]
	if ks == nil {
		ks = &testKeyState{id: id, nextOut: 1}
		cl.ks[id] = ks
	}
	cl.mu.Unlock()
	if id != 0 {
		cl.send(openvpn.Control{Opcode: openvpn.ControlSoftResetV1, KeyID: id, SessionID: cl.sid})
	}
	cfg := &tls.Config{InsecureSkipVerify: true}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tc := tls.Client(testOVPNConn{cl, ks}, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	km := openvpn.KeyMethod2{Options: "V4", Username: user, Password: pass, PeerInfo: "IV_PROTO=990\nIV_CIPHERS=AES-256-GCM\n"}
	if cl.peerInfo != "" {
		km.PeerInfo = cl.peerInfo
	}
	if _, err := tc.Write(km.Append(nil, true)); err != nil {
		return nil, err
	}
	var b [4096]byte
	if _, err := tc.Read(b[:]); err != nil {
		return nil, err
	}
	return tc, nil
}

// fakeRadius is a RADIUS server on loopback that answers every request
// after delay, accepting or rejecting it (a Response Authenticator, no
// Message-Authenticator, as FreeRADIUS 3.2.1 answers PAP), counting the
// requests in asked if given.

func fakeRadius(t *testing.T, secret []byte, delay time.Duration, accept bool, asked ...*atomic.Int32) netip.AddrPort {
	var a atomic.Bool
	a.Store(accept)
	return fakeRadiusOf(t, secret, delay, &a, asked...)
}

// fakeRadiusOf is fakeRadius accepting while accept holds (a user the
// test disables meanwhile).
func fakeRadiusOf(t *testing.T, secret []byte, delay time.Duration, accept *atomic.Bool, asked ...*atomic.Int32) netip.AddrPort {
	return fakeRadiusAnswering(t, secret, delay, func() (byte, []radius.Attr) {
		if accept.Load() {
			return radius.CodeAccessAccept, nil
		}
		return radius.CodeAccessReject, nil
	}, asked...)
}

// fakeRadiusAnswering is fakeRadius whose answers answer makes, as each
// is sent: its code and attributes.
func fakeRadiusAnswering(t *testing.T, secret []byte, delay time.Duration, answer func() (byte, []radius.Attr), asked ...*atomic.Int32) netip.AddrPort {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	serveFakeRadius(pc, secret, delay, func(radius.Packet) (byte, []radius.Attr) { return answer() }, asked...)
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// serveFakeRadius answers the requests pc gets, as fakeRadiusAnswering,
// answer making each answer from its request.
func serveFakeRadius(pc net.PacketConn, secret []byte, delay time.Duration, answer func(radius.Packet) (byte, []radius.Attr), asked ...*atomic.Int32) {
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req, err := radius.Parse(slices.Clone(buf[:n])) // its own bytes: buf is read into again
			if err != nil {
				continue
			}
			for _, a := range asked {
				a.Add(1)
			}
			reqAuth := req.Authenticator
			id := req.ID
			go func() {
				time.Sleep(delay)
				code, attrs := answer(req)
				resp := radius.Packet{Code: code, ID: id, Authenticator: reqAuth, Attrs: attrs}
				b, _ := resp.Append(nil)
				h := md5.Sum(append(append([]byte(nil), b...), secret...))
				copy(b[4:20], h[:])
				pc.WriteTo(b, from)
			}()
		}
	}()
}

// fakeRadiusAccounting is fakeRadiusAnswering with an accounting port
// (the next one) that answers every Accounting-Request and keeps it, for
// got to return.
func fakeRadiusAccounting(t *testing.T, secret []byte, answer func() (byte, []radius.Attr)) (auth netip.AddrPort, got func() []radius.Packet) {
	var acct, pc net.PacketConn
	for range 20 {
		var err error
		if acct, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		port := acct.LocalAddr().(*net.UDPAddr).Port
		if pc, err = net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port-1)); err == nil {
			break
		}
		acct.Close()
		acct = nil
	}
	if acct == nil {
		t.Fatal("no two free UDP ports in a row for a RADIUS server's authentication and accounting")
	}
	t.Cleanup(func() { pc.Close(); acct.Close() })
	serveFakeRadius(pc, secret, 0, func(radius.Packet) (byte, []radius.Attr) { return answer() })
	var mu sync.Mutex
	var reqs []radius.Packet
	serveFakeRadius(acct, secret, 0, func(req radius.Packet) (byte, []radius.Attr) {
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		return radius.CodeAccountingResponse, nil
	})
	return netip.MustParseAddrPort(pc.LocalAddr().String()), func() []radius.Packet {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(reqs)
	}
}

// TestOpenVPNClientLeavesDuringAuthentication: a client that leaves while
// RADIUS is asked about it leaves no address and no slot behind: the
// next client connects, though the gateway takes one at a time.
func TestOpenVPNClientLeavesDuringAuthentication(t *testing.T) {
	secret := []byte("s3cret")
	rad := fakeRadius(t, secret, 300*time.Millisecond, true)
	r := newRegion(t, Config{OpenVPN: true, OpenVPNMaxClients: 1, Radius: []radius.Server{{Addr: rad, Secret: secret}}, RadiusOnly: true})
	cl := dialTestOVPN(t, r.srv.Addr())
	if _, err := cl.session(0, nil, "bob", "pw"); err != nil {
		t.Fatal(err)
	}
	cl.c.Close()
	time.Sleep(time.Second)
	r.srv.mu.Lock()
	n := len(r.srv.clients)
	r.srv.mu.Unlock()
	if n != 0 {
		t.Errorf("%d pool addresses held by a client that left", n)
	}
	cl2 := dialTestOVPN(t, r.srv.Addr())
	tc, err := cl2.session(0, nil, "carol", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("PUSH_REQUEST\x00"))
	got := make(chan string, 1)
	go func() {
		var b [2048]byte
		n, _ := tc.Read(b[:])
		got <- string(b[:n])
	}()
	select {
	case m := <-got:
		if !strings.HasPrefix(m, "PUSH_REPLY,") {
			t.Errorf("the next client was answered %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Error("the next client got no answer")
	}
}

// TestTestOVPNReadDeadline: the test client's read deadline ends a Read
// that gets nothing (here before the client asked for its push) with
// os.ErrDeadlineExceeded, as a net.Conn's does, instead of waiting for
// the server's hand window of 60 s, and the session goes on after it.
func TestTestOVPNReadDeadline(t *testing.T) {
	secret := []byte("s3cret")
	rad := fakeRadius(t, secret, 0, true)
	r := ovpnRadiusRegion(t, rad, secret)
	cl := dialTestOVPN(t, r.srv.Addr())
	cl.peerInfo = "IV_PROTO=10\nIV_CIPHERS=AES-256-GCM\n" // pushed on its PUSH_REQUEST alone
	tc, err := cl.session(0, nil, "bob", "pw")
	if err != nil {
		t.Fatal(err)
	}
	var b [2048]byte
	tc.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := tc.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a Read past its deadline with nothing sent: %q, %v; want os.ErrDeadlineExceeded", b[:n], err)
	}
	mustPush(t, tc, 10*time.Second, "after the deadline passed")
}

// TestOpenVPNControlMessagesNotLogged: what a client says on the control
// channel that the gateway does not take (here a dynamic challenge's
// answer, a one-time password) is logged by its command alone, even at
// debug level: it may hold a secret.
func TestOpenVPNControlMessagesNotLogged(t *testing.T) {
	secret := []byte("s3cret")
	rad := fakeRadius(t, secret, 0, true)
	var log logbuf.Buffer
	r := newRegion(t, Config{OpenVPN: true, Radius: []radius.Server{{Addr: rad, Secret: secret}}, RadiusOnly: true,
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	cl := dialTestOVPN(t, r.srv.Addr())
	cl.peerInfo = "IV_PROTO=10\nIV_CIPHERS=AES-256-GCM\n" // pushed on its PUSH_REQUEST, read after CR_RESPONSE
	tc, err := cl.session(0, nil, "bob", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("CR_RESPONSE,one-time-314159\x00"))
	mustPush(t, tc, 5*time.Second, "after CR_RESPONSE")
	out := log.String()
	if strings.Contains(out, "one-time-314159") {
		t.Errorf("the client's one-time password is in the log:\n%s", out)
	}
	if !strings.Contains(out, "CR_RESPONSE") {
		t.Errorf("the ignored message's command is not in the log:\n%s", out)
	}
}

// TestOpenVPNAuthToken: a client a RADIUS server accepted is pushed an
// auth-token, which its renegotiations send instead of the password. A
// client that connects again sends it too (OpenVPN keeps it): it is
// refused with AUTH_FAILED at once, on which the client forgets it and
// sends its password, and the RADIUS server is not asked, which would
// count a wrong password against the user (and may lock the account).
func TestOpenVPNAuthToken(t *testing.T) {
	secret := []byte("s3cret")
	var asked atomic.Int32
	rad := fakeRadius(t, secret, 0, true, &asked)
	r := ovpnRadiusRegion(t, rad, secret)
	cl := dialTestOVPN(t, r.srv.Addr())
	tc, err := cl.session(0, nil, "bob", "pw")
	if err != nil {
		t.Fatal(err)
	}
	pushed := mustPush(t, tc, 5*time.Second, "once connected")
	token := authToken(pushed)
	if len(token) < 32 {
		t.Fatalf("the push %q has no auth-token", pushed)
	}
	var b [2048]byte
	again := dialTestOVPN(t, r.srv.Addr())
	tc2, err := again.session(0, nil, "bob", token)
	if err != nil {
		t.Fatal(err)
	}
	tc2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := tc2.Read(b[:]); err != nil || !strings.HasPrefix(string(b[:n]), "AUTH_FAILED") {
		t.Errorf("a new connection with the first one's auth-token was answered %q, %v; want AUTH_FAILED at once", b[:n], err)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the RADIUS server was asked %d times, want once (not for the auth-token)", n)
	}
}

// TestOpenVPNRenegotiationChecksToken: a client a RADIUS server
// accepted renegotiates with its connection's auth-token and goes on,
// the server not asked again; one that sends another token (an earlier
// connection's, or made up), or its password again after the server
// disabled the user, is told AUTH_FAILED and its session ends. The
// renegotiation took any password at all.
func TestOpenVPNRenegotiationChecksToken(t *testing.T) {
	secret := []byte("s3cret")
	var asked atomic.Int32
	var accept atomic.Bool
	accept.Store(true)
	rad := fakeRadiusOf(t, secret, 0, &accept, &asked)
	r := ovpnRadiusRegion(t, rad, secret)
	connect := func() (*testOVPN, string) {
		t.Helper()
		cl := dialTestOVPN(t, r.srv.Addr())
		t.Cleanup(func() { cl.c.Close() })
		tc, err := cl.session(0, nil, "bob", "pw")
		if err != nil {
			t.Fatal(err)
		}
		pushed := mustPush(t, tc, 10*time.Second, "once connected")
		token := authToken(pushed)
		if token == "" {
			t.Fatalf("the push %q has no auth-token", pushed)
		}
		return cl, token
	}
	// renegotiate runs key state id with pass and says whether the
	// session ended (within 10 s) and what the key state was told.
	renegotiate := func(cl *testOVPN, id int, pass string) (ended bool, told string) {
		t.Helper()
		tc, err := cl.session(id, nil, "bob", pass)
		if err != nil {
			t.Fatalf("renegotiation %d: %v", id, err)
		}
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var b [2048]byte
		n, _ := tc.Read(b[:])
		select {
		case <-cl.done:
			return true, string(b[:n])
		case <-time.After(10 * time.Second):
			return false, string(b[:n])
		}
	}

	cl, token := connect()
	o := onlyOpenVPNSession(t, r.srv)
	done := func() {
		t.Helper()
		waitRenegotiated(t, o, 10*time.Second)
	}
	if _, err := cl.session(1, nil, "bob", token); err != nil {
		t.Fatalf("renegotiation with the token: %v", err)
	}
	done()
	// Kept: its next renegotiation is answered too.
	if _, err := cl.session(2, nil, "bob", token); err != nil {
		t.Fatalf("second renegotiation with the token: %v", err)
	}
	done()
	if n := asked.Load(); n != 1 {
		t.Errorf("the RADIUS server was asked %d times, want once (not for the token)", n)
	}
	if c := r.srv.Clients(); len(c) != 1 {
		t.Errorf("clients %+v after renegotiations with the token, want bob's", c)
	}
	if ended, told := renegotiate(cl, 3, token+"x"); !ended || !strings.HasPrefix(told, "AUTH_FAILED") {
		t.Errorf("renegotiation with another token: told %q, session ended %v; want AUTH_FAILED and the end", told, ended)
	}

	cl2, _ := connect()
	if ended, told := renegotiate(cl2, 1, token); !ended || !strings.HasPrefix(told, "AUTH_FAILED") {
		t.Errorf("renegotiation with an earlier connection's token: told %q, session ended %v; want AUTH_FAILED and the end", told, ended)
	}

	cl3, _ := connect()
	accept.Store(false)
	if ended, told := renegotiate(cl3, 1, "pw"); !ended || !strings.HasPrefix(told, "AUTH_FAILED") {
		t.Errorf("renegotiation with the password of a user disabled since: told %q, session ended %v; want AUTH_FAILED and the end", told, ended)
	}
	for deadline := time.Now().Add(10 * time.Second); len(r.srv.Clients()) != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("clients %+v after their sessions ended", r.srv.Clients())
		}
	}
}

// TestOpenVPNRenegotiationKeepsCertificate: a client that connected with
// a certificate renegotiates with that certificate. Where RADIUS
// authenticates clients too, a certificate is asked only if given: a
// renegotiation without one (the certificate's name as user name, any
// password) or with another certificate of the same name ends the
// session, and the RADIUS server is not asked.
func TestOpenVPNRenegotiationKeepsCertificate(t *testing.T) {
	secret := []byte("s3cret")
	var asked atomic.Int32
	rad := fakeRadius(t, secret, 0, true, &asked)
	r := newRegion(t, Config{OpenVPN: true, Radius: []radius.Server{{Addr: rad, Secret: secret}}})
	other := pkitest.Issue(t, "alice", false, r.pki.root).TLS()
	for _, c := range []struct {
		name string
		cert *tls.Certificate
		ends bool
	}{
		{"the same certificate", &r.pki.client, false},
		{"no certificate, its name and a password", nil, true},
		{"another certificate of the same name", &other, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := dialTestOVPN(t, r.srv.Addr())
			t.Cleanup(func() { cl.c.Close() })
			tc, err := cl.session(0, &r.pki.client, "", "")
			if err != nil {
				t.Fatal(err)
			}
			mustPush(t, tc, 10*time.Second, "once connected")
			// The server may end the session as the handshake ends,
			// before the client reads the answer: an error here is
			// judged by whether the session ended.
			cl.session(1, c.cert, "alice", "guess")
			select {
			case <-cl.done:
				if !c.ends {
					t.Fatal("the session ended at a renegotiation with the certificate it connected with")
				}
			case <-time.After(3 * time.Second):
				if c.ends {
					t.Fatalf("the session goes on after a renegotiation with %s; clients %+v", c.name, r.srv.Clients())
				}
			}
		})
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the RADIUS server was asked %d times, want never: every client had a certificate", n)
	}
}

// TestOpenVPNStrayControlPacketIgnored: a control packet of a key state
// the gateway does not hold (a late acknowledgement of one it dropped
// after renegotiations) is dropped; the client's session goes on.
func TestOpenVPNStrayControlPacketIgnored(t *testing.T) {
	secret := []byte("s3cret")
	rad := fakeRadius(t, secret, 0, true)
	r := ovpnRadiusRegion(t, rad, secret)
	cl := dialTestOVPN(t, r.srv.Addr())
	tc, err := cl.session(0, nil, "bob", "pw")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []openvpn.Control{
		{Opcode: openvpn.AckV1, KeyID: 5, SessionID: cl.sid, RemoteSessionID: cl.peerSID, Acks: []uint32{3}},
		{Opcode: openvpn.ControlV1, KeyID: 6, SessionID: cl.sid, PacketID: 4, Payload: []byte{0x17, 3, 3, 0, 1, 0}},
	} {
		if err := cl.send(c); err != nil {
			t.Fatal(err)
		}
	}
	mustPush(t, tc, 5*time.Second, "after stray control packets")
}

// TestOpenVPNSoftResetBeforeAuthentication: a renegotiation before the
// client authenticated ends the connection (it could otherwise pass as
// the client being authenticated).
func TestOpenVPNSoftResetBeforeAuthentication(t *testing.T) {
	secret := []byte("s3cret")
	rad := fakeRadius(t, secret, 500*time.Millisecond, true)
	r := ovpnRadiusRegion(t, rad, secret)
	cl := dialTestOVPN(t, r.srv.Addr())
	if _, err := cl.session(0, nil, "bob", "pw"); err != nil {
		t.Fatal(err)
	}
	cl.send(openvpn.Control{Opcode: openvpn.ControlSoftResetV1, KeyID: 1, SessionID: cl.sid})
	select {
	case <-cl.done:
	case <-time.After(3 * time.Second):
		t.Fatal("the connection goes on after a soft reset before authentication")
	}
	if c := r.srv.Clients(); len(c) != 0 {
		t.Errorf("clients %+v after the connection ended", c)
	}
}

// TestOpenVPNSoftResetSentAgain: a soft reset the client sends again (its
// reliable layer sends what it has not seen acknowledged, over TCP too)
// is acknowledged again and changes nothing: during the renegotiation it
// began, after the client's first TLS bytes of it, the connection goes
// on; after the renegotiation, the key state it made stays and no other
// handshake is waited for (the connection would end at the hand-window).
func TestOpenVPNSoftResetSentAgain(t *testing.T) {
	secret := []byte("s3cret")
	rad := fakeRadius(t, secret, 0, true)
	reset := func(cl *testOVPN, id int) {
		cl.send(openvpn.Control{Opcode: openvpn.ControlSoftResetV1, KeyID: id, SessionID: cl.sid})
	}
	// connected returns a client connected to a new gateway, and the
	// auth token the gateway pushed it.
	connected := func(t *testing.T) (*region, *testOVPN, string) {
		r := ovpnRadiusRegion(t, rad, secret)
		cl := dialTestOVPN(t, r.srv.Addr())
		t.Cleanup(func() { cl.c.Close() })
		tc, err := cl.session(0, nil, "bob", "pw")
		if err != nil {
			t.Fatal(err)
		}
		return r, cl, authToken(mustPush(t, tc, 5*time.Second, "once connected"))
	}
	t.Run("during", func(t *testing.T) {
		r, cl, _ := connected(t)
		reset(cl, 1)
		// The start of a ClientHello's record: the gateway's TLS waits
		// for the rest.
		cl.send(openvpn.Control{Opcode: openvpn.ControlV1, KeyID: 1, SessionID: cl.sid, PacketID: 1, Payload: []byte{0x16, 3, 1, 0, 0x50}})
		o := onlyOpenVPNSession(t, r.srv)
		untilTrue(t, "the first TLS bytes read", func() bool {
			o.mu.Lock()
			defer o.mu.Unlock()
			return o.states[1] != nil && o.states[1].nextIn == 2
		})
		reset(cl, 1)
		select {
		case <-cl.done:
			t.Errorf("the connection ended on a soft reset sent again")
		case <-time.After(2 * time.Second):
		}
	})
	t.Run("after", func(t *testing.T) {
		r, cl, token := connected(t)
		if _, err := cl.session(1, nil, "bob", token); err != nil {
			t.Fatal(err)
		}
		o := onlyOpenVPNSession(t, r.srv)
		untilTrue(t, "the renegotiation done", func() bool {
			o.mu.Lock()
			defer o.mu.Unlock()
			return o.pending == nil
		})
		o.mu.Lock()
		made := o.states[1]
		o.mu.Unlock()
		reset(cl, 1)
		time.Sleep(500 * time.Millisecond)
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.states[1] != made || made.retired || o.pending != nil {
			t.Errorf("after a soft reset sent again: key state 1 replaced %v, retired %v, a handshake waited for %v; want false, false, false",
				o.states[1] != made, made.retired, o.pending != nil)
		}
	})
}

// TestOpenVPNUnreadTLSBounded: TLS bytes a key state does not read (here
// while RADIUS is slow to answer) are bounded: the connection ends, the
// server's memory does not grow with what the client sends.
func TestOpenVPNUnreadTLSBounded(t *testing.T) {
	secret := []byte("s3cret")
	rad := fakeRadius(t, secret, 5*time.Second, false)
	r := ovpnRadiusRegion(t, rad, secret)
	cl := dialTestOVPN(t, r.srv.Addr())
	if _, err := cl.session(0, nil, "bob", "pw"); err != nil {
		t.Fatal(err)
	}
	cl.mu.Lock()
	ks := cl.ks[0]
	cl.mu.Unlock()
	junk := make([]byte, 4000)
	sent := 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		cl.mu.Lock()
		pid := ks.nextOut
		ks.nextOut++
		cl.mu.Unlock()
		if cl.send(openvpn.Control{Opcode: openvpn.ControlV1, SessionID: cl.sid, PacketID: pid, Payload: junk}) != nil {
			break
		}
		sent += len(junk)
	}
	select {
	case <-cl.done:
	case <-time.After(3 * time.Second):
		t.Fatalf("the connection goes on after %d MB of TLS nobody reads", sent>>20)
	}
	if sent > 8<<20 {
		t.Errorf("the server took %d MB before it ended the connection", sent>>20)
	}
}

// ovpnGoroutines counts the goroutines (of this process) of OpenVPN
// sessions: their key states' and their writers.
func ovpnGoroutines() int {
	buf := make([]byte, 1<<22)
	st := string(buf[:runtime.Stack(buf, true)])
	n := 0
	for _, g := range strings.Split(st, "\n\n") {
		if strings.Contains(g, "(*ovpnSession).runFirst(") || strings.Contains(g, "(*ovpnSession).runRenegotiation(") ||
			strings.Contains(g, "(*ovpnSession).writer(") {
			n++
		}
	}
	return n
}

// TestOpenVPNCloseLeavesNothingRunning: Server.Close returns once its
// OpenVPN sessions' goroutines have ended: a connected client's that
// renegotiated, and those of clients whose password a RADIUS server is
// being asked about. They ran on after Close (a gateway's restart), each
// ending when what it waited for gave up.
func TestOpenVPNCloseLeavesNothingRunning(t *testing.T) {
	// The way to the RADIUS server (a VNet's, say) takes a moment to
	// give up when a session ends.
	dialing := make(chan struct{}, 3)
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		dialing <- struct{}{}
		<-ctx.Done()
		time.Sleep(300 * time.Millisecond)
		return nil, ctx.Err()
	}
	r := newRegion(t, Config{OpenVPN: true, Radius: []radius.Server{{Addr: netip.MustParseAddrPort("127.93.0.9:1812"), Secret: []byte("s")}}, RadiusDial: dial})
	before := ovpnGoroutines()
	cl := dialTestOVPN(t, r.srv.Addr())
	cert := r.pki.client
	tc, err := cl.session(0, &cert, "", "")
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, tc, 10*time.Second, "once connected")
	if _, err := cl.session(1, &cert, "", ""); err != nil {
		t.Fatalf("renegotiation: %v", err)
	}
	for range 3 {
		c := dialTestOVPN(t, r.srv.Addr())
		if _, err := c.session(0, nil, "bob", "pw"); err != nil {
			t.Fatal(err)
		}
		<-dialing
	}
	// Each session's writer, the first's key states, and those of the
	// three waiting for RADIUS.
	for deadline := time.Now().Add(10 * time.Second); ovpnGoroutines()-before != 4+2+3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of OpenVPN sessions, want 9", ovpnGoroutines()-before)
		}
	}
	r.srv.Close()
	if n := ovpnGoroutines() - before; n != 0 {
		t.Fatalf("%d goroutines of OpenVPN sessions still run after Server.Close", n)
	}
}

// TestOpenVPNPasswordTooLong: a password of over 128 bytes, which a
// RADIUS User-Password cannot carry (RFC 2865 §5.2), is refused without
// asking the server, the client told why (AUTH_FAILED with the reason)
// and the log saying so, not that no server answered; one of 128 bytes
// is taken.
func TestOpenVPNPasswordTooLong(t *testing.T) {
	secret := []byte("s3cret")
	var asked atomic.Int32
	rad := fakeRadius(t, secret, 0, true, &asked)
	var log logbuf.Buffer
	r := newRegion(t, Config{OpenVPN: true, Radius: []radius.Server{{Addr: rad, Secret: secret}}, RadiusOnly: true,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	long := strings.Repeat("p", radius.MaxPassword+1)
	tc, err := dialTestOVPN(t, r.srv.Addr()).session(0, nil, "bob", long)
	if err != nil {
		t.Fatal(err)
	}
	var b [2048]byte
	tc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := tc.Read(b[:]); err != nil || string(b[:n]) != "AUTH_FAILED,a password of over 128 bytes, the most RADIUS carries\x00" {
		t.Errorf("a password of 129 bytes was answered %q, %v", b[:n], err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(log.String(), "OpenVPN client refused"); {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out := log.String(); !strings.Contains(out, `OpenVPN client \"bob\" gave a password of 129 bytes: a password of over 128 bytes`) || strings.Contains(out, "no RADIUS server answered") || strings.Contains(out, long) {
		t.Errorf("log:\n%s", out)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the RADIUS server was asked %d times about a password it cannot be sent", n)
	}
	tc, err = dialTestOVPN(t, r.srv.Addr()).session(0, nil, "bob", long[:radius.MaxPassword])
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, tc, 20*time.Second, "with a password of 128 bytes")
}

// connectOVPN connects an OpenVPN client with user's password to srv,
// closed when the test ends, and returns it once it is pushed its
// settings.
func connectOVPN(t *testing.T, srv netip.AddrPort, user, password string) *testOVPN {
	t.Helper()
	cl := dialTestOVPN(t, srv)
	t.Cleanup(func() { cl.c.Close() })
	tc, err := cl.session(0, nil, user, password)
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, tc, 10*time.Second, "once connected")
	return cl
}

// renegotiate has client cl, whose session at the server is o,
// renegotiate with user's password, and waits until the server took it.
func renegotiate(t *testing.T, cl *testOVPN, o *ovpnSession, user, password string) {
	t.Helper()
	if _, err := cl.session(1, nil, user, password); err != nil {
		t.Fatalf("renegotiation with the password: %v", err)
	}
	waitRenegotiated(t, o, 5*time.Second)
}

// waitRenegotiated waits, up to wait, for session o to be done with the
// renegotiation under way: the next one is refused while one runs.
func waitRenegotiated(t *testing.T, o *ovpnSession, wait time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		o.mu.Lock()
		pending := o.pending
		o.mu.Unlock()
		if pending == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a renegotiation is still under way after %v", wait)
		}
	}
}

// ovpnRadiusRegion is a region whose gateway takes OpenVPN clients that
// the RADIUS server at rad, which shares secret, alone authenticates.
func ovpnRadiusRegion(t *testing.T, rad netip.AddrPort, secret []byte) *region {
	t.Helper()
	return newRegion(t, Config{OpenVPN: true, Radius: []radius.Server{{Addr: rad, Secret: secret}}, RadiusOnly: true})
}
