package p2s

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/wire/icmp"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// ClientConfig configures vnetgw's own SSTP client (R10).
type ClientConfig struct {
	Logger *slog.Logger
	// Server is the gateway's public address and SSTP port.
	Server netip.AddrPort
	// ServerName is the name in the gateway's certificate; RootCAs
	// trust it.
	ServerName string
	RootCAs    *x509.CertPool
	// Cert is the client certificate, chained to a root uploaded to the
	// gateway (R12); or User and Password, which the gateway's RADIUS
	// server checks (MS-CHAPv2; a password goes first when both are set).
	Cert           tls.Certificate
	User, Password string
	// EAP: the password goes in EAP-MSCHAPv2 (RFC 3748, EAP type 26),
	// which the gateway relays to its RADIUS servers, instead of
	// MS-CHAPv2 in PPP; Windows offers both.
	EAP bool
	// OnIP receives the IPv4 packets the gateway sends.
	OnIP func(pkt []byte)
	// Hello is how long the gateway may be silent before it is asked for
	// an echo, and then before the connection ends; 0 means 60 s.
	Hello time.Duration
	// Proxy, when set, is the HTTP proxy (http://[user:password@]host:port)
	// the client reaches the gateway through, with CONNECT, as HTTPS goes
	// through proxies (R13).
	Proxy *url.URL

	// breakBinding sends a wrong Compound MAC (tests).
	breakBinding bool
	// setupTimeout is how long the gateway has for the TLS handshake
	// and the answer to the HTTP request; 0 means negotiationTimeout
	// (tests shorten it).
	setupTimeout time.Duration
	// callTimeout is how long the gateway has, after its HTTP answer, to
	// bring the call up (the client's address); 0 means the gateway's own
	// limit on a call not yet bound, negotiationTimeout + radiusWait
	// (tests shorten it).
	callTimeout time.Duration
}

