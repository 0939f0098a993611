// Package p2s is point-to-site VPN over SSTP ([MS-SSTP], R10–R14): a
// server on a gateway's public address that clients reach over HTTPS
// (R13), PPP inside it (RFC 1661) with the client authenticated by its
// certificate in EAP-TLS (RFC 5216) against the gateway's uploaded roots
// (R12), or by its user name and password in MS-CHAPv2 (RFC 2759), which
// a RADIUS server checks for the gateway (mschap.go), the SSTP crypto
// binding that ties the two TLS layers together ([MS-SSTP] §3.2.5.2), and
// an address from the client pool (IPCP, RFC 1332); and vnetgw's own
// client (R10). OpenVPN clients share the port (openvpn.go).
//
// A link is one SSTP connection, either side: one goroutine reads it and
// runs PPP; writes are serialised by the link's lock.
package p2s

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/sparselog"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// Timers.
const (
	negotiationTimeout = 30 * time.Second // [MS-SSTP] §3.2.1: the negotiation timer
	helloInterval      = 60 * time.Second // §3.1.2.2: the hello timer
	eapFragment        = 1000             // EAP-TLS fragment size, well inside an SSTP packet
	eapTLSHeaders      = 10               // RFC 5216 §3.1: the most octets around an EAP-TLS packet's TLS data
	restartTimer       = 3 * time.Second  // RFC 1661 §4.6
	maxConfigure       = 10               // RFC 1661 §4.6: Max-Configure
	maxTerminate       = 2                // RFC 1661 §4.6: Max-Terminate
	maxFailure         = 5                // RFC 1661 §4.6: Max-Failure
	abortTimer1        = 3 * time.Second  // [MS-SSTP] §3.1.2.1: TIMER_VAL_ABORT_STATE_TIMER_1
	abortTimer2        = time.Second      // and TIMER_VAL_ABORT_STATE_TIMER_2
	disconnectTimer1   = 5 * time.Second  // [MS-SSTP] §3.1.2.2: TIMER_VAL_DISCONNECT_STATE_TIMER_1
	disconnectTimer2   = time.Second      // and TIMER_VAL_DISCONNECT_STATE_TIMER_2
	// drainMax bounds what drain reads, and drops, of a peer that goes
	// on sending after the call's end: more than a connection holds in
	// flight (Linux's receive buffer grows to 32 MiB), so that a peer
	// that stops meets no reset.
	drainMax = 64 << 20
	// defaultMRU is the peer's MRU until it names another (RFC 1661
	// §6.1); minMRU the least one taken, a smaller one Naked with it,
	// as pppd does: room for an EAP-TLS fragment of some size.
	defaultMRU = 1500
	minMRU     = 128
	// maxLoopback is how many of our Naks of our own magic number may
	// come back in a row before the link is taken for looped back (RFC
	// 1661 §6.4 leaves the count to the implementation: two collisions
	// of random numbers are 1 in 2^64 already).
	maxLoopback = 5
	// maxRenegotiations is how many times the peer may renegotiate LCP
	// (each takes the link down, and IPCP with it), and as many IPCP,
	// in renegotiationWindow before the link ends: a client that does
	// it in a loop keeps the gateway busy and carries no traffic.
	maxRenegotiations   = 5
	renegotiationWindow = time.Minute
)

// link is one SSTP connection and the PPP session in it.
type link struct {
	server bool
	srv    *Server // the server side's server
	// admit takes the authenticated client in (the server side's): an
	// address of the pool, within the gateway's limit.
	admit func() error
	// release gives back what admit took (the server side's), before a
	// message that ends the call goes (writeControl: CALL_ABORT,
	// CALL_DISCONNECT or its ACK): the client that calls again the
	// moment it reads it finds its room.
	release func()
	log     *slog.Logger
	conn    net.Conn
	r       *bufio.Reader

	wmu sync.Mutex

	// PPP state, owned by the reading goroutine.
	lcpOurs, lcpPeers   bool      // our LCP request acknowledged; the peer's acknowledged
	lcpSent             time.Time // when our LCP request last went out
	lcpReqID            uint8     // and its Identifier
	lcpReq              []byte    // and its options, as sent
	lcpTries            int
	lcpNakMagic         uint32         // the magic number of our last Nak of the peer's (RFC 1661 §6.4)
	lcpLoops            int            // our Naks' magic numbers that came back in a row, in Naks of ours
	lcpNaks             int            // our Naks of the peer's LCP requests since our last Ack of one (Max-Failure)
	lcpEchoLoops        int            // Echo packets in a row that carried our own magic number (RFC 1661 §6.4)
	lcpRenegs           renegotiations // the peer's renegotiations of LCP
	ipcpOurs, ipcpPeers bool
	ipcpSent            time.Time      // when our IPCP request last went out
	ipcpReqID           uint8          // and its Identifier
	ipcpReq             []byte         // and its options, as sent
	ipcpTries           int            // our IPCP requests unanswered, Naked or Rejected since the last Ack (Max-Configure)
	ipcpNaks            int            // the server's Naks of the peer's IPCP requests since its last Ack (Max-Failure)
	addrRejected        bool           // the client rejected the server's address option: the server asks without it
	ipcpStopped         bool           // the peer terminated IPCP (RFC 1661 §4.2, Stopped): its next request restarts ours
	ipcpRenegs          renegotiations // the peer's renegotiations of IPCP
	stopping            error          // why LCP terminates (RFC 1661 §4.2, Stopping): the link ends with it on the Terminate-Ack, or after Max-Terminate requests
	termSent            time.Time      // when our Terminate-Request last went out
	termID              uint8          // and its Identifier
	termTries           int            // Terminate-Requests sent
	codeRejected        [256]bool      // our LCP codes the peer Code-Rejected (RXJ+): not sent again
	magic               uint32
	id                  uint8 // the Identifier of our last request (LCP, IPCP, CHAP)
	rejID               uint8 // and of our last Code- or Protocol-Reject, a counter of its own
	authed              bool
	local, peer         netip.Addr           // the PPP addresses (IPCP)
	eapSrv              *eaptls.Server       // the server's EAP-TLS
	eapCli              *eaptls.Conversation // the client's
	// The client's last EAP request from the server, and its response
	// to it (nil: none sent), sent again for the request repeated.
	eapLastReq, eapLastResp []byte
	eapAlert                error // the gateway's TLS alert, which its EAP-TLS sent the client
	// certUnsent says why the client's certificate was not sent in
	// EAP-TLS: none of the CAs the gateway named issued it.
	certUnsent error
	// The server's EAP relayed to RADIUS (useEAPRelay: asked for from
	// the start), the client's identity response (to start a relay
	// with when it declines EAP-TLS), and the Identifier of the EAP
	// request the client answers.
	eapRelay    *radius.EAPAuthenticator
	useEAPRelay bool
	eapIdentity []byte
	eapReqID    uint8
	identity    string              // the client certificate's common name, or the RADIUS user (server)
	thumb       string              // the client certificate's thumbprint, when the server checked it (eapSrv)
	chain       []*x509.Certificate // the certificates the client presented then, leaf first
	user        string              // the user a RADIUS server vouched for (peer.user)
	radius      bool                // a RADIUS server authenticated it (peer.radius)
	grant       radius.Grant        // what its Access-Accept grants the session (peer.grant)
	// The server authenticates with MS-CHAPv2 checked by RADIUS
	// (useMSCHAP) instead of EAP-TLS: chapID and challenge are those of
	// the challenge it sent (chapSent).
	useMSCHAP bool
	chapSent  bool
	chapID    uint8
	// chapSuccess is the message of the server's Success, sent again for
	// the client's Response repeated.
	chapSuccess []byte
	challenge   [16]byte
	// The client's MS-CHAPv2: its challenge and response, for the
	// server's Success, and its Response's value, for the server's
	// Challenge repeated.
	peerChallenge [16]byte
	ntResponse    [24]byte
	chapResponse  []byte
	// ctx ends with the connection: what waits for it (a RADIUS server)
	// gives up.
	ctx    context.Context
	cancel context.CancelFunc
	// dns are the DNS servers the server gives (at most two). The client
	// asks for a primary and a secondary one (RFC 1877) until the server
	// rejects the option (dnsRejected) and keeps what it is given.
	dns         []netip.Addr
	dnsGiven    [2]netip.Addr
	dnsRejected [2]bool

	// Crypto binding ([MS-SSTP] §3.2.5.2).
	nonce    [32]byte
	certHash [32]byte // SHA-256 of the server's (outer) TLS certificate
	hlak     []byte
	hlakAlt  []byte      // the server also takes the MPPE-128 form
	bound    atomic.Bool // the binding checked (server) or sent (client)

	// peerMRU is the MRU of the peer's LCP request we last Acked (0:
	// none, defaultMRU): what we send it never exceeds it (RFC 1661
	// §6.1). SendIP reads it from other goroutines.
	peerMRU atomic.Uint32

	bytesIn, packetsIn atomic.Uint64
	outQueue
	up   atomic.Bool      // carries IP (checkUp)
	onIP func(pkt []byte) // a received IPv4 packet, after the binding

	hello time.Duration // the hello timer
	// abortSent: a CALL_ABORT of ours went (writeControl); peerAborted:
	// one of the peer's came (the reading goroutine's). afterEnd waits
	// on them.
	abortSent   atomic.Bool
	peerAborted bool
	// disconnectSent: a CALL_DISCONNECT of ours went (writeControl),
	// disconnectAcked: the peer's CALL_DISCONNECT_ACK came (the reading
	// goroutine's); ackSent: our CALL_DISCONNECT_ACK of the peer's went.
	// afterEnd waits on them.
	disconnectSent  atomic.Bool
	disconnectAcked bool
	ackSent         atomic.Bool
	// callPending: the server has had no CALL_CONNECT_REQUEST yet, and
	// drops PPP ([MS-SSTP] §3.3.7.2).
	callPending bool
	// negotiateBy is when the server gives up on a client that has not
	// authenticated and bound the call ([MS-SSTP] §3.2.1's negotiation
	// timer, with time for a RADIUS server's second factor).
	negotiateBy time.Time
	client      *Client // the client side's client
	// upWith is what the client side's link came up with last, for
	// Client's methods, which other goroutines call while IPCP may
	// renegotiate local, peer and dnsGiven.
	upWith atomic.Pointer[linkAddrs]
	upHook func() // the client side: called when IPCP is open both ways
}

