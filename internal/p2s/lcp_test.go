package p2s

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// rawClient speaks SSTP and PPP to a server packet by packet, to say what
// vnetgw's own client never says.
type rawClient struct {
	t *testing.T
	c *tls.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr netip.AddrPort) *rawClient {
	t.Helper()
	c, err := tls.Dial("tcp", addr.String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "SSTP_DUPLEX_POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Length: 18446744073709551615\r\n\r\n", sstpPath)
	x := &rawClient{t: t, c: c, r: bufio.NewReader(c)}
	if err := readHTTPOK(x.r); err != nil {
		t.Fatal(err)
	}
	c.Write(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnectRequest, Attrs: []sstp.Attr{{ID: sstp.AttribEncapsulatedProtocolID, Value: []byte{0, sstp.ProtocolPPP}}}}))
	return x
}

func (x *rawClient) send(proto uint16, p ppp.Packet) {
	x.c.Write(sstp.AppendData(nil, ppp.AppendFrame(nil, proto, p.Append(nil))))
}

// next returns the next PPP packet of proto, skipping control messages
// and other protocols' packets; it fails the test when the server aborts
// or ends the call.
func (x *rawClient) next(proto uint16) ppp.Packet {
	x.t.Helper()
	_, p := x.nextOf(proto)
	return p
}

// nextOf returns the next PPP packet of any of protos, and its protocol,
// as next does.
func (x *rawClient) nextOf(protos ...uint16) (uint16, ppp.Packet) {
	x.t.Helper()
	var buf [sstp.MaxPacket]byte
	for {
		x.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		isControl, body, err := sstp.ReadPacket(x.r, &buf)
		if err != nil {
			x.t.Fatalf("waiting for protocol %#04x: %v", protos, err)
		}
		if isControl {
			if c, err := sstp.ParseControl(body); err == nil && (c.Type == sstp.MsgCallAbort || c.Type == sstp.MsgCallDisconnect) {
				x.t.Fatalf("waiting for protocol %#04x: the server ended the call (message %d)", protos, c.Type)
			}
			continue
		}
		for _, proto := range protos {
			if p, ok := packetOf(x.t, body, proto); ok {
				return proto, p
			}
		}
	}
}

// packetOf returns the PPP packet of proto that the body of an SSTP data
// packet carries, ok false when it carries another protocol's or no PPP
// frame; a packet of proto that does not parse fails the test.
func packetOf(t testing.TB, body []byte, proto uint16) (p ppp.Packet, ok bool) {
	t.Helper()
	got, info, err := ppp.ParseFrame(body)
	if err != nil || got != proto {
		return ppp.Packet{}, false
	}
	if p, err = ppp.ParsePacket(info); err != nil {
		t.Fatal(err)
	}
	return p, true
}

// authOption returns the Authentication-Protocol option of an LCP
// Configure-Request.
func authOption(t *testing.T, p ppp.Packet) []byte {
	t.Helper()
	opts, err := ppp.ParseOptions(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		if o.Type == ppp.OptAuthProto {
			return o.Value
		}
	}
	t.Fatalf("a Configure-Request without authentication: % x", p.Data)
	return nil
}

// TestLCPAuthNegotiation: a gateway with certificates and RADIUS asks
// for EAP; a client that names CHAP-MD5 instead (pppd with a password
// does) is asked for MS-CHAPv2, and a repeated Nak to the first request
// (pppd answers each retransmission) is discarded by its Identifier
// (RFC 1661 §5.3), not taken as a refusal: the client then acknowledges
// and is challenged. No RADIUS server is asked before the client answers.
func TestLCPAuthNegotiation(t *testing.T) {
	r := newRegion(t, Config{Radius: []radius.Server{{Addr: netip.MustParseAddrPort("127.0.0.1:9"), Secret: []byte("unused")}}, NASIdentifier: "hub-gw"})
	x := dialRaw(t, r.srv.Addr())
	first := x.next(ppp.ProtoLCP)
	if first.Code != ppp.ConfReq || !bytes.Equal(authOption(t, first), eapProto) {
		t.Fatalf("the gateway's first request: %+v", first)
	}
	md5 := ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptAuthProto, Value: []byte{0xc2, 0x23, 0x05}}})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfNak, ID: first.ID, Data: md5})
	second := x.next(ppp.ProtoLCP)
	if second.Code != ppp.ConfReq || second.ID == first.ID || !bytes.Equal(authOption(t, second), mschapProto) {
		t.Fatalf("after a Nak for CHAP-MD5 the gateway asks: %+v", second)
	}
	// The late answer to the first request, then the answers to the
	// second; the client's own request.
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfNak, ID: first.ID, Data: md5})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: second.ID, Data: second.Data})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMagic, Value: []byte{1, 2, 3, 4}}})})
	if ack := x.next(ppp.ProtoLCP); ack.Code != ppp.ConfAck || ack.ID != 1 {
		t.Fatalf("the gateway's answer to the client's request: %+v", ack)
	}
	ch := x.next(ppp.ProtoCHAP)
	v, err := ppp.ParseCHAPValue(ch.Data)
	if ch.Code != ppp.CHAPChallenge || err != nil || len(v.Value) != 16 || string(v.Name) != "hub-gw" {
		t.Fatalf("the gateway's challenge: %+v (%+v, %v)", ch, v, err)
	}
}

