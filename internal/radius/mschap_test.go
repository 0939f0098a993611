package radius

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// serve answers each request that parses, at a new address of host, with
// what answer returns (nothing when nil), until the test ends; it returns
// the server's address.
func serve(t *testing.T, host string, answer func(req Packet) []byte) netip.AddrPort {
	t.Helper()
	return serveMany(t, host, func(req Packet) [][]byte {
		if b := answer(req); b != nil {
			return [][]byte{b}
		}
		return nil
	})
}

// serveMany is serve answering each request with what answers returns,
// one after the other; the request it is given owns its attributes.
func serveMany(t *testing.T, host string, answers func(req Packet) [][]byte) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, MaxPacket)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if req, err := Parse(bytes.Clone(buf[:n])); err == nil {
				for _, b := range answers(req) {
					pc.WriteTo(b, from)
				}
			}
		}
	}()
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// TestMSCHAPv2DeadServerAskedLast: MS-CHAP-V2 logins, the ones of
// Windows' SSTP client, share the gateway's memory of a dead server as
// PAP's and EAP's do (RFC 3539 §3.4: failover): the first login waits out
// the silent first server and is answered by the second; the next ones
// ask the second first, and do not wait out the dead one's tries again.
func TestMSCHAPv2DeadServerAskedLast(t *testing.T) {
	shortTries(t, 1, 200*time.Millisecond, 20*time.Second)
	secret := []byte("s3cret")
	var deadAsked, liveAsked atomic.Int32
	dead := serve(t, "127.133.0.6", func(Packet) []byte { deadAsked.Add(1); return nil })
	live := serve(t, "127.133.0.6", func(req Packet) []byte {
		liveAsked.Add(1)
		return answerWith(CodeAccessAccept, req.ID, req.Authenticator, secret, true, mschapAccept(req.Authenticator, secret))
	})
	servers := []Server{{Addr: dead, Secret: secret}, {Addr: live, Secret: secret}}
	gw := new(Failover)
	for i := range 3 {
		a, err := AuthenticateMSCHAPv2(context.Background(), servers, Request{User: "alice", Failover: gw}, MSCHAPv2{Ident: 7})
		if err != nil || !a.Accept {
			t.Fatalf("login %d: %+v, %v", i+1, a, err)
		}
	}
	if d, l := deadAsked.Load(), liveAsked.Load(); d != 1 || l != 3 {
		t.Errorf("three logins: the silent server was asked %d times, the live one %d; want 1 (found dead by the first login), 3", d, l)
	}
}

// TestMSCHAPv2SuccessIdent: an Access-Accept whose MS-CHAP2-Success has
// another Ident than the response asked about (RFC 2548 §2.3.3: the
// same) is dropped and counted, and the request waits on: the server's
// answer with the right Ident, after it, is taken; with none, the error
// says why the answer was dropped.
func TestMSCHAPv2SuccessIdent(t *testing.T) {
	shortTries(t, 1, 2*time.Second, 2*time.Second)
	secret := []byte("s3cret")
	const wrong = "S=0000000000000000000000000000000000000000"
	for _, right := range []bool{true, false} {
		pc, err := net.ListenPacket("udp", "127.133.0.5:0")
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
			attrs := mschapAccept(req.Authenticator, secret)
			other := append([]Attr{microsoft(msCHAP2Success, append([]byte{8}, wrong...))}, attrs[1:]...)
			pc.WriteTo(answerWith(CodeAccessAccept, req.ID, req.Authenticator, secret, true, other), from)
			if right {
				pc.WriteTo(answerWith(CodeAccessAccept, req.ID, req.Authenticator, secret, true, attrs), from)
			}
		}()
		_, bad0 := Drops()
		s := Server{Addr: netip.MustParseAddrPort(pc.LocalAddr().String()), Secret: secret}
		a, err := AuthenticateMSCHAPv2(context.Background(), []Server{s}, Request{User: "alice"}, MSCHAPv2{Ident: 7})
		if _, bad := Drops(); bad-bad0 != 1 {
			t.Errorf("%d answers counted as unverified, want the one of Ident 8", bad-bad0)
		}
		switch {
		case right && (err != nil || !a.Accept || a.Success != "S=407A5589115FD0D6209F510FE9C04566932CDA56"):
			t.Errorf("after an MS-CHAP2-Success of Ident 8, one of 7: %+v, %v", a, err)
		case !right && (err == nil || a.Accept || !strings.Contains(err.Error(), "an MS-CHAP2-Success with Ident 8, the response's 7")):
			t.Errorf("an MS-CHAP2-Success of Ident 8 alone: %+v, %v", a, err)
		}
	}
}

// TestMicrosoftAttributesInOneVendorSpecific: a server may put several
// of Microsoft's attributes in one Vendor-Specific attribute (RFC 2865
// §5.26): an Access-Accept holding MS-CHAP2-Success and both MPPE keys
// in one is an acceptance with the keys, for MS-CHAP-V2 and EAP (the
// MSK) alike, as when each has a Vendor-Specific attribute of its own.
func TestMicrosoftAttributesInOneVendorSpecific(t *testing.T) {
	shortTries(t, 1, 2*time.Second, 2*time.Second)
	secret := []byte("s3cret")
	addr := serve(t, "127.0.0.1", func(req Packet) []byte {
		packed := binary.BigEndian.AppendUint32(nil, vendorMicrosoft)
		for _, a := range mschapAccept(req.Authenticator, secret) {
			packed = append(packed, a.Value[4:]...) // each one's Vendor-Type, Vendor-Length and value
		}
		attrs := []Attr{{AttrVendorSpecific, packed}}
		if eap, ok := req.Find(AttrEAPMessage); ok {
			attrs = append(attrs, Attr{AttrEAPMessage, ppp.EAP{Code: ppp.EAPSuccess, ID: eap[1]}.Append(nil)})
		}
		return answerWith(CodeAccessAccept, req.ID, req.Authenticator, secret, true, attrs)
	})
	servers := []Server{{Addr: addr, Secret: secret}}
	recv, send := bytes.Repeat([]byte{0x11}, 16), bytes.Repeat([]byte{0x22}, 16)
	a, err := AuthenticateMSCHAPv2(context.Background(), servers, Request{User: "alice"}, MSCHAPv2{Ident: 7})
	if err != nil || !a.Accept || a.Success != "S=407A5589115FD0D6209F510FE9C04566932CDA56" || !bytes.Equal(a.Recv, recv) || !bytes.Equal(a.Send, send) {
		t.Errorf("MS-CHAP-V2: %+v, %v", a, err)
	}
	auth := NewEAPAuthenticator(context.Background(), servers, Request{})
	next, msk, _, err := auth.Handle(ppp.EAP{Code: ppp.EAPResponse, ID: auth.Start().ID, Type: ppp.TypeIdentity, Data: []byte("alice")})
	if err != nil || next.Code != ppp.EAPSuccess || !bytes.Equal(msk, append(recv, send...)) {
		t.Errorf("EAP: %+v, MSK %x, %v", next, msk, err)
	}
}