func newLink(server bool, conn net.Conn, r *bufio.Reader, log *slog.Logger) *link {
	l := &link{server: server, conn: conn, r: r, log: log, hello: helloInterval, outQueue: newOutQueue()}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.magic = newMagic(0)
	return l
}

// newMagic chooses a magic number at random, neither zero nor old (RFC
// 1661 §6.4).
func newMagic(old uint32) uint32 {
	for {
		var b [4]byte
		rand.Read(b[:])
		if m := binary.BigEndian.Uint32(b[:]); m != 0 && m != old {
			return m
		}
	}
}

// magicOption is the Magic-Number option of v.
func magicOption(v uint32) ppp.Option {
	return ppp.Option{Type: ppp.OptMagic, Value: binary.BigEndian.AppendUint32(nil, v)}
}

// writeControl sends an SSTP control message.
func (l *link) writeControl(c sstp.Control) error {
	switch c.Type {
	case sstp.MsgCallAbort, sstp.MsgCallDisconnect, sstp.MsgCallDisconnectAck:
		// The call ends: its address is free, and the client is listed
		// no more, while the connection waits for the peer's answer, or
		// for ours to reach it (afterEnd).
		switch c.Type {
		case sstp.MsgCallAbort:
			l.abortSent.Store(true)
		case sstp.MsgCallDisconnect:
			l.disconnectSent.Store(true)
		default:
			l.ackSent.Store(true)
		}
		if l.release != nil {
			l.release()
		}
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := l.conn.Write(sstp.AppendControl(nil, c))
	return err
}

// writePPP sends a PPP frame in an SSTP data packet.
func (l *link) writePPP(proto uint16, info []byte) error {
	frame := ppp.AppendFrame(nil, proto, info)
	if len(frame) > sstp.MaxData {
		return fmt.Errorf("PPP frame of %d bytes does not fit an SSTP packet", len(frame))
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := l.conn.Write(sstp.AppendData(nil, frame))
	return err
}

// abort ends the call on an invalid SSTP message ([MS-SSTP] §3.1.5.1:
// MUST send CALL_ABORT) with err, which the CALL_ABORT tells the peer in
// a Status Info attribute (§2.2.13: SHOULD have one) when it is an
// *sstp.Error: what attribute, and what is wrong with it.
func (l *link) abort(err error) error {
	c := sstp.Control{Type: sstp.MsgCallAbort}
	if se, ok := errors.AsType[*sstp.Error](err); ok {
		c.Attrs = []sstp.Attr{{ID: sstp.AttribStatusInfo, Value: se.StatusInfo().Append(nil)}}
	}
	l.writeControl(c)
	return err
}

// abortStatus ends the call with a CALL_ABORT whose Status Info says
// why of the call as a whole ([MS-SSTP] §2.2.13: SHOULD have one): a
// timer (NEGOTIATION_TIMEOUT) or a counter (RETRY_COUNT_EXCEEDED) that
// ran out.
func (l *link) abortStatus(status uint32) {
	l.writeControl(sstp.Control{Type: sstp.MsgCallAbort, Attrs: []sstp.Attr{{ID: sstp.AttribStatusInfo, Value: sstp.StatusInfo{AttribID: sstp.AttribNoError, Status: status}.Append(nil)}}})
}

// invalid is an SSTP error about attribute attr of a message: its status
// and why.
func invalid(attr uint8, status uint32, reason string) error {
	return &sstp.Error{AttribID: attr, Status: status, Reason: reason}
}

// The link as a Server's client.
func (l *link) connected() bool  { return l.bound.Load() }
func (l *link) protocol() string { return ProtocolSSTP }

// disconnect is shutdown on a goroutine of its own: whoever disconnects a
// client (the API, client after client) does not wait.
func (l *link) disconnect() { go l.shutdown() }

// shutdown tells the peer (CALL_DISCONNECT), and the reading goroutine
// ends the call, waiting for the peer's CALL_DISCONNECT_ACK (afterEnd).
// A peer that reads nothing holds up the write: its connection is closed
// in a second, whether the message got out or not. shutdown returns then,
// or once the message went.
func (l *link) shutdown() {
	t := time.AfterFunc(time.Second, func() { l.conn.Close() })
	err := l.writeControl(sstp.Control{Type: sstp.MsgCallDisconnect})
	if !t.Stop() || err != nil {
		l.conn.Close()
		return
	}
	l.conn.SetReadDeadline(time.Now()) // wakes the reader, which sees disconnectSent
}

func (l *link) remoteAddr() netip.AddrPort { return addrPortOf(l.conn.RemoteAddr()) }

// addrPortOf is a connection's address as a netip.AddrPort (invalid when
// it is none).
func addrPortOf(a net.Addr) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
func (l *link) traffic() (bytesIn, bytesOut, packetsIn, packetsOut uint64) {
	return l.bytesIn.Load(), l.bytesOut.Load(), l.packetsIn.Load(), l.packetsOut.Load()
}

// errNotUp and errQueueFull are SendIP's refusals, fixed: they come per
// packet.
var (
	errNotUp = errors.New("the link is not up")
	// errDisconnected ends the call after a CALL_DISCONNECT of ours
	// that another goroutine sent (disconnect, Client.Close).
	errDisconnected = errors.New("the call was disconnected (CALL_DISCONNECT sent)")
	errQueueFull    = errors.New("the client's send queue is full: packet dropped")
)

// SendIP queues an IPv4 packet for the peer, once the link is up. It never
// blocks: the sender (a VNet router's goroutine) must not wait on one
// client's TCP connection; when the queue is full the packet is dropped
// and counted.
func (l *link) SendIP(pkt []byte) error {
	if !l.up.Load() {
		return errNotUp
	}
	if len(pkt) > sstp.MaxData-8 {
		l.dropped.Add(1)
		return &tooBigError{len(pkt), sstp.MaxData - 8, "what an SSTP packet holds"}
	}
	if mru := l.mru(); len(pkt) > mru {
		// RFC 1661 §6.1: the peer asked for packets of at most its MRU.
		l.dropped.Add(1)
		return &tooBigError{len(pkt), mru, "the peer's MRU"}
	}
	return l.enqueue(pkt)
}

// tooBigError is SendIP's refusal of a packet longer than the client
// takes, mtu bytes (what of): its sender is told (Server.Deliver).
type tooBigError struct {
	len, mtu int
	what     string
}

func (e *tooBigError) Error() string {
	return fmt.Sprintf("a packet of %d bytes is longer than %s (%d)", e.len, e.what, e.mtu)
}

// mru is the longest Information field the peer takes: the MRU its LCP
// request named, or the default (RFC 1661 §6.1).
func (l *link) mru() int {
	if m := l.peerMRU.Load(); m != 0 {
		return int(m)
	}
	return defaultMRU
}

// mtu is the longest IP packet the peer takes: its MRU, within what an
// SSTP packet holds.
func (l *link) mtu() int { return min(l.mru(), sstp.MaxData-8) }

// eapFragmentSize is how many bytes of TLS an EAP-TLS packet of ours
// carries: eapFragment, less when the peer's MRU is smaller than such a
// packet (its headers and the fragment).
func (l *link) eapFragmentSize() int {
	return min(eapFragment, l.mru()-eapTLSHeaders)
}

// sendQueue is how many packets wait for a client's writer.
const sendQueue = 512

// outQueue is a client's packets waiting for its writer, and what it
// counts of them.
type outQueue struct {
	sendq                chan []byte
	bytesOut, packetsOut atomic.Uint64
	dropped              atomic.Uint64 // packets not sent: queue full, too large
}

func newOutQueue() outQueue { return outQueue{sendq: make(chan []byte, sendQueue)} }

// enqueue queues a copy of pkt, or drops and counts it when the queue is
// full: it never blocks. The writer counts it sent once written (sent).
func (q *outQueue) enqueue(pkt []byte) error {
	select {
	case q.sendq <- append([]byte(nil), pkt...):
		return nil
	default:
		q.dropped.Add(1)
		return errQueueFull
	}
}

// sent counts packets of bytes in all the writer wrote to the client, or
// dropped when the write failed: what the client was sent, not what was
// queued for it.
func (q *outQueue) sent(packets, bytes uint64, err error) {
	if err != nil {
		q.dropped.Add(packets)
		return
	}
	q.bytesOut.Add(bytes)
	q.packetsOut.Add(packets)
}

// writer sends the queued packets, as many as are waiting (up to 32 KiB)
// in one TLS write, until quit. Those still queued when the link went
// down (the peer renegotiates, or rejected IPv4) are dropped and
// counted: RFC 1661 §5.7 (MUST stop sending IPv4 once rejected), §3.4.
func (l *link) writer(quit <-chan struct{}) {
	buf := make([]byte, 0, 40<<10)
	frame := make([]byte, 0, sstp.MaxPacket)
	var packets, bytes uint64 // in buf
	add := func(pkt []byte) {
		if !l.up.Load() {
			l.dropped.Add(1)
			return
		}
		frame = ppp.AppendFrame(frame[:0], ppp.ProtoIPv4, pkt)
		buf = sstp.AppendData(buf, frame)
		packets, bytes = packets+1, bytes+uint64(len(pkt))
	}
	for {
		buf, packets, bytes = buf[:0], 0, 0
		select {
		case <-quit:
			return
		case pkt := <-l.sendq:
			add(pkt)
		}
	more:
		for len(buf) < 32<<10 {
			select {
			case pkt := <-l.sendq:
				add(pkt)
			default:
				break more
			}
		}
		if len(buf) == 0 {
			continue // all dropped
		}
		select {
		case <-quit:
			// The call ended: nothing goes after its last message.
			l.dropped.Add(packets)
			return
		default:
		}
		l.wmu.Lock()
		l.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := l.conn.Write(buf)
		l.wmu.Unlock()
		l.sent(packets, bytes, err)
		if err != nil {
			select {
			case <-quit: // the connection is afterEnd's, which ends it
			default:
				l.conn.Close() // the reader ends the link
			}
			return
		}
	}
}

// checkUp sets whether the link carries IP: authenticated, bound and IPCP
// open both ways. It tells the client's Dial once.
func (l *link) checkUp() {
	up := l.bound.Load() && l.ipcpOurs && l.ipcpPeers
	l.up.Store(up)
	if up && !l.server {
		l.upWith.Store(&linkAddrs{local: l.local, peer: l.peer, dns: l.dnsGiven})
		if l.upHook != nil {
			l.upHook()
		}
	}
}

// linkAddrs are the PPP addresses of a link that is up, and the DNS
// servers it was given.
type linkAddrs struct {
	local, peer netip.Addr
	dns         [2]netip.Addr
}

func (l *link) nextID() uint8 { l.id++; return l.id }

// renegotiations are the peer's renegotiations of one protocol (LCP,
// IPCP): each takes the link down until the protocol is open again.
type renegotiations struct {
	times []time.Time   // within renegotiationWindow
	log   sparselog.Log // logged once a minute at most
}

// renegotiated counts a renegotiation of proto by the peer, which takes
// the link down until what it says ("LCP and IPCP are") is open again,
// and logs it, once a minute at most: a peer that renegotiates more than maxRenegotiations
// times in renegotiationWindow ends its link, the gateway's with
// CALL_ABORT, rather than keep it busy and carrying no traffic.
func (l *link) renegotiated(r *renegotiations, proto, what string) error {
	now := time.Now()
	r.times = slices.DeleteFunc(r.times, func(t time.Time) bool { return now.Sub(t) >= renegotiationWindow })
	if r.times = append(r.times, now); len(r.times) > maxRenegotiations {
		if l.server {
			l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
		}
		return fmt.Errorf("the peer renegotiates %s too often: %d times in %v", proto, len(r.times), renegotiationWindow)
	}
	r.log.Count(1)
	if n, log := r.log.Due(); log {
		l.log.Info("the peer renegotiates "+proto+": the link is down until "+what+" open again", "renegotiations", n)
	}
	return nil
}

// sendLCPRequest asks for our LCP options: the server EAP
// authentication (until the client authenticated) and a magic number,
// the client a magic number.
func (l *link) sendLCPRequest() error {
	var opts []ppp.Option
	if l.magic != 0 {
		opts = append(opts, magicOption(l.magic))
	}
	l.lcpReqID = l.nextID()
	if l.server && !l.authed {
		opts = append([]ppp.Option{{Type: ppp.OptAuthProto, Value: l.authProto()}}, opts...)
	}
	if l.server && l.srv != nil && l.srv.cfg.mru != 0 {
		opts = append(opts, ppp.Option{Type: ppp.OptMRU, Value: binary.BigEndian.AppendUint16(nil, l.srv.cfg.mru)})
	}
	l.lcpReq = ppp.AppendOptions(nil, opts)
	return l.writeLCPRequest()
}

// writeLCPRequest sends our LCP request under lcpReqID: a retransmission
// on the Restart timer keeps its Identifier and options (RFC 1661 §5.1),
// as IPCP's does, so that a late answer to the first is taken; a changed
// request (sendLCPRequest) gets a new Identifier.
func (l *link) writeLCPRequest() error {
	l.lcpSent = time.Now()
	return l.writePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: l.lcpReqID, Data: l.lcpReq}.Append(nil))
}