// TestLCPNakForeverDropped: a client that Naks every LCP request of the
// gateway's (here its Maximum-Receive-Unit, which the gateway does not
// change) is dropped after Max-Configure requests (RFC 1661 §4.6), not
// asked again for as long as it Naks, with a CALL_ABORT whose Status Info
// says RETRY_COUNT_EXCEEDED ([MS-SSTP] §2.2.13: SHOULD have one).
func TestLCPNakForeverDropped(t *testing.T) {
	r := newRegion(t, Config{})
	x := dialRaw(t, r.srv.Addr())
	nak := ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMRU, Value: []byte{0x03, 0xe8}}})
	var buf [sstp.MaxPacket]byte
	requests := 0
	var end sstp.Control // the CALL_ABORT or CALL_DISCONNECT that ended the call
	for requests <= 3*maxConfigure {
		x.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		isControl, body, err := sstp.ReadPacket(x.r, &buf)
		if err != nil {
			break // the connection ended
		}
		if isControl {
			if c, err := sstp.ParseControl(bytes.Clone(body)); err == nil && (c.Type == sstp.MsgCallAbort || c.Type == sstp.MsgCallDisconnect) {
				end = c
				break
			}
			continue
		}
		proto, info, err := ppp.ParseFrame(body)
		if err != nil || proto != ppp.ProtoLCP {
			continue
		}
		p, err := ppp.ParsePacket(info)
		if err != nil || p.Code != ppp.ConfReq {
			continue
		}
		requests++
		x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfNak, ID: p.ID, Data: nak})
	}
	if requests > maxConfigure {
		t.Errorf("the gateway sent %d LCP requests to a client that Naks each, want at most %d", requests, maxConfigure)
	}
	if requests == 0 {
		t.Error("the gateway sent no LCP request")
	}
	if si, ok := abortStatus([]sstp.Control{end}); !ok || si.AttribID != sstp.AttribNoError || si.Status != sstp.StatusRetryCountExceeded {
		t.Errorf("the call ended with %+v; want a CALL_ABORT with Status Info RETRY_COUNT_EXCEEDED", end)
	}
}

// TestLCPRestartTimerInAckRcvdRFC1661Section4_1: a client that
// acknowledges the gateway's LCP request and sends none of its own
// leaves LCP in Ack-Rcvd, where the Restart timer still runs: the request
// goes out again, under a new Identifier since the last was answered
// (RFC 1661 §4.1, TO+ in Ack-Rcvd: scr, to Req-Sent; §5.1), and after
// Max-Configure requests the call ends (TO-: tlf) with a CALL_ABORT whose
// Status Info says RETRY_COUNT_EXCEEDED, and the log says why, rather
// than the gateway waiting for the client's request for ever.
func TestLCPRestartTimerInAckRcvdRFC1661Section4_1(t *testing.T) {
	t.Parallel()
	var log logbuf.Buffer
	r := newRegion(t, Config{Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&log, testWriter{t}), nil))})
	x := dialRaw(t, r.srv.Addr())
	var buf [sstp.MaxPacket]byte
	ids := map[uint8]bool{}
	requests := 0
	var end sstp.Control // the CALL_ABORT or CALL_DISCONNECT that ended the call
	for requests <= 3*maxConfigure {
		x.c.SetReadDeadline(time.Now().Add(restartTimer + 10*time.Second))
		isControl, body, err := sstp.ReadPacket(x.r, &buf)
		if err != nil {
			t.Fatalf("after %d LCP requests Acked: %v; want another request or the call's end", requests, err)
		}
		if isControl {
			if c, err := sstp.ParseControl(bytes.Clone(body)); err == nil && (c.Type == sstp.MsgCallAbort || c.Type == sstp.MsgCallDisconnect) {
				end = c
				break
			}
			continue
		}
		p, ok := packetOf(t, body, ppp.ProtoLCP)
		if !ok || p.Code != ppp.ConfReq {
			continue
		}
		if ids[p.ID] {
			t.Errorf("request %d under Identifier %d again, after its Ack; want a new one (RFC 1661 §5.1)", requests+1, p.ID)
		}
		ids[p.ID] = true
		requests++
		x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: p.ID, Data: p.Data})
	}
	if requests != maxConfigure {
		t.Errorf("the gateway sent %d LCP requests to a client that Acks each and sends none, want %d", requests, maxConfigure)
	}
	if si, ok := abortStatus([]sstp.Control{end}); !ok || si.AttribID != sstp.AttribNoError || si.Status != sstp.StatusRetryCountExceeded {
		t.Errorf("the call ended with %+v; want a CALL_ABORT with Status Info RETRY_COUNT_EXCEEDED", end)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(log.String(), "LCP does not open: the peer acknowledged our request but sent none") {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not log why the call ended:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCodeRejectInAckRcvdRFC1661Section4_1: a client's Code-Reject in
// Ack-Rcvd (the gateway's LCP request acknowledged, the client's not yet)
// of a code LCP can do without, here Echo-Reply, takes LCP back to
// Req-Sent (RFC 1661 §4.1, RXJ+): the client's next request acknowledged
// does not open LCP, the gateway's request goes out again on the Restart
// timer, and LCP opens, EAP starting, on its Ack. One of a code LCP
// cannot do without, Configure-Request, ends the call at once, with
// CALL_DISCONNECT (RXJ-: tlf).
func TestCodeRejectInAckRcvdRFC1661Section4_1(t *testing.T) {
	codeRej := func(code uint8) ppp.Packet {
		return ppp.Packet{Code: ppp.CodeRej, ID: 3, Data: ppp.Packet{Code: code, ID: 9}.Append(nil)}
	}
	t.Run("RXJ+", func(t *testing.T) {
		r := newRegion(t, Config{})
		x := dialRaw(t, r.srv.Addr())
		ours := x.next(ppp.ProtoLCP)
		x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data})
		x.send(ppp.ProtoLCP, codeRej(ppp.EchoReply))
		x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1})
		x.lcpAnswer(1, ppp.ConfAck)
		proto, again := x.nextOf(ppp.ProtoLCP, ppp.ProtoEAP)
		if proto != ppp.ProtoLCP || again.Code != ppp.ConfReq {
			t.Fatalf("after the Code-Reject in Ack-Rcvd and the Ack of the client's request the gateway sent protocol %#04x code %d; want its LCP request again, LCP not open", proto, again.Code)
		}
		x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: again.ID, Data: again.Data})
		x.next(ppp.ProtoEAP)
	})
	t.Run("RXJ-", func(t *testing.T) {
		r := newRegion(t, Config{})
		x := dialRaw(t, r.srv.Addr())
		ours := x.next(ppp.ProtoLCP)
		x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data})
		x.send(ppp.ProtoLCP, codeRej(ppp.ConfReq))
		var buf [sstp.MaxPacket]byte
		for {
			x.c.SetReadDeadline(time.Now().Add(restartTimer - time.Second)) // at once, not after the Restart timer
			isControl, body, err := sstp.ReadPacket(x.r, &buf)
			if err != nil {
				t.Fatalf("the call did not end on the Code-Reject of Configure-Request: %v", err)
			}
			if c, err := sstp.ParseControl(body); isControl && err == nil && (c.Type == sstp.MsgCallDisconnect || c.Type == sstp.MsgCallAbort) {
				if c.Type != sstp.MsgCallDisconnect {
					t.Errorf("the call ended with message %d, want CALL_DISCONNECT", c.Type)
				}
				return
			}
		}
	})
}