// dialGateway opens the TCP connection to the gateway: directly, or as a
// tunnel through cfg.Proxy (HTTP CONNECT, RFC 9110 §9.3.6).
func dialGateway(ctx context.Context, cfg ClientConfig) (net.Conn, error) {
	var d net.Dialer
	if cfg.Proxy == nil {
		return d.DialContext(ctx, "tcp", cfg.Server.String())
	}
	if cfg.Proxy.Scheme != "http" || cfg.Proxy.Host == "" {
		return nil, fmt.Errorf("p2s: proxy %s: give http://HOST:PORT", cfg.Proxy.Redacted())
	}
	addr := cfg.Proxy.Host
	if cfg.Proxy.Port() == "" {
		addr = net.JoinHostPort(cfg.Proxy.Hostname(), "80") // RFC 9110 §4.2.1: http's default port
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("p2s: proxy %s: %w", cfg.Proxy.Redacted(), err)
	}
	// A proxy that takes the connection and does not answer CONNECT (a
	// hung one) has the setup's time, as the gateway has (Dial): it does
	// not hold Dial, and --reconnect with it, for ever.
	dl := time.Now().Add(cmp.Or(cfg.setupTimeout, negotiationTimeout))
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	conn.SetDeadline(dl)
	// A proxy that does not answer holds the reads below: the context's
	// end closes the connection under them.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	target := cfg.Server.String()
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if u := cfg.Proxy.User; u != nil {
		pw, _ := u.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)) + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("p2s: proxy %s: %w", cfg.Proxy.Redacted(), err)
	}
	// The answer is read a byte at a time: what follows it is the
	// gateway's TLS, which a buffered reader would swallow. At most
	// maxProxyAnswer bytes of it: a proxy that sends a header without
	// end is refused, not gathered until memory runs out.
	lr := &io.LimitedReader{R: conn, N: maxProxyAnswer}
	resp, err := http.ReadResponse(bufio.NewReaderSize(oneByte{lr}, 1), &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case lr.N == 0:
			err = fmt.Errorf("its answer to CONNECT is longer than %d bytes", maxProxyAnswer)
		}
		return nil, fmt.Errorf("p2s: proxy %s: %w", cfg.Proxy.Redacted(), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		err := fmt.Errorf("p2s: proxy %s refused CONNECT %s: %s", cfg.Proxy.Redacted(), target, resp.Status)
		if resp.StatusCode == http.StatusProxyAuthRequired {
			// RFC 9110 §15.5.8: the proxy wants other credentials (or
			// some): the same again are no use.
			err = refused{err}
		}
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// maxProxyAnswer bounds a proxy's answer to CONNECT, its headers with it.
const maxProxyAnswer = 64 << 10

// oneByte reads at most a byte at a time from r.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// ErrRefused is wrapped by Dial's error when the gateway refused the
// client's credentials, or the proxy its own (407): trying again with
// them is no use.
var ErrRefused = errors.New("the gateway refused")

// refused is an error, in its own words, that is ErrRefused.
type refused struct{ error }

func (refused) Is(target error) bool { return target == ErrRefused }

// Client is a connected SSTP client.
type Client struct {
	l    *link
	cfg  ClientConfig
	done chan error
	// over is closed once the call ended (done is told then), ended once
	// the connection did: the call's last messages exchanged (afterEnd)
	// and the connection closed.
	over, ended chan struct{}
	closeOnce   sync.Once
}

// Dial connects to the gateway, authenticates with the certificate and
// waits until the client has its address. The connection then lives
// until Close, or until the gateway ends it (Done). A client does not
// reconnect by itself (R14).
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	conn, err := dialGateway(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Until Dial returns, the context's end closes the connection: a
	// gateway that does not answer the HTTP request holds the read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	tc := tls.Client(conn, &tls.Config{RootCAs: cfg.RootCAs, ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12})
	// The handshake and the HTTP answer within the time the gateway
	// gives them itself (serve): a gateway whose kernel took the
	// connection for a process that does not answer (a hung one) does
	// not hold Dial, and --reconnect with it, for ever.
	dl := time.Now().Add(cmp.Or(cfg.setupTimeout, negotiationTimeout))
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	tc.SetDeadline(dl)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("p2s: TLS with the gateway: %w", err)
	}
	var corr [16]byte
	rand.Read(corr[:])
	req := fmt.Sprintf("SSTP_DUPLEX_POST %s HTTP/1.1\r\nHost: %s\r\nSSTPCORRELATIONID: {%X-%X-%X-%X-%X}\r\nContent-Length: 18446744073709551615\r\n\r\n",
		sstpPath, cfg.ServerName, corr[0:4], corr[4:6], corr[6:8], corr[8:10], corr[10:16])
	if _, err := tc.Write([]byte(req)); err != nil {
		conn.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(tc, 8<<10)
	if err := readHTTPOK(r); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	tc.SetDeadline(time.Time{}) // the call's timers take over (run)
	return startCall(ctx, cfg, tc, r, certHashOf(tc.ConnectionState()))
}

// startCall runs SSTP and PPP with the gateway over tc, whose answer to
// the HTTPS request r has read, until the client has its address; certHash
// is the hash of the certificate the TLS handshake presented, which the
// crypto binding names.
func startCall(ctx context.Context, cfg ClientConfig, tc net.Conn, r *bufio.Reader, certHash [32]byte) (*Client, error) {
	l := newLink(false, tc, r, cfg.Logger)
	l.certHash = certHash
	l.onIP = cfg.OnIP
	if cfg.Hello > 0 {
		l.hello = cfg.Hello
	}
	c := &Client{l: l, cfg: cfg, done: make(chan error, 1), over: make(chan struct{}), ended: make(chan struct{})}
	up := make(chan struct{})
	var upOnce sync.Once
	l.upHook = func() { upOnce.Do(func() { close(up) }) }
	l.client = c
	if err := l.writeControl(sstp.Control{Type: sstp.MsgCallConnectRequest, Attrs: []sstp.Attr{{ID: sstp.AttribEncapsulatedProtocolID, Value: []byte{0, sstp.ProtocolPPP}}}}); err != nil {
		tc.Close()
		return nil, err
	}
	go func() {
		defer close(c.ended)
		acked := false
		err := l.run(func(m sstp.Control, _ []byte) error {
			switch m.Type {
			case sstp.MsgCallConnectAck:
				if acked {
					// [MS-SSTP] §3.2.1.1.1: the ACK answers the request,
					// once (Client_Connect_Request_Sent); another is an
					// invalid message, which aborts the call (§3.1.5.1).
					return l.abort(invalid(sstp.AttribNoError, sstp.StatusUnacceptedFrameReceived, "a second CALL_CONNECT_ACK"))
				}
				acked = true
				// [MS-SSTP] §3.2.5.3.2: an ACK the client cannot take
				// aborts the call.
				a, ok := m.Find(sstp.AttribCryptoBindingReq)
				if !ok {
					return l.abort(invalid(sstp.AttribCryptoBindingReq, sstp.StatusRequiredAttributeMissing, "CALL_CONNECT_ACK without a crypto binding request"))
				}
				req, err := sstp.ParseCryptoBindingReq(a.Value)
				if err != nil {
					return l.abort(err)
				}
				if req.HashBitmask&sstp.HashSHA256 == 0 {
					return l.abort(invalid(sstp.AttribCryptoBindingReq, sstp.StatusValueNotSupported, "the gateway does not offer SHA-256 for the crypto binding"))
				}
				l.nonce = req.Nonce
				return l.sendLCPRequest()
			case sstp.MsgCallConnectNak:
				return fmt.Errorf("the gateway refused the call (CALL_CONNECT_NAK%s)", statusSaid(m))
			case sstp.MsgEchoRequest:
				return l.writeControl(sstp.Control{Type: sstp.MsgEchoResponse})
			case sstp.MsgCallAbort:
				// [MS-SSTP] §3.2.5.3.4: an abort the client did not
				// start is answered with one (Call_Abort_In_Progress_2).
				l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
				return fmt.Errorf("the gateway aborted the call (CALL_ABORT%s)", statusSaid(m))
			case sstp.MsgCallDisconnect:
				l.writeControl(sstp.Control{Type: sstp.MsgCallDisconnectAck})
				return errors.New("the gateway disconnected")
			}
			return nil
		})
		if l.eapCli != nil && l.eapCli.Bridge != nil {
			// A handshake the gateway left in the middle of waits for
			// its next flight no longer.
			l.eapCli.Bridge.Close()
		}
		if err == nil {
			err = errors.New("the gateway closed the connection")
		}
		close(c.over)
		c.done <- err // told first: the user does not wait for the abort timers
		l.afterEnd()
		tc.Close()
	}()
	// [MS-SSTP] §3.2.2.1: the client's negotiation timer. A gateway that
	// answers echoes but never brings the call up does not hold Dial,
	// and --reconnect with it, for ever.
	limit := cmp.Or(cfg.callTimeout, negotiationTimeout+radiusWait)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-up:
		return c, nil
	case err := <-c.done:
		c.done <- err
		return nil, fmt.Errorf("p2s: %w", err)
	case <-timer.C:
		tc.Close()
		return nil, fmt.Errorf("p2s: the gateway did not bring the call up within %s", limit)
	case <-ctx.Done():
		tc.Close()
		return nil, ctx.Err()
	}
}

