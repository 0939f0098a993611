package p2s

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/pcap"
	"github.com/vnetgw/vnetgw/internal/peakrate"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/seat"
	"github.com/vnetgw/vnetgw/internal/sender"
	"github.com/vnetgw/vnetgw/internal/sparselog"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// sstpPath is the request URI of SSTP ([MS-SSTP] §2.2.1 and §3.2.4.1).
const sstpPath = "/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/"

// Forwarder takes the IPv4 packets clients send (a VNet router).
type Forwarder interface{ Forward(pkt []byte) }

// Protocols a Server speaks on its port: SSTP and OpenVPN share it, as
// they share TCP 443 in Azure; the first byte a client sends tells them
// apart (a TLS record for SSTP, a 2-byte packet length for OpenVPN).
const (
	ProtocolSSTP    = "SSTP"
	ProtocolOpenVPN = "OpenVPN"
)

// client is one connected point-to-site client of a Server, over SSTP
// (a link) or OpenVPN (an ovpnSession).
type client interface {
	// SendIP queues a packet for the client; it never blocks.
	SendIP(pkt []byte) error
	// connected reports whether the client is past authentication (and
	// SSTP's crypto binding): listed, counted, reachable.
	connected() bool
	// disconnect tells the client it is disconnected and closes its
	// connection.
	disconnect()
	// shutdown ends the client for the server's own sake: it closes, or
	// a newer connection of the client took its place (reserve). An
	// SSTP client is disconnected as disconnect does, shutdown returning
	// once the CALL_DISCONNECT went, a second at most (its goroutine
	// ends the call, the timers bounding it); an OpenVPN client's
	// connection is closed, without the HALT that would keep it from
	// connecting again (R14).
	shutdown()
	remoteAddr() netip.AddrPort
	traffic() (bytesIn, bytesOut, packetsIn, packetsOut uint64)
	protocol() string
	// mtu is the longest IP packet SendIP takes.
	mtu() int
}

// Config configures a Server.
type Config struct {
	Logger *slog.Logger
	// Listen is where clients connect: the gateway's public address and
	// port 443 normally (R13).
	Listen netip.AddrPort
	// Cert is the gateway's certificate, for the HTTPS layer (and
	// OpenVPN's and EAP-TLS's); SetCert replaces it.
	Cert tls.Certificate
	// Roots are the uploaded root certificates client certificates must
	// chain to (R12); Revoked are SHA-1 thumbprints (hex) refused. Update
	// changes both, and the other fields Settings has, while the server
	// runs.
	Roots   []*x509.Certificate
	Revoked []string
	// Pool is the client address pool (vpnClientAddressPool).
	Pool netip.Prefix
	// MaxClients bounds the SSTP clients connected at once (R11); 0 means
	// 128.
	MaxClients int
	// SSTP and OpenVPN say which protocols the server speaks.
	SSTP, OpenVPN bool
	// OpenVPNMaxClients bounds the OpenVPN clients connected at once (the
	// SKU's limit, R32), with the IKEv2 clients that share Seats; 0 means
	// 128.
	OpenVPNMaxClients int
	// Seats counts the OpenVPN clients, and the IKEv2 clients of the
	// gateway's IKE daemon given the same (R32: one limit for both); nil:
	// the OpenVPN clients alone.
	Seats *seat.Count
	// OpenVPNKey is the gateway's static key: OpenVPN clients wrap their
	// control packets with it (tls-crypt, or tls-auth with key-direction
	// 1 or none), and a packet that does not carry it is dropped before
	// TLS begins. Nil: control packets are not wrapped.
	OpenVPNKey *openvpn.StaticKey
	// Routes are what OpenVPN clients are told to send through the
	// tunnel: the VNet's ranges and what the gateway reaches.
	Routes []netip.Prefix
	// Radius are the RADIUS servers that check clients' user names and
	// passwords (OpenVPN's, and SSTP's in MS-CHAPv2), asked in order;
	// RadiusOnly: clients authenticate that way only, not with
	// certificates. NASIdentifier names the gateway to them; RadiusDial
	// is how it reaches them (nil: the node's network); RadiusFailover
	// the gateway's memory of which answered and which were found dead
	// (nil: none kept).
	Radius         []radius.Server
	RadiusOnly     bool
	NASIdentifier  string
	RadiusDial     func(ctx context.Context, network, address string) (net.Conn, error)
	RadiusFailover *radius.Failover
	// RadiusAccounting reports the sessions of the clients the RADIUS
	// servers authenticated to the servers' accounting (RFC 2866).
	RadiusAccounting bool
	// DNS are the DNS servers clients are given when they ask (IPCP, RFC
	// 1877): the VNet's (dhcpOptions), at most two.
	DNS []netip.Addr
	// Router takes what clients send.
	Router Forwarder
	// Hello is how long a client may be silent before it is asked for an
	// echo, and then before it is dropped ([MS-SSTP] §3.1.2.2); 0 means
	// 60 s.
	Hello time.Duration

	// mru, when set, is the MRU the gateway's LCP request names (tests:
	// a third-party gateway that asks for less than 1500, RFC 1661 §6.1).
	mru uint16
}

// Settings are what of a Server's configuration Update changes while it
// runs, its clients connected: those of Config's fields of the same
// names.
type Settings struct {
	Roots                         []*x509.Certificate
	Revoked                       []string
	Radius                        []radius.Server
	Routes                        []netip.Prefix
	DNS                           []netip.Addr
	MaxClients, OpenVPNMaxClients int
}

// settings are a Server's Settings as it applies them, never changed once
// stored (Server.live): roots as a pool, and signers, the RADIUS servers
// of Radius known to sign their answers, which start over when Radius
// changes.
type settings struct {
	Settings
	roots   *x509.CertPool
	signers *radius.Signers
}

// Server is a running SSTP server.
type Server struct {
	cfg Config
	log *slog.Logger
	ln  net.Listener
	// seats counts the OpenVPN clients: Config.Seats, or the server's own.
	seats *seat.Count
	// live are the settings the authentications, address assignments
	// and OpenVPN pushes that begin now take: Config's, or what Update
	// stored in their place (under mu, which reserve holds to check a
	// client against them).
	live atomic.Pointer[settings]

	// updateMu serializes Update.
	updateMu sync.Mutex

	mu      sync.Mutex
	clients map[netip.Addr]client
	// route is what Deliver reads, without mu: a copy of clients, never
	// changed once stored, stored again under mu whenever a client comes
	// or goes.
	route atomic.Pointer[map[netip.Addr]client]
	ident map[netip.Addr]string
	since map[netip.Addr]time.Time
	// peers are who the clients are, by address.
	peers map[netip.Addr]peer
	// limits end the sessions of the clients whose RADIUS server limited
	// them (peer.grant), by address.
	limits map[netip.Addr]*sessionTimers
	// acct reports the sessions of the clients RADIUS authenticated
	// (peer.radius) to the servers' accounting; accounted are those
	// sessions, by address.
	acct      *radius.Accounting
	accounted map[netip.Addr]*accounted
	closed    bool
	// conns are the connections being served that have not
	// authenticated: Close closes them. The clients' it shuts down,
	// and those that ended their calls (an SSTP link's last exchange,
	// afterEnd) it leaves to their timers. A client admitted as Close
	// runs may be among them still, its connection closed.
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	// goneIn and goneOut are the bytes of the clients that have left, by
	// protocol.
	goneIn, goneOut map[string]uint64

	capture atomic.Pointer[pcap.Capture] // the clients' packets both ways, or nil
	// stopped: Shutdown has run; what the clients send goes no further.
	stopped atomic.Bool
	// cert is the gateway's certificate the handshakes that begin now
	// present: Config.Cert, or what SetCert put in its place.
	cert atomic.Pointer[tls.Certificate]
	// nextPeerID numbers OpenVPN clients' data channels (peer-id).
	nextPeerID atomic.Uint32
	ovpnDrops  struct{ control, data atomic.Uint64 }
	// negotiating counts the connections that have not authenticated
	// yet; refusedFromSender and refusedInAll the connections refused
	// for each of its bounds, logged once a minute at most (a flood
	// would log a line each). The accepting goroutine owns them.
	negotiating                     negotiations
	refusedFromSender, refusedInAll sparselog.Log
	// noCall counts the connections that ended before they asked for
	// an SSTP call (logNoCall), logged once a minute at most: those who
	// scan port 443 would log a line each.
	noCallMu sync.Mutex
	noCall   sparselog.Log
	// peaks are the connected clients' highest rates, sampled every
	// peakrate.Tick until done is closed (Close).
	peaks peakrate.Tracker[client]
	done  chan struct{}
}