// TestSSTPRequestLineBounded: the HTTP request that opens SSTP is read
// within the connection's buffer ([MS-SSTP] §3.2.4.1's request and its
// headers are a few hundred bytes): a line that does not end is refused
// at once, not gathered in memory for as long as the client sends it.
func TestSSTPRequestLineBounded(t *testing.T) {
	for _, tc := range []struct{ name, start string }{
		{"request line", "SSTP_DUPLEX_POST " + sstpPath},
		{"header", "SSTP_DUPLEX_POST " + sstpPath + " HTTP/1.1\r\nX-Long: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegion(t, Config{})
			c, err := tls.Dial("tcp", r.srv.Addr().String(), &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sent := make(chan int, 1)
			go func() {
				n, _ := c.Write([]byte(tc.start))
				chunk := bytes.Repeat([]byte("A"), 64<<10)
				for n < 256<<20 {
					m, err := c.Write(chunk)
					n += m
					if err != nil {
						break
					}
				}
				sent <- n
			}()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			answer, err := bufio.NewReader(c).ReadString('\n')
			if !strings.HasPrefix(answer, "HTTP/1.1 400") {
				t.Errorf("a request line without an end: the gateway answered %q (%v), want 400", answer, err)
			}
			c.Close()
			if n := <-sent; n > 16<<20 {
				t.Errorf("the gateway read %d MiB of one line", n>>20)
			}
		})
	}
}

// TestPPPBeforeCallConnectDropped: PPP that comes before the client's
// CALL_CONNECT_REQUEST is dropped ([MS-SSTP] §3.3.7.2: the server passes
// PPP control frames on only in Server_Call_Connected_Pending or
// Server_Call_Connected): LCP does not start, nor authentication, for a
// call that was not asked for (nor counted against the gateway's limit).
func TestPPPBeforeCallConnectDropped(t *testing.T) {
	r := newRegion(t, Config{})
	c, err := tls.Dial("tcp", r.srv.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "SSTP_DUPLEX_POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Length: 18446744073709551615\r\n\r\n", sstpPath)
	x := &rawClient{t: t, c: c, r: bufio.NewReader(c)}
	if err := readHTTPOK(x.r); err != nil {
		t.Fatal(err)
	}
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1})
	if !x.quiet(ppp.ProtoLCP, time.Second) {
		t.Fatal("the gateway answered LCP before the client asked for the call")
	}
	// Asked for, the call starts as usual.
	c.Write(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnectRequest, Attrs: []sstp.Attr{{ID: sstp.AttribEncapsulatedProtocolID, Value: []byte{0, sstp.ProtocolPPP}}}}))
	if p := x.next(ppp.ProtoLCP); p.Code != ppp.ConfReq {
		t.Fatalf("the gateway's first LCP packet after CALL_CONNECT_REQUEST: %+v", p)
	}
}

