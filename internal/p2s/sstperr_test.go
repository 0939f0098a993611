package p2s

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// messagesUntilClosed reads SSTP packets from r until the connection
// closes, and returns the control messages among them; an error when it
// stays open.
func messagesUntilClosed(c net.Conn, r *bufio.Reader) ([]sstp.Control, error) {
	var buf [sstp.MaxPacket]byte
	var msgs []sstp.Control
	for {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		isControl, body, err := sstp.ReadPacket(r, &buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return msgs, errors.New("the connection stayed open")
		}
		if err != nil {
			return msgs, nil
		}
		if !isControl {
			continue
		}
		m, err := sstp.ParseControl(bytes.Clone(body))
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
	}
}

// fakeGateway listens as a gateway with pki's server certificate: it
// takes one client's SSTP HTTP request, reads its CALL_CONNECT_REQUEST,
// answers it with replies and reports the control messages the client
// sends then, until it closes the connection. dial is the client's call.
func fakeGateway(t *testing.T, pki *testPKI, replies ...sstp.Control) (dial func() error, got <-chan fakeGatewayAnswer) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.server}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	answers := make(chan fakeGatewayAnswer, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			answers <- fakeGatewayAnswer{err: err}
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				answers <- fakeGatewayAnswer{err: err}
				return
			}
			if strings.TrimSpace(line) == "" {
				break
			}
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"))
		var buf [sstp.MaxPacket]byte
		if _, _, err := sstp.ReadPacket(br, &buf); err != nil { // CALL_CONNECT_REQUEST
			answers <- fakeGatewayAnswer{err: err}
			return
		}
		for _, reply := range replies {
			c.Write(sstp.AppendControl(nil, reply))
		}
		msgs, err := messagesUntilClosed(c, br)
		answers <- fakeGatewayAnswer{msgs, err}
	}()
	roots := x509.NewCertPool()
	roots.AddCert(pki.root.Certificate)
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := Dial(ctx, ClientConfig{Server: netip.MustParseAddrPort(ln.Addr().String()), ServerName: "gateway", RootCAs: roots, Cert: pki.client, Logger: testLogger(t)})
		return err
	}, answers
}

// fakeGatewayAnswer is what a fakeGateway read of its client after its
// reply.
type fakeGatewayAnswer struct {
	msgs []sstp.Control
	err  error
}

// types returns the types of msgs.
func types(msgs []sstp.Control) []uint16 {
	var out []uint16
	for _, m := range msgs {
		out = append(out, m.Type)
	}
	return out
}

// abortStatus returns the Status Info of the CALL_ABORT among msgs, and
// whether there is one carrying it.
func abortStatus(msgs []sstp.Control) (sstp.StatusInfo, bool) {
	for _, m := range msgs {
		if m.Type != sstp.MsgCallAbort {
			continue
		}
		if a, ok := m.Find(sstp.AttribStatusInfo); ok {
			if si, err := sstp.ParseStatusInfo(a.Value); err == nil {
				return si, true
			}
		}
	}
	return sstp.StatusInfo{}, false
}