// lcpWaiting reports whether the Restart timer of our LCP request runs:
// LCP is not open, in Req-Sent, Ack-Rcvd or Ack-Sent (RFC 1661 §4.2).
func (l *link) lcpWaiting() bool { return !(l.lcpOurs && l.lcpPeers) && !l.lcpSent.IsZero() }

// restartTimeout handles the end of the Restart timer of our request of
// proto (LCP, IPCP); ours is whether the peer acknowledged it
// (Ack-Rcvd), tries the Restart counter. The request goes again (TO+),
// from Ack-Rcvd to Req-Sent, until Max-Configure requests have gone
// without the protocol opening; then the link ends (TO-: tlf), the
// gateway's with CALL_ABORT. The counter starts over when the protocol
// opens, not on each Ack of ours as RFC 1661 §4.1's irc does, so that a
// peer that acknowledges our requests and never sends one we can
// acknowledge is not asked for ever.
func (l *link) restartTimeout(proto string, ours *bool, tries *int, send, resend func() error) error {
	// RFC 1661 §4.1: the Restart counter, Max-Configure at irc, goes
	// down with each request sent; TO- is the timeout once it is zero,
	// after Max-Configure requests in all.
	if *tries++; *tries >= maxConfigure {
		// RFC 1661 §4.1: TO- in Req-Sent, Ack-Rcvd and Ack-Sent is tlf.
		if l.server {
			l.abortStatus(sstp.StatusRetryCountExceeded)
		}
		if *ours {
			return fmt.Errorf("%s does not open: the peer acknowledged our request but sent none of its own we could acknowledge, after %d requests", proto, maxConfigure)
		}
		return errors.New("the peer does not answer " + proto)
	}
	if *ours {
		// RFC 1661 §4.1: TO+ in Ack-Rcvd is scr, to Req-Sent; the
		// request gets a new Identifier, the last one answered (§5.1).
		*ours = false
		return send()
	}
	// RFC 1661 §4.1: TO+ in Req-Sent and Ack-Sent is scr: a
	// retransmission, under the same Identifier (§5.1: MAY).
	return resend()
}