// statusSaid is what the Status Info attributes of a gateway's message
// say ([MS-SSTP] §2.2.8), after a colon: "": none.
func statusSaid(m sstp.Control) string {
	var said []string
	for _, a := range m.Attrs {
		if si, err := sstp.ParseStatusInfo(a.Value); a.ID == sstp.AttribStatusInfo && err == nil {
			said = append(said, si.String())
		}
	}
	if len(said) == 0 {
		return ""
	}
	return ": " + strings.Join(said, ", ")
}

// readHTTPOK reads the gateway's answer to the HTTP request that opens
// SSTP: 200, then at most 64 headers, each line within r's buffer (as
// the server reads the request, readLine): a gateway that sends a line
// without end is refused, not gathered until memory runs out.
func readHTTPOK(r *bufio.Reader) error {
	line, err := readLine(r)
	if err != nil {
		return fmt.Errorf("p2s: no HTTP answer: %w", err)
	}
	if f := strings.Fields(line); len(f) < 2 || f[1] != "200" {
		return fmt.Errorf("p2s: the gateway answered %.80q", strings.TrimSpace(line))
	}
	for range 64 {
		h, err := readLine(r)
		if err != nil {
			return fmt.Errorf("p2s: the gateway's HTTP answer: %w", err)
		}
		if strings.TrimSpace(h) == "" {
			return nil
		}
	}
	return errors.New("p2s: too many HTTP headers")
}

