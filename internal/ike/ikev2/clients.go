package ikev2

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/seat"
	"github.com/vnetgw/vnetgw/internal/sender"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// Clients configures point-to-site clients over IKEv2: remote devices
// that no configuration names, which authenticate with a certificate of
// an uploaded root, get an address of a pool in a Configuration payload
// (RFC 7296 §2.19) and reach Routes through one child SA each. The gateway
// authenticates to them with its own certificate.
type Clients struct {
	// Cert is the gateway's certificate chain (leaf first) and key: an
	// ECDSA or RSA key, which signs the gateway's AUTH payload.
	Cert tls.Certificate
	// Roots are the certificates clients' certificates chain to (R12).
	Roots []*x509.Certificate
	// Revoked are the SHA-1 thumbprints (hex, any case) of client
	// certificates that may no longer connect.
	Revoked []string
	// Pool is where clients' addresses come from. Its first and last
	// addresses are not given out.
	Pool netip.Prefix
	// Routes are what clients reach: the gateway's traffic selectors, or
	// any IPv4 address when there are more than a child SA takes (255).
	Routes []netip.Prefix
	// DNS are the DNS servers clients are given when they ask
	// (INTERNAL_IP4_DNS): the VNet's.
	DNS []netip.Addr
	// MaxClients bounds the clients connected at once (R11, R32), with
	// the OpenVPN clients that share Seats.
	MaxClients int
	// Seats counts the clients with an address, and the OpenVPN clients
	// of the gateway's TCP server given the same (R32: one limit for
	// both); nil: the IKEv2 clients alone.
	Seats *seat.Count
	// Attach is called before a client's first child SA is installed:
	// the data path must then carry addr's traffic in the tunnel called
	// name. Detach is called when the client is gone. Both are called from
	// the client's goroutine and must not call back into the Manager.
	Attach func(name string, addr netip.Addr) error
	Detach func(name string)
	// IKEProposals and ESPProposals: unset means suite.DefaultProposals.
	IKEProposals, ESPProposals []suite.Proposal
	// ForceEncap: see PeerConfig.ForceEncap.
	ForceEncap bool
	// Radius are the RADIUS servers a client that asks for EAP is
	// authenticated by (its EAP relayed, RFC 3579), asked in order;
	// without them the gateway runs EAP-TLS itself. RadiusOnly:
	// certificates do not authenticate clients (IKEv2's certificate AUTH
	// is refused). NASIdentifier names the gateway to the servers.
	Radius        []radius.Server
	RadiusOnly    bool
	NASIdentifier string
	// RadiusDial is how the gateway reaches the servers (nil: the node's
	// network); RadiusFailover is its memory of which answered and which
	// were found dead (nil: none kept).
	RadiusDial     func(ctx context.Context, network, address string) (net.Conn, error)
	RadiusFailover *radius.Failover
	// RadiusAccounting reports the sessions of the clients the servers
	// authenticated to the servers' accounting (RFC 2866); Usage tells
	// what the tunnel of a client (by name) has carried, for it (nil:
	// nothing). Usage is called from the client's goroutine and must not
	// call back into the Manager.
	RadiusAccounting bool
	Usage            func(name string) radius.Usage
}

// Bounds of the client connections not admitted yet (between IKE_SA_INIT
// and a successful IKE_AUTH): in all, and from one sender (an IPv4
// address, an IPv6 /64: sender.Key) until their first IKE_AUTH request
// (the IKE_SA_INIT, what a flood costs): past it a client may wait for
// EAP, a RADIUS server and a second factor, and all the users behind one
// NAT may do so at once. They keep unauthenticated senders from crowding
// out clients, whose number MaxClients bounds apart.
const (
	maxPendingClients          = 256
	maxPendingClientsPerSender = 16
)

// Why pendingFull refuses a new client connection.
var (
	errPendingFromSender = fmt.Errorf("too many from its address (its /64 for IPv6) are between IKE_SA_INIT and IKE_AUTH (%d)", maxPendingClientsPerSender)
	errPendingInAll      = fmt.Errorf("too many are authenticating in all (%d)", maxPendingClients)
)

// maxClientCerts bounds the CERT payloads of a client's IKE_AUTH request
// (its certificate and intermediates) that are looked at.
const maxClientCerts = 8

// clientState is what a client connection knows beyond its PeerConfig.
// It is owned by the client's loop, except addr and ident, which the
// Manager reads under its lock.
type clientState struct {
	cfg    *Clients
	remote netip.AddrPort
	// key is where Manager.clients holds the connection: the endpoint it
	// talks to now (clientKey), or "" when another holds that.
	key string
	seq uint64 // its number, of Manager.clientSeq
	// pending: not admitted yet, counted in Manager.pending; preAuth:
	// no IKE_AUTH request yet either, counted in pendingBySender under
	// from, the sender.Key of remote's address.
	pending bool
	preAuth bool
	from    netip.Prefix
	addr    netip.Addr  // given in IKE_AUTH; zero until then
	seat    *seat.Count // what counts it while it has addr
	ident   string      // the authenticated identity and certificate
	subject string      // its certificate's subject common name (or subject)
	// cert is what it authenticated with; written by the loop under
	// Manager.mu.
	cert     clientCert
	attached bool
	since    time.Time
	// childBy, when set, is when the client's IKE SA goes unless it
	// carries a child SA by then (clientChildWait).
	childBy time.Time
	// endBy, when set, is when the client's session is over: its RADIUS
	// server's Session-Timeout after it authenticated; idle, when not 0,
	// how long it may send nothing (Idle-Timeout).
	endBy time.Time
	idle  time.Duration
	// acct is its session as the RADIUS servers' accounting knows it,
	// while it has an address; nil when they do not (it authenticated
	// otherwise, or accounting is off). An Interim-Update goes every
	// interim (when not 0), the next at nextInterim. cause is why the
	// session ends when the gateway ends it (a radius.Cause, written by
	// whoever ends it; 0: the client did).
	acct        *radius.Session
	grant       *radius.Grant // the last Access-Accept's; nil: not RADIUS's
	interim     time.Duration
	nextInterim time.Time
	cause       atomic.Uint32
	// shown is what Manager.Clients lists of it while it has an
	// address (Manager.mu): read without waiting for its loop, which
	// may wait long for a RADIUS server.
	shown ClientStatus
	// ctx ends when the connection closes: what the loop waits for (a
	// RADIUS server) gives up then.
	ctx    context.Context
	cancel context.CancelFunc
}

// clientCert is the certificate a client authenticated with.
type clientCert struct {
	// thumb is its SHA-1 thumbprint (upper-case hex), as Revoked lists
	// them; "" for a client RADIUS authenticated. chain is the
	// certificate and those the client sent with it (nil for such a
	// client), checked when they were.
	thumb   string
	chain   []*x509.Certificate
	checked time.Time
}

// ClientStatus is a connected point-to-site client.
type ClientStatus struct {
	// Name is the tunnel that carries its traffic.
	Name string
	// Addr is the pool address it was given, Remote where it connects
	// from.
	Addr   netip.Addr
	Remote netip.AddrPort
	// Subject is its certificate's subject common name (or the whole
	// subject when there is none).
	Subject string
	Since   time.Time
}