// Limits of the connections that have not authenticated yet: the most
// from one sender (an IPv4 address, an IPv6 /64: sender.Key) still in
// their TLS handshake and first request, and in all until they
// authenticated. A client's authentication takes a few seconds (a second
// factor up to a minute), and all the users behind one HTTP proxy or NAT
// (R13) share its address: the sender's bound ends with the handshake and
// request, what a flood of connections costs the gateway, so that those
// users wait for their second factor all at once. These bound how much of
// the gateway those that never authenticate hold, without a slot of the
// clients' (R11) or an address.
const (
	maxNegotiatingPerSource = 16
	maxNegotiating          = 1024
)

// negotiations counts connections that have not authenticated, in all,
// and those still in their handshake by sender.
type negotiations struct {
	mu    sync.Mutex // guards total and by
	total int
	by    map[netip.Prefix]int // by sender.Key of the source address
}

// Why negotiations.begin refuses a connection.
var (
	errNegotiatingFromSender = fmt.Errorf("too many from its address (its /64 for IPv6) are in their TLS handshake (%d)", maxNegotiatingPerSource)
	errNegotiatingInAll      = fmt.Errorf("too many are authenticating in all (%d)", maxNegotiating)
)

// begin counts a new connection from src, unless one more would go over
// the limits: then it says which.
func (n *negotiations) begin(src netip.Addr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := sender.Key(src)
	switch {
	case n.by[k] >= maxNegotiatingPerSource:
		return errNegotiatingFromSender
	case n.total >= maxNegotiating:
		return errNegotiatingInAll
	}
	if n.by == nil {
		n.by = map[netip.Prefix]int{}
	}
	n.total++
	n.by[k]++
	return nil
}

// handshook stops counting a connection from src against its sender's
// bound: its handshake and first request are done (or it ended).
func (n *negotiations) handshook(src netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := sender.Key(src)
	if n.by[k]--; n.by[k] <= 0 {
		delete(n.by, k)
	}
}

// end stops counting a connection in all: it authenticated, or ended.
func (n *negotiations) end() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.total--
}

// OpenVPNDrops returns how many packets of OpenVPN clients were dropped:
// control packets (a first packet without the gateway's key ends its
// connection; a later one that does not verify, or is replayed, is
// dropped alone) and data packets (that do not open, are replayed, or
// name no key).
func (s *Server) OpenVPNDrops() (control, data uint64) {
	return s.ovpnDrops.control.Load(), s.ovpnDrops.data.Load()
}

// SetCert has the handshakes that begin from now on present c, the
// gateway's certificate issued again before the old one expires; the
// connected clients stay, on the certificate they checked.
func (s *Server) SetCert(c tls.Certificate) { s.cert.Store(&c) }

// SetCapture records the clients' IP packets, both ways, in c until it is
// set to nil.
func (s *Server) SetCapture(c *pcap.Capture) { s.capture.Store(c) }

// Start listens and serves clients.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if !cfg.Pool.Addr().Is4() || cfg.Pool.Bits() > 30 {
		return nil, fmt.Errorf("p2s: the client pool %v must be IPv4 and /30 or larger", cfg.Pool)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, clients: map[netip.Addr]client{}, ident: map[netip.Addr]string{}, since: map[netip.Addr]time.Time{},
		peers: map[netip.Addr]peer{}, limits: map[netip.Addr]*sessionTimers{}, accounted: map[netip.Addr]*accounted{}, acct: radius.NewAccounting(cfg.Logger), conns: map[net.Conn]struct{}{}, goneIn: map[string]uint64{}, goneOut: map[string]uint64{}, done: make(chan struct{})}
	if s.seats = cfg.Seats; s.seats == nil {
		s.seats = new(seat.Count)
	}
	s.cert.Store(&cfg.Cert)
	s.live.Store(newSettings(Settings{Roots: cfg.Roots, Revoked: cfg.Revoked, Radius: cfg.Radius, Routes: cfg.Routes, DNS: cfg.DNS,
		MaxClients: cfg.MaxClients, OpenVPNMaxClients: cfg.OpenVPNMaxClients}, nil))
	ln, err := net.Listen("tcp", cfg.Listen.String())
	if err != nil {
		return nil, fmt.Errorf("p2s: %w", err)
	}
	s.ln = ln
	s.wg.Go(s.accept)
	s.wg.Go(func() { s.peaks.Run(s.done, s.readPeaks) })
	return s, nil
}

// readPeaks reads the connected clients' counters, for their peak rates
// (Clients).
func (s *Server) readPeaks() map[client]peakrate.Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	counters := make(map[client]peakrate.Counters, len(s.clients))
	for _, c := range s.clients {
		bin, bout, pin, pout := c.traffic()
		counters[c] = peakrate.Counters{Bytes: bin + bout, Packets: pin + pout}
	}
	return counters
}

// Addr is where the server listens.
func (s *Server) Addr() netip.AddrPort { return netip.MustParseAddrPort(s.ln.Addr().String()) }

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		src := addrPortOf(c.RemoteAddr()).Addr()
		if err := s.negotiating.begin(src); err != nil {
			s.logRefused(src, err)
			c.Close()
			continue
		}
		s.mu.Lock()
		closed := s.closed
		if !closed {
			s.conns[c] = struct{}{}
		}
		s.mu.Unlock()
		if closed {
			c.Close()
			s.negotiating.handshook(src)
			s.negotiating.end()
			continue
		}
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			handshook := sync.OnceFunc(func() { s.negotiating.handshook(src) })
			admitted := sync.OnceFunc(func() {
				handshook()
				s.negotiating.end()
				s.mu.Lock()
				delete(s.conns, c) // a client's: Close ends it as such
				s.mu.Unlock()
			})
			defer admitted()
			switch err := s.dispatch(c, handshook, admitted); {
			case errors.As(err, new(noCallError)):
				s.logNoCall(c.RemoteAddr(), err)
			case err != nil:
				s.log.Info("point-to-site client refused or ended", "from", c.RemoteAddr(), "err", err)
			}
		})
	}
}