// TestLCPAnswerWithOtherOptionsRFC1661Section5_2: an LCP Configure-Ack
// whose options are not exactly those of our last request (RFC 1661
// §5.2), or a Configure-Reject whose options are not some of them,
// unmodified and in order (§5.4), is invalid and discarded, on both
// sides: LCP does not open on it, no option is dropped and nothing is
// asked again, and the gateway does not end the call on a Reject of an
// authentication it did not ask for. The Ack of the request as sent
// opens it.
func TestLCPAnswerWithOtherOptionsRFC1661Section5_2(t *testing.T) {
	magic := func(v uint32) ppp.Option {
		return ppp.Option{Type: ppp.OptMagic, Value: []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}}
	}
	chapMD5 := ppp.Option{Type: ppp.OptAuthProto, Value: []byte{0xc2, 0x23, 0x05}}
	for _, server := range []bool{false, true} {
		for _, tc := range []struct {
			name   string
			answer func(req []ppp.Option) ppp.Packet
		}{
			{"Ack of another magic number", func(req []ppp.Option) ppp.Packet {
				opts := append([]ppp.Option(nil), req...)
				opts[len(opts)-1] = magic(0x01020304)
				return ppp.Packet{Code: ppp.ConfAck, Data: ppp.AppendOptions(nil, opts)}
			}},
			{"Ack of no options", func([]ppp.Option) ppp.Packet { return ppp.Packet{Code: ppp.ConfAck} }},
			{"Ack of an option more", func(req []ppp.Option) ppp.Packet {
				return ppp.Packet{Code: ppp.ConfAck, Data: ppp.AppendOptions(nil, append(append([]ppp.Option(nil), req...), ppp.Option{Type: ppp.OptPFC}))}
			}},
			{"Reject of another magic number", func([]ppp.Option) ppp.Packet {
				return ppp.Packet{Code: ppp.ConfRej, Data: ppp.AppendOptions(nil, []ppp.Option{magic(0x01020304)})}
			}},
			{"Reject of an option not asked for", func([]ppp.Option) ppp.Packet {
				return ppp.Packet{Code: ppp.ConfRej, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMRU, Value: []byte{0x05, 0xdc}}})}
			}},
			{"Reject of another authentication", func([]ppp.Option) ppp.Packet {
				return ppp.Packet{Code: ppp.ConfRej, Data: ppp.AppendOptions(nil, []ppp.Option{chapMD5})}
			}},
		} {
			t.Run(fmt.Sprintf("server=%v/%s", server, tc.name), func(t *testing.T) {
				conn := &recorder{}
				l := newLink(server, conn, nil, testLogger(t))
				l.srv = &Server{}
				if err := l.sendLCPRequest(); err != nil {
					t.Fatal(err)
				}
				sent, _ := conn.take(t, ppp.ProtoLCP)
				req, err := ppp.ParseOptions(sent[0].Data)
				if err != nil {
					t.Fatal(err)
				}
				magicBefore := l.magic
				answer := tc.answer(req)
				answer.ID = sent[0].ID
				if err := l.handleLCP(answer.Append(nil)); err != nil {
					t.Fatalf("the invalid answer ended the link: %v", err)
				}
				if again, abort := conn.take(t, ppp.ProtoLCP); len(again) != 0 || abort {
					t.Errorf("the invalid answer made it send %+v, CALL_ABORT %v; want nothing", again, abort)
				}
				if l.lcpOurs || l.magic != magicBefore || l.lcpTries != 0 {
					t.Errorf("after the invalid answer: open %v, magic %#x (was %#x), refused %d; want nothing changed", l.lcpOurs, l.magic, magicBefore, l.lcpTries)
				}
				if err := l.handleLCP(ppp.Packet{Code: ppp.ConfAck, ID: sent[0].ID, Data: sent[0].Data}.Append(nil)); err != nil || !l.lcpOurs {
					t.Errorf("the Ack of the request as sent: err %v, open %v; want open", err, l.lcpOurs)
				}
			})
		}
	}
}