// validate checks a client configuration.
func (cl *Clients) validate() error {
	var errs []error
	if len(cl.Cert.Certificate) == 0 {
		errs = append(errs, errors.New("no gateway certificate"))
	} else if _, ok := cl.Cert.PrivateKey.(crypto.Signer); !ok {
		errs = append(errs, errors.New("the gateway's key cannot sign"))
	}
	if len(cl.Roots) == 0 && len(cl.Radius) == 0 {
		errs = append(errs, errors.New("no root certificates and no RADIUS server"))
	}
	if !cl.Pool.IsValid() || !cl.Pool.Addr().Is4() || cl.Pool.Bits() > 30 {
		errs = append(errs, fmt.Errorf("client pool %v: want an IPv4 prefix of at least 4 addresses", cl.Pool))
	}
	if len(cl.Routes) == 0 {
		errs = append(errs, errors.New("no routes"))
	}
	if cl.MaxClients <= 0 {
		errs = append(errs, errors.New("no clients allowed"))
	}
	if cl.Attach == nil || cl.Detach == nil {
		errs = append(errs, errors.New("no data path hooks"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ikev2: clients: %w", err)
	}
	return nil
}

// SetClients serves point-to-site clients as cl says, or none when cl is
// nil. Clients connected under the previous configuration are
// disconnected (with a Delete) when it changes in more than sameClients
// allows; otherwise a change ends only the clients whose certificate a
// revocation names or no longer chains to a root (a root removed that it
// was issued under). The rest stay, and take the new configuration with
// their next IKE SA (a client connecting again at the same endpoint), as
// the clients that connect next do: the gateway's certificate (issued
// again before it expires), roots, routes, DNS servers and limit. Until
// then a connected client keeps the routes and DNS servers it was given
// in IKE_AUTH, as Azure's clients do until they reconnect; a limit lower
// than the clients connected ends none of them. The connected clients'
// certificates are checked again only when the roots or revocations
// changed, and not while IKE packets wait.
func (m *Manager) SetClients(cl *Clients) error {
	if cl != nil {
		if err := cl.validate(); err != nil {
			return err
		}
		c := *cl
		c.Routes, c.Revoked, c.DNS, c.Roots = slices.Clone(cl.Routes), slices.Clone(cl.Revoked), slices.Clone(cl.DNS), slices.Clone(cl.Roots)
		cl = &c
	}
	m.reconfigMu.Lock()
	defer m.reconfigMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	old := m.clientCfg
	keep := cl != nil && old != nil && cl.sameClients(old)
	// Unless the roots or revocations changed, the connected clients'
	// certificates were checked against what cl has: no need to again.
	recheck := keep && !cl.sameTrust(old)
	m.clientCfg = cl
	seen := make([]seenClient, 0, len(m.clientConns))
	for _, c := range m.clientConns {
		seen = append(seen, seenClient{c, c.client.cert})
	}
	m.mu.Unlock()
	if !keep {
		gone := make([]*conn, len(seen))
		for i, s := range seen {
			gone[i] = s.c
			s.c.client.cause.Store(uint32(radius.CauseNASRequest))
		}
		stopAll(gone)
		return nil
	}
	// The certificates are checked without m.mu, which every IKE packet
	// takes; a client that authenticated again since the look above is
	// left to its loop's check below.
	ends := make([]bool, len(seen))
	var gone []*conn
	if recheck {
		for i, s := range seen {
			ends[i] = !cl.trusts(s.cert)
		}
		m.mu.Lock()
		for i, s := range seen {
			ends[i] = ends[i] && m.clientConns[s.c.name] == s.c && slices.Equal(s.c.client.cert.chain, s.cert.chain)
			if ends[i] {
				gone = append(gone, s.c)
			}
		}
		m.mu.Unlock()
	}
	// The kept connections' next IKE SAs (a client connecting again at
	// the same endpoint) take the new configuration too; one that
	// authenticated since the look above with a certificate now revoked,
	// or of a root removed, goes.
	for i, s := range seen {
		if ends[i] {
			continue
		}
		c := s.c
		c.post(false, func() {
			st := c.client
			st.cfg = cl
			if recheck && !slices.Equal(st.cert.chain, s.cert.chain) && !cl.trusts(st.cert) {
				c.stop()
			}
		})
	}
	stopAll(gone)
	return nil
}

// seenClient is a client connection and the certificate it had
// authenticated with when SetClients looked.
type seenClient struct {
	c    *conn
	cert clientCert
}

// trusts reports whether a client that authenticated with cert may stay
// under cl: its certificate is not revoked and chains to one of the
// roots, as when it connected (it may have expired since, which ends no
// connection); a client without a certificate (RADIUS) may.
func (cl *Clients) trusts(cert clientCert) bool {
	if len(cert.chain) == 0 {
		return true
	}
	return !cl.revokes(cert.thumb) && chainsTo(cert.chain, cl.Roots, cert.checked) == nil
}

// sameTrust reports whether cl and o trust the same client certificates:
// the same roots and revocations, in the same order.
func (cl *Clients) sameTrust(o *Clients) bool {
	return slices.EqualFunc(cl.Roots, o.Roots, (*x509.Certificate).Equal) && slices.Equal(cl.Revoked, o.Revoked)
}

// revokes reports whether Revoked lists thumb, a certificate's SHA-1
// thumbprint in upper-case hex, in any case or spelling Thumbprint reads.
func (cl *Clients) revokes(thumb string) bool {
	return thumb != "" && slices.ContainsFunc(cl.Revoked, func(r string) bool {
		t, ok := eaptls.Thumbprint(r)
		return ok && t == thumb
	})
}

// sameClients reports whether the clients connected under o may stay
// under cl: the pool, the proposals, ForceEncap and whether there are
// RADIUS servers at all (which decides how a client authenticates, as
// RadiusOnly does) are the same. What else changes (the gateway's
// certificate, the roots and revoked certificates, the routes, the DNS
// servers, the limit, the RADIUS servers themselves and the
// NAS-Identifier) the next IKE SAs and authentications take, the
// connected clients staying (SetClients).
func (cl *Clients) sameClients(o *Clients) bool {
	sameRadius := (len(cl.Radius) == 0) == (len(o.Radius) == 0) && cl.RadiusOnly == o.RadiusOnly
	return cl.Pool == o.Pool && cl.ForceEncap == o.ForceEncap && sameProposals(cl.IKEProposals, o.IKEProposals) && sameProposals(cl.ESPProposals, o.ESPProposals) && sameRadius
}

// selectors are the gateway's traffic selectors of a client's child SA:
// the routes, or any IPv4 address when they are more than one child SA
// takes (maxSelectors); the VNet's routing decides then.
func (cl *Clients) selectors() []netip.Prefix {
	if len(cl.Routes) > maxSelectors {
		return []netip.Prefix{netip.PrefixFrom(netip.IPv4Unspecified(), 0)}
	}
	return cl.Routes
}

// clientKey is the key of the connection of a client at remote in
// Manager.clients.
func clientKey(remote netip.AddrPort) string { return remote.String() }

// newClient returns a new client connection for remote, not started,
// and holds it at remote's key; m.mu is held. Its name, the tunnel of
// its traffic, is unique: a client that moved away leaves its name
// behind.
func (m *Manager) newClient(cl *Clients, local, remote netip.AddrPort) *conn {
	m.clientSeq++
	c := newConn(m, clientConfig(cl, fmt.Sprintf("p2s-ikev2/%d/%s", m.clientSeq, remote), local, remote), clientPacketQueue)
	c.client = &clientState{cfg: cl, remote: remote, key: clientKey(remote), pending: true, preAuth: true, from: sender.Key(remote.Addr())}
	c.client.ctx, c.client.cancel = context.WithCancel(context.Background())
	c.client.seq = m.clientSeq
	m.clients[c.client.key] = c
	m.clientConns[c.name] = c
	m.pending++
	m.pendingBySender[c.client.from]++
	return c
}

// admittedLocked stops counting c as pending; m.mu is held.
func (m *Manager) admittedLocked(c *conn) {
	m.authBegunLocked(c)
	if st := c.client; st.pending {
		st.pending = false
		m.pending--
	}
}

// authBegunLocked stops counting c against its sender's bound: its IKE SA
// got an IKE_AUTH request (or it ended); m.mu is held.
func (m *Manager) authBegunLocked(c *conn) {
	if st := c.client; st.preAuth {
		st.preAuth = false
		if m.pendingBySender[st.from]--; m.pendingBySender[st.from] <= 0 {
			delete(m.pendingBySender, st.from)
		}
	}
}

// pendingFull reports, as one of errPendingFromSender and
// errPendingInAll, whether no more client connections may be pending
// (from addr's sender); m.mu is held.
func (m *Manager) pendingFull(addr netip.Addr) error {
	switch {
	case m.pendingBySender[sender.Key(addr)] >= maxPendingClientsPerSender:
		return errPendingFromSender
	case m.pending >= maxPendingClients:
		return errPendingInAll
	}
	return nil
}

// refusedLocked counts a new client connection that pendingFull refused
// for why, and reports whether a line is logged now and how many it
// counts: once a minute at most for each bound (a flood would log a line
// each); m.mu is held.
func (m *Manager) refusedLocked(why error) (n int, log bool) {
	l := &m.refusedFromSender
	if why == errPendingInAll {
		l = &m.refusedInAll
	}
	l.Count(1)
	return l.Due()
}

// rekeyClient holds client connection c at the key of remote, where its
// IKE SA moved (MOBIKE, a NAT's new mapping), so that a new client at
// the old endpoint gets a connection of its own.
func (m *Manager) rekeyClient(c *conn, remote netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, key := c.client, clientKey(remote)
	if st.key == key {
		return
	}
	m.releaseClientKey(c)
	st.remote = remote
	if st.shown.Addr.IsValid() {
		st.shown.Remote = remote
	}
	if m.clients[key] == nil {
		m.clients[key], st.key = c, key
		m.keyless--
	}
}

// releaseClientKey lets go of the clientKey client connection c holds,
// which then holds none, and hands it to the newest other connection at
// that endpoint that holds none: one that moved there while c held it (a
// client connecting again with INITIAL_CONTACT whose IKE_AUTH came from
// where its stale connection was). Its next IKE SA from there (a
// reauthentication) then comes to it, and keeps its address. m.mu is
// held.
func (m *Manager) releaseClientKey(c *conn) {
	st := c.client
	if st.key == "" {
		return
	}
	key := st.key
	st.key = ""
	m.keyless++
	if m.clients[key] != c {
		return
	}
	delete(m.clients, key)
	if m.keyless == 1 {
		return // c alone holds none
	}
	var next *conn
	for _, o := range m.clientConns {
		if o != c && o.client.key == "" && clientKey(o.client.remote) == key && (next == nil || o.client.seq > next.client.seq) {
			next = o
		}
	}
	if next != nil {
		m.clients[key], next.client.key = next, key
		m.keyless--
	}
}

// clientConfig is the PeerConfig of a client connection called name: the
// Manager answers, never initiates, and narrows the client's selectors to
// its address once it has one.
func clientConfig(cl *Clients, name string, local, remote netip.AddrPort) PeerConfig {
	return PeerConfig{
		Name: name, Local: local, Remote: remote,
		LocalID:      IPIdentity(local.Addr()),
		IKEProposals: cl.IKEProposals, ESPProposals: cl.ESPProposals,
		Mode:       ModeResponderOnly,
		Children:   []ChildConfig{{LocalTS: cl.selectors(), RemoteTS: []netip.Prefix{cl.Pool}}},
		ForceEncap: cl.ForceEncap,
	}.withDefaults()
}

// handleClientInit handles an IKE_SA_INIT request from an address that is
// no configured peer's: a point-to-site client's, new or known.
func (m *Manager) handleClientInit(local, remote netip.AddrPort, h wire.Header, msg []byte) {
	parsed, err := wire.ParseMessage(msg)
	if err != nil {
		var uc *wire.UnsupportedCriticalPayloadError
		if errors.As(err, &uc) {
			m.sendError(local, remote, h, uc.Notify()) // RFC 7296 §2.5
		}
		m.stats.malformed.Add(1)
		return
	}
	m.mu.Lock()
	known := m.clients[clientKey(remote)]
	pending := m.pendingBySender[sender.Key(remote.Addr())]
	m.mu.Unlock()
	// RFC 7296 §2.6: clients are anyone, so cookies are asked for as soon
	// as half-open SAs pile up in all, at a known client's endpoint, or
	// from the client's address: a flood spoofed from there must not fill
	// that client's half-open slots (MaxHalfOpen), as for a site
	// (handleInitRequest), nor the places of the clients behind the same
	// NAT (maxPendingClientsPerSender).
	if t := m.cfg.CookieThreshold; t < 0 || m.halfOpen.Load() >= int64(t) || pending >= m.peerCookieThreshold() ||
		known != nil && known.halfOpen.Load()+known.initQueued.Load() >= int64(m.peerCookieThreshold()) {
		if !m.checkCookie(local, remote, h, parsed.Payloads) {
			return
		}
	}
	m.mu.Lock()
	cl := m.clientCfg
	c := m.clients[clientKey(remote)]
	if c == nil && cl != nil && !m.closed {
		if why := m.pendingFull(remote.Addr()); why != nil {
			n, log := m.refusedLocked(why)
			m.mu.Unlock()
			m.stats.clientsFull.Add(1)
			if log {
				m.log.Info("point-to-site client refused: "+why.Error(), "remote", remote, "refused", n)
			}
			return
		}
		c = m.newClient(cl, local, remote)
		m.runClient(c)
	}
	if c != nil {
		// Under m.mu: a connection whose loop ends takes what is queued
		// for it once it holds no key, and hands it on (endClient).
		c.deliver(packet{local: local, remote: remote, header: h, data: bytes.Clone(msg), queuedInit: true})
	}
	m.mu.Unlock()
	if c == nil {
		m.stats.noPeer.Add(1)
	}
}

// runClient starts the loop of client connection c.
func (m *Manager) runClient(c *conn) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		c.run()
	}()
}