// Addr is the client's address from the pool; Gateway the gateway's PPP
// address: those the link last came up with (IPCP may renegotiate them
// meanwhile).
func (c *Client) Addr() netip.Addr    { return c.upWith().local }
func (c *Client) Gateway() netip.Addr { return c.upWith().peer }

// upWith is what the link last came up with (Dial waits for it).
func (c *Client) upWith() linkAddrs {
	if a := c.l.upWith.Load(); a != nil {
		return *a
	}
	return linkAddrs{}
}

// DNS returns the DNS servers the gateway gave (IPCP, RFC 1877).
func (c *Client) DNS() []netip.Addr {
	var out []netip.Addr
	for _, a := range c.upWith().dns {
		if a.IsValid() && !a.IsUnspecified() {
			out = append(out, a)
		}
	}
	return out
}

// Send sends an IPv4 packet through the gateway; it refuses any other.
func (c *Client) Send(pkt []byte) error {
	if !isIPv4(pkt) {
		c.l.dropped.Add(1)
		return errNotIPv4
	}
	return c.l.SendIP(pkt)
}

// errNotIPv4 is the client's refusal of a packet that is not IPv4.
var errNotIPv4 = errors.New("not an IPv4 packet: the link carries IPv4 alone (IPCP), no IPv6 (IPV6CP)")

// isIPv4 reports whether pkt may be an IPv4 packet: the link's only
// network protocol, which PPP protocol 0x0021 carries (RFC 1332 §3);
// IPv6 would go only once IPV6CP is open (RFC 5072 §3), which the link
// does not negotiate.
func isIPv4(pkt []byte) bool { return len(pkt) >= 20 && pkt[0]>>4 == 4 }

// MTU is the longest IP packet the gateway takes: the MRU of its LCP
// request (RFC 1661 §6.1; 1500 when it names none), within what an SSTP
// packet holds. The client's device should have no larger an MTU.
func (c *Client) MTU() int { return c.l.mtu() }

// Forward implements the Forwarder of a host on the client's address:
// what the host sends goes through the gateway. An IPv4 packet longer
// than the gateway takes (MTU, which LCP may lower after the device was
// made) is cut into fragments that fit (RFC 791 §3.2), or, with Don't
// Fragment set, answered to its sender with ICMP Fragmentation Needed
// and the gateway's MTU (RFC 1191 §4), as the gateway answers the VNet's
// (Server.Deliver): it does not vanish. What is not IPv4 (the device's
// own IPv6 router solicitations and listener reports) is dropped and
// counted, never sent in frames of IPv4.
func (c *Client) Forward(pkt []byte) {
	if !isIPv4(pkt) {
		c.l.dropped.Add(1)
		return
	}
	if mtu := c.l.mtu(); len(pkt) > mtu && fragment4(pkt, mtu, func(f []byte) { c.l.SendIP(f) }) {
		return
	}
	if tb, ok := errors.AsType[*tooBigError](c.l.SendIP(pkt)); ok {
		c.fragmentationNeeded(pkt, tb.mtu)
	}
}