// noCallError is why a connection ended before it asked for an SSTP
// call or began an OpenVPN session: its TLS handshake or HTTP request
// failed, its first OpenVPN packet was no hard reset with the gateway's
// key, or it speaks no protocol the gateway serves.
type noCallError struct{ err error }

func (e noCallError) Error() string { return e.err.Error() }
func (e noCallError) Unwrap() error { return e.err }

// logNoCall logs a connection that ended before it asked for a call, for
// err: once a minute at most, the others counted in the next line.
func (s *Server) logNoCall(from net.Addr, err error) {
	s.noCallMu.Lock()
	s.noCall.Count(1)
	n, log := s.noCall.Due()
	s.noCallMu.Unlock()
	if log {
		s.log.Info("point-to-site connection ended before it asked for a call (logged once a minute at most)", "from", from, "err", err, "connections", n)
	}
}

// logRefused logs a connection from src that negotiations.begin refused
// for why: once a minute at most for each bound, the others counted in
// the next line.
func (s *Server) logRefused(src netip.Addr, why error) {
	l := &s.refusedFromSender
	if why == errNegotiatingInAll {
		l = &s.refusedInAll
	}
	l.Count(1)
	if n, log := l.Due(); log {
		s.log.Info("point-to-site connection refused: "+why.Error(), "from", src, "refused", n)
	}
}

// Close stops listening and ends every client: the SSTP clients are
// disconnected as through the API ([MS-SSTP] §3.1.2.2: CALL_DISCONNECT,
// their CALL_DISCONNECT_ACK waited for, close_notify, then what they
// still send read until their end), all at once, and Close returns once
// they ended: within the disconnect timers and the second a
// CALL_DISCONNECT may take to go out, 7 s, however many do not answer.
// The OpenVPN clients' connections are closed, as are those that have
// not authenticated: Close does not wait for their negotiation timers.
func (s *Server) Close() {
	s.Shutdown()
	s.wg.Wait()
	s.acct.Close(acctGrace)
}

// acctGrace is how long Close waits for the RADIUS servers to answer the
// accounting of the sessions it ended.
const acctGrace = 2 * time.Second

// Shutdown does what Close does without waiting for the clients to end:
// once it returns, the server's address is free for another Server to
// listen on and what its clients send no longer goes to Config.Router
// (another Server may give their addresses out), while its SSTP clients
// are disconnected in the background. Close waits for them.
func (s *Server) Shutdown() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	close(s.done)
	s.closed = true
	s.stopped.Store(true)
	for _, c := range s.clients {
		s.wg.Go(c.shutdown)
	}
	for _, t := range s.limits {
		t.stop()
	}
	for _, a := range s.accounted {
		a.cause = radius.CauseNASReboot
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
}

// newSettings returns st as a Server applies it; a 0 limit means 128.
// The RADIUS servers known to sign their answers are old's when st names
// the same servers (addresses and secrets), and none yet otherwise:
// another server may answer at an address now, and what the ones before
// did (signing, BlastRADIUS) is not its.
func newSettings(st Settings, old *settings) *settings {
	if st.MaxClients == 0 {
		st.MaxClients = 128
	}
	if st.OpenVPNMaxClients == 0 {
		st.OpenVPNMaxClients = 128
	}
	n := &settings{Settings: st, roots: x509.NewCertPool(), signers: new(radius.Signers)}
	for _, r := range st.Roots {
		n.roots.AddCert(r)
	}
	if old != nil && slices.EqualFunc(old.Radius, st.Radius, func(a, b radius.Server) bool { return a.Addr == b.Addr && string(a.Secret) == string(b.Secret) }) {
		n.signers = old.signers
	}
	return n
}

// settings returns the settings that what begins now takes.
func (s *Server) settings() *settings { return s.live.Load() }

// Update applies st without a restart. The connected clients whose
// certificate st revokes, or no longer chains to one of its roots (a root
// removed that the client's certificate was issued under), are
// disconnected (told, as through the API), and no other. The rest take
// st when they next begin something: the RADIUS servers are asked about
// the authentications that begin next; the routes and DNS servers are
// what the clients that connect next are given, while the connected ones
// keep those they were given, until they connect again, as Azure's
// clients do; a limit lower than the clients connected now ends none of
// them, and admits none until they are fewer. Update reports false,
// changing nothing, when the change is one of how clients authenticate
// (RADIUS servers where there were none, or none left), which takes a
// new Server. The connected clients' certificates are checked again only
// when the roots or revocations changed, and not while packets to the
// clients wait.
func (s *Server) Update(st Settings) bool {
	if (len(st.Radius) == 0) != (len(s.cfg.Radius) == 0) {
		return false
	}
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	s.mu.Lock()
	old := s.settings()
	n := newSettings(st, old)
	s.live.Store(n)
	sameRoots := slices.EqualFunc(old.Roots, n.Roots, (*x509.Certificate).Equal)
	sameRevoked := slices.Equal(old.Revoked, n.Revoked)
	if sameRoots && sameRevoked {
		// The connected clients were checked against these (reserve).
		s.mu.Unlock()
		return true
	}
	type connected struct {
		addr  netip.Addr
		c     client
		p     peer
		since time.Time
		why   string
	}
	conns := make([]connected, 0, len(s.peers))
	for a, p := range s.peers {
		conns = append(conns, connected{addr: a, c: s.clients[a], p: p, since: s.since[a]})
	}
	s.mu.Unlock()
	// The certificates are checked without s.mu, which the clients
	// that connect and leave take; those that connect meanwhile are
	// checked against n (reserve).
	var gone []connected
	for _, c := range conns {
		switch {
		case !sameRevoked && eaptls.RevokedThumbprint(c.p.thumb, n.Revoked):
			c.why = "its certificate is revoked"
		case !sameRoots && !n.trusts(c.p, c.since):
			c.why = "its certificate's root was removed"
		default:
			continue
		}
		gone = append(gone, c)
	}
	s.mu.Lock()
	gone = slices.DeleteFunc(gone, func(g connected) bool { return s.clients[g.addr] != g.c }) // gone, or its address another's, meanwhile
	s.mu.Unlock()
	for _, g := range gone {
		g.c.disconnect()
		s.log.Info("point-to-site client disconnected: "+g.why, "addr", g.addr, "protocol", g.c.protocol())
	}
	return true
}