// clientsHere returns the client configuration if c is a client's
// connection, or a site's while clients are served; else nil.
func (c *conn) clientsHere() *Clients {
	if c.client != nil {
		return c.client.cfg
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.m.clientCfg
}

// handToClient moves a responder's half-open IKE SA of a site's connection to
// a new point-to-site client's connection when its IKE_AUTH request is a
// client's (a certificate's AUTH, or none for EAP, where a site
// authenticates with its pre-shared key): a laptop behind the site's NAT
// shares the site's address, so its IKE_SA_INIT came to the site. The new
// connection answers the request here; conn.handle starts its loop once
// this one is done with the SA. It reports false when sa stays.
func (sa *ikeSA) handToClient(ps []wire.Payload) ([]wire.Payload, bool) {
	if auth, ok := find[*wire.Auth](ps); sa.initiator || ok && auth.Method == wire.AuthSharedKeyMIC {
		return nil, false
	}
	old, m := sa.c, sa.c.m
	m.mu.Lock()
	cl := m.clientCfg
	if cl == nil || m.closed {
		m.mu.Unlock()
		return nil, false
	}
	if m.clients[clientKey(sa.remote)] != nil || m.pendingFull(sa.remote.Addr()) != nil {
		// A client's connection at that endpoint is still there, or too
		// many wait: the client tries again; the site's state is not
		// touched.
		m.mu.Unlock()
		sa.killAfterResponse = true
		return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}, true
	}
	c := m.newClient(cl, sa.local, sa.remote)
	m.ikeSPIs[sa.ourSPI()] = c
	m.mu.Unlock()
	old.log.Info("IKE SA handed over to a point-to-site client at the site's address", sa.logAttrs(), "client", c.name)
	old.sas = slices.DeleteFunc(old.sas, func(o *ikeSA) bool { return o == sa })
	if sa.countedHalfOpen {
		old.halfOpen.Add(-1)
		c.halfOpen.Add(1)
	}
	sa.c, sa.log = c, c.log
	c.sas = []*ikeSA{sa}
	return sa.handleClientAuth(ps), true
}

