package p2s

import (
	"crypto/hmac"
	"crypto/md5"
	"net"
	"net/netip"
	"testing"

	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// eapRadius is a RADIUS server on loopback that answers every EAP
// response with an Access-Challenge holding an EAP-MSCHAPv2 request whose
// Identifier follows the response's, as FreeRADIUS numbers its requests.
func eapRadius(t *testing.T, secret []byte) netip.AddrPort {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
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
			eap, ok := req.Find(radius.AttrEAPMessage)
			if !ok || len(eap) < 4 {
				continue
			}
			next := ppp.EAP{Code: ppp.EAPRequest, ID: eap[1] + 1, Type: eapMSCHAPv2Type, Data: []byte{eapMSCHAPv2Challenge, 0, 0, 5 + 16 + 6, 16}}
			next.Data = append(append(next.Data, make([]byte, 16)...), "hub-gw"...)
			ans := radius.Packet{Code: radius.CodeAccessChallenge, ID: req.ID, Attrs: []radius.Attr{
				{Type: radius.AttrMessageAuthenticator, Value: make([]byte, 16)},
				{Type: radius.AttrEAPMessage, Value: next.Append(nil)},
				{Type: radius.AttrState, Value: []byte("state")},
			}}
			b, _ := ans.Append(nil)
			// RFC 3579 §3.2: the HMAC-MD5 of the answer with the
			// request's authenticator; then RFC 2865 §3's Response
			// Authenticator over it.
			copy(b[4:radius.HeaderLen], req.Authenticator[:])
			m := hmac.New(md5.New, secret)
			m.Write(b)
			copy(b[radius.HeaderLen+2:], m.Sum(nil))
			h := md5.New()
			h.Write(b)
			h.Write(secret)
			copy(b[4:radius.HeaderLen], h.Sum(nil))
			pc.WriteTo(b, from)
		}
	}()
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// TestEAPNakRelayedUnderNewIdentifier: a client of a gateway with
// certificates and RADIUS that declines EAP-TLS after its identity (a Nak
// naming EAP-MSCHAPv2) gets the RADIUS server's first request under
// another Identifier than that of the request it declined: under the
// same one, a client that follows RFC 3748 §4.1 takes it for a
// retransmission and sends its Nak again, refusing the method it asked
// for.
func TestEAPNakRelayedUnderNewIdentifier(t *testing.T) {
	secret := []byte("s3cret")
	r := newRegion(t, Config{Radius: []radius.Server{{Addr: eapRadius(t, secret), Secret: secret}}, NASIdentifier: "hub-gw"})
	x := dialRaw(t, r.srv.Addr())
	x.openLCP()
	identity := x.next(ppp.ProtoEAP)
	if identity.Code != ppp.EAPRequest || len(identity.Data) == 0 || identity.Data[0] != ppp.TypeIdentity {
		t.Fatalf("the gateway's first EAP request: %+v", identity)
	}
	x.send(ppp.ProtoEAP, ppp.Packet{Code: ppp.EAPResponse, ID: identity.ID, Data: append([]byte{ppp.TypeIdentity}, "alice"...)})
	start := x.next(ppp.ProtoEAP)
	if start.Code != ppp.EAPRequest || len(start.Data) == 0 || start.Data[0] != ppp.TypeTLS {
		t.Fatalf("the gateway's EAP request after the identity: %+v", start)
	}
	x.send(ppp.ProtoEAP, ppp.Packet{Code: ppp.EAPResponse, ID: start.ID, Data: []byte{ppp.TypeNak, eapMSCHAPv2Type}})
	relayed := x.next(ppp.ProtoEAP)
	if relayed.Code != ppp.EAPRequest || len(relayed.Data) == 0 || relayed.Data[0] != eapMSCHAPv2Type {
		t.Fatalf("the gateway's EAP request after the Nak: %+v", relayed)
	}
	if relayed.ID == start.ID {
		t.Errorf("the RADIUS server's first request went out under Identifier %d, that of the EAP-TLS start the client declined", relayed.ID)
	}
}
