package p2s

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// discard is a connection that takes every write and has nothing to read.
type discard struct{ net.Conn }

func (discard) Write(p []byte) (int, error)      { return len(p), nil }
func (discard) SetWriteDeadline(time.Time) error { return nil }
func (discard) SetReadDeadline(time.Time) error  { return nil }
func (discard) Close() error                     { return nil }

// FuzzServerPPP feeds arbitrary PPP frames to a server's link, as a client
// could send them after SSTP is up: no panic, and no IP packet reaches
// the VNet before the client authenticated.
//
// An input takes some 10 to 30 µs, and the fuzzer some 180 µs around
// each (the same for a function that does nothing). It minimizes each
// input that finds new coverage with some n²/2 cuts of its n bytes, and
// fuzzes nothing meanwhile: inputs grown to hundreds of bytes kept it
// minimizing for 16 s of a 25 s run. So inputs over maxPPPInput are not
// tried; one is a seed, so that its return is no new coverage, which the
// fuzzer would minimize with cuts that all fail (one of 513 bytes, 23 s
// of a 25 s run).
func FuzzServerPPP(f *testing.F) {
	const maxPPPInput = 256 // some frames of the 200 bytes the harness cuts at most
	f.Add(ppp.AppendFrame(nil, ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMagic, Value: []byte{1, 2, 3, 4}}})}.Append(nil)))
	f.Add(ppp.AppendFrame(nil, ppp.ProtoEAP, ppp.EAP{Code: ppp.EAPResponse, ID: 2, Type: ppp.TypeIdentity, Data: []byte("alice")}.Append(nil)))
	f.Add(ppp.AppendFrame(nil, ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfReq, ID: 3, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: []byte{0, 0, 0, 0}}})}.Append(nil)))
	f.Add(ppp.AppendFrame(nil, ppp.ProtoIPv4, make([]byte, 40)))
	f.Add(make([]byte, maxPPPInput+1))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxPPPInput {
			return
		}
		l := newLink(true, discard{}, nil, testLogger(t))
		l.srv = &Server{}
		l.peer = netip.MustParseAddr("172.16.201.2")
		delivered := false
		l.onIP = func([]byte) { delivered = true }
		for len(data) > 0 {
			n := min(len(data), 1+int(data[0])%200)
			proto, info, err := ppp.ParseFrame(data[:n])
			data = data[n:]
			if err != nil {
				continue
			}
			if l.handlePPP(proto, info) != nil {
				return
			}
		}
		if delivered {
			t.Fatal("an IP packet went to the VNet before the client authenticated")
		}
	})
}

// FuzzSSTPRequest: the HTTP request that opens SSTP is read within bounds.
func FuzzSSTPRequest(f *testing.F) {
	f.Add("SSTP_DUPLEX_POST " + sstpPath + " HTTP/1.1\r\nHost: gw\r\nContent-Length: 18446744073709551615\r\n\r\n")
	f.Add("GET / HTTP/1.1\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		err := readSSTPRequest(bufio.NewReader(strings.NewReader(s)))
		if err == nil && !strings.HasPrefix(s, "SSTP_DUPLEX_POST ") {
			t.Fatalf("accepted %q", s)
		}
	})
}

// FuzzHTTPAnswer: the gateway's answer to the HTTP request that opens
// SSTP is read within bounds, and taken only when it says 200.
func FuzzHTTPAnswer(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nServer: vnetgw\r\n\r\n")
	f.Add("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", 70))
	f.Fuzz(func(t *testing.T, s string) {
		err := readHTTPOK(bufio.NewReaderSize(strings.NewReader(s), 8<<10))
		if f := strings.Fields(strings.SplitN(s, "\n", 2)[0]); err == nil && (len(f) < 2 || f[1] != "200") {
			t.Fatalf("accepted %q", s)
		}
	})
}

// streamConn is a client connection that sends r and takes every write.
type streamConn struct {
	discard
	r *bytes.Reader
}

func (c streamConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (streamConn) RemoteAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 40000} }

// forwardRecorder counts what reaches the VNet.
type forwardRecorder struct{ n atomic.Int64 }

func (f *forwardRecorder) Forward([]byte) { f.n.Add(1) }

