package p2s

import (
	"crypto/tls"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// tlsHandshakesWaiting counts the EAP-TLS handshakes (of this process)
// that wait for the peer's next flight.
func tlsHandshakesWaiting() int {
	buf := make([]byte, 1<<22)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "eaptls.bridgeConn.Read")
}

// TestAbandonedEAPTLSLeavesNothing: a client that leaves in the middle of
// the EAP-TLS handshake (anyone may: no credential is needed to start
// one) leaves no handshake of the gateway's waiting for it.
func TestAbandonedEAPTLSLeavesNothing(t *testing.T) {
	r := newRegion(t, Config{})
	before := tlsHandshakesWaiting()
	for range 3 {
		x := dialRaw(t, r.srv.Addr())
		x.openLCP()
		send := func(m ppp.EAP) {
			x.c.Write(sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoEAP, m.Append(nil))))
		}
		id := x.next(ppp.ProtoEAP) // Identity request
		send(ppp.EAP{Code: ppp.EAPResponse, ID: id.ID, Type: ppp.TypeIdentity, Data: []byte("mallory")})
		start := x.next(ppp.ProtoEAP) // EAP-TLS Start
		client := eaptls.NewBridge(false, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
		hello, _, err := client.Exchange(nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		send(ppp.EAP{Code: ppp.EAPResponse, ID: start.ID, Type: ppp.TypeTLS, Data: ppp.TLSData{Data: hello}.Append(nil)})
		x.next(ppp.ProtoEAP) // the gateway's first flight: its handshake waits for ours
		client.Close()
		x.c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for tlsHandshakesWaiting() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d EAP-TLS handshakes of the gateway still wait for clients that left", tlsHandshakesWaiting()-before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