// ackForgotten takes LCP or IPCP, whose request ours says is
// acknowledged, back from Ack-Rcvd to Req-Sent without a request sent
// (RFC 1661 §4.1: RTR is sta, RTA and RXJ+ nothing), and gives the
// request, which goes again on the Restart timer, a new Identifier id:
// it MUST change once a valid reply was received (§5.1), and so an Ack
// of the old one, late or repeated, is discarded, not taken for an Ack
// of the next. In Req-Sent or Ack-Sent it does nothing.
func (l *link) ackForgotten(ours *bool, id *uint8) {
	if *ours {
		*ours, *id = false, l.nextID()
	}
}

// answerValid reports whether a Configure-Ack or Reject of our last
// request (its Identifier checked), whose options were req, carries what
// it must: an Ack those options exactly (RFC 1661 §5.2), a Reject some of
// them, unmodified and in order (§5.4). LCP and IPCP alike.
func answerValid(p ppp.Packet, req []byte) bool {
	switch p.Code {
	case ppp.ConfAck:
		return bytes.Equal(p.Data, req) // RFC 1661 §5.2: MUST exactly match
	case ppp.ConfRej:
		rej, err := ppp.ParseOptions(p.Data)
		if err != nil || len(rej) == 0 {
			return false
		}
		opts, _ := ppp.ParseOptions(req)
		for _, o := range opts {
			if len(rej) > 0 && o.Type == rej[0].Type && bytes.Equal(o.Value, rej[0].Value) {
				rej = rej[1:]
			}
		}
		return len(rej) == 0 // RFC 1661 §5.4: MUST be a subset of the last request's
	}
	return true
}

// run reads packets until the connection ends.
func (l *link) run(control func(c sstp.Control, raw []byte) error) error {
	quit := make(chan struct{})
	defer close(quit)
	go l.writer(quit)
	var buf [sstp.MaxPacket]byte
	echoSent := false
	for {
		if l.server && !l.bound.Load() && !l.negotiateBy.IsZero() && !time.Now().Before(l.negotiateBy) {
			l.abortStatus(sstp.StatusNegotiationTimeout)
			return errors.New("the client did not authenticate and bind the call in time")
		}
		// While LCP is not open, our request is sent again every 3 s
		// (RFC 1661 §4.6, the Restart timer), up to 10 times; so is our
		// IPCP request until IPCP is open. After that, a silent
		// peer gets an Echo Request when the hello timer runs out, and
		// the link ends when that goes unanswered as long ([MS-SSTP]
		// §3.1.2.2).
		wait := l.hello
		switch {
		case l.stopping != nil:
			wait = time.Until(l.termSent.Add(restartTimer))
		case l.lcpWaiting():
			wait = time.Until(l.lcpSent.Add(restartTimer))
		case l.ipcpWaiting():
			wait = time.Until(l.ipcpSent.Add(restartTimer))
		}
		if l.server && !l.bound.Load() && !l.negotiateBy.IsZero() {
			wait = min(wait, time.Until(l.negotiateBy))
		}
		l.conn.SetReadDeadline(time.Now().Add(max(wait, time.Millisecond)))
		// After the deadline is set: disconnect sets the flag, then a
		// deadline that wakes this read; one of the two is seen.
		if l.disconnectSent.Load() {
			return errDisconnected
		}
		isControl, body, err := l.readPacket(&buf)
		if l.disconnectSent.Load() {
			if c, perr := sstp.ParseControl(body); err == nil && isControl && perr == nil {
				switch c.Type {
				case sstp.MsgCallDisconnectAck:
					l.disconnectAcked = true
				case sstp.MsgCallDisconnect:
					// Both ended the call at once: §3.1.1.1, the peer's is
					// acknowledged whatever the state (MUST), or it waits
					// out its disconnect timer.
					l.writeControl(sstp.Control{Type: sstp.MsgCallDisconnectAck})
				}
			}
			return errDisconnected
		}
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout() && l.stopping != nil:
			// RFC 1661 §4.1, Stopping: TO+ is str, TO- (after
			// Max-Terminate) tlf.
			if l.termTries >= maxTerminate {
				return l.finished(l.stopping)
			}
			if err := l.writeTermReq(); err != nil {
				return err
			}
			continue
		case errors.As(err, &ne) && ne.Timeout() && l.lcpWaiting():
			if err := l.restartTimeout("LCP", &l.lcpOurs, &l.lcpTries, l.sendLCPRequest, l.writeLCPRequest); err != nil {
				return err
			}
			continue
		case errors.As(err, &ne) && ne.Timeout() && l.ipcpWaiting():
			if err := l.restartTimeout("IPCP", &l.ipcpOurs, &l.ipcpTries, l.sendIPCPRequest, l.writeIPCPRequest); err != nil {
				return err
			}
			continue
		case errors.As(err, &ne) && ne.Timeout() && !echoSent:
			echoSent = true
			if err := l.writeControl(sstp.Control{Type: sstp.MsgEchoRequest}); err != nil {
				return err
			}
			continue
		case errors.As(err, &ne) && ne.Timeout():
			return errors.New("the peer went silent: no answer to an Echo Request")
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		echoSent = false
		if isControl {
			c, err := sstp.ParseControl(body)
			if err != nil {
				return l.abort(err)
			}
			l.peerAborted = l.peerAborted || c.Type == sstp.MsgCallAbort
			if c.Type < sstp.MsgCallConnectRequest || c.Type > sstp.MsgEchoResponse {
				// [MS-SSTP] §3.1.5.1: an invalid message MUST abort the
				// call; one of a type SSTP 1.0 does not have is.
				return l.abort(invalid(sstp.AttribNoError, sstp.StatusInvalidFrameReceived, fmt.Sprintf("SSTP control message of unknown type %d", c.Type)))
			}
			raw := append(appendControlHeader(nil, len(body)), body...)
			if err := control(c, raw); err != nil {
				return err
			}
			continue
		}
		if l.callPending {
			l.log.Debug("PPP frame before CALL_CONNECT_REQUEST dropped")
			continue
		}
		proto, info, err := ppp.ParseFrame(body)
		if err != nil {
			l.log.Debug("PPP frame dropped", "err", err)
			continue
		}
		if err := l.handlePPP(proto, info); err != nil {
			return err
		}
	}
}