// trusts reports whether p's certificate chains to one of the roots, as
// when it connected at since (its certificate may have expired since,
// which does not end a connection); a client without a certificate
// checked (RADIUS) is trusted.
func (st *settings) trusts(p peer, since time.Time) bool {
	if len(p.chain) == 0 {
		return true
	}
	inter := x509.NewCertPool()
	for _, c := range p.chain[1:] {
		inter.AddCert(c)
	}
	_, err := p.chain[0].Verify(x509.VerifyOptions{Roots: st.roots, Intermediates: inter, CurrentTime: since, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

// Deliver implements the VNet router's port for the pool: the packet
// goes to the client with its destination address.
func (s *Server) Deliver(pkt []byte) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return
	}
	var l client
	if m := s.route.Load(); m != nil {
		l = (*m)[netip.AddrFrom4([4]byte(pkt[16:20]))]
	}
	if l != nil {
		if c := s.capture.Load(); c != nil {
			c.Packet(pkt)
		}
		// RFC 1812 §4.2.2.7: a router MUST fragment (a packet without
		// Don't Fragment, too long for the client).
		if mtu := l.mtu(); len(pkt) > mtu && fragment4(pkt, mtu, func(f []byte) { l.SendIP(f) }) {
			return
		}
		if err := l.SendIP(pkt); err != nil {
			if tb, ok := errors.AsType[*tooBigError](err); ok {
				if r, ok := s.cfg.Router.(tooBigAnswerer); ok {
					r.FragmentationNeeded(pkt, tb.mtu)
				}
			}
		}
	}
}

// tooBigAnswerer is a Router that answers a packet too long for a
// client, with Don't Fragment set (one without is cut, fragment4), with
// ICMP Fragmentation Needed and the client's MTU (fabric.Router; RFC 1191
// §4), for the sender's path MTU discovery.
type tooBigAnswerer interface {
	FragmentationNeeded(pkt []byte, mtu int)
}

// Disconnect ends the client of protocol connected at addr: it is told
// (SSTP CALL_DISCONNECT, OpenVPN HALT) and its connection closed. It
// reports whether such a client was connected; a client of the other
// protocol there is not it (SSTP and OpenVPN clients share the pool).
func (s *Server) Disconnect(protocol string, addr netip.Addr) bool {
	s.mu.Lock()
	c := s.clients[addr]
	ours := c != nil && c.connected() && c.protocol() == protocol
	if a := s.accounted[addr]; ours && a != nil {
		a.cause = radius.CauseAdminReset
	}
	s.mu.Unlock()
	if !ours {
		return false
	}
	c.disconnect()
	s.log.Info("point-to-site client disconnected through the API", "addr", addr, "protocol", c.protocol())
	return true
}

// ClientStatus is one connected client.
type ClientStatus struct {
	// Protocol is how it connects: SSTP or OpenVPN here; the data plane
	// lists IKEv2 clients alike.
	Protocol              string
	Addr                  netip.Addr
	Remote                netip.AddrPort // where it connects from
	Identity              string         // the client certificate's subject common name
	Since                 time.Time
	BytesIn, BytesOut     uint64
	PacketsIn, PacketsOut uint64
	// Peak is its highest rate over one-second windows since it
	// connected, both ways together: bytes and packets per second.
	Peak peakrate.Peak
}

// Clients returns the connected clients: those past authentication and
// the crypto binding.
func (s *Server) Clients() []ClientStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ClientStatus
	for _, a := range slices.SortedFunc(maps.Keys(s.clients), netip.Addr.Compare) {
		c := s.clients[a]
		if !c.connected() {
			continue
		}
		bin, bout, pin, pout := c.traffic()
		out = append(out, ClientStatus{Protocol: c.protocol(), Addr: a, Remote: c.remoteAddr(), Identity: s.ident[a], Since: s.since[a],
			BytesIn: bin, BytesOut: bout, PacketsIn: pin, PacketsOut: pout, Peak: s.peaks.Peak(c)})
	}
	return out
}

// Traffic returns the bytes the server's clients of protocol sent (in)
// and were sent (out) since it started, those that left included, and
// how many such clients are connected.
func (s *Server) Traffic(protocol string) (in, out uint64, clients int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, out = s.goneIn[protocol], s.goneOut[protocol]
	for _, c := range s.clients {
		if c.protocol() != protocol {
			continue
		}
		bin, bout, _, _ := c.traffic()
		in += bin
		out += bout
		if c.connected() {
			clients++
		}
	}
	return in, out, clients
}

// leave forgets the client at addr, keeping its bytes in the server's
// totals; a client replaced (reserve) is forgotten already.
func (s *Server) leave(addr netip.Addr, c client) {
	s.mu.Lock()
	current := s.clients[addr] == c
	if current {
		s.forgetLocked(addr)
		if c.protocol() == ProtocolOpenVPN {
			s.seats.Give()
		}
	}
	s.mu.Unlock()
	if !current {
		// addr is the newer connection's now: the client did not leave.
		s.log.Info("point-to-site client's replaced connection ended", "addr", addr, "protocol", c.protocol())
		return
	}
	s.log.Info("point-to-site client disconnected", "addr", addr, "protocol", c.protocol())
}

// forgetLocked forgets the client at addr, keeping its bytes in the
// server's totals.
func (s *Server) forgetLocked(addr netip.Addr) {
	c := s.clients[addr]
	// Read under s.mu, as Traffic reads: read before, bytes counted in
	// between would leave the totals for a moment lower than Traffic
	// had shown (and a total that goes down is taken for a restart).
	u := usage(c)
	s.goneIn[c.protocol()] += u.BytesIn
	s.goneOut[c.protocol()] += u.BytesOut
	delete(s.clients, addr)
	delete(s.ident, addr)
	delete(s.since, addr)
	delete(s.peers, addr)
	if t := s.limits[addr]; t != nil {
		t.stop()
		delete(s.limits, addr)
	}
	if a := s.accounted[addr]; a != nil {
		if a.interim != nil {
			a.interim.Stop()
		}
		s.acct.Stop(a.session, u, a.cause) // what the totals took: the Stop and Traffic agree
		delete(s.accounted, addr)
	}
	s.routeLocked()
}

// routeLocked stores a copy of clients for Deliver, which reads it
// without mu.
func (s *Server) routeLocked() {
	m := maps.Clone(s.clients)
	s.route.Store(&m)
}

// dispatch serves a new connection with the protocol its first byte
// names. handshook is called once its handshake and first request are
// done, admitted once it authenticated.
func (s *Server) dispatch(c net.Conn, handshook, admitted func()) error {
	c.SetReadDeadline(time.Now().Add(negotiationTimeout))
	br := bufio.NewReaderSize(c, 8<<10)
	first, err := br.Peek(1)
	if err != nil {
		return noCallError{err}
	}
	pc := &peekedConn{Conn: c, r: br}
	switch {
	case first[0] == tlsHandshakeRecord && s.cfg.SSTP:
		return s.serve(pc, handshook, admitted)
	case first[0] != tlsHandshakeRecord && s.cfg.OpenVPN:
		return s.serveOpenVPN(pc, br, handshook, admitted)
	}
	return noCallError{fmt.Errorf("a client of a protocol the gateway does not serve (first byte %#02x)", first[0])}
}

// tlsHandshakeRecord is the first byte of a TLS ClientHello: SSTP's
// HTTPS. OpenVPN over TCP starts with a packet length below 0x1600.
const tlsHandshakeRecord = 0x16