// magicOf returns the Magic-Number of an LCP Configure packet, 0 when it
// carries none.
func magicOf(t *testing.T, p ppp.Packet) uint32 {
	t.Helper()
	opts, err := ppp.ParseOptions(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		if o.Type == ppp.OptMagic {
			v, err := o.Uint32()
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

// TestLCPLoopbackRFC1661Section6_4: a Configure-Request that carries the
// magic number of our last request (a looped-back link, or a peer that
// chose the same) is Nak'd with another magic number (RFC 1661 §6.4),
// not Acked; and a link that keeps sending back what we send (our
// requests, then our Naks of them) ends, saying it is looped back,
// rather than negotiating with itself: the gateway with CALL_ABORT,
// vnetgw's client with its error.
func TestLCPLoopbackRFC1661Section6_4(t *testing.T) {
	t.Run("gateway, a request with its magic number", func(t *testing.T) {
		r := newRegion(t, Config{})
		x := dialRaw(t, r.srv.Addr())
		req := x.next(ppp.ProtoLCP)
		ours := magicOf(t, req)
		x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, []ppp.Option{magicOption(ours)})})
		nak := x.next(ppp.ProtoLCP)
		if nak.Code != ppp.ConfNak || nak.ID != 1 || magicOf(t, nak) == 0 || magicOf(t, nak) == ours {
			t.Fatalf("a request with the gateway's magic number %#x answered with %+v, want a Nak of another", ours, nak)
		}
		// With a magic number of its own, the peer's request is Acked.
		x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 2, Data: ppp.AppendOptions(nil, []ppp.Option{magicOption(magicOf(t, nak))})})
		if ack := x.next(ppp.ProtoLCP); ack.Code != ppp.ConfAck || ack.ID != 2 {
			t.Fatalf("a request with the magic number the gateway named answered with %+v, want an Ack", ack)
		}
	})
	t.Run("gateway, looped back", func(t *testing.T) {
		var log logbuf.Buffer
		r := newRegion(t, Config{Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&log, testWriter{t}), nil))})
		x := dialRaw(t, r.srv.Addr())
		var buf [sstp.MaxPacket]byte
		aborted, magics := false, map[uint32]bool{}
		for n := 0; n < 20*maxLoopback && !aborted; n++ {
			x.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			isControl, body, err := sstp.ReadPacket(x.r, &buf)
			if err != nil {
				t.Fatalf("the gateway ended the connection without CALL_ABORT: %v", err)
			}
			if isControl {
				c, err := sstp.ParseControl(body)
				aborted = err == nil && c.Type == sstp.MsgCallAbort
				continue
			}
			if p, ok := packetOf(t, body, ppp.ProtoLCP); ok && p.Code == ppp.ConfReq {
				magics[magicOf(t, p)] = true
			}
			x.c.Write(sstp.AppendData(nil, body)) // the loop
		}
		if !aborted {
			t.Fatalf("the gateway still negotiates with itself after %d packets looped back", 20*maxLoopback)
		}
		if len(magics) < maxLoopback {
			t.Errorf("the gateway's requests carried %d magic numbers, want a new one after each Nak of its own (%d)", len(magics), maxLoopback)
		}
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(log.String(), "the link is looped back") {
			if time.Now().After(deadline) {
				t.Fatalf("the gateway did not log the link looped back:\n%s", log.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("client, looped back", func(t *testing.T) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		l := newLink(false, a, bufio.NewReader(a), testLogger(t))
		go func() { // the loop: every data packet sent back
			var buf [sstp.MaxPacket]byte
			r := bufio.NewReader(b)
			for {
				isControl, body, err := sstp.ReadPacket(r, &buf)
				if err != nil {
					return
				}
				if !isControl {
					b.Write(sstp.AppendData(nil, body))
				}
			}
		}()
		ended := make(chan error, 1)
		go func() {
			err := l.sendLCPRequest()
			if err == nil {
				err = l.run(func(sstp.Control, []byte) error { return nil })
			}
			a.Close()
			ended <- err
		}()
		select {
		case err := <-ended:
			if err == nil || !strings.Contains(err.Error(), "the link is looped back") {
				t.Errorf("the client's looped-back link ended with %v, want it said looped back", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the client's link still negotiates with itself")
		}
	})
}

// TestLCPRenegotiationRFC1661Section4_1: a Configure-Request from the
// peer while LCP is open takes the link down, IPCP with it (RFC 1661
// §4.1, Opened, RCR: tld, scr, sca), and our LCP request goes out again
// with the Ack of the peer's; once LCP is open again, IPCP is negotiated
// again, without a second authentication (the gateway's request no
// longer asks for one), and the link is up on the Ack of our IPCP
// request, client and gateway. The gateway keeps the client's address.
func TestLCPRenegotiationRFC1661Section4_1(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			x.l.lcpOurs, x.l.lcpPeers = true, true
			peers := ppp.Packet{Code: ppp.ConfReq, ID: 9, Data: ppp.AppendOptions(nil, []ppp.Option{magicOption(0x0badcafe)})}
			if err := x.l.handleLCP(peers.Append(nil)); err != nil {
				t.Fatal(err)
			}
			if x.l.up.Load() {
				t.Fatal("the link is up after the peer's LCP request while open")
			}
			sent, _ := x.conn.take(t, ppp.ProtoLCP)
			var ours ppp.Packet
			acked := false
			for _, p := range sent {
				switch {
				case p.Code == ppp.ConfReq:
					ours = p
				case p.Code == ppp.ConfAck && p.ID == peers.ID:
					acked = true
				}
			}
			if ours.Code != ppp.ConfReq || !acked {
				t.Fatalf("the peer's LCP request while open answered with %+v; want an Ack and our request", sent)
			}
			if opts, _ := ppp.ParseOptions(ours.Data); len(opts) != 1 || opts[0].Type != ppp.OptMagic {
				t.Errorf("our LCP request again: % x, want the magic number alone (no second authentication)", ours.Data)
			}
			if ipcp, _ := x.conn.take(t, ppp.ProtoIPCP); len(ipcp) != 0 {
				t.Fatalf("IPCP sent %+v before LCP was open again", ipcp)
			}
			if err := x.l.handleLCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil {
				t.Fatal(err)
			}
			if x.l.up.Load() {
				t.Fatal("the link is up on LCP alone, before IPCP was negotiated again")
			}
			x.negotiate("after LCP was renegotiated", x.req.Data)
			if server && x.l.peer != netip.MustParseAddr("172.16.201.2") {
				t.Errorf("after the renegotiation the client's address is %v, want 172.16.201.2", x.l.peer)
			}
		})
	}
}