// fragmentationNeeded answers pkt, an IPv4 packet with Don't Fragment
// set that is longer than mtu, the most the gateway takes, with ICMP
// Destination Unreachable, Fragmentation Needed and DF Set from the
// gateway's PPP address to its sender, through OnIP (RFC 1191 §4).
func (c *Client) fragmentationNeeded(pkt []byte, mtu int) {
	gw, on := c.Gateway(), c.cfg.OnIP
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if on == nil || !gw.Is4() || pkt[6]&0x40 == 0 || total < int(pkt[0]&0x0f)*4 || total > len(pkt) || !icmp.Answers4(pkt) {
		return
	}
	on(icmp.Error4(make([]byte, icmp.Max4), icmp.TypeUnreachable4, icmp.CodeFragNeeded, uint32(mtu), gw, netip.AddrFrom4([4]byte(pkt[12:16])), pkt[:total]))
}

// ForwardBatch sends the packets at bufs[i][offset:], as Forward.
func (c *Client) ForwardBatch(bufs [][]byte, offset int) {
	for _, b := range bufs {
		c.Forward(b[offset:])
	}
}

// Done delivers why the connection ended.
func (c *Client) Done() <-chan error { return c.done }

// Close disconnects ([MS-SSTP] §3.2.4.2): it sends CALL_DISCONNECT, waits
// for the gateway's CALL_DISCONNECT_ACK, up to
// TIMER_VAL_DISCONNECT_STATE_TIMER_1 (§3.1.2.2), then ends the
// connection in close_notify (afterEnd). The gateway, told, lets the
// client's address go at once, and neither side's end is a TCP reset.
// Close returns once the connection is closed: within the timers, 6 s,
// when the gateway does not answer.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		select {
		case <-c.over: // the gateway ended the call
		default:
			c.l.disconnect()
		}
	})
	<-c.ended
	return nil
}