// TestInvalidSSTPMessageAbortsMSSSTP3_1_5_1: an SSTP message the gateway
// cannot take ends the call with a CALL_ABORT ([MS-SSTP] §3.1.5.1) whose
// Status Info attribute says which attribute is wrong and how (§2.2.13,
// §2.2.8), for the client's log: a message whose attribute overruns it,
// a CALL_CONNECTED whose crypto binding is of another length or missing
// (§3.3.5.2.3), a second CALL_CONNECT_REQUEST (§3.3.5.2.2), a message
// of a type SSTP 1.0 does not have; and vnetgw's client so answers a
// gateway's CALL_CONNECT_ACK without a crypto binding request
// (§3.2.5.3.2), a second one (§3.2.1.1.1), and a message of unknown type.
func TestInvalidSSTPMessageAbortsMSSSTP3_1_5_1(t *testing.T) {
	overrun := sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnected, Attrs: []sstp.Attr{{ID: sstp.AttribCryptoBinding, Value: make([]byte, 8)}}})
	overrun[len(overrun)-9] = 200 // the attribute's Length, past the message's end
	for _, tc := range []struct {
		name string
		msg  []byte
		want sstp.StatusInfo
	}{
		{"attribute overruns the message", overrun, sstp.StatusInfo{AttribID: sstp.AttribCryptoBinding, Status: sstp.StatusInvalidAttribValueLength}},
		{"crypto binding of 12 bytes", sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnected, Attrs: []sstp.Attr{{ID: sstp.AttribCryptoBinding, Value: make([]byte, 8)}}}),
			sstp.StatusInfo{AttribID: sstp.AttribCryptoBinding, Status: sstp.StatusInvalidAttribValueLength}},
		{"CALL_CONNECTED without a crypto binding", sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnected}),
			sstp.StatusInfo{AttribID: sstp.AttribCryptoBinding, Status: sstp.StatusRequiredAttributeMissing}},
		{"second CALL_CONNECT_REQUEST", sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnectRequest, Attrs: []sstp.Attr{{ID: sstp.AttribEncapsulatedProtocolID, Value: []byte{0, sstp.ProtocolPPP}}}}),
			sstp.StatusInfo{AttribID: sstp.AttribNoError, Status: sstp.StatusUnacceptedFrameReceived}},
		{"message of unknown type", sstp.AppendControl(nil, sstp.Control{Type: 0x42}),
			sstp.StatusInfo{AttribID: sstp.AttribNoError, Status: sstp.StatusInvalidFrameReceived}},
	} {
		t.Run("gateway/"+tc.name, func(t *testing.T) {
			r := newRegion(t, Config{})
			x := dialRaw(t, r.srv.Addr())
			x.openLCP()
			x.c.Write(tc.msg)
			msgs, err := messagesUntilClosed(x.c, x.r)
			if si, ok := abortStatus(msgs); err != nil || !ok || si.AttribID != tc.want.AttribID || si.Status != tc.want.Status {
				t.Errorf("the gateway answered with %+v (%v); want CALL_ABORT with Status Info %+v, then the connection closed", msgs, err, tc.want)
			}
		})
	}
	t.Run("client/message of unknown type", func(t *testing.T) {
		dial, got := fakeGateway(t, newPKI(t), sstp.Control{Type: 0x42})
		if err := dial(); err == nil {
			t.Error("Dial went on after a message of unknown type")
		}
		a := <-got
		want := sstp.StatusInfo{AttribID: sstp.AttribNoError, Status: sstp.StatusInvalidFrameReceived}
		if si, ok := abortStatus(a.msgs); a.err != nil || !ok || si.AttribID != want.AttribID || si.Status != want.Status {
			t.Errorf("the client answered with %s (%v); want CALL_ABORT with Status Info %+v, then the connection closed", fmt.Sprint(a.msgs), a.err, want)
		}
	})
	t.Run("client/second CALL_CONNECT_ACK", func(t *testing.T) {
		ack := sstp.Control{Type: sstp.MsgCallConnectAck, Attrs: []sstp.Attr{{ID: sstp.AttribCryptoBindingReq, Value: sstp.CryptoBindingReq{HashBitmask: sstp.HashSHA256}.Append(nil)}}}
		dial, got := fakeGateway(t, newPKI(t), ack, ack)
		if err := dial(); err == nil {
			t.Error("Dial went on after a second CALL_CONNECT_ACK")
		}
		a := <-got
		want := sstp.StatusInfo{AttribID: sstp.AttribNoError, Status: sstp.StatusUnacceptedFrameReceived}
		if si, ok := abortStatus(a.msgs); a.err != nil || !ok || si.AttribID != want.AttribID || si.Status != want.Status {
			t.Errorf("the client answered with %s (%v); want CALL_ABORT with Status Info %+v, then the connection closed", fmt.Sprint(a.msgs), a.err, want)
		}
	})
	t.Run("client/CALL_CONNECT_ACK without a crypto binding request", func(t *testing.T) {
		dial, got := fakeGateway(t, newPKI(t), sstp.Control{Type: sstp.MsgCallConnectAck})
		if err := dial(); err == nil {
			t.Error("Dial took a CALL_CONNECT_ACK without a crypto binding request")
		}
		a := <-got
		want := sstp.StatusInfo{AttribID: sstp.AttribCryptoBindingReq, Status: sstp.StatusRequiredAttributeMissing}
		if si, ok := abortStatus(a.msgs); a.err != nil || !ok || si.AttribID != want.AttribID || si.Status != want.Status {
			t.Errorf("the client answered with %s (%v); want CALL_ABORT with Status Info %+v, then the connection closed", fmt.Sprint(a.msgs), a.err, want)
		}
	})
}