// TestLCPRenegotiationBeforeAuthenticationRFC1661Section3_5: a client
// that renegotiates LCP while EAP is under way (before it answered the
// gateway's Identity request) is asked again once LCP is open again (RFC
// 1661 §3.5: authentication follows LCP's opening); the gateway sent
// nothing more, the client waited for it, and the call ended at the
// negotiation timeout.
func TestLCPRenegotiationBeforeAuthenticationRFC1661Section3_5(t *testing.T) {
	r := newRegion(t, Config{})
	x := dialRaw(t, r.srv.Addr())
	x.openLCP()
	if _, p := x.nextOf(ppp.ProtoEAP); p.Code != ppp.EAPRequest {
		t.Fatalf("after LCP opened the gateway sent EAP %+v, want a request", p)
	}
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 2})
	var ours ppp.Packet
	for ours.Code != ppp.ConfReq {
		ours = x.next(ppp.ProtoLCP)
	}
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data})
	// nextOf fails the test when nothing comes within 10 s.
	if _, p := x.nextOf(ppp.ProtoEAP); p.Code != ppp.EAPRequest {
		t.Fatalf("LCP open again before authentication: the gateway sent EAP %+v, want a request", p)
	}
}

// TestLCPRetransmissionRFC1661Section5_1: the gateway's LCP request sent
// again on the Restart timer, unchanged, keeps its Identifier (RFC 1661
// §5.1), as its IPCP request does, so that the Ack of the first opens
// LCP; a changed request (after a Nak) gets a new one, and a late Ack of
// the earlier request is not taken for the Ack of the changed one.
func TestLCPRetransmissionRFC1661Section5_1(t *testing.T) {
	r := newRegion(t, Config{Radius: []radius.Server{{Addr: netip.MustParseAddrPort("127.0.0.1:9"), Secret: []byte("unused")}}, NASIdentifier: "hub-gw"})
	x := dialRaw(t, r.srv.Addr())
	first := x.next(ppp.ProtoLCP)
	again := x.next(ppp.ProtoLCP) // unanswered: the Restart timer
	if again.Code != ppp.ConfReq || again.ID != first.ID || !bytes.Equal(again.Data, first.Data) {
		t.Fatalf("the gateway's request sent again is %+v, want the first %+v, its Identifier with it", again, first)
	}
	md5 := ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptAuthProto, Value: []byte{0xc2, 0x23, 0x05}}})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfNak, ID: first.ID, Data: md5})
	changed := x.next(ppp.ProtoLCP)
	if changed.Code != ppp.ConfReq || changed.ID == first.ID || bytes.Equal(changed.Data, first.Data) {
		t.Fatalf("after a Nak the gateway asks with %+v, want a changed request under a new Identifier", changed)
	}
	// The Ack of the first, late: not the changed request's. The
	// client's own request gets its Ack, and without an Ack of the
	// changed request nothing more (no challenge).
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: first.ID, Data: first.Data})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, []ppp.Option{magicOption(0x0badcafe)})})
	ack := x.next(ppp.ProtoLCP)
	for ack.Code == ppp.ConfReq && ack.ID == changed.ID { // the changed request sent again, on a slow machine
		ack = x.next(ppp.ProtoLCP)
	}
	if ack.Code != ppp.ConfAck || ack.ID != 1 {
		t.Fatalf("the gateway's answer to the client's request: %+v", ack)
	}
	if !x.quiet(ppp.ProtoCHAP, time.Second) {
		t.Fatal("the gateway took the late Ack of its first request for the Ack of its changed one: it challenged the client")
	}
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: changed.ID, Data: changed.Data})
	if ch := x.next(ppp.ProtoCHAP); ch.Code != ppp.CHAPChallenge {
		t.Fatalf("after the Ack of its changed request the gateway sent %+v, want a challenge", ch)
	}
}