// endClient forgets a client connection whose loop has ended: its
// address goes back to the pool and the data path lets go of its tunnel.
// An IKE_SA_INIT request still queued for it goes to the connection that
// now answers its endpoint: the client deleted its last IKE SA and at
// once began a new one (a break-before-make reauthentication), both
// queued before the loop ended with the Delete.
func (c *conn) endClient() {
	c.releaseClient()
	m := c.m
	m.mu.Lock()
	m.releaseClientKey(c)
	m.keyless-- // c holds none, and goes
	delete(m.clientConns, c.name)
	m.admittedLocked(c) // no longer pending either way
	var inits []*packet
	for len(c.packets) > 0 {
		if p := <-c.packets; p.queuedInit {
			c.initQueued.Add(-1)
			inits = append(inits, p)
		}
	}
	m.mu.Unlock()
	for _, p := range inits {
		m.handleClientInit(p.local, p.remote, p.header, p.data)
	}
}

// clientAuthenticated reports whether one of the IKE SAs of client
// connection c is authenticated: the client is there, with its address
// and tunnel, as long as one is. One being shut down, whose Delete waits
// for an answer (ikeSA.shutdown), does not count: it holds nothing back.
func (c *conn) clientAuthenticated() bool {
	return slices.ContainsFunc(c.sas, func(sa *ikeSA) bool {
		return (sa.state == stateEstablished || sa.state == stateRekeyed || sa.state == stateDeleting) && sa.closeBy.IsZero()
	})
}

// releaseClient lets go of the client's tunnel and then of its address,
// so that neither is given to another client while the data path still
// has it.
func (c *conn) releaseClient() {
	st := c.client
	if st.acct != nil {
		// Before Detach, which takes the tunnel's counters with it.
		cause := radius.Cause(st.cause.Swap(0))
		if cause == 0 {
			cause = radius.CauseUserRequest
		}
		c.m.acct.Stop(st.acct, c.usage(), cause)
		st.acct, st.interim = nil, 0
	}
	if st.attached {
		st.cfg.Detach(c.name)
		st.attached = false
	}
	if !st.addr.IsValid() {
		return
	}
	c.log.Info("point-to-site client disconnected", "addr", st.addr, "remote", st.remote)
	c.m.mu.Lock()
	if c.m.clientAddrs[st.addr] == c {
		delete(c.m.clientAddrs, st.addr)
	}
	if st.seat != nil {
		st.seat.Give()
		st.seat = nil
	}
	st.shown = ClientStatus{}
	c.m.mu.Unlock()
	st.addr = netip.Addr{}
}

// assignAddr gives c the address it has, or want when that is a free one
// of the pool (RFC 7296 §3.15.1: a client asks for the address of a
// connection before, to keep it), or else (unless only: want is its
// RADIUS server's) the lowest free one; it fails,
// saying which, when MaxClients are connected (counted in Seats, with
// OpenVPN's) or the pool is used up. The connections a
// client with INITIAL_CONTACT replaces (replaceClients: those of its
// ident) do not count, as they are on their way out.
func (m *Manager) assignAddr(c *conn, ident string, initialContact bool, want netip.Addr, only bool) (netip.Addr, error) {
	st := c.client
	m.mu.Lock()
	defer m.mu.Unlock()
	if st.addr.IsValid() {
		return st.addr, nil
	}
	leaving := 0
	if initialContact {
		for _, o := range m.clientAddrs {
			if o != c && o.client.ident == ident {
				leaving++
			}
		}
	}
	seats := st.cfg.Seats
	if seats == nil {
		seats = &m.seats
	}
	if n, ok := seats.Take(st.cfg.MaxClients, leaving); !ok {
		return netip.Addr{}, fmt.Errorf("the gateway's limit of %d point-to-site clients is reached (%d connected over IKEv2 and OpenVPN)", st.cfg.MaxClients, n)
	}
	pool := st.cfg.Pool.Masked()
	last := lastAddr(pool)
	inPool := pool.Addr().Less(want) && want.Less(last)
	if _, used := m.clientAddrs[want]; !used && inPool {
		m.clientAddrs[want] = c
		st.addr, st.seat = want, seats
		return want, nil
	}
	if only {
		seats.Give()
		if !inPool {
			return netip.Addr{}, fmt.Errorf("the address its RADIUS server gives it (Framed-IP-Address), %v, is not one the pool %v gives out", want, pool)
		}
		return netip.Addr{}, fmt.Errorf("the address its RADIUS server gives it (Framed-IP-Address), %v, is another connection's", want)
	}
	for a := pool.Addr().Next(); a.IsValid() && a.Less(last); a = a.Next() {
		if _, used := m.clientAddrs[a]; !used {
			m.clientAddrs[a] = c
			st.addr, st.seat = a, seats
			return a, nil
		}
	}
	seats.Give()
	return netip.Addr{}, fmt.Errorf("no free address in the pool %v", st.cfg.Pool)
}

// clientAddr assigns the client that authenticated as ident its address
// (assignAddr): want if it can. With INITIAL_CONTACT the client says it
// has no other IKE SA, so its connections from before go first
// (endStale) when one holds want (it connects again and asks for the
// address it had) or when the pool has no other address; they are
// waited for, up to staleWait, to give their addresses back.
func (sa *ikeSA) clientAddr(ident string, want netip.Addr, initialContact, only bool) (netip.Addr, error) {
	m, c := sa.c.m, sa.c
	if initialContact && m.heldBy(want, ident, c) && m.endStale(c, ident) > 0 {
		waitUntil(staleWait, func() bool { return !m.heldBy(want, ident, c) })
	}
	addr, err := m.assignAddr(c, ident, initialContact, want, only)
	if err != nil && initialContact && m.endStale(c, ident) > 0 {
		waitUntil(staleWait, func() bool {
			addr, err = m.assignAddr(c, ident, true, want, only)
			return err == nil
		})
	}
	return addr, err
}

// wantedAddr is the address the client is to have: its RADIUS server's
// (Framed-IP-Address), which it gets or none (only), or else the one it
// asks for in req, if any, which it gets when free.
func (st *clientState) wantedAddr(req *wire.CP) (want netip.Addr, only bool) {
	if st.grant != nil && st.grant.Addr.IsValid() {
		return st.grant.Addr, true
	}
	return requestedAddr(req), false
}