// TestCallConnectNakStatusInfoMSSSTP2_2_12: a CALL_CONNECT_REQUEST for
// another protocol than PPP, or for none, gets a CALL_CONNECT_NAK with a
// Status Info attribute saying what is wrong with the Encapsulated
// Protocol ID, and the value the client proposed ([MS-SSTP] §2.2.12: MUST
// have one or more; §3.3.5.2.2); so does one with a Status Info attribute
// of a nonzero status, which §3.3.1.1.1 calls unacceptable. (A full
// gateway is told after the client authenticated, with a CALL_ABORT:
// TestReconnectReplacesStaleConnection.)
func TestCallConnectNakStatusInfoMSSSTP2_2_12(t *testing.T) {
	timedOut := sstp.StatusInfo{Status: sstp.StatusNegotiationTimeout}.Append(nil)
	for _, tc := range []struct {
		name  string
		attrs []sstp.Attr
		want  sstp.StatusInfo
	}{
		{"protocol 2", []sstp.Attr{{ID: sstp.AttribEncapsulatedProtocolID, Value: []byte{0, 2}}},
			sstp.StatusInfo{AttribID: sstp.AttribEncapsulatedProtocolID, Status: sstp.StatusValueNotSupported, Value: []byte{0, 2}}},
		{"no protocol", nil, sstp.StatusInfo{AttribID: sstp.AttribEncapsulatedProtocolID, Status: sstp.StatusRequiredAttributeMissing}},
		{"Status Info of a nonzero status", []sstp.Attr{{ID: sstp.AttribEncapsulatedProtocolID, Value: []byte{0, sstp.ProtocolPPP}}, {ID: sstp.AttribStatusInfo, Value: timedOut}},
			sstp.StatusInfo{AttribID: sstp.AttribStatusInfo, Status: sstp.StatusStatusInfoNotSupportedInMsg, Value: timedOut}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegion(t, Config{})
			c, err := tls.Dial("tcp", r.srv.Addr().String(), &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "SSTP_DUPLEX_POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Length: 18446744073709551615\r\n\r\n", sstpPath)
			br := bufio.NewReader(c)
			if err := readHTTPOK(br); err != nil {
				t.Fatal(err)
			}
			c.Write(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnectRequest, Attrs: tc.attrs}))
			msgs, err := messagesUntilClosed(c, br)
			var got []sstp.StatusInfo
			for _, m := range msgs {
				for _, a := range m.Attrs {
					if si, err := sstp.ParseStatusInfo(a.Value); m.Type == sstp.MsgCallConnectNak && a.ID == sstp.AttribStatusInfo && err == nil {
						got = append(got, si)
					}
				}
			}
			if err != nil || len(got) != 1 || got[0].AttribID != tc.want.AttribID || got[0].Status != tc.want.Status || !bytes.Equal(got[0].Value, tc.want.Value) {
				t.Errorf("the gateway answered with %+v (%v); want a CALL_CONNECT_NAK with Status Info %+v", msgs, err, tc.want)
			}
		})
	}
}

// TestSecondCallConnectedAbortsMSSSTP3_3_1_1_1: the first CALL_CONNECTED
// connects the call ([MS-SSTP] §3.3.1.1.1, Server_Call_Connected);
// another, even with a valid crypto binding, is an invalid message that
// aborts it (§3.1.5.1) with a Status Info that says so, rather than
// checked again and the client logged as connected a second time.
func TestSecondCallConnectedAbortsMSSSTP3_3_1_1_1(t *testing.T) {
	r := newRegion(t, Config{})
	cl, _, err := r.dial(t, r.pki.client)
	if err != nil {
		t.Fatal(err)
	}
	l := cl.l // its binding state was written before Dial returned
	b := sstp.CryptoBinding{HashProtocol: sstp.HashSHA256, Nonce: l.nonce, CertHash: l.certHash}
	msg := func() []byte {
		return sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnected, Attrs: []sstp.Attr{{ID: sstp.AttribCryptoBinding, Value: b.Append(nil)}}})
	}
	copy(b.CompoundMAC[:], compoundMAC(l.hlak, msg()))
	l.wmu.Lock()
	_, err = l.conn.Write(msg())
	l.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-cl.Done():
		if !strings.Contains(err.Error(), "CALL_ABORT") || !strings.Contains(err.Error(), "UNACCEPTED_FRAME_RECEIVED") {
			t.Errorf("the call ended with %q; want the gateway's CALL_ABORT, unaccepted frame received", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the call goes on after a second CALL_CONNECTED")
	}
}
