package p2s

import (
	"bufio"
	"context"
	"crypto/tls"
	"log/slog"
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

// gatewayStream is what a gateway sends a client up to EAP-TLS's start:
// the CALL_CONNECT_ACK, its LCP request (EAP), the acknowledgement of the
// client's (sstpFuzzClient makes it the right one) and the start.
func gatewayStream() []byte {
	var b []byte
	b = sstp.AppendControl(b, sstp.Control{Type: sstp.MsgCallConnectAck, Attrs: []sstp.Attr{{ID: sstp.AttribCryptoBindingReq,
		Value: sstp.CryptoBindingReq{HashBitmask: sstp.HashSHA256, Nonce: [32]byte{1, 2, 3}}.Append(nil)}}})
	b = sstp.AppendData(b, ppp.AppendFrame(nil, ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1,
		Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptAuthProto, Value: eapProto}, magicOption(0x01020304)})}.Append(nil)))
	b = sstp.AppendData(b, ppp.AppendFrame(nil, ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck}.Append(nil)))
	return sstp.AppendData(b, ppp.AppendFrame(nil, ppp.ProtoEAP, ppp.EAP{Code: ppp.EAPRequest, ID: 1, Type: ppp.TypeTLS,
		Data: ppp.TLSData{Flags: ppp.FlagStart}.Append(nil)}.Append(nil)))
}

// TestClientLeftInEAPTLSLeavesNothing: a client whose gateway goes away in
// the middle of the EAP-TLS handshake (a gateway restarted, a network
// down; vnetgw p2s connect --reconnect tries again and again) leaves no
// handshake of its own waiting for the gateway's next flight.
func TestClientLeftInEAPTLSLeavesNothing(t *testing.T) {
	p := newPKI(t)
	before := tlsHandshakesWaiting()
	for range 3 {
		c := &sstpFuzzClient{stream: gatewayStream()}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := startCall(ctx, ClientConfig{Logger: slog.New(slog.DiscardHandler), ServerName: "gateway", Cert: p.client}, c, bufio.NewReaderSize(c, 8<<10), [32]byte{})
		if err == nil || ctx.Err() != nil {
			t.Fatalf("a call whose gateway left: %v (context: %v)", err, ctx.Err())
		}
		cancel()
	}
	deadline := time.Now().Add(5 * time.Second)
	for tlsHandshakesWaiting() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d EAP-TLS handshakes of the client still wait for gateways that left", tlsHandshakesWaiting()-before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