// afterEnd keeps the connection a moment after the call ended, for its
// end to reach both sides. Closed at once, with the peer's packets
// unread, the connection would end in a TCP reset, which can take our
// last message, and what went before it, with it.
//
// After a CALL_ABORT of ours ([MS-SSTP] §3.1.2.1): up to
// TIMER_VAL_ABORT_STATE_TIMER_1 for the peer's CALL_ABORT, everything
// else ignored (MUST), then TIMER_VAL_ABORT_STATE_TIMER_2 once it came
// (MUST), or came first and ours answered it. After a CALL_DISCONNECT of
// ours (§3.1.2.2): up to TIMER_VAL_DISCONNECT_STATE_TIMER_1 for the
// peer's CALL_DISCONNECT_ACK. Once the timer ran out, the ACK came, or
// we acknowledged the peer's CALL_DISCONNECT, the connection is drained.
// It returns at once when the call ended without a message of either,
// or the peer ended the connection.
func (l *link) afterEnd() {
	aborting := l.abortSent.Load()
	waitAck := !aborting && l.disconnectSent.Load() && !l.disconnectAcked
	var by time.Time
	switch {
	case aborting && l.peerAborted:
		by = time.Now().Add(abortTimer2)
	case aborting:
		by = time.Now().Add(abortTimer1)
	case waitAck:
		by = time.Now().Add(disconnectTimer1)
	case l.disconnectSent.Load() || l.ackSent.Load():
		l.drain()
		return
	default:
		return
	}
	var buf [sstp.MaxPacket]byte
	for {
		l.conn.SetReadDeadline(by)
		isControl, body, err := l.readPacket(&buf)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			l.drain() // the timer ran out
			return
		case err != nil && !errors.As(err, new(*sstp.Error)):
			return // the connection's end
		}
		c, err := sstp.ParseControl(body)
		if !isControl || err != nil {
			continue
		}
		switch {
		case aborting && c.Type == sstp.MsgCallAbort && !l.peerAborted:
			l.peerAborted, by = true, time.Now().Add(abortTimer2)
		case waitAck && c.Type == sstp.MsgCallDisconnectAck:
			l.drain() // §3.1.2.2: the ACK cancels the timer, and the connection is cleaned up at once (MUST)
			return
		case !aborting && c.Type == sstp.MsgCallDisconnect:
			// §3.1.1.1: acknowledged whatever the state (MUST).
			l.writeControl(sstp.Control{Type: sstp.MsgCallDisconnectAck})
		}
	}
}

// drain ends what we send on the connection (the TLS close_notify), and
// reads, and drops, what the peer still sends until its end, for up to
// TIMER_VAL_DISCONNECT_STATE_TIMER_2 (the far end's wait after its
// CALL_DISCONNECT_ACK, [MS-SSTP] §3.1.2.2) and drainMax bytes. Closed with
// the peer's data unread, the connection would end in a TCP reset, which
// can take our last message, and what went before it, with it; a peer
// that sends on past either bound gets one.
func (l *link) drain() {
	if cw, ok := l.conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	l.conn.SetReadDeadline(time.Now().Add(disconnectTimer2))
	io.CopyN(io.Discard, l.r, drainMax)
}

// watchLeaving notices the client leave while the reading goroutine
// waits on something else (a RADIUS server, up to a minute and more):
// the connection's end cancels l.ctx, and the wait with it, rather than
// the link holding on until the wait gives up. Whatever the client
// sends meanwhile stays unread. stop hands the connection back to the
// reading goroutine.
func (l *link) watchLeaving() (stop func()) {
	done := make(chan struct{})
	l.conn.SetReadDeadline(time.Time{}) // before the watcher reads: stop's deadline is the last
	go func() {
		defer close(done)
		// Past what the client sent before: a Peek of what is buffered
		// returns at once, and the client's leaving goes unnoticed.
		_, err := l.r.Peek(min(l.r.Buffered()+1, l.r.Size()))
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			l.cancel()
		}
	}()
	return func() {
		l.conn.SetReadDeadline(time.Now())
		<-done
	}
}

// readPacket reads one SSTP packet. It peeks at the whole packet before it
// takes it, so that a read deadline that passes mid-packet loses nothing.
func (l *link) readPacket(buf *[sstp.MaxPacket]byte) (bool, []byte, error) {
	h, err := l.r.Peek(sstp.HeaderLen)
	if err != nil {
		return false, nil, err
	}
	n := max(int(h[2]&0x0f)<<8|int(h[3]), sstp.HeaderLen) // ReadPacket refuses a short one
	p, err := l.r.Peek(n)
	if err != nil {
		return false, nil, err
	}
	control, body, err := sstp.ReadPacket(bytes.NewReader(p), buf)
	l.r.Discard(n)
	return control, body, err
}

func appendControlHeader(b []byte, bodyLen int) []byte {
	n := sstp.HeaderLen + bodyLen
	return append(b, sstp.Version, 0x01, byte(n>>8)&0x0f, byte(n))
}

// handlePPP runs LCP, EAP, IPCP and IPv4.
func (l *link) handlePPP(proto uint16, info []byte) error {
	if l.stopping != nil && proto != ppp.ProtoLCP {
		return nil // RFC 1661 §4.2, Stopping: LCP is terminating the link
	}
	if proto != ppp.ProtoLCP && !(l.lcpOurs && l.lcpPeers) {
		// RFC 1661 §3.4: until LCP is open (at first, and again while
		// the peer renegotiates it) non-LCP packets MUST be silently
		// discarded.
		return nil
	}
	switch proto {
	case ppp.ProtoLCP:
		return l.handleLCP(info)
	case ppp.ProtoEAP:
		return l.handleEAP(info)
	case ppp.ProtoCHAP:
		return l.handleCHAP(info)
	case ppp.ProtoIPCP:
		return l.handleIPCP(info)
	case ppp.ProtoIPv4:
		if !l.up.Load() {
			return nil // RFC 1661 §3.5: no network traffic before the link is up
		}
		if len(info) < 20 || info[0]>>4 != 4 {
			return nil
		}
		// The server takes only packets from the client's own address.
		if src := netip.AddrFrom4([4]byte(info[12:16])); l.server && src != l.peer {
			l.log.Debug("packet from a foreign source dropped", "src", src, "client", l.peer)
			return nil
		}
		l.bytesIn.Add(uint64(len(info)))
		l.packetsIn.Add(1)
		if l.onIP != nil {
			l.onIP(info)
		}
		return nil
	default:
		// RFC 1661 §5.7: an unknown protocol is rejected (IPv6CP, CCP),
		// unless the peer Code-Rejected Protocol-Reject itself; §3.5:
		// before authentication ends it MUST be silently discarded.
		if l.authed && !l.codeRejected[ppp.ProtoRej] {
			data := binary.BigEndian.AppendUint16(nil, proto)
			return l.sendReject(ppp.ProtoLCP, ppp.ProtoRej, append(data, info...))
		}
		return nil
	}
}

// sendReject sends a Code-Reject (RFC 1661 §5.6) or a Protocol-Reject
// (§5.7) in proto of what it rejects, cut to 64 octets, well within any
// MRU (§5.6, §5.7: MUST be truncated to the peer's MRU).
func (l *link) sendReject(proto uint16, code uint8, rejected []byte) error {
	// RFC 1661 §5.6, §5.7: the Identifier MUST be changed for each sent.
	// It has its own counter: taken from our requests', 256 of them
	// brought the next request back to the Identifier of the last, which
	// a late answer to the last would then match (§5.1).
	l.rejID++
	return l.writePPP(proto, ppp.Packet{Code: code, ID: l.rejID, Data: rejected[:min(len(rejected), 64)]}.Append(nil))
}

// fundamental reports whether a peer's Code-Reject of code rejects what
// LCP, IPCP and every protocol of their packet format has (Codes 1 to 7,
// RFC 1661 §5, RFC 1332 §2): their link cannot work (§4.3, RXJ-), and
// SHOULD be dropped (§5.6).
func fundamental(code uint8) bool { return code >= ppp.ConfReq && code <= ppp.CodeRej }

