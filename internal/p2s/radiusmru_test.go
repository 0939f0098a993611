package p2s

import (
	"crypto/tls"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// typePEAP is PEAP's EAP method type, which FreeRADIUS serves.
const typePEAP = 25

// TestRelayedEAPWithinClientMRU: the EAP a RADIUS server sends an SSTP
// client through the gateway fits the client's MRU (RFC 1661 §6.1): the
// gateway tells the server the most the client takes (Framed-MTU, RFC
// 2865 §5.12), which FreeRADIUS cuts its TLS fragments to (RFC 5216
// §2.1.5). A client with an MRU of 600 declines EAP-TLS for PEAP, which
// FreeRADIUS serves; every fragment of FreeRADIUS's first flight (its
// certificate: over 1,000 bytes) comes in an EAP packet of at most 600.
func TestRelayedEAPWithinClientMRU(t *testing.T) {
	const mru = 600
	cfg := radiusFixture(t)
	cfg.Listen = netip.MustParseAddrPort("127.169.0.1:0")
	r := newRegion(t, cfg)
	x := dialRaw(t, r.srv.Addr())
	first := x.next(ppp.ProtoLCP)
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: first.ID, Data: first.Data})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMRU, Value: []byte{mru >> 8, mru & 0xff}}})})
	send := func(id uint8, typ uint8, data []byte) {
		x.send(ppp.ProtoEAP, ppp.Packet{Code: ppp.EAPResponse, ID: id, Data: append([]byte{typ}, data...)})
	}
	next := func() ppp.Packet {
		p := x.next(ppp.ProtoEAP)
		if p.Len() > mru {
			t.Fatalf("an EAP packet of %d octets came, over the client's MRU of %d", p.Len(), mru)
		}
		if p.Code != ppp.EAPRequest || len(p.Data) == 0 {
			t.Fatalf("the gateway sent %+v, want an EAP request", p)
		}
		return p
	}
	identity := next()
	send(identity.ID, ppp.TypeIdentity, []byte("alice"))
	start := next() // the gateway's EAP-TLS
	send(start.ID, ppp.TypeNak, []byte{typePEAP})
	// FreeRADIUS asks for its default method first (MD5-Challenge): PEAP
	// instead.
	p := next()
	for range 2 {
		if p.Data[0] == typePEAP {
			break
		}
		send(p.ID, ppp.TypeNak, []byte{typePEAP})
		p = next()
	}
	if p.Data[0] != typePEAP {
		t.Fatalf("FreeRADIUS asked for method %d, not PEAP", p.Data[0])
	}
	client := eaptls.NewBridge(false, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	t.Cleanup(client.Close)
	hello, _, err := client.Exchange(nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	send(p.ID, typePEAP, ppp.TLSData{Data: hello}.Append(nil))
	total := 0
	for i := 0; ; i++ {
		p := next()
		d, err := ppp.ParseTLSData(p.Data[1:])
		if err != nil {
			t.Fatal(err)
		}
		total += len(d.Data)
		if d.Flags&ppp.FlagMore == 0 {
			break
		}
		if i > 20 {
			t.Fatal("FreeRADIUS's first flight does not end")
		}
		send(p.ID, typePEAP, []byte{0}) // RFC 5216 §2.1.5: the fragment acknowledged
	}
	if total < mru {
		t.Fatalf("FreeRADIUS's first flight is %d bytes: it proves nothing about an MRU of %d", total, mru)
	}
}