// peekedConn is a connection whose first bytes were read ahead into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// serve runs one client: HTTPS, SSTP, PPP.
func (s *Server) serve(c net.Conn, handshook, admitted func()) error {
	// TLS 1.2, as Windows' SSTP client and sstpc negotiate it reliably.
	// The crypto binding names the certificate this handshake presents.
	cert := s.cert.Load()
	tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
	tc.SetDeadline(time.Now().Add(negotiationTimeout))
	if err := tc.Handshake(); err != nil {
		return noCallError{err}
	}
	r := bufio.NewReaderSize(tc, 8<<10)
	if err := readSSTPRequest(r); err != nil {
		tc.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
		return noCallError{err}
	}
	handshook()
	// [MS-SSTP] §3.2.4.1: 200 with the largest Content-Length.
	if _, err := tc.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nServer: vnetgw\r\n\r\n")); err != nil {
		return err
	}
	return s.serveCall(tc, r, cert.Certificate[0], admitted)
}

// serveCall runs SSTP and PPP with a client whose HTTPS request was
// answered: c is the TLS connection, r reads from it, and certDER is the
// certificate the handshake presented, which the crypto binding names.
func (s *Server) serveCall(c net.Conn, r *bufio.Reader, certDER []byte, admitted func()) error {
	l := newLink(true, c, r, s.log)
	defer l.cancel() // what waits for the link (a RADIUS server) gives up
	defer func() {
		if l.eapSrv != nil {
			l.eapSrv.Close() // its TLS handshake waits for a client that left
		}
	}()
	l.srv = s
	l.useMSCHAP = s.cfg.RadiusOnly && len(s.cfg.Radius) > 0
	l.callPending = true
	l.negotiateBy = time.Now().Add(negotiationTimeout + radiusWait)
	for _, d := range s.settings().DNS {
		if d.Is4() && len(l.dns) < len(dnsOptions) {
			l.dns = append(l.dns, d)
		}
	}
	if s.cfg.Hello > 0 {
		l.hello = s.cfg.Hello
	}
	l.certHash = sha256.Sum256(certDER)
	rand.Read(l.nonce[:])
	// The client gets an address, and counts against the gateway's
	// limit (R11), once it authenticated: a connection that never does
	// holds none.
	var mu sync.Mutex // guards assigned: a CALL_ABORT may go from a timer's goroutine
	var assigned netip.Addr
	l.release = func() {
		mu.Lock()
		a := assigned
		assigned = netip.Addr{}
		mu.Unlock()
		if a.IsValid() {
			s.leave(a, l)
		}
	}
	defer l.release()
	l.admit = func() error {
		addr, err := s.reserve(l, peer{name: l.identity, thumb: l.thumb, user: l.user, chain: l.chain, radius: l.radius, grant: l.grant})
		switch {
		case errors.Is(err, errRevokedMeanwhile):
			return err
		case err != nil:
			// No place (R11) or address: PPP is not served now, which
			// the CALL_ABORT says ([MS-SSTP] §2.2.13: SHOULD have a
			// Status Info; none is of a full server).
			return invalid(sstp.AttribEncapsulatedProtocolID, sstp.StatusValueNotSupported, err.Error())
		}
		mu.Lock()
		assigned, l.peer = addr, addr
		mu.Unlock()
		admitted()
		return nil
	}
	l.onIP = func(pkt []byte) {
		if s.stopped.Load() {
			return
		}
		if c := s.capture.Load(); c != nil {
			c.Packet(pkt)
		}
		s.cfg.Router.Forward(pkt)
	}
	started := false
	defer l.afterEnd()
	return l.run(func(m sstp.Control, raw []byte) error {
		switch m.Type {
		case sstp.MsgCallConnectRequest:
			if started {
				// [MS-SSTP] §3.3.5.2.2: only the call's first message, or
				// the answer to a NAK.
				return l.abort(invalid(sstp.AttribNoError, sstp.StatusUnacceptedFrameReceived, "a second CALL_CONNECT_REQUEST"))
			}
			// [MS-SSTP] §3.3.5.2.2: a request without PPP gets a NAK
			// with the Status Info of what is wrong (§2.2.12: MUST have
			// one or more).
			a, ok := m.Find(sstp.AttribEncapsulatedProtocolID)
			p, err := sstp.EncapsulatedProtocol(a.Value)
			failed := failedStatus(m)
			switch {
			case !ok:
				err = invalid(sstp.AttribEncapsulatedProtocolID, sstp.StatusRequiredAttributeMissing, "CALL_CONNECT_REQUEST without an encapsulated protocol")
			case err == nil && p != sstp.ProtocolPPP:
				err = invalid(sstp.AttribEncapsulatedProtocolID, sstp.StatusValueNotSupported, fmt.Sprintf("CALL_CONNECT_REQUEST for protocol %d, not PPP", p))
			case err == nil && failed.ID != 0:
				// §3.3.1.1.1: a request with a Status Info attribute of
				// a nonzero status is unacceptable.
				a = failed
				si, _ := sstp.ParseStatusInfo(a.Value)
				err = invalid(sstp.AttribStatusInfo, sstp.StatusStatusInfoNotSupportedInMsg, fmt.Sprintf("CALL_CONNECT_REQUEST with a Status Info of a nonzero status (%v)", si))
			}
			// A full gateway is not told here: who the client is shows
			// only once it authenticated (admit), and its own stale
			// connection may make room then (reserve).
			if err != nil {
				nak := sstp.Control{Type: sstp.MsgCallConnectNak}
				if se, ok := errors.AsType[*sstp.Error](err); ok {
					si := se.StatusInfo()
					si.Value = a.Value // §2.2.8: the value proposed
					nak.Attrs = []sstp.Attr{{ID: sstp.AttribStatusInfo, Value: si.Append(nil)}}
				}
				l.writeControl(nak)
				return err
			}
			l.local, started, l.callPending = s.serverAddr(), true, false
			req := sstp.CryptoBindingReq{HashBitmask: sstp.HashSHA256, Nonce: l.nonce}
			if err := l.writeControl(sstp.Control{Type: sstp.MsgCallConnectAck, Attrs: []sstp.Attr{{ID: sstp.AttribCryptoBindingReq, Value: req.Append(nil)}}}); err != nil {
				return err
			}
			return l.sendLCPRequest()
		case sstp.MsgCallConnected:
			if l.bound.Load() {
				// [MS-SSTP] §3.3.1.1.1: the call is connected
				// (Server_Call_Connected) once, by the first; another is
				// an invalid message, which aborts the call (§3.1.5.1).
				return l.abort(invalid(sstp.AttribNoError, sstp.StatusUnacceptedFrameReceived, "a second CALL_CONNECTED"))
			}
			return s.checkBinding(l, m, raw, l.peer)
		case sstp.MsgEchoRequest:
			return l.writeControl(sstp.Control{Type: sstp.MsgEchoResponse})
		case sstp.MsgCallDisconnect:
			l.writeControl(sstp.Control{Type: sstp.MsgCallDisconnectAck})
			return errors.New("the client disconnected")
		case sstp.MsgCallAbort:
			// [MS-SSTP] §3.3.5.2.4: an abort the server did not start is
			// answered with one (Call_Abort_In_Progress_2).
			l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
			return errors.New("the client aborted")
		}
		return nil
	})
}

// failedStatus returns a message's first Status Info attribute whose
// status is not StatusNoError (one that does not parse counts), or an
// attribute of ID 0 when it has none.
func failedStatus(m sstp.Control) sstp.Attr {
	for _, a := range m.Attrs {
		if si, err := sstp.ParseStatusInfo(a.Value); a.ID == sstp.AttribStatusInfo && (err != nil || si.Status != sstp.StatusNoError) {
			return a
		}
	}
	return sstp.Attr{}
}