// needs reports whether the link cannot do without proto, whose
// Protocol-Reject then ends it (RFC 1661 §4.3, RXJ-): LCP, IPCP, and
// the authentication it does until done. Others (IPv4, which only a
// link with IPCP open carries) are RXJ+.
func (l *link) needs(proto uint16) bool {
	return proto == ppp.ProtoLCP || proto == ppp.ProtoIPCP || !l.authed && proto == binary.BigEndian.Uint16(l.authProto())
}

// reopenLCP takes LCP down from Opened for the peer (tld: IPCP with it,
// and the data path) and sends our request again (scr), the peer's
// request no longer acknowledged; a peer that does so too often ends the
// link (renegotiated). The gateway keeps the client's place and address,
// which IPCP names again.
func (l *link) reopenLCP() error {
	if err := l.renegotiated(&l.lcpRenegs, "LCP", "LCP and IPCP are"); err != nil {
		return err
	}
	l.lcpOurs, l.lcpPeers = false, false
	l.ipcpOurs, l.ipcpPeers, l.ipcpSent, l.ipcpStopped = false, false, time.Time{}, false
	if l.server && !l.authed {
		// RFC 1661 §3.5: authentication follows each opening of LCP. The
		// exchange under way is dropped, as the peer drops its own when
		// LCP goes down (pppd does), and starts over once LCP is open
		// again (handleLCP); kept, neither side spoke first and the call
		// waited for the negotiation timeout.
		if l.eapSrv != nil {
			l.eapSrv.Close()
			l.eapSrv = nil
		}
		l.eapRelay, l.eapIdentity, l.chapSent = nil, nil, false
	}
	l.checkUp()
	return l.sendLCPRequest()
}

// rejected ends the link on the peer's Code- or Protocol-Reject of what
// it cannot do without (RFC 1661 §4.3, RXJ-), rather than waiting for
// the Restart timer to give up: with LCP open, LCP terminates first
// (terminate); else the link ends at once (finished).
func (l *link) rejected(what string) error {
	err := fmt.Errorf("the peer rejected %s, without which the link cannot work (RFC 1661 §4.3, RXJ-)", what)
	if l.stopping == nil && l.lcpOurs && l.lcpPeers {
		return l.terminate(err)
	}
	// RFC 1661 §4.1: RXJ- in any state but Opened is tlf.
	return l.finished(err)
}

// terminate takes LCP down (RFC 1661 §4.1, RXJ- in Opened: tld, irc,
// str, to Stopping): the data path goes down, and our
// Terminate-Request goes out; the link ends with why on the peer's
// Terminate-Ack, or after Max-Terminate requests unanswered (run).
func (l *link) terminate(why error) error {
	l.stopping, l.termTries, l.termID = why, 0, l.nextID()
	l.ipcpOurs, l.ipcpPeers = false, false
	l.checkUp()
	return l.writeTermReq()
}

// writeTermReq sends our Terminate-Request, again under its Identifier
// when the Restart timer runs out (RFC 1661 §5.5: MAY remain unchanged).
func (l *link) writeTermReq() error {
	l.termSent = time.Now()
	l.termTries++
	return l.writePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.TermReq, ID: l.termID}.Append(nil))
}

// finished ends the link with why once PPP is down (RFC 1661 §4.4,
// This-Layer-Finished): SSTP disconnects the call normally
// (CALL_DISCONNECT, [MS-SSTP] §3.2.4.2: after the PPP teardown).
func (l *link) finished(why error) error {
	l.writeControl(sstp.Control{Type: sstp.MsgCallDisconnect})
	return why
}

// stoppingLCP handles an LCP packet of a known Code while LCP terminates
// (RFC 1661 §4.1, Stopping): the Terminate-Ack, or a catastrophic reject,
// ends the link (RTA, RXJ-: tlf); a Terminate-Request is acknowledged
// (RTR: sta); anything else is ignored.
func (l *link) stoppingLCP(p ppp.Packet) error {
	switch {
	case p.Code == ppp.TermAck:
		return l.finished(l.stopping)
	case p.Code == ppp.TermReq:
		return l.writePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.TermAck, ID: p.ID}.Append(nil))
	case p.Code == ppp.CodeRej && len(p.Data) > 0 && fundamental(p.Data[0]),
		p.Code == ppp.ProtoRej && len(p.Data) >= 2 && l.needs(binary.BigEndian.Uint16(p.Data)):
		return l.finished(l.stopping)
	}
	return nil
}