// TestLCPRequestRefusedAfterAckRFC1661Section4_1: a peer's LCP request
// that the gateway refuses after it Acked an earlier one leaves the
// peer's side unacknowledged (RFC 1661 §4.1: Ack-Sent, RCR-, to
// Req-Sent): the Ack of the gateway's request does not open LCP, and the
// gateway starts authentication only once it Acked the peer's new
// request.
func TestLCPRequestRefusedAfterAckRFC1661Section4_1(t *testing.T) {
	r := newRegion(t, Config{})
	x := dialRaw(t, r.srv.Addr())
	ours := x.next(ppp.ProtoLCP)
	magic := ppp.AppendOptions(nil, []ppp.Option{magicOption(0x0badcafe)})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: magic})
	if ack := x.next(ppp.ProtoLCP); ack.Code != ppp.ConfAck || ack.ID != 1 {
		t.Fatalf("the gateway's answer to the client's first request: %+v, want an Ack", ack)
	}
	// A new request with an option the gateway rejects (Callback, RFC
	// 1570), then the Ack of the gateway's request, then a request it
	// takes: its Ack comes before EAP does.
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 2, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: 13, Value: []byte{6}}})})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data})
	x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 3, Data: magic})
	var answers []ppp.Packet
	for {
		proto, p := x.nextOf(ppp.ProtoLCP, ppp.ProtoEAP)
		if proto == ppp.ProtoEAP {
			break
		}
		if p.Code != ppp.ConfReq { // the gateway's request sent again, on a slow machine
			answers = append(answers, p)
		}
	}
	if len(answers) != 2 || answers[0].Code != ppp.ConfRej || answers[0].ID != 2 || answers[1].Code != ppp.ConfAck || answers[1].ID != 3 {
		t.Fatalf("before EAP the gateway answered %+v; want the Reject of request 2, then the Ack of request 3 (LCP open on a request it had rejected)", answers)
	}
}

// TestLCPOptionLengthRFC1661Section6: an LCP option the gateway takes
// but of another length than its own (RFC 1661 §6.1, §6.4-6.6, RFC 1662
// §7.1) is not Acked: it is Nak'd with the option as it should be (§6:
// an invalid Length SHOULD get a Nak of the desired option), a
// Magic-Number with another magic number of four octets.
func TestLCPOptionLengthRFC1661Section6(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  ppp.Option
		want int // the length of the Nak's value
	}{
		{"MRU of one octet", ppp.Option{Type: ppp.OptMRU, Value: []byte{5}}, 2},
		{"MRU of four octets", ppp.Option{Type: ppp.OptMRU, Value: []byte{0, 0, 5, 0xdc}}, 2},
		{"ACCM of two octets", ppp.Option{Type: ppp.OptACCM, Value: []byte{0, 0}}, 4},
		{"Magic-Number of two octets", ppp.Option{Type: ppp.OptMagic, Value: []byte{1, 2}}, 4},
		{"Magic-Number of five octets", ppp.Option{Type: ppp.OptMagic, Value: []byte{1, 2, 3, 4, 5}}, 4},
		{"Magic-Number empty", ppp.Option{Type: ppp.OptMagic}, 4},
		{"Protocol-Field-Compression with data", ppp.Option{Type: ppp.OptPFC, Value: []byte{1}}, 0},
		{"Address-and-Control-Field-Compression with data", ppp.Option{Type: ppp.OptACFC, Value: []byte{1, 2}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegion(t, Config{})
			x := dialRaw(t, r.srv.Addr())
			x.next(ppp.ProtoLCP)
			x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, []ppp.Option{tc.opt})})
			answer := x.next(ppp.ProtoLCP)
			for answer.Code == ppp.ConfReq { // the gateway's request sent again, on a slow machine
				answer = x.next(ppp.ProtoLCP)
			}
			opts, err := ppp.ParseOptions(answer.Data)
			if answer.Code != ppp.ConfNak || answer.ID != 1 || err != nil || len(opts) != 1 || opts[0].Type != tc.opt.Type || len(opts[0].Value) != tc.want {
				t.Fatalf("a request with option %d of %d octets answered with %+v; want a Nak of that option with %d octets", tc.opt.Type, len(tc.opt.Value), answer, tc.want)
			}
			if tc.opt.Type == ppp.OptMagic && magicOf(t, answer) == 0 {
				t.Errorf("the Nak names magic number 0")
			}
		})
	}
}