// waitUntil asks done every 20 ms until it reports true or wait is over.
func waitUntil(wait time.Duration, done func() bool) {
	for deadline := time.Now().Add(wait); !done() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

// heldBy reports whether addr is held by a connection other than c that
// authenticated as ident.
func (m *Manager) heldBy(addr netip.Addr, ident string, c *conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.clientAddrs[addr]
	return o != nil && o != c && o.client.ident == ident
}

// Clients returns the connected point-to-site clients, by address.
func (m *Manager) Clients() []ClientStatus {
	m.mu.Lock()
	var out []ClientStatus
	for _, c := range m.clientAddrs {
		if s := c.client.shown; s.Addr.IsValid() {
			out = append(out, s)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b ClientStatus) int { return a.Addr.Compare(b.Addr) })
	return out
}

// DisconnectClient ends the IKE SA of the client at addr, with a Delete;
// it reports whether one was connected there. It returns once the client
// is gone, its address and tunnel given back, not waiting for a Delete
// that waits for the answer to an outstanding request (ikeSA.shutdown).
func (m *Manager) DisconnectClient(addr netip.Addr) bool {
	m.mu.Lock()
	c := m.clientAddrs[addr]
	m.mu.Unlock()
	if c == nil {
		return false
	}
	c.client.cause.Store(uint32(radius.CauseAdminReset))
	stopAll([]*conn{c})
	return true
}

// handleClientAuth processes a client's IKE_AUTH request (RFC 7296 §1.2,
// §2.15, §2.19): its certificate must chain to a root and not be revoked,
// name its identity and have signed the AUTH payload; the response holds
// the gateway's certificate and signature, the client's address and its
// child SA, narrowed to that address. A request without AUTH asks for EAP
// (RFC 7296 §2.16), and the client authenticates with EAP-TLS instead.
func (sa *ikeSA) handleClientAuth(ps []wire.Payload) []wire.Payload {
	sa.c.m.mu.Lock()
	sa.c.m.authBegunLocked(sa.c) // what follows may wait for a RADIUS server
	sa.c.m.mu.Unlock()
	if sa.eap != nil {
		return sa.continueClientEAP(ps)
	}
	st := sa.c.client
	idi, ok := find[*wire.ID](ps)
	if !ok || idi.Responder {
		sa.killAfterResponse = true
		return []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
	}
	auth, ok := find[*wire.Auth](ps)
	if !ok {
		return sa.startClientEAP(ps, idi)
	}
	if st.cfg.RadiusOnly {
		return sa.refuseClient(wire.AuthenticationFailed, "a certificate's AUTH, where clients authenticate with RADIUS (EAP) only")
	}
	chain, err := st.verifyChain(ps, time.Now())
	if err != nil {
		return sa.refuseClient(wire.AuthenticationFailed, "certificate: %v", err)
	}
	leaf := chain[0]
	id := Identity{Type: idi.IDType, Data: idi.Data}
	if !certNames(leaf, id) {
		return sa.refuseClient(wire.AuthenticationFailed, "identity %v is not its certificate's (%s)", id, leaf.Subject)
	}
	signed, err := suite.SignedOctets(sa.suite.PRF, sa.initReq, sa.nr, sa.keys.PI, idi.AppendBody(nil))
	if err == nil {
		err = suite.VerifyAuth(leaf.PublicKey, auth.Method, auth.Data, signed)
	}
	if err != nil {
		// RFC 7296 §2.15: the client must prove it holds the key.
		return sa.refuseClient(wire.AuthenticationFailed, "%s: AUTH does not verify: %v", leaf.Subject, err)
	}
	ours, ok := sa.gatewayAuth()
	if !ok {
		return []wire.Payload{&wire.Notify{NotifyType: wire.AuthenticationFailed}}
	}
	return sa.admitClient(ps, id, clientIdent(id, leaf, ""), chain, "", nil, ours)
}

// refuseClient answers a client's IKE_AUTH request with notification n
// and ends the IKE SA (RFC 7296 §2.21.2).
func (sa *ikeSA) refuseClient(n wire.NotifyType, format string, args ...any) []wire.Payload {
	sa.c.lastError = fmt.Sprintf(format, args...)
	sa.log.Warn("point-to-site client refused", sa.logAttrs(), "remote", sa.remote, "err", sa.c.lastError)
	sa.killAfterResponse = true
	return []wire.Payload{&wire.Notify{NotifyType: n}}
}

// noAddress records and logs that the client gets no address, for why
// (RFC 7296 §3.15.4): its IKE SA stays, and it may ask again.
func (sa *ikeSA) noAddress(why error) {
	sa.c.lastError = fmt.Sprintf("no address for %s: %v", sa.c.client.subject, why)
	sa.log.Warn("point-to-site client given no address", sa.logAttrs(), "remote", sa.remote, "err", sa.c.lastError)
}

// gatewayAuth returns the gateway's IDr, CERT and AUTH payloads: its
// identity, its certificates and its signature (RFC 7296 §2.15). It
// reports false, and ends the SA, when it cannot sign.
func (sa *ikeSA) gatewayAuth() ([]wire.Payload, bool) {
	cl := sa.c.client.cfg
	idr := sa.cfg().LocalID.payload(true)
	signed, err := suite.SignedOctets(sa.suite.PRF, sa.initResp, sa.ni, sa.keys.PR, idr.AppendBody(nil))
	var method wire.AuthMethod
	var auth []byte
	if err == nil {
		method, auth, err = suite.SignAuth(cl.Cert.PrivateKey.(crypto.Signer), signed, sa.peerHashes)
	}
	if err != nil {
		sa.log.Error("signing AUTH", sa.logAttrs(), "err", err)
		sa.killAfterResponse = true
		return nil, false
	}
	ps := []wire.Payload{idr}
	for _, der := range cl.Cert.Certificate {
		ps = append(ps, &wire.Cert{Encoding: wire.CertX509Signature, Data: der})
	}
	return append(ps, &wire.Auth{Method: method, Data: auth}), true
}

// admitClient completes the IKE_AUTH of an authenticated client: it gets
// an address and its tunnel, and the response holds auth (the gateway's
// AUTH and what goes with it), the address (CFG_REPLY) and the child SA
// the client asked for in req, its first IKE_AUTH request. ident tells
// the client from others (clientIdent): its connections from before go.
// chain is the client's certificate, then those it sent with it (none
// for a client RADIUS authenticated).
func (sa *ikeSA) admitClient(req []wire.Payload, id Identity, ident string, chain []*x509.Certificate, who string, grant *radius.Grant, auth []wire.Payload) []wire.Payload {
	st := sa.c.client
	var limits radius.Limits
	if grant != nil {
		limits = grant.Limits
	}
	var cert *x509.Certificate
	thumb := ""
	if len(chain) > 0 {
		cert = chain[0]
		sum := sha1.Sum(cert.Raw)
		thumb = strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	sa.c.m.mu.Lock()
	cur := sa.c.m.clientCfg
	sa.c.m.mu.Unlock()
	if cur != nil && cert != nil && (cur.revokes(thumb) || chainsTo(chain, cur.Roots, time.Now()) != nil) {
		// Revoked, or its root removed (SetClients), since its TLS
		// handshake checked it: EAP-TLS takes a while. Once admitted,
		// SetClients ends it itself.
		return sa.refuseClient(wire.AuthenticationFailed, "certificate %s: revoked or its root removed", cert.Subject)
	}
	cp, asked := find[*wire.CP](req)
	asked = asked && cp.CFGType == wire.CFGRequest
	if st.ident != "" && st.ident != ident {
		// Another client at this connection's endpoint: a NAT gave the
		// mapping of one that is gone to a new device. The old one's SAs,
		// tunnel and address go.
		sa.log.Info("another point-to-site client at the endpoint of a gone one", sa.logAttrs(), "remote", sa.remote)
		sa.c.replaceOthers(sa)
		st.cause.Store(uint32(radius.CauseNASRequest))
		sa.c.releaseClient()
	}
	// Who the client is: its certificate's subject (its common name), or
	// the user name RADIUS accepted.
	st.subject = who
	if cert != nil {
		st.subject = cert.Subject.CommonName
		if st.subject == "" {
			st.subject = cert.Subject.String()
		}
	}
	var addr netip.Addr
	err := errNoCFGRequest
	initialContact := notify(req, wire.InitialContact) != nil
	st.grant = grant
	if asked {
		want, only := st.wantedAddr(cp)
		addr, err = sa.clientAddr(ident, want, initialContact, only)
	}
	if err == nil && !sa.takeAddress(addr) {
		sa.killAfterResponse = true
		return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}
	}
	if err != nil {
		// RFC 7296 §3.15.4: no address to give, yet the IKE SA is still
		// created, without a child SA; the client may ask again
		// (clientAddress) until clientChildWait is over. So too when it
		// asked for none (§2.19: FAILED_CP_REQUIRED is not fatal to the
		// IKE SA).
		sa.noAddress(err)
		if !st.addr.IsValid() {
			sa.c.cfg.Children = nil
		}
	}
	sa.c.cfg.RemoteID = id
	sa.establish(time.Now())
	st.endBy, st.idle = time.Time{}, limits.Idle
	if limits.Session > 0 {
		st.endBy = time.Now().Add(limits.Session)
	}
	sa.c.m.mu.Lock()
	st.cert = clientCert{thumb, chain, time.Now()}
	sa.c.m.mu.Unlock()
	if err == nil {
		sa.showClient(addr)
		sa.account(addr)
	}
	if initialContact {
		sa.c.replaceOthers(sa)
	}
	sa.c.m.replaceClients(sa.c, ident, initialContact)
	resp := auth
	switch {
	case !asked:
		// RFC 7296 §2.19: the child SA fails with FAILED_CP_REQUIRED.
		resp = append(resp, &wire.Notify{NotifyType: wire.FailedCPRequired})
	case err != nil:
		resp = append(resp, &wire.Notify{NotifyType: wire.InternalAddressFailure})
	default:
		resp = append(resp, clientCPReply(cp, addr, st.cfg.Routes, st.cfg.DNS))
	}
	if limit := limits.Session; limit > 0 {
		// RFC 4478 §3: the seconds left before the client must
		// authenticate again, which a client that can does, in a new
		// IKE SA, before the gateway ends this one.
		resp = append(resp, &wire.Notify{NotifyType: wire.AuthLifetime, Data: binary.BigEndian.AppendUint32(nil, uint32(limit/time.Second))})
	}
	if notify(req, wire.MOBIKESupported) != nil {
		// RFC 4555 §3.3: both sides announce MOBIKE in IKE_AUTH; a client
		// that moves then says so with UPDATE_SA_ADDRESSES (moved).
		sa.mobike = true
		resp = append(resp, &wire.Notify{NotifyType: wire.MOBIKESupported})
	}
	if _, ok := find[*wire.SA](req); ok && err == nil {
		resp = append(resp, sa.acceptChild(req, sa.ni, sa.nr, true)...)
	}
	if len(sa.children) == 0 {
		st.childBy = time.Now().Add(clientChildWait)
	}
	return resp
}

// errNoCFGRequest is why a client that asked for no address (no
// CFG_REQUEST in IKE_AUTH) has none.
var errNoCFGRequest = errors.New("the client asked for no address (no CFG_REQUEST)")

// clientChildWait is how long a client's IKE SA may carry no child SA:
// one the gateway had no address for (RFC 7296 §3.15.4) asks again for
// one (clientAddress), one whose child SA was refused or deleted makes
// another; the gateway deletes the IKE SA then, and the address it holds
// goes back to the pool. A client without an address stays counted as
// pending (maxPendingClients) meanwhile.
const clientChildWait = time.Minute

// idleUntil is when client st, which sends nothing, has been idle for as
// long as its RADIUS server's Idle-Timeout lets it (RFC 2865 §5.28): that
// long after the last ESP of its tunnel opened, or after it got its
// address; zero without such a limit.
func (sa *ikeSA) idleUntil(st *clientState) time.Time {
	if st.idle <= 0 || st.since.IsZero() {
		return time.Time{}
	}
	last := LastInbound(sa.c.m.cfg.Dataplane, sa.c.name)
	if last.Before(st.since) {
		last = st.since
	}
	return last.Add(st.idle)
}

// childless notes that a client's IKE SAs carry no child SA any more (its
// last was deleted): they go unless one comes within clientChildWait.
func (c *conn) childless() {
	st := c.client
	if st == nil || !st.childBy.IsZero() || slices.ContainsFunc(c.sas, func(sa *ikeSA) bool { return len(sa.children) > 0 }) {
		return
	}
	st.childBy = time.Now().Add(clientChildWait)
}

// takeAddress makes addr, assigned to the client, its own: its tunnel is
// attached (once) and it is admitted, and its child SAs are narrowed to
// addr. It reports false when the data path did not attach the tunnel.
func (sa *ikeSA) takeAddress(addr netip.Addr) bool {
	st := sa.c.client
	if !st.attached {
		if err := st.cfg.Attach(sa.c.name, addr); err != nil {
			sa.log.Error("point-to-site client not attached", sa.logAttrs(), "err", err)
			return false
		}
		st.attached, st.since = true, time.Now()
		sa.c.m.mu.Lock()
		sa.c.m.admittedLocked(sa.c)
		sa.c.m.mu.Unlock()
	}
	sa.c.cfg.Children = []ChildConfig{{LocalTS: st.cfg.selectors(), RemoteTS: []netip.Prefix{netip.PrefixFrom(addr, 32)}}}
	return true
}

// account reports the session of the client, who has address addr, to
// the RADIUS servers' accounting when they authenticated it (st.grant):
// its Start, unless it has one: a reauthentication goes on with the
// session, under its new Access-Accept's Class and
// Acct-Interim-Interval.
func (sa *ikeSA) account(addr netip.Addr) {
	st := sa.c.client
	if st.grant == nil || !st.cfg.RadiusAccounting || len(st.cfg.Radius) == 0 {
		return
	}
	grant := *st.grant
	if st.acct != nil {
		st.acct.Renew(grant)
		if grant.Interim != st.interim {
			if st.interim = grant.Interim; st.interim > 0 {
				st.nextInterim = time.Now().Add(st.interim)
			}
		}
		return
	}
	r := radius.Request{User: st.subject, CallingStation: sa.remote.Addr().String(), NASIdentifier: st.cfg.NASIdentifier, Dial: st.cfg.RadiusDial}
	st.acct = sa.c.m.acct.Start(st.cfg.Radius, r, addr, grant)
	if st.interim = grant.Interim; st.interim > 0 {
		st.nextInterim = time.Now().Add(st.interim)
	}
}

// usage is what the client's tunnel has carried so far.
func (c *conn) usage() radius.Usage {
	if f := c.client.cfg.Usage; f != nil {
		return f(c.name)
	}
	return radius.Usage{}
}

// showClient lists the client, connected at addr, in Manager.Clients.
func (sa *ikeSA) showClient(addr netip.Addr) {
	st := sa.c.client
	sa.c.m.mu.Lock()
	st.shown = ClientStatus{Name: sa.c.name, Addr: addr, Remote: sa.remote, Since: st.since, Subject: st.subject}
	sa.c.m.mu.Unlock()
	sa.log.Info("point-to-site client connected", sa.logAttrs(), "client", st.subject, "addr", addr, "remote", sa.remote, "proposal", sa.suite)
}

// clientAddress answers a client's CFG_REQUEST in an INFORMATIONAL
// request: one that got no address in IKE_AUTH asks again (RFC 7296
// §3.15.4), and gets one that is free now, with the routes and DNS
// servers, or INTERNAL_ADDRESS_FAILURE again; one that has an address
// gets it again. It returns nil when ps holds no CFG_REQUEST.
func (sa *ikeSA) clientAddress(ps []wire.Payload) []wire.Payload {
	st := sa.c.client
	cp, ok := find[*wire.CP](ps)
	if st == nil || !ok || cp.CFGType != wire.CFGRequest {
		return nil
	}
	had := st.addr.IsValid()
	want, only := st.wantedAddr(cp)
	addr, err := sa.c.m.assignAddr(sa.c, st.ident, false, want, only)
	if err == nil && !sa.takeAddress(addr) {
		sa.c.releaseClient()
		err = errors.New("its tunnel was not attached")
	}
	if err != nil {
		sa.noAddress(err)
		return []wire.Payload{&wire.Notify{NotifyType: wire.InternalAddressFailure}}
	}
	if !had {
		sa.c.lastError = ""
		sa.showClient(addr)
		sa.account(addr)
		st.childBy = time.Now().Add(clientChildWait) // time to make its child SA
	}
	return []wire.Payload{clientCPReply(cp, addr, st.cfg.Routes, st.cfg.DNS)}
}

// moved answers a client's UPDATE_SA_ADDRESSES (RFC 4555 §3.5): the SA
// and its child SAs follow the request's addresses; the response carries
// NAT detection for the new ones (§3.8) and the request's COOKIE2 (§3.7).
// It returns nil for an INFORMATIONAL request that is no such update.
func (sa *ikeSA) moved(ps []wire.Payload) []wire.Payload {
	if !sa.mobike || notify(ps, wire.UpdateSAAddresses) == nil {
		return nil
	}
	// RFC 4555 §3.5: NAT detection anew, for the new addresses, before
	// the child SAs move (in UDP or not).
	sa.detectNATWith(ps, sa.reqLocal, sa.reqRemote, sa.spiR)
	if sa.reqLocal != sa.local || sa.reqRemote != sa.remote {
		sa.moveTo(sa.reqLocal, sa.reqRemote)
	}
	sa.log.Info("point-to-site client moved (MOBIKE)", sa.logAttrs(), "remote", sa.remote)
	resp := sa.natDetection(ps)
	if c := notify(ps, wire.Cookie2); c != nil {
		// RFC 4555 §3.7: the responder copies COOKIE2 into its response.
		resp = append(resp, &wire.Notify{NotifyType: wire.Cookie2, Data: c.Data})
	}
	return resp
}

// natDetection answers the NAT detection of a MOBIKE client's
// INFORMATIONAL request with ours, of the addresses the request came
// between (RFC 4555 §3.8): the client compares them with its own to see
// a NAT's new mapping, and moves the SAs with UPDATE_SA_ADDRESSES. It
// returns nil when the request has none.
func (sa *ikeSA) natDetection(ps []wire.Payload) []wire.Payload {
	if !sa.mobike || notify(ps, wire.NATDetectionSourceIP) == nil {
		return nil
	}
	return []wire.Payload{
		&wire.Notify{NotifyType: wire.NATDetectionSourceIP, Data: sa.sourceHash(sa.spiR, sa.reqLocal)},
		&wire.Notify{NotifyType: wire.NATDetectionDestinationIP, Data: natHash(sa.spiI, sa.spiR, sa.reqRemote)},
	}
}

// eapFragment is the largest EAP-TLS fragment in an IKE_AUTH message;
// IKE fragmentation (RFC 7383) cuts the message further where needed.
const eapFragment = 1000

// eapAuthenticator is the EAP server of a client's authentication: the
// gateway's EAP-TLS, or a RADIUS server's method, relayed.
type eapAuthenticator interface {
	Handle(m ppp.EAP) (next ppp.EAP, msk []byte, ok bool, err error)
}

// clientEAP is a client's EAP authentication in progress (RFC 7296
// §2.16): the authenticator, the client's first IKE_AUTH request (its
// identity, child SA and configuration request), and, once EAP
// succeeded, the MSK and who the client is: its certificate (EAP-TLS) or
// its EAP identity (RADIUS).
type clientEAP struct {
	auth     eapAuthenticator
	tls      *eaptls.Server // auth, with EAP-TLS
	rad      *radius.EAPAuthenticator
	first    []wire.Payload
	idi      *wire.ID
	started  time.Time
	msk      []byte
	chain    []*x509.Certificate // the client's certificate and those it sent with it, with EAP-TLS
	identity string
}

// startClientEAP answers a client's first IKE_AUTH request without AUTH
// (RFC 7296 §2.16): the gateway authenticates itself with its
// certificate and starts EAP: EAP-TLS (the client's identity is its
// IDi), or, with RADIUS servers, the Identity request whose answer goes
// to them.
func (sa *ikeSA) startClientEAP(ps []wire.Payload, idi *wire.ID) []wire.Payload {
	st := sa.c.client
	ours, ok := sa.gatewayAuth()
	if !ok {
		return []wire.Payload{&wire.Notify{NotifyType: wire.AuthenticationFailed}}
	}
	// The payloads alias the request's plaintext, which sa.open made
	// for this request alone.
	e := &clientEAP{first: ps, idi: idi, started: time.Now()}
	var first ppp.EAP
	if len(st.cfg.Radius) > 0 {
		ctx := st.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		e.rad = radius.NewEAPAuthenticator(ctx, st.cfg.Radius, radius.Request{CallingStation: sa.remote.Addr().String(),
			NASIdentifier: st.cfg.NASIdentifier, Dial: st.cfg.RadiusDial, Failover: st.cfg.RadiusFailover})
		e.auth, first = e.rad, e.rad.Start()
	} else {
		roots := x509.NewCertPool()
		for _, r := range st.cfg.Roots {
			roots.AddCert(r)
		}
		e.tls = eaptls.NewServer(eaptls.ServerConfig(st.cfg.Cert, roots, st.cfg.Revoked), eapFragment, eapTimeout)
		e.auth, first = e.tls, e.tls.StartTLS()
	}
	sa.eap = e
	return append(ours, &wire.EAP{Data: first.Append(nil)})
}

// eapTimeout bounds one TLS step of EAP-TLS; maxEAPTime a client's
// whole EAP.
const (
	eapTimeout = 5 * time.Second
	maxEAPTime = 2 * time.Minute
)

// continueClientEAP processes a client's later IKE_AUTH request: the next
// EAP message, or, after EAP succeeded, its AUTH computed with the MSK
// (RFC 7296 §2.16), which completes the IKE SA.
func (sa *ikeSA) continueClientEAP(ps []wire.Payload) []wire.Payload {
	e := sa.eap
	if e.msk == nil {
		p, ok := find[*wire.EAP](ps)
		if !ok {
			return sa.refuseClient(wire.AuthenticationFailed, "an IKE_AUTH request without EAP during EAP")
		}
		m, err := ppp.ParseEAP(p.Data)
		if err != nil {
			return sa.refuseClient(wire.AuthenticationFailed, "EAP: %v", err)
		}
		next, msk, ok, err := e.auth.Handle(m)
		// EAP goes on: the IKE SA may stay half-open a while longer, up
		// to maxEAPTime from its start (a RADIUS server may wait for a
		// second factor).
		sa.halfOpenUntil = time.Now().Add(halfOpenTimeout)
		if last := e.started.Add(maxEAPTime); last.Before(sa.halfOpenUntil) {
			sa.halfOpenUntil = last
		}
		switch {
		case !ok:
			return sa.refuseClient(wire.AuthenticationFailed, "an EAP message that answers no request")
		case errors.Is(err, radius.ErrNoAnswer):
			// No verdict: an EAP Failure would tell the client its
			// password was refused, and a client gives up on that. The
			// request goes unanswered and the IKE SA goes without a
			// word: the client retransmits until it deems the IKE SA
			// failed (RFC 7296 §2.1), as when the gateway is down, and
			// starts again (strongSwan's keyingtries).
			sa.c.lastError = "EAP: " + err.Error()
			sa.log.Warn("point-to-site client not answered: no RADIUS server answered", sa.logAttrs(), "remote", sa.remote, "err", sa.c.lastError)
			sa.killUnanswered = true
			return nil
		case err != nil:
			sa.c.lastError = "EAP: " + err.Error()
			sa.log.Warn("point-to-site client refused", sa.logAttrs(), "remote", sa.remote, "err", sa.c.lastError)
			sa.killAfterResponse = true // RFC 7296 §2.16: EAP failed, so does the IKE SA
		case msk != nil:
			e.msk = msk
			if e.tls != nil {
				e.chain = e.tls.PeerCertificates()
				e.identity = e.chain[0].Subject.String()
			} else {
				e.identity = e.rad.Identity()
			}
		}
		return []wire.Payload{&wire.EAP{Data: next.Append(nil)}}
	}
	auth, ok := find[*wire.Auth](ps)
	if !ok || auth.Method != wire.AuthSharedKeyMIC {
		return sa.refuseClient(wire.AuthenticationFailed, "no AUTH with the EAP key after EAP")
	}
	signed, err := suite.SignedOctets(sa.suite.PRF, sa.initReq, sa.nr, sa.keys.PI, e.idi.AppendBody(nil))
	if err != nil || !suite.VerifyPSKAuth(sa.suite.PRF, e.msk, signed, auth.Data) {
		// RFC 7296 §2.16: the AUTH is computed with the MSK.
		return sa.refuseClient(wire.AuthenticationFailed, "%s: AUTH does not verify with the EAP key", e.identity)
	}
	idr := sa.cfg().LocalID.payload(true)
	signedR, err := suite.SignedOctets(sa.suite.PRF, sa.initResp, sa.ni, sa.keys.PR, idr.AppendBody(nil))
	var ours []byte
	if err == nil {
		ours, err = suite.PSKAuth(sa.suite.PRF, e.msk, signedR)
	}
	if err != nil {
		return sa.refuseClient(wire.AuthenticationFailed, "computing AUTH with the EAP key: %v", err)
	}
	first, id, chain, who := e.first, Identity{Type: e.idi.IDType, Data: e.idi.Data}, e.chain, e.identity
	var grant *radius.Grant
	if e.rad != nil {
		g := e.rad.Grant()
		grant = &g
	}
	var cert *x509.Certificate
	if len(chain) > 0 {
		cert = chain[0]
	}
	ident := clientIdent(id, cert, who)
	if e.rad != nil && !e.rad.Asserted() {
		// Who the client says it is, which another user could say too:
		// like no other client's, it replaces none (INITIAL_CONTACT).
		ident = "unasserted:" + sa.c.name
	}
	sa.endEAP()
	return sa.admitClient(first, id, ident, chain, who, grant, []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: ours}})
}