func (l *link) handleLCP(info []byte) error {
	p, err := ppp.ParsePacket(info)
	if err != nil {
		return nil
	}
	if p.Code == 0 || p.Code > ppp.TimeRemaining {
		// RFC 1661 §5.6: an unknown Code MUST be reported back with a
		// Code-Reject; §4.1: RUC is scj in every state, Stopping too.
		return l.sendReject(ppp.ProtoLCP, ppp.CodeRej, info[:p.Len()])
	}
	if l.stopping != nil {
		return l.stoppingLCP(p)
	}
	wasOpen := l.lcpOurs && l.lcpPeers
	switch p.Code {
	case ppp.ConfReq:
		opts, err := ppp.ParseOptions(p.Data)
		if err != nil {
			return nil
		}
		// The peer's request is open only once this one is Acked (RFC
		// 1661 §4.1: RCR- in Ack-Sent goes to Req-Sent), as IPCP's.
		l.lcpPeers = false
		if wasOpen {
			// RFC 1661 §4.1: in Opened, a Configure-Request takes the
			// layer down and ours goes out again (tld, scr) before the
			// answer.
			if err := l.reopenLCP(); err != nil {
				return err
			}
		}
		for _, o := range opts {
			v, err := o.Uint32()
			if o.Type != ppp.OptMagic || err != nil || v != 0 && (v != l.magic || l.magic == 0) {
				continue
			}
			// RFC 1661 §6.4: a request with the magic number of our last
			// may be ours, looped back, and MUST be Nak'd with another
			// (a zero one MUST be Nak'd too); nothing else of it is
			// answered until it comes without ours.
			l.lcpNakMagic = newMagic(l.magic)
			return l.writePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfNak, ID: p.ID, Data: ppp.AppendOptions(nil, []ppp.Option{magicOption(l.lcpNakMagic)})}.Append(nil))
		}
		var rej, nak []ppp.Option
		// RFC 1661 §4.6: after Max-Failure Naks without an Ack, what we
		// would Nak is rejected instead, as the peer sent it, so that a
		// peer that insists on it converges or gives up rather than
		// loop until Max-Configure.
		failed := l.lcpNaks >= maxFailure
		refuse := func(o, want ppp.Option) {
			if failed {
				rej = append(rej, o)
				return
			}
			nak = append(nak, want)
		}
		for _, o := range opts {
			// RFC 1661 §6: an option we take with an invalid Length
			// SHOULD be Nak'd with the desired one, of the right Length:
			// the MRU (§6.1) and ACCM (RFC 1662 §7.1) their defaults, a
			// magic number of ours (§6.4), the compressions (§6.5, §6.6)
			// without data.
			switch o.Type {
			case ppp.OptMRU:
				if v, err := o.Uint16(); err != nil {
					refuse(o, ppp.Option{Type: ppp.OptMRU, Value: binary.BigEndian.AppendUint16(nil, defaultMRU)})
				} else if v < minMRU {
					refuse(o, ppp.Option{Type: ppp.OptMRU, Value: binary.BigEndian.AppendUint16(nil, minMRU)})
				}
			case ppp.OptACCM:
				if len(o.Value) != 4 {
					refuse(o, ppp.Option{Type: ppp.OptACCM, Value: []byte{0xff, 0xff, 0xff, 0xff}})
				}
			case ppp.OptMagic:
				if len(o.Value) != 4 {
					l.lcpNakMagic = newMagic(l.magic)
					refuse(o, magicOption(l.lcpNakMagic))
				}
			case ppp.OptPFC, ppp.OptACFC:
				if len(o.Value) != 0 {
					refuse(o, ppp.Option{Type: o.Type})
				}
			case ppp.OptAuthProto:
				// The server does not authenticate to the client in
				// PPP (TLS did); the client takes what it has
				// credentials for, and names it when asked for another
				// (RFC 1661 §5.3).
				if l.server {
					rej = append(rej, o)
				} else if want := l.authProto(); !bytes.Equal(o.Value, want) {
					refuse(o, ppp.Option{Type: ppp.OptAuthProto, Value: want})
				}
			default:
				rej = append(rej, o)
			}
		}
		if len(rej) > 0 {
			return l.writePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfRej, ID: p.ID, Data: ppp.AppendOptions(nil, rej)}.Append(nil))
		}
		if len(nak) > 0 {
			l.lcpNaks++
			return l.writePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfNak, ID: p.ID, Data: ppp.AppendOptions(nil, nak)}.Append(nil))
		}
		l.lcpPeers, l.lcpNaks = true, 0
		// RFC 1661 §6.1: what we send the peer from now on is within the
		// MRU of the request we Ack, the default when it names none.
		l.peerMRU.Store(0)
		for _, o := range opts {
			if v, err := o.Uint16(); o.Type == ppp.OptMRU && err == nil {
				l.peerMRU.Store(uint32(v))
			}
		}
		if err := l.writePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: p.ID, Data: p.Data}.Append(nil)); err != nil {
			return err
		}
		if l.lcpSent.IsZero() {
			if err := l.sendLCPRequest(); err != nil {
				return err
			}
		}
	case ppp.ConfAck, ppp.ConfNak, ppp.ConfRej:
		// RFC 1661 §5.2-5.4: an answer to another request than our last
		// is silently discarded; so is one after our request was
		// acknowledged (a late Nak would change the authentication
		// under way).
		if p.ID != l.lcpReqID || l.lcpOurs {
			return nil
		}
		if !answerValid(p, l.lcpReq) {
			// RFC 1661 §5.2, §5.4: invalid packets are silently discarded.
			l.log.Debug("LCP answer with other options than the last request's discarded", "code", p.Code, "options", fmt.Sprintf("% x", p.Data), "request", fmt.Sprintf("% x", l.lcpReq))
			return nil
		}
		if p.Code == ppp.ConfAck {
			l.lcpOurs = true
			break
		}
		// Drop what the peer rejects and ask again; the server cannot do
		// without authentication, and asks for MS-CHAPv2 (by RADIUS)
		// instead of EAP when the client names another: a Nak's value is
		// a hint (§5.3), and pppd with a password names CHAP-MD5 unless
		// told otherwise.
		opts, _ := ppp.ParseOptions(p.Data)
		for _, o := range opts {
			if o.Type == ppp.OptAuthProto && l.server {
				if p.Code == ppp.ConfNak && !l.useMSCHAP && !l.useEAPRelay && len(l.srv.cfg.Radius) > 0 && passwordAuth(o.Value) {
					l.useMSCHAP = true
					continue
				}
				// Asked for MS-CHAPv2 (RADIUS alone), a client that names
				// EAP gets EAP, relayed to RADIUS (PEAP, EAP-MSCHAPv2).
				if p.Code == ppp.ConfNak && l.useMSCHAP && !l.useEAPRelay && len(l.srv.cfg.Radius) > 0 && bytes.Equal(o.Value, eapProto) {
					l.useMSCHAP, l.useEAPRelay = false, true
					continue
				}
				l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
				return fmt.Errorf("the client does not take the authentication the gateway asks for (LCP code %d, % x): %s", p.Code, o.Value, l.srv.authNeeds())
			}
			if o.Type == ppp.OptMagic && p.Code == ppp.ConfRej {
				l.magic = 0
			}
			if o.Type == ppp.OptMagic && p.Code == ppp.ConfNak {
				// RFC 1661 §6.4: Naked with the magic number of our own
				// last Nak, the link is likelier looped back, and a new
				// magic number MUST be chosen (we choose one on any Nak
				// of ours). Our Naks that keep coming back end the link
				// rather than have it negotiate with itself.
				if v, err := o.Uint32(); err == nil && v != 0 && v == l.lcpNakMagic {
					l.lcpLoops++
				} else {
					l.lcpLoops = 0
				}
				if l.lcpLoops >= maxLoopback {
					if l.server {
						l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
					}
					return fmt.Errorf("the link is looped back: our Nak of our own LCP magic number came back to us %d times in a row (RFC 1661 §6.4)", maxLoopback)
				}
				l.magic = newMagic(l.magic)
			}
		}
		l.log.Debug("LCP options refused", "code", p.Code, "options", fmt.Sprintf("% x", p.Data))
		// Max-Configure (RFC 1661 §4.6) bounds our requests that are
		// not acknowledged, those Naked or Rejected too: a peer that
		// never converges ends the link as a silent one does.
		if l.lcpTries++; l.lcpTries >= maxConfigure {
			if l.server {
				l.abortStatus(sstp.StatusRetryCountExceeded)
			}
			return fmt.Errorf("LCP does not converge: the peer refused %d requests", maxConfigure)
		}
		return l.sendLCPRequest()
	case ppp.EchoReq, ppp.EchoReply:
		// RFC 1661 §5.8: Echo packets received in any state other than
		// Opened SHOULD be silently discarded, as are those too short
		// for a magic number.
		if !wasOpen || len(p.Data) < 4 {
			return nil
		}
		if v := binary.BigEndian.Uint32(p.Data); v != 0 && v == l.magic {
			// RFC 1661 §6.4: an Echo with our own magic number is taken
			// for ours, looped back, and not answered; those that keep
			// coming end the link, as our Naks that come back do.
			if l.lcpEchoLoops++; l.lcpEchoLoops >= maxLoopback {
				if l.server {
					l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
				}
				return fmt.Errorf("the link is looped back: %d LCP Echo packets in a row carried our own magic number (RFC 1661 §6.4)", maxLoopback)
			}
			l.log.Debug("LCP Echo with our own magic number discarded", "code", p.Code)
			return nil
		}
		l.lcpEchoLoops = 0
		if p.Code == ppp.EchoReply || l.codeRejected[ppp.EchoReply] {
			return nil
		}
		data := binary.BigEndian.AppendUint32(nil, l.magic)
		data = append(data, p.Data[4:min(len(p.Data), l.mru()-4)]...) // within the peer's MRU (RFC 1661 §6.1), the packet's 4-byte header with it
		return l.writePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.EchoReply, ID: p.ID, Data: data}.Append(nil))
	case ppp.TermReq:
		ack := ppp.Packet{Code: ppp.TermAck, ID: p.ID}.Append(nil)
		if !wasOpen {
			// RFC 1661 §4.1: RTR in Req-Sent, Ack-Rcvd and Ack-Sent is sta, to Req-Sent.
			l.ackForgotten(&l.lcpOurs, &l.lcpReqID)
			l.lcpPeers = false
			return l.writePPP(ppp.ProtoLCP, ack)
		}
		// RFC 1661 §4.1: RTR in Opened is tld, zrc, sta: the link
		// stays a Restart period for the Terminate-Ack to arrive
		// (Stopping: the data path down, LCP alone answered) and then
		// ends (TO-: tlf, with CALL_DISCONNECT), unless the peer's end
		// of the call, which Windows sends after the Terminate-Ack
		// (CALL_DISCONNECT, acknowledged), comes first.
		l.stopping, l.termTries, l.termSent = errors.New("the peer terminated PPP"), maxTerminate, time.Now()
		l.ipcpOurs, l.ipcpPeers = false, false
		l.checkUp()
		return l.writePPP(ppp.ProtoLCP, ack)
	case ppp.TermAck:
		switch {
		case wasOpen:
			// RFC 1661 §4.1: RTA in Opened is tld, scr, to Req-Sent.
			return l.reopenLCP()
		case l.lcpOurs:
			// RFC 1661 §4.1: RTA in Ack-Rcvd is to Req-Sent.
			l.ackForgotten(&l.lcpOurs, &l.lcpReqID)
		}
		return nil
	case ppp.CodeRej:
		if len(p.Data) > 0 && fundamental(p.Data[0]) {
			return l.rejected(fmt.Sprintf("LCP code %d (Code-Reject)", p.Data[0]))
		}
		// RFC 1661 §4.3: a Code-Reject of another code is RXJ+, and
		// MUST stop us sending that code (Echo-Reply, Protocol-Reject).
		if len(p.Data) > 0 {
			l.codeRejected[p.Data[0]] = true
		}
		if !l.lcpPeers {
			l.ackForgotten(&l.lcpOurs, &l.lcpReqID) // RFC 1661 §4.1: RXJ+ in Ack-Rcvd is to Req-Sent
		}
		l.log.Debug("LCP Code-Reject: the code is not sent again", "packet", fmt.Sprintf("% x", p.Data))
		return nil
	case ppp.ProtoRej:
		// RFC 1661 §5.7: received in any state but Opened, SHOULD be
		// silently discarded.
		if len(p.Data) < 2 || !wasOpen {
			return nil
		}
		proto := binary.BigEndian.Uint16(p.Data)
		if l.needs(proto) {
			return l.rejected(fmt.Sprintf("protocol %#04x (Protocol-Reject)", proto))
		}
		if proto == ppp.ProtoIPv4 {
			// RFC 1661 §5.7: we MUST stop sending IPv4 at once. IPCP
			// goes down as if the peer had terminated it: its next
			// request starts IPCP over, and IPv4 with it (logged as the
			// data path goes down: no more than the restarts).
			if l.up.Load() {
				l.log.Info("the peer rejected IPv4: the link carries none until IPCP is negotiated again")
			}
			l.ipcpOurs, l.ipcpPeers, l.ipcpSent, l.ipcpStopped = false, false, time.Time{}, true
			l.checkUp()
			return nil
		}
		l.log.Debug("LCP Protocol-Reject ignored", "packet", fmt.Sprintf("% x", p.Data))
		return nil
	case ppp.DiscardReq, ppp.Identification, ppp.TimeRemaining:
		// RFC 1661 §5.8, RFC 1570 §1: nothing to answer. Windows
		// sends Identification once LCP is open; pppd discards it too.
		return nil
	}
	if l.lcpOurs && l.lcpPeers {
		l.lcpTries = 0 // LCP is open: the Restart counter starts over (restartTimeout)
	}
	if !wasOpen && l.lcpOurs && l.lcpPeers && l.authed {
		// LCP is open again after the peer renegotiated it: the network
		// phase again (RFC 1661 §3.5), without a second authentication:
		// the call was authenticated and bound ([MS-SSTP] §3.2.5.2) in
		// this TLS connection, which LCP's renegotiation does not change.
		l.ipcpTries = 0
		return l.sendIPCPRequest()
	}
	if l.authed {
		return nil
	}
	if l.server && l.lcpOurs && l.lcpPeers && l.useMSCHAP && !l.chapSent {
		// LCP is open: challenge the client (RFC 1994 §4.1).
		return l.sendChallenge()
	}
	if l.server && l.lcpOurs && l.lcpPeers && l.useEAPRelay && l.eapRelay == nil {
		l.eapRelay = radius.NewEAPAuthenticator(l.ctx, l.srv.settings().Radius, l.eapRelayRequest())
		return l.sendEAP(l.eapRelay.Start())
	}
	if l.server && l.lcpOurs && l.lcpPeers && !l.useMSCHAP && !l.useEAPRelay && l.eapSrv == nil {
		// LCP is open: authenticate the client (RFC 3748 §4.1).
		l.eapSrv = eaptls.NewServer(l.eapTLSConfig(), l.eapFragmentSize(), negotiationTimeout)
		return l.sendEAP(l.eapSrv.Start())
	}
	return nil
}