// TestLCPEchoLoopbackRFC1661Section6_4: an LCP Echo-Request or
// Echo-Reply that carries our own magic number is taken for ours, looped
// back (RFC 1661 §5.8, §6.4): not answered, and when such echoes keep
// coming the link ends saying it is looped back, the gateway with
// CALL_ABORT, as for Configure-Requests; an echo with the peer's magic
// number is answered with ours, and one before LCP is open not at all
// (§5.8).
func TestLCPEchoLoopbackRFC1661Section6_4(t *testing.T) {
	echo := func(code uint8, id uint8, magic uint32) ppp.Packet {
		return ppp.Packet{Code: code, ID: id, Data: []byte{byte(magic >> 24), byte(magic >> 16), byte(magic >> 8), byte(magic), 'x'}}
	}
	t.Run("gateway", func(t *testing.T) {
		var log logbuf.Buffer
		r := newRegion(t, Config{Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&log, testWriter{t}), nil))})
		x := dialRaw(t, r.srv.Addr())
		ours := magicOf(t, x.openLCP())
		x.send(ppp.ProtoLCP, echo(ppp.EchoReq, 1, 0x0badcafe))
		reply := x.next(ppp.ProtoLCP)
		for reply.Code == ppp.ConfAck {
			reply = x.next(ppp.ProtoLCP)
		}
		if reply.Code != ppp.EchoReply || reply.ID != 1 || !bytes.Equal(reply.Data, echo(0, 0, ours).Data) {
			t.Fatalf("an Echo-Request with the client's magic number answered with %+v, want a reply with the gateway's %#x", reply, ours)
		}
		for i := range maxLoopback {
			code := uint8(ppp.EchoReq)
			if i%2 == 1 {
				code = ppp.EchoReply
			}
			x.send(ppp.ProtoLCP, echo(code, uint8(2+i), ours))
		}
		var buf [sstp.MaxPacket]byte
		for aborted := false; !aborted; {
			x.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			isControl, body, err := sstp.ReadPacket(x.r, &buf)
			if err != nil {
				t.Fatalf("the gateway did not abort a call whose echoes carry its own magic number: %v", err)
			}
			if isControl {
				c, err := sstp.ParseControl(body)
				aborted = err == nil && c.Type == sstp.MsgCallAbort
				continue
			}
			if p, ok := packetOf(t, body, ppp.ProtoLCP); ok && p.Code == ppp.EchoReply {
				t.Fatalf("the gateway answered an Echo-Request with its own magic number: %+v", p)
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(log.String(), "the link is looped back") {
			if time.Now().After(deadline) {
				t.Fatalf("the gateway did not log the link looped back:\n%s", log.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("gateway, before LCP is open", func(t *testing.T) {
		r := newRegion(t, Config{})
		x := dialRaw(t, r.srv.Addr())
		x.next(ppp.ProtoLCP)
		x.send(ppp.ProtoLCP, echo(ppp.EchoReq, 1, 0))
		x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 2})
		p := x.next(ppp.ProtoLCP)
		for p.Code == ppp.ConfReq { // the gateway's request sent again, on a slow machine
			p = x.next(ppp.ProtoLCP)
		}
		if p.Code != ppp.ConfAck || p.ID != 2 {
			t.Fatalf("after an Echo-Request before LCP was open and a Configure-Request the gateway sent %+v, want the Ack alone", p)
		}
	})
	t.Run("client", func(t *testing.T) {
		conn := &recorder{}
		l := newLink(false, conn, nil, testLogger(t))
		l.lcpOurs, l.lcpPeers = true, true
		var err error
		for i := 0; i < maxLoopback && err == nil; i++ {
			err = l.handleLCP(echo(ppp.EchoReq, uint8(i), l.magic).Append(nil))
		}
		if err == nil || !strings.Contains(err.Error(), "the link is looped back") {
			t.Errorf("%d Echo-Requests with the client's own magic number: %v, want the link ended looped back", maxLoopback, err)
		}
		if sent, _ := conn.take(t, ppp.ProtoLCP); len(sent) != 0 {
			t.Errorf("the client answered its own echoes: %+v", sent)
		}
	})
}

// TestLCPRenegotiationBounded: a peer that renegotiates LCP in a loop
// (each time taking the link down, IPCP with it) is logged once a
// minute at most, with how many times, and its link ends after
// maxRenegotiations in a minute, saying so, the gateway's with
// CALL_ABORT: a client cannot keep the gateway renegotiating.
func TestLCPRenegotiationBounded(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			var log logbuf.Buffer
			x.l.log = slog.New(slog.NewTextHandler(io.MultiWriter(&log, testWriter{t}), nil))
			x.l.lcpOurs, x.l.lcpPeers = true, true
			var err error
			n := 0
			for ; n <= maxRenegotiations && err == nil; n++ {
				peers := ppp.Packet{Code: ppp.ConfReq, ID: uint8(n), Data: ppp.AppendOptions(nil, []ppp.Option{magicOption(0x0badcafe)})}
				if err = x.l.handleLCP(peers.Append(nil)); err != nil {
					break
				}
				sent, _ := x.conn.take(t, ppp.ProtoLCP)
				for _, p := range sent {
					if p.Code == ppp.ConfReq {
						err = x.l.handleLCP(ppp.Packet{Code: ppp.ConfAck, ID: p.ID, Data: p.Data}.Append(nil))
					}
				}
				if !x.l.lcpOurs || !x.l.lcpPeers {
					t.Fatalf("renegotiation %d: LCP not open again", n+1)
				}
			}
			if n != maxRenegotiations || err == nil || !strings.Contains(err.Error(), "renegotiates LCP too often") {
				t.Errorf("%d renegotiations went through, then %v; want %d, then the link ended, too often", n, err, maxRenegotiations)
			}
			if _, abort := x.conn.take(t, ppp.ProtoLCP); abort != server {
				t.Errorf("CALL_ABORT %v, want %v", abort, server)
			}
			if lines := strings.Count(log.String(), "the peer renegotiates LCP:"); lines != 1 {
				t.Errorf("%d renegotiations logged %d lines, want 1:\n%s", n, lines, log.String())
			}
		})
	}
}