// FuzzOpenVPNSession feeds arbitrary bytes to the server as an OpenVPN
// client's TCP stream: no panic, no hang, and nothing reaches the VNet
// from a client that did not authenticate with a certificate.
func FuzzOpenVPNSession(f *testing.F) {
	reset := openvpn.Control{Opcode: openvpn.ControlHardResetClientV2, SessionID: 1}.Append(nil)
	framed := func(pkts ...[]byte) []byte {
		var b []byte
		for _, p := range pkts {
			b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
			b = append(b, p...)
		}
		return b
	}
	hello := openvpn.Control{Opcode: openvpn.ControlV1, SessionID: 1, Acks: []uint32{0}, PacketID: 1, Payload: []byte{0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0}}.Append(nil)
	data := openvpn.DataV2Header(0, 1)
	f.Add(framed(reset))
	f.Add(framed(reset, hello))
	f.Add(framed(reset, append(data[:], make([]byte, 60)...)))
	f.Add(framed(reset, openvpn.Control{Opcode: openvpn.AckV1, SessionID: 1, Acks: []uint32{0, 5}}.Append(nil)))
	p := newPKI(f)
	f.Fuzz(func(t *testing.T, stream []byte) {
		fuzzSession(t, p, Config{Listen: netip.MustParseAddrPort("127.0.0.1:0"), OpenVPN: true}, func(s *Server) {
			s.serveOpenVPN(streamConn{r: bytes.NewReader(stream)}, bufio.NewReader(bytes.NewReader(stream)), func() {}, func() {})
		})
	})
}

// fuzzSession starts a server of cfg with the test PKI's certificates and
// a recorder as its VNet, and runs serve, a session fed by a fuzzer's
// stream, against it: the session must end at the end of the stream, and
// nothing may reach the VNet from a client that did not authenticate.
func fuzzSession(t *testing.T, p *testPKI, cfg Config, serve func(*Server)) {
	fwd := &forwardRecorder{}
	cfg.Cert, cfg.Roots = p.server, []*x509.Certificate{p.root.Certificate}
	cfg.Pool, cfg.Router = netip.MustParsePrefix("172.16.201.0/24"), fwd
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(s)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not end at the end of the client's stream")
	}
	if fwd.n.Load() != 0 {
		t.Fatal("a packet reached the VNet from a client that did not authenticate")
	}
}

// sstpFuzzClient is an SSTP client's connection that sends a fuzzer's
// stream one SSTP packet per read, and takes every write. The fuzzer
// cannot know the random magic number of the server's LCP request, which
// a Configure-Ack must repeat (RFC 1661 §5.2): an empty Configure-Ack of
// Identifier 0 in its stream is sent as the Ack of the server's last
// request.
type sstpFuzzClient struct {
	discard
	stream []byte
	mu     sync.Mutex // guards lcpReq
	lcpReq ppp.Packet // the server's last LCP Configure-Request
}

func (*sstpFuzzClient) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 40000}
}

func (c *sstpFuzzClient) Write(b []byte) (int, error) {
	if len(b) > sstp.HeaderLen && b[1]&1 == 0 {
		if proto, info, err := ppp.ParseFrame(b[sstp.HeaderLen:]); err == nil && proto == ppp.ProtoLCP {
			if p, err := ppp.ParsePacket(info); err == nil && p.Code == ppp.ConfReq {
				c.mu.Lock()
				c.lcpReq = ppp.Packet{Code: ppp.ConfAck, ID: p.ID, Data: bytes.Clone(p.Data)}
				c.mu.Unlock()
			}
		}
	}
	return len(b), nil
}

func (c *sstpFuzzClient) Read(p []byte) (int, error) {
	if len(c.stream) == 0 {
		return 0, io.EOF
	}
	n := len(c.stream)
	if n >= sstp.HeaderLen {
		if k := int(binary.BigEndian.Uint16(c.stream[2:4]) & 0xfff); k >= sstp.HeaderLen && k <= n {
			n = k
		}
	}
	pkt := c.stream[:n]
	if n > sstp.HeaderLen && pkt[1]&1 == 0 {
		proto, info, err := ppp.ParseFrame(pkt[sstp.HeaderLen:])
		if q, perr := ppp.ParsePacket(info); err == nil && perr == nil && proto == ppp.ProtoLCP && q.Code == ppp.ConfAck && q.ID == 0 && len(q.Data) == 0 {
			c.mu.Lock()
			pkt = sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoLCP, c.lcpReq.Append(nil)))
			c.mu.Unlock()
		}
	}
	if len(pkt) > len(p) {
		return 0, io.ErrShortBuffer
	}
	c.stream = c.stream[n:]
	return copy(p, pkt), nil
}