// Values of the Authentication-Protocol option (RFC 1661 §6.2): EAP
// (RFC 3748 §3.1) and CHAP with MS-CHAPv2 (RFC 2759 §2).
var (
	eapProto    = binary.BigEndian.AppendUint16(nil, ppp.ProtoEAP)
	mschapProto = append(binary.BigEndian.AppendUint16(nil, ppp.ProtoCHAP), ppp.AlgorithmMSCHAPv2)
)

// passwordAuth reports whether an Authentication-Protocol value names
// authentication with a password: CHAP of any algorithm, or PAP.
func passwordAuth(v []byte) bool {
	return len(v) >= 2 && (binary.BigEndian.Uint16(v) == ppp.ProtoCHAP || binary.BigEndian.Uint16(v) == ppp.ProtoPAP)
}

// authProto is the authentication the link does: the server's, what it
// asks for; the client's, what it has credentials for (a password over a
// certificate).
func (l *link) authProto() []byte {
	if l.server && l.useMSCHAP || !l.server && l.client.cfg.User != "" && !l.client.cfg.EAP {
		return mschapProto
	}
	return eapProto
}

// sendEAPTLS sends the next fragment of the client's flight.
func (l *link) sendEAPTLS(id uint8) error {
	return l.respondEAP(ppp.EAP{Code: ppp.EAPResponse, ID: id, Type: ppp.TypeTLS, Data: l.eapCli.Next(l.eapFragmentSize()).Append(nil)})
}

// respondEAP sends the client's response to the server's last EAP
// request, and keeps it for the request repeated (handleEAP).
func (l *link) respondEAP(m ppp.EAP) error {
	l.eapLastResp = m.Append(nil)
	return l.writePPP(ppp.ProtoEAP, l.eapLastResp)
}

// handleEAP runs EAP-TLS: the server authenticates the client by its
// certificate, the client answers.
func (l *link) handleEAP(info []byte) error {
	m, err := ppp.ParseEAP(info)
	if err != nil {
		return nil
	}
	if l.server {
		return l.serverEAP(m)
	}
	if m.Code == ppp.EAPRequest {
		req := m.Append(nil)
		if l.eapLastResp != nil && bytes.Equal(req, l.eapLastReq) {
			// RFC 3748 §4.1: a duplicate of the request we answered MUST
			// get our response again, without reprocessing the request.
			return l.writePPP(ppp.ProtoEAP, l.eapLastResp)
		}
		l.eapLastReq, l.eapLastResp = req, nil
	}
	return l.clientEAP(m)
}

// hlakFrom derives the Higher-Layer Authentication Key from the EAP-TLS
// MSK ([MS-SSTP] §3.2.5.2.4): the client's MPPE send key, the first 32
// bytes of the MSK. vnetgw's client uses it, as Windows does.
func hlakFrom(msk []byte) []byte { return append([]byte{}, msk[:32]...) }

// hlakMPPE128 is the HLAK a client derives from 128-bit MPPE keys, as
// pppd 2.4 gives them to sstpc for EAP-TLS: send key (MSK[0:16]) then
// receive key (MSK[32:48]), the MS-CHAPv2 form of §3.2.5.2.4.
func hlakMPPE128(msk []byte) []byte {
	return append(append([]byte{}, msk[:16]...), msk[32:48]...)
}

// compoundMAC computes the Call Connected message's Compound MAC with
// HMAC-SHA256 ([MS-SSTP] §3.2.5.2.4): CMK = HMAC(HLAK, "SSTP inner
// method derived CMK" | LEN (2 bytes, little endian) | 0x01), then
// HMAC(CMK, the message with the MAC field zeroed).
func compoundMAC(hlak, zeroed []byte) []byte {
	k := hmac.New(sha256.New, hlak)
	k.Write([]byte("SSTP inner method derived CMK"))
	k.Write([]byte{sha256.Size, 0, 1})
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write(zeroed)
	return m.Sum(nil)
}

// certHashOf is the SHA-256 of a TLS connection's server certificate.
func certHashOf(st tls.ConnectionState) [32]byte {
	if len(st.PeerCertificates) > 0 {
		return sha256.Sum256(st.PeerCertificates[0].Raw)
	}
	return [32]byte{}
}