// endEAP drops the EAP state of sa, and its key.
func (sa *ikeSA) endEAP() {
	if sa.eap != nil {
		if sa.eap.tls != nil {
			sa.eap.tls.Close()
		}
		clear(sa.eap.msk)
		sa.eap = nil
	}
}

// clientIdent is what tells one client from another: its identity and
// certificate (its hash), or, authenticated by RADIUS, the user name the
// server accepted, not the IDi, which the client may change with its
// network (Windows sends its private address) and no one authenticates.
func clientIdent(id Identity, cert *x509.Certificate, who string) string {
	if cert == nil {
		return "radius:" + who
	}
	return fmt.Sprintf("%d:%x:%x", id.Type, id.Data, sha256.Sum256(cert.Raw))
}

// replaceClients records that c authenticated as ident and, when the
// client sent INITIAL_CONTACT, deletes the IKE SAs of other connections
// that authenticated as ident: RFC 7296 §2.4 says the client has no other
// IKE SA, so those are left from before it moved to another address or
// port, and would hold an address and a slot until found dead.
func (m *Manager) replaceClients(c *conn, ident string, initialContact bool) {
	m.mu.Lock()
	c.client.ident = ident
	m.mu.Unlock()
	if initialContact {
		m.endStale(c, ident)
	}
}