// readSSTPRequest reads the HTTP request that opens SSTP.
func readSSTPRequest(r *bufio.Reader) error {
	line, err := readLine(r)
	if err != nil {
		return err
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "SSTP_DUPLEX_POST" || !strings.HasPrefix(strings.ToLower(f[1]), strings.ToLower(sstpPath)) {
		return fmt.Errorf("not an SSTP request: %.80q", line)
	}
	for range 64 {
		h, err := readLine(r)
		if err != nil {
			return err
		}
		if strings.TrimSpace(h) == "" {
			return nil
		}
	}
	return errors.New("too many HTTP headers")
}

// readLine reads a line of HTTP (the client's request, the gateway's
// answer) within r's buffer: one longer is refused, not gathered for as
// long as the other side sends it.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("an HTTP line longer than %d bytes", r.Size())
	}
	return string(line), err
}

// serverAddr is the server's own PPP address: the pool's first.
func (s *Server) serverAddr() netip.Addr { return s.cfg.Pool.Masked().Addr().Next() }

// peer is who an authenticated client is.
type peer struct {
	// name is what it is listed by: its certificate's common name, or
	// its user name.
	name string
	// thumb is its certificate's SHA-1 thumbprint (CertThumbprint's),
	// and chain the certificates it presented, leaf first, when the
	// gateway checked them; user the user name a RADIUS server
	// vouched for: checked with the password (MS-CHAPv2, OpenVPN's), or
	// named in its Access-Accept, not an EAP identity the client chose.
	thumb, user string
	chain       []*x509.Certificate
	// radius: a RADIUS server authenticated it, whose Access-Accept
	// grants its session: how long it may last and be idle, and what its
	// accounting says (radius.Grant).
	radius bool
	grant  radius.Grant
}

// accounted is a session the RADIUS servers account for, and why it
// ends, when the gateway ends it (else the client did); interim, when
// its Access-Accept asks for Interim-Updates, sends the next.
type accounted struct {
	session *radius.Session
	cause   radius.Cause
	every   time.Duration // between its Interim-Updates; 0: none
	interim *time.Timer
}

// same reports whether p and o are known to be the same client: the same
// certificate, or the same user.
func (p peer) same(o peer) bool {
	return p.thumb != "" && p.thumb == o.thumb || p.user != "" && p.user == o.user
}

// reserve gives the client an address of the pool, within its
// protocol's limit (R11, R32), and notes who it is. When there is no
// room, the oldest connection of the same client (certificate or user)
// and protocol makes room: its own stale one, left behind when it
// connected again (a laptop after sleep), which would hold its address
// and place until its peer's silence ends it (2 minutes for SSTP, 60 s
// for OpenVPN). With room, the client's other connections stay: a user
// may connect from two devices at once. A client its RADIUS server gives
// an address gets that one (reserveAtLocked).
func (s *Server) reserve(c client, p peer) (netip.Addr, error) {
	s.mu.Lock()
	// Revoked, or its root removed, by an Update since its TLS handshake
	// checked.
	live := s.settings()
	if eaptls.RevokedThumbprint(p.thumb, live.Revoked) {
		s.mu.Unlock()
		return netip.Addr{}, errRevokedMeanwhile
	}
	if !live.trusts(p, time.Now()) {
		s.mu.Unlock()
		return netip.Addr{}, fmt.Errorf("%w: it chains to no uploaded root", errRevokedMeanwhile)
	}
	if want := p.grant.Addr; want.IsValid() {
		old, err := s.reserveAtLocked(c, p, want)
		s.mu.Unlock()
		if err != nil {
			return netip.Addr{}, err
		}
		if old != nil {
			s.log.Info("point-to-site client connected again: its connection at the address its RADIUS server gives it replaced", "addr", want, "protocol", c.protocol(), "identity", p.name)
		}
		return want, nil
	}
	err := s.roomLocked(c)
	if err == nil {
		a, free := s.freeLocked()
		switch {
		case !free:
			err = errors.New("the client address pool is exhausted")
		case c.protocol() == ProtocolOpenVPN:
			// The seat shared with IKEv2's clients, which roomLocked saw
			// free, may have gone to one of them since.
			if n, ok := s.seats.Take(s.settings().OpenVPNMaxClients, 0); !ok {
				err = fullError(n, c.protocol())
				break
			}
			fallthrough
		default:
			s.takeLocked(a, c, p)
			s.mu.Unlock()
			return a, nil
		}
	}
	var stale netip.Addr
	for a, o := range s.clients {
		if o.protocol() == c.protocol() && p.same(s.peers[a]) && (!stale.IsValid() || s.since[a].Before(s.since[stale])) {
			stale = a
		}
	}
	if !stale.IsValid() || s.closed {
		s.mu.Unlock()
		return netip.Addr{}, err
	}
	old := s.clients[stale]
	if a := s.accounted[stale]; a != nil {
		a.cause = radius.CauseNASRequest
	}
	s.forgetLocked(stale) // its seat, an OpenVPN client's, passes to c: its leave gives none back
	s.takeLocked(stale, c, p)
	s.wg.Go(old.shutdown) // c's admission does not wait for it
	s.mu.Unlock()
	s.log.Info("point-to-site client connected again: its oldest connection replaced", "addr", stale, "protocol", c.protocol(), "identity", p.name, "full", err)
	return stale, nil
}

// reserveAtLocked gives the client address want, the one its RADIUS
// server gives it (Framed-IP-Address, RFC 2865 §5.8), within its
// protocol's limit. A connection of the same client and protocol that
// holds want (its own stale one) is replaced, and returned; any other
// that holds it, or an address the pool does not give out, refuses the
// client: it would not have the address its server's rules expect.
func (s *Server) reserveAtLocked(c client, p peer, want netip.Addr) (replaced client, err error) {
	pool := s.cfg.Pool
	if !want.Is4() || !pool.Contains(want) || !s.serverAddr().Less(want) || !pool.Contains(want.Next()) {
		return nil, fmt.Errorf("the address its RADIUS server gives it (Framed-IP-Address), %v, is not one the client address pool %v gives out", want, pool.Masked())
	}
	if o := s.clients[want]; o != nil {
		if o.protocol() != c.protocol() || !p.same(s.peers[want]) || s.closed {
			return nil, fmt.Errorf("the address its RADIUS server gives it (Framed-IP-Address), %v, is another connection's", want)
		}
		if a := s.accounted[want]; a != nil {
			a.cause = radius.CauseNASRequest
		}
		s.forgetLocked(want) // its seat, an OpenVPN client's, passes to c: its leave gives none back
		s.takeLocked(want, c, p)
		s.wg.Go(o.shutdown)
		return o, nil
	}
	if err := s.roomLocked(c); err != nil {
		return nil, err
	}
	if c.protocol() == ProtocolOpenVPN {
		if n, ok := s.seats.Take(s.settings().OpenVPNMaxClients, 0); !ok {
			return nil, fullError(n, c.protocol())
		}
	}
	s.takeLocked(want, c, p)
	return nil, nil
}

