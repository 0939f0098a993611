package eaptls

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// FuzzServer feeds the authenticator a client's EAP packets, each input
// a sequence of them (2-byte length, packet): it never panics, never
// succeeds without a client certificate, and answers each packet it takes
// with a Request, Success or Failure of its current identifier.
func FuzzServer(f *testing.F) {
	root, server, _ := tlsPKI(f)
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate)
	identity := ppp.EAP{Code: ppp.EAPResponse, ID: 1, Type: ppp.TypeIdentity, Data: []byte("alice")}.Append(nil)
	hello := ppp.EAP{Code: ppp.EAPResponse, ID: 2, Type: ppp.TypeTLS, Data: ppp.TLSData{Data: []byte{22, 3, 3, 0, 1, 1}}.Append(nil)}.Append(nil)
	frame := func(ps ...[]byte) []byte {
		var b []byte
		for _, x := range ps {
			b = append(b, byte(len(x)>>8), byte(len(x)))
			b = append(b, x...)
		}
		return b
	}
	f.Add(frame(identity))
	f.Add(frame(identity, hello))
	f.Add(frame(identity, ppp.EAP{Code: ppp.EAPResponse, ID: 2, Type: ppp.TypeNak, Data: []byte{13}}.Append(nil)))
	f.Add(frame(identity, ppp.EAP{Code: ppp.EAPResponse, ID: 2, Type: ppp.TypeTLS, Data: ppp.TLSData{Flags: ppp.FlagMore | ppp.FlagLength, MessageLength: 9, Data: []byte{22}}.Append(nil)}.Append(nil)))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewServer(ServerConfig(server, roots, nil), 300, time.Second)
		defer s.Close()
		s.Start()
		for len(b) >= 2 {
			n := int(b[0])<<8 | int(b[1])
			b = b[2:]
			if n > len(b) {
				return
			}
			m, err := ppp.ParseEAP(b[:n])
			b = b[n:]
			if err != nil {
				continue
			}
			next, msk, ok, err := s.Handle(m)
			if !ok {
				continue
			}
			if msk != nil && s.PeerCertificate() == nil {
				t.Fatal("EAP success without a client certificate")
			}
			if err != nil && next.Code != ppp.EAPFailure {
				t.Fatalf("an error (%v) answered with code %d", err, next.Code)
			}
			if next.Code == ppp.EAPFailure || next.Code == ppp.EAPSuccess {
				return
			}
		}
	})
}