// staleWait is how long a client that connects again waits for its
// stale connections to give back their addresses when the pool has no
// other.
const staleWait = time.Second

// endStale deletes the IKE SAs of the connections other than c that
// authenticated as ident, and returns how many there were.
func (m *Manager) endStale(c *conn, ident string) int {
	m.mu.Lock()
	var stale []*conn
	for _, o := range m.clientConns {
		if o != c && o.client.ident == ident {
			stale = append(stale, o)
		}
	}
	m.mu.Unlock()
	for _, o := range stale {
		c.log.Info("point-to-site client connected again; deleting its stale IKE SA", "stale", o.name)
		o.client.cause.Store(uint32(radius.CauseNASRequest))
		// Not waited for: o's loop may be waiting for ours. A RADIUS
		// round o's loop waits in ends.
		o.stop()
	}
	return len(stale)
}

// verifyChain returns the certificates of the client's CERT payloads,
// its own first, once it chains to a root (through the others) and is
// not revoked.
func (st *clientState) verifyChain(ps []wire.Payload, now time.Time) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for _, p := range ps {
		c, ok := p.(*wire.Cert)
		if !ok || c.Encoding != wire.CertX509Signature {
			continue
		}
		if len(certs) == maxClientCerts {
			break
		}
		cert, err := x509.ParseCertificate(c.Data)
		if err != nil {
			return nil, fmt.Errorf("CERT payload: %w", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("none sent (X.509 in a CERT payload)")
	}
	leaf := certs[0]
	if err := chainsTo(certs, st.cfg.Roots, now); err != nil {
		return nil, fmt.Errorf("%s does not chain to an uploaded root: %w", leaf.Subject, err)
	}
	if eaptls.Revoked(leaf, st.cfg.Revoked) {
		return nil, fmt.Errorf("%s is revoked", leaf.Subject)
	}
	return certs, nil
}

// chainsTo checks that the first of certs (a client's certificate, then
// those it sent with it) chains to one of roots at time at, through the
// others, for client authentication, as EAP-TLS and SSTP's TLS ask (a
// certificate without extended key usages is good for any).
func chainsTo(certs, roots []*x509.Certificate, at time.Time) error {
	rp, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		rp.AddCert(r)
	}
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: rp, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

// certNames reports whether cert names identity id: its subject, or one of
// its subject alternative names (RFC 7296 §3.5: the ID must be one the
// certificate vouches for).
func certNames(cert *x509.Certificate, id Identity) bool {
	switch id.Type {
	case wire.IDDERASN1DN:
		return sameDN(id.Data, cert.RawSubject)
	case wire.IDFQDN:
		return slices.ContainsFunc(cert.DNSNames, func(n string) bool { return strings.EqualFold(n, string(id.Data)) })
	case wire.IDRFC822Addr:
		return slices.ContainsFunc(cert.EmailAddresses, func(n string) bool { return strings.EqualFold(n, string(id.Data)) })
	case wire.IDIPv4Addr, wire.IDIPv6Addr:
		a, ok := netip.AddrFromSlice(id.Data)
		return ok && slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool {
			b, ok := netip.AddrFromSlice(ip)
			return ok && b.Unmap() == a.Unmap()
		})
	}
	return false
}