// errRevokedMeanwhile is reserve's refusal of a client whose certificate
// an Update revoked, or whose root it removed, since its TLS handshake
// checked.
var errRevokedMeanwhile = errors.New("the client certificate is revoked")

// freeLocked returns the lowest address of the pool no client has.
func (s *Server) freeLocked() (netip.Addr, bool) {
	for a := s.serverAddr().Next(); s.cfg.Pool.Contains(a) && s.cfg.Pool.Contains(a.Next()); a = a.Next() {
		if s.clients[a] == nil {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// takeLocked gives address a to client c, who is p, until its session
// ends (p.grant: endSession, watchIdle).
func (s *Server) takeLocked(a netip.Addr, c client, p peer) {
	s.clients[a], s.since[a], s.peers[a] = c, time.Now(), p
	if p.name != "" {
		s.ident[a] = p.name
	}
	s.limitLocked(a, c, p.grant.Limits)
	if p.radius && s.cfg.RadiusAccounting {
		s.accountLocked(a, c, p)
	}
	s.routeLocked()
}

// accountLocked reports the session of client c, who is p and has
// address a, to the RADIUS servers' accounting, and sends its
// Interim-Updates while it lasts when its Access-Accept asks for them.
func (s *Server) accountLocked(a netip.Addr, c client, p peer) {
	servers := s.settings().Radius
	if len(servers) == 0 {
		return
	}
	r := radius.Request{User: p.name, CallingStation: c.remoteAddr().Addr().String(), NASIdentifier: s.cfg.NASIdentifier, Dial: s.cfg.RadiusDial}
	acct := &accounted{session: s.acct.Start(servers, r, a, p.grant), cause: radius.CauseUserRequest, every: p.grant.Interim}
	if acct.every > 0 {
		acct.interim = time.AfterFunc(acct.every, func() { s.interim(a, c, acct) })
	}
	s.accounted[a] = acct
}

// limitLocked starts the timers that end client c at address a by its
// RADIUS server's limits l, from now.
func (s *Server) limitLocked(a netip.Addr, c client, l radius.Limits) {
	if l == (radius.Limits{}) {
		return
	}
	t := &sessionTimers{}
	if l.Session > 0 {
		t.end = time.AfterFunc(l.Session, func() { s.endSession(a, c, radius.SessionOver, radius.CauseSessionTimeout) })
	}
	if l.Idle > 0 {
		_, _, in, _ := c.traffic()
		t.idle = time.AfterFunc(l.Idle, func() { s.watchIdle(a, c, in) })
	}
	s.limits[a] = t
}

// regrant takes g, what its RADIUS server's new Access-Accept grants
// client c at address a (an OpenVPN client that renegotiated with its
// password), while its session goes on: its limits, counted from now (a
// Session-Timeout set or shortened at the server meanwhile ends it then,
// one removed no longer does), and for its accounting, g's Class and
// Acct-Interim-Interval. The client keeps its address: one that g names
// otherwise is its at its next connection.
func (s *Server) regrant(a netip.Addr, c client, g radius.Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.clients[a] != c {
		return
	}
	if t := s.limits[a]; t != nil {
		t.stop()
		delete(s.limits, a)
	}
	p := s.peers[a]
	if p.grant.Limits != g.Limits {
		s.log.Info("point-to-site client's RADIUS limits renewed", "addr", a, "protocol", c.protocol(), "identity", p.name, "limits", g.Limits, "were", p.grant.Limits)
	}
	if g.Addr.IsValid() && g.Addr != a {
		s.log.Warn("point-to-site client's RADIUS server names another address for it than it has: it keeps its own until it connects again", "addr", a, "protocol", c.protocol(), "identity", p.name, "named", g.Addr)
	}
	g.Addr = p.grant.Addr
	p.grant = g
	s.peers[a] = p
	s.limitLocked(a, c, g.Limits)
	if acct := s.accounted[a]; acct != nil {
		acct.session.Renew(g)
		if g.Interim != acct.every {
			if acct.interim != nil {
				acct.interim.Stop()
			}
			acct.every, acct.interim = g.Interim, nil
			if every := g.Interim; every > 0 {
				acct.interim = time.AfterFunc(every, func() { s.interim(a, c, acct) })
			}
		}
	}
}

// interim sends an Interim-Update of client c's session acct at address
// a, and the next one an interval later (acct.every, which a new
// Access-Accept may change), while it lasts.
func (s *Server) interim(a netip.Addr, c client, acct *accounted) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.clients[a] != c || s.accounted[a] != acct || acct.every <= 0 {
		return
	}
	s.acct.Interim(acct.session, usage(c))
	acct.interim.Reset(acct.every)
}

// usage is what client c has carried so far.
func usage(c client) radius.Usage {
	bin, bout, pin, pout := c.traffic()
	return radius.Usage{BytesIn: bin, BytesOut: bout, PacketsIn: pin, PacketsOut: pout}
}

// sessionTimers end a client's session: at its end, and when it is idle.
type sessionTimers struct{ end, idle *time.Timer }

func (t *sessionTimers) stop() {
	for _, tm := range []*time.Timer{t.end, t.idle} {
		if tm != nil {
			tm.Stop()
		}
	}
}

// watchIdle ends client c at address a when it has sent no packet since
// the last look, which saw seen of them: it has been idle for as long as
// its RADIUS server's Idle-Timeout lets it (RFC 2865 §5.28), or up to
// twice that; else it looks again that much later.
func (s *Server) watchIdle(a netip.Addr, c client, seen uint64) {
	s.mu.Lock()
	t := s.limits[a]
	if s.closed || s.clients[a] != c || t == nil {
		s.mu.Unlock()
		return
	}
	if _, _, in, _ := c.traffic(); in != seen {
		t.idle = time.AfterFunc(s.peers[a].grant.Idle, func() { s.watchIdle(a, c, in) })
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.endSession(a, c, radius.Idle, radius.CauseIdleTimeout)
}

// endSession ends client c at address a, whose session is over by its
// RADIUS server's limits (why), as the gateway's own shutdown of a client
// does, so that it may connect again (an OpenVPN client is not halted),
// authenticating anew.
func (s *Server) endSession(a netip.Addr, c client, why string, cause radius.Cause) {
	s.mu.Lock()
	p, ours := s.peers[a], s.clients[a] == c && !s.closed
	if acct := s.accounted[a]; ours && acct != nil {
		acct.cause = cause
	}
	s.mu.Unlock()
	if !ours {
		return
	}
	s.log.Info("point-to-site client disconnected: "+why, "addr", a, "protocol", c.protocol(), "identity", p.name, "limits", p.grant.Limits)
	c.shutdown()
}

// roomLocked reports, as an error, when the gateway takes no more
// clients of c's protocol now.
func (s *Server) roomLocked(c client) error {
	if s.closed {
		return errors.New("server closed")
	}
	if c.protocol() == ProtocolOpenVPN {
		if n := s.seats.Taken(); n >= s.settings().OpenVPNMaxClients {
			return fullError(n, c.protocol())
		}
		return nil
	}
	n := 0
	for _, o := range s.clients {
		if o.protocol() == c.protocol() {
			n++
		}
	}
	if n >= s.settings().MaxClients {
		return fullError(n, c.protocol())
	}
	return nil
}

// fullError says that n clients of protocol are connected, the most the
// gateway takes: SSTP's (R11), or IKEv2's and OpenVPN's together (R32),
// as the clients refused are told.
func fullError(n int, protocol string) error {
	if protocol == ProtocolOpenVPN {
		protocol = "IKEv2 and OpenVPN"
	}
	return fmt.Errorf("%d point-to-site clients are connected over %s, the most this gateway takes (R11, R32)", n, protocol)
}

// checkBinding verifies the client's crypto binding ([MS-SSTP] §3.2.5.2):
// our nonce, the hash of our certificate as the client saw it, and the
// Compound MAC keyed from the EAP-TLS authentication.
func (s *Server) checkBinding(l *link, m sstp.Control, raw []byte, addr netip.Addr) error {
	// [MS-SSTP] §3.3.5.2.3: a CALL_CONNECTED the server cannot check
	// aborts the call, as one that does not match does.
	a, ok := m.Find(sstp.AttribCryptoBinding)
	if !ok {
		return l.abort(invalid(sstp.AttribCryptoBinding, sstp.StatusRequiredAttributeMissing, "CALL_CONNECTED without a crypto binding"))
	}
	b, err := sstp.ParseCryptoBinding(a.Value)
	if err != nil {
		return l.abort(err)
	}
	if l.hlak == nil {
		return l.abort(invalid(sstp.AttribNoError, sstp.StatusUnacceptedFrameReceived, "CALL_CONNECTED before the client authenticated"))
	}
	zeroed, err := sstp.ZeroMAC(raw)
	if err != nil {
		return l.abort(err)
	}
	// §3.2.5.2: nonce, certificate hash and MAC MUST match, else abort.
	spec := hmac.Equal(b.CompoundMAC[:], compoundMAC(l.hlak, zeroed))
	macOK := spec || hmac.Equal(b.CompoundMAC[:], compoundMAC(l.hlakAlt, zeroed))
	if b.HashProtocol != sstp.HashSHA256 || b.Nonce != l.nonce || b.CertHash != l.certHash || !macOK {
		return l.abort(fmt.Errorf("the crypto binding does not match (hash protocol %d, nonce %v, certificate hash %v, compound MAC %v): a man in the middle, or another TLS session",
			b.HashProtocol, b.Nonce == l.nonce, b.CertHash == l.certHash, macOK))
	}
	l.bound.Store(true)
	l.checkUp()
	l.log.Debug("crypto binding checked", "hlak", map[bool]string{true: "MPPE send key (MS-SSTP)", false: "128-bit MPPE send and receive keys (pppd)"}[spec])
	s.mu.Lock()
	if s.clients[addr] == l { // not replaced meanwhile (reserve)
		s.ident[addr] = l.identity
	}
	s.mu.Unlock()
	s.log.Info("point-to-site client connected", "addr", addr, "identity", l.identity)
	return nil
}

// serverEAP authenticates the client with EAP-TLS, or relays its EAP to
// the RADIUS servers: from the start (useEAPRelay), or when a client of a
// gateway with both declines EAP-TLS (a Nak for another method, RFC 3748
// §5.3.1), from its identity response.
func (l *link) serverEAP(m ppp.EAP) error {
	var next ppp.EAP
	var msk []byte
	var ok bool
	var err error
	if l.authed {
		// RFC 3748 §4.2: after Success the authenticator is done; a
		// response repeated then would admit the client again, with a
		// second address and slot, the first never given back.
		return nil
	}
	switch {
	case l.eapRelay != nil:
		stop := l.watchLeaving()
		next, msk, ok, err = l.eapRelay.Handle(m)
		stop()
	case l.eapSrv == nil:
		return nil
	case m.Code == ppp.EAPResponse && m.Type == ppp.TypeNak && m.ID == l.eapReqID && l.eapIdentity != nil && len(l.srv.cfg.Radius) > 0:
		identity, _ := ppp.ParseEAP(l.eapIdentity)
		// The identity goes to the server as the answer to the request
		// the client declined, which the server numbers its first one
		// after (FreeRADIUS one above): under that request's
		// Identifier, the client would take it for a retransmission
		// and send its Nak again (RFC 3748 §4.1).
		identity.ID = m.ID
		l.eapRelay = radius.NewEAPAuthenticator(l.ctx, l.srv.settings().Radius, l.eapRelayRequest())
		stop := l.watchLeaving()
		next, msk, ok, err = l.eapRelay.Resume(identity)
		stop()
	default:
		if m.Code == ppp.EAPResponse && m.Type == ppp.TypeIdentity && m.ID == l.eapReqID {
			l.eapIdentity = m.Append(nil)
		}
		next, msk, ok, err = l.eapSrv.Handle(m)
	}
	switch {
	case !ok:
		return nil // RFC 3748 §4.1: a response that does not match is dropped
	case err != nil:
		if !errors.Is(err, radius.ErrNoAnswer) {
			// A verdict; with no RADIUS server answering, the call ends
			// without one, as MS-CHAPv2's does.
			l.writePPP(ppp.ProtoEAP, next.Append(nil))
		}
		l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
		return err
	case next.Code != ppp.EAPSuccess:
		return l.sendEAP(next)
	case len(msk) < 32:
		// [MS-SSTP] §3.2.5.2.4: the binding is keyed with the first 32
		// bytes of the MSK; a method that makes none (EAP-MD5) binds
		// nothing.
		l.writePPP(ppp.ProtoEAP, ppp.EAP{Code: ppp.EAPFailure, ID: next.ID}.Append(nil))
		l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
		return fmt.Errorf("the EAP method gave %d bytes of key, too few to bind the call: use one that makes keys (PEAP, EAP-MSCHAPv2, EAP-TLS)", len(msk))
	}
	l.hlak, l.hlakAlt, l.authed = hlakFrom(msk), hlakFrom(msk), true
	if len(msk) >= 48 {
		l.hlakAlt = hlakMPPE128(msk)
	}
	switch {
	case l.eapRelay != nil:
		g := l.eapRelay.Grant()
		l.identity, l.grant, l.radius = l.eapRelay.Identity(), g, true
		if l.eapRelay.Asserted() {
			l.user = l.identity
		}
	case l.eapSrv.PeerCertificate() != nil:
		l.identity = l.eapSrv.PeerCertificate().Subject.CommonName
		l.thumb, l.chain = eaptls.CertThumbprint(l.eapSrv.PeerCertificate()), l.eapSrv.PeerCertificates()
	}
	if err := l.admit(); err != nil {
		return l.abort(err)
	}
	if err := l.writePPP(ppp.ProtoEAP, next.Append(nil)); err != nil {
		return err
	}
	return l.sendIPCPRequest()
}

// sendEAP sends an EAP request (or outcome), noting which one the client
// answers next.
func (l *link) sendEAP(m ppp.EAP) error {
	if m.Code == ppp.EAPRequest {
		l.eapReqID = m.ID
	}
	return l.writePPP(ppp.ProtoEAP, m.Append(nil))
}

// eapTLSConfig is the server's inner TLS: the client's certificate must
// chain to an uploaded root (R12) and not be revoked.
func (l *link) eapTLSConfig() *tls.Config {
	live := l.srv.settings()
	return eaptls.ServerConfig(*l.srv.cert.Load(), live.roots, live.Revoked)
}