// FuzzSSTPCall feeds arbitrary bytes to the server as what an SSTP
// client sends once its HTTPS request was answered: SSTP control and data
// packets ([MS-SSTP] §2.2), PPP inside. No panic, no hang, and nothing
// reaches the VNet from a client that did not authenticate.
func FuzzSSTPCall(f *testing.F) {
	connect := sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnectRequest, Attrs: []sstp.Attr{{ID: sstp.AttribEncapsulatedProtocolID, Value: []byte{0, sstp.ProtocolPPP}}}})
	lcp := sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptMagic, Value: []byte{1, 2, 3, 4}}})}.Append(nil)))
	identity := sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoEAP, ppp.EAP{Code: ppp.EAPResponse, ID: 1, Type: ppp.TypeIdentity, Data: []byte("alice")}.Append(nil)))
	ack := sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck}.Append(nil)))
	connected := sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnected, Attrs: []sstp.Attr{{ID: sstp.AttribCryptoBinding, Value: sstp.CryptoBinding{HashProtocol: sstp.HashSHA256}.Append(nil)}}})
	ip := sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoIPv4, make([]byte, 40)))
	f.Add(connect)
	f.Add(slices.Concat(connect, lcp, ack, identity))
	f.Add(slices.Concat(connect, lcp, ack, connected, ip))
	f.Add(slices.Concat(connect, lcp, ack, sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoEAP, ppp.EAP{Code: ppp.EAPResponse, ID: 1, Type: ppp.TypeTLS,
		Data: ppp.TLSData{Flags: ppp.FlagLength | ppp.FlagMore, MessageLength: 5000, Data: make([]byte, 1000)}.Append(nil)}.Append(nil)))))
	f.Add(slices.Concat(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgEchoRequest}), connect, connect))
	p := newPKI(f)
	f.Fuzz(func(t *testing.T, stream []byte) {
		fuzzSession(t, p, Config{Listen: netip.MustParseAddrPort("127.206.0.1:0"), SSTP: true}, func(s *Server) {
			c := &sstpFuzzClient{stream: stream}
			s.serveCall(c, bufio.NewReaderSize(c, 8<<10), p.server.Certificate[0], func() {})
		})
	})
}

// FuzzClientCall feeds arbitrary bytes to vnetgw's SSTP client as what
// its gateway sends once the HTTPS request was answered; the mode's low
// bits choose a client of certificates, of a password in MS-CHAPv2, or
// of a password in EAP-MSCHAPv2. No panic, no hang, and no call comes up:
// the fuzzer cannot prove itself the gateway (EAP-TLS with its
// certificate, or MS-CHAPv2's Authenticator Response).
func FuzzClientCall(f *testing.F) {
	stream := gatewayStream()
	f.Add(uint8(0), stream)
	chap := sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPChallenge, ID: 1,
		Data: ppp.CHAPValue{Value: make([]byte, 16), Name: []byte("gateway")}.Append(nil)}.Append(nil)))
	success := sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoCHAP, ppp.Packet{Code: ppp.CHAPSuccess, ID: 1,
		Data: []byte("S=407A5589115FD0D6209F510FE9C04566932CDA56 M=hello")}.Append(nil)))
	cut := bytes.LastIndex(stream, []byte{sstp.Version, 0}) // before the EAP-TLS start
	f.Add(uint8(1), slices.Concat(stream[:cut], chap, success))
	f.Add(uint8(2), slices.Concat(stream[:cut], sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoEAP,
		ppp.EAP{Code: ppp.EAPRequest, ID: 1, Type: ppp.TypeIdentity}.Append(nil)))))
	f.Add(uint8(0), slices.Concat(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgEchoRequest}), stream,
		sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallAbort})))
	p := newPKI(f)
	roots := x509.NewCertPool()
	roots.AddCert(p.root.Certificate)
	f.Fuzz(func(t *testing.T, mode uint8, stream []byte) {
		cfg := ClientConfig{Logger: slog.New(slog.DiscardHandler), ServerName: "gateway", RootCAs: roots, Cert: p.client}
		switch mode % 3 {
		case 1:
			cfg.Cert, cfg.User, cfg.Password = tls.Certificate{}, "alice", "Passw0rd"
		case 2:
			cfg.Cert, cfg.User, cfg.Password, cfg.EAP = tls.Certificate{}, "alice", "Passw0rd", true
		}
		c := &sstpFuzzClient{stream: stream}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl, err := startCall(ctx, cfg, c, bufio.NewReaderSize(c, 8<<10), [32]byte{})
		if ctx.Err() != nil {
			t.Fatal("the call did not end at the end of the gateway's stream")
		}
		if err == nil {
			cl.Close()
			t.Fatal("a call came up with a gateway that did not authenticate")
		}
	})
}