// sameDN reports whether two DER distinguished names are the same names:
// the same octets, or the same attributes and values in other string
// types (a client may encode its configured DN otherwise than its
// certificate does).
func sameDN(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y pkix.RDNSequence
	if rest, err := asn1.Unmarshal(a, &x); err != nil || len(rest) != 0 {
		return false
	}
	if rest, err := asn1.Unmarshal(b, &y); err != nil || len(rest) != 0 {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// requestedAddr is the address a CFG_REQUEST asks for: that of its
// INTERNAL_IP4_ADDRESS, invalid when it asks for any (zero length, or
// 0.0.0.0 as some clients send it).
func requestedAddr(req *wire.CP) netip.Addr {
	for _, at := range req.Attributes {
		if at.Type == wire.InternalIP4Address && len(at.Value) == 4 {
			if a := netip.AddrFrom4([4]byte(at.Value)); !a.IsUnspecified() {
				return a
			}
		}
	}
	return netip.Addr{}
}

// clientCPReply answers a client's CFG_REQUEST (RFC 7296 §3.15): its
// address, the subnets behind the gateway (INTERNAL_IP4_SUBNET, which
// some clients turn into routes) and the DNS servers, when asked for, and
// the attributes it answers when asked which (SUPPORTED_ATTRIBUTES).
func clientCPReply(req *wire.CP, addr netip.Addr, routes []netip.Prefix, dns []netip.Addr) *wire.CP {
	a := addr.As4()
	reply := &wire.CP{CFGType: wire.CFGReply, Attributes: []wire.CPAttribute{{Type: wire.InternalIP4Address, Value: a[:]}}}
	asked := func(t wire.CPAttributeType) bool {
		return slices.ContainsFunc(req.Attributes, func(at wire.CPAttribute) bool { return at.Type == t })
	}
	if asked(wire.InternalIP4DNS) {
		for _, d := range dns {
			if d.Is4() {
				reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.InternalIP4DNS, Value: d.AsSlice()})
			}
		}
	}
	if asked(wire.InternalIP4Subnet) || asked(wire.SupportedAttributes) {
		for _, r := range routes {
			if !r.Addr().Is4() {
				continue
			}
			b := r.Masked().Addr().As4()
			mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-r.Bits()))
			reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.InternalIP4Subnet, Value: append(b[:], mask...)})
		}
	}
	if asked(wire.SupportedAttributes) {
		// RFC 7296 §3.15.1: the answer to the query lists the attributes
		// the responder supports, two octets each.
		var types []byte
		for _, t := range clientCPSupported {
			types = binary.BigEndian.AppendUint16(types, uint16(t))
		}
		reply.Attributes = append(reply.Attributes, wire.CPAttribute{Type: wire.SupportedAttributes, Value: types})
	}
	return reply
}

// clientCPSupported are the attributes clientCPReply answers.
var clientCPSupported = []wire.CPAttributeType{wire.InternalIP4Address, wire.InternalIP4DNS, wire.InternalIP4Subnet}