// clientEAP answers EAP-TLS with the client certificate, or
// EAP-MSCHAPv2 with the password.
func (l *link) clientEAP(m ppp.EAP) error {
	c := l.client
	if m.Code == ppp.EAPRequest && m.Type == ppp.TypeNotification {
		// RFC 3748 §5.2: a Notification Request MUST get a Notification
		// Response of no data, never a Nak; its message is logged.
		l.log.Info("EAP notification from the gateway", "message", string(m.Data[:min(len(m.Data), 200)]))
		return l.respondEAP(ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeNotification})
	}
	if c.cfg.User != "" {
		return l.clientEAPMSCHAPv2(m)
	}
	switch m.Code {
	case ppp.EAPSuccess:
		if l.eapCli == nil || l.eapCli.Bridge == nil || !l.eapCli.Done {
			return errors.New("EAP success before the TLS handshake completed")
		}
		msk, err := l.eapCli.Bridge.MSK()
		if err != nil {
			return err
		}
		l.hlak, l.authed = hlakFrom(msk), true
		if err := l.sendCallConnected(); err != nil {
			return err
		}
		return l.sendIPCPRequest()
	case ppp.EAPFailure:
		if l.certUnsent != nil {
			return fmt.Errorf("%w the client certificate: %v; EAP failure after its TLS alert: %v", ErrRefused, l.certUnsent, l.eapAlert)
		}
		if l.eapAlert != nil {
			return fmt.Errorf("%w the client certificate (EAP failure after its TLS alert: %v)", ErrRefused, l.eapAlert)
		}
		return fmt.Errorf("%w the client certificate (EAP failure)", ErrRefused)
	case ppp.EAPRequest:
	default:
		return nil
	}
	if l.eapCli == nil {
		l.eapCli = &eaptls.Conversation{}
	}
	e := l.eapCli
	switch m.Type {
	case ppp.TypeIdentity:
		name := ""
		if c.cfg.Cert.Leaf != nil {
			name = c.cfg.Cert.Leaf.Subject.CommonName
		}
		return l.respondEAP(ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeIdentity, Data: []byte(name)})
	case ppp.TypeTLS:
	default:
		// RFC 3748 §5.3.1: a Nak names the method we want.
		return l.respondEAP(ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeNak, Data: []byte{ppp.TypeTLS}})
	}
	d, err := ppp.ParseTLSData(m.Data)
	if err != nil {
		return err
	}
	if d.Flags&ppp.FlagStart != 0 {
		cert := c.cfg.Cert
		e.Bridge = eaptls.NewBridge(false, &tls.Config{RootCAs: c.cfg.RootCAs, ServerName: c.cfg.ServerName,
			MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
			// As crypto/tls chooses with Certificates, a certificate that
			// chains to none of the CAs the gateway names is not sent (the
			// gateway then ends the handshake: "tls: handshake failure");
			// noted so that the error says why. Called within Exchange,
			// which the link waits for.
			GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if err := cri.SupportsCertificate(&cert); err != nil {
					l.certUnsent = fmt.Errorf("it chains to none of the gateway's root certificates (%s), so it was not sent (%w)", caNames(cri.AcceptableCAs), err)
					return &tls.Certificate{}, nil
				}
				return &cert, nil
			}})
		out, _, err := e.Bridge.Exchange(nil, negotiationTimeout)
		if err != nil {
			return err
		}
		e.Send(out)
		return l.sendEAPTLS(m.ID)
	}
	if e.Pending() {
		return l.sendEAPTLS(m.ID)
	}
	if e.Bridge == nil {
		return errors.New("EAP-TLS data before the start")
	}
	msg, more, err := e.Input(d)
	if err != nil {
		return err
	}
	if more || len(msg) == 0 {
		return l.respondEAP(ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeTLS, Data: ppp.TLSData{}.Append(nil)})
	}
	out, done, err := e.Bridge.Exchange(msg, negotiationTimeout)
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "remote error" {
		// RFC 5216 §2.1.3: the gateway's TLS alert MUST be answered; an
		// empty response asks for the Failure, which says why.
		l.eapAlert = oe.Err
		return l.respondEAP(ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeTLS, Data: ppp.TLSData{}.Append(nil)})
	}
	if err != nil {
		return fmt.Errorf("EAP-TLS: %w", err)
	}
	e.Done = done
	e.Send(out)
	if len(out) == 0 {
		return l.respondEAP(ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeTLS, Data: ppp.TLSData{}.Append(nil)})
	}
	return l.sendEAPTLS(m.ID)
}

// sendCallConnected completes SSTP with the crypto binding ([MS-SSTP]
// §3.2.5.2): the server's nonce, the hash of its certificate, and the
// Compound MAC over the message.
func (l *link) sendCallConnected() error {
	b := sstp.CryptoBinding{HashProtocol: sstp.HashSHA256, Nonce: l.nonce, CertHash: l.certHash}
	msg := func() []byte {
		return sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallConnected, Attrs: []sstp.Attr{{ID: sstp.AttribCryptoBinding, Value: b.Append(nil)}}})
	}
	copy(b.CompoundMAC[:], compoundMAC(l.hlak, msg()))
	if l.client.cfg.breakBinding {
		b.CompoundMAC[0] ^= 1
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	// A deadline of its own, as every write has: the last one's may have
	// passed while the gateway waited for a RADIUS server's answer.
	l.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := l.conn.Write(msg())
	if err == nil {
		l.bound.Store(true)
		l.checkUp()
	}
	return err
}

// caNames lists the subjects of the CAs a TLS server accepts client
// certificates of (its CertificateRequest's certificate_authorities).
func caNames(cas [][]byte) string {
	var names []string
	for _, der := range cas {
		var rdn pkix.RDNSequence
		if _, err := asn1.Unmarshal(der, &rdn); err != nil {
			continue
		}
		var n pkix.Name
		n.FillFromRDNSequence(&rdn)
		names = append(names, n.String())
	}
	if len(names) == 0 {
		return "it names none"
	}
	return "it takes those issued by " + strings.Join(names, "; ")
}
