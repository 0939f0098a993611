package ikev2

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/seat"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// The point-to-site gateway of these tests: its IKE endpoint, a /29 pool
// (addresses .1 to .6 are given out) and the networks clients reach.
var (
	p2sGW     = netip.MustParseAddrPort("192.0.2.1:500")
	p2sPool   = netip.MustParsePrefix("10.9.0.0/29")
	p2sRoutes = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
)

// clientAt returns the IKE endpoint of the i-th test client.
func clientAt(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 500)
}

// poolAddr returns the i-th address of p2sPool.
func poolAddr(i int) netip.Addr {
	a := p2sPool.Addr()
	for range i {
		a = a.Next()
	}
	return a
}

// capture is a Transport that records what is sent, by destination
// (IPv4-mapped as IPv4, where the kernel sends it), and delivers nothing.
type capture struct {
	mu   sync.Mutex
	sent map[netip.AddrPort][]sentDatagram
}

func (c *capture) SendIKE(local, remote netip.AddrPort, msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sent == nil {
		c.sent = map[netip.AddrPort][]sentDatagram{}
	}
	c.sent[unmapped(remote)] = append(c.sent[unmapped(remote)], sentDatagram{from: local, to: remote, data: bytes.Clone(msg), at: time.Now()})
	return nil
}

// to returns what was sent to remote so far.
func (c *capture) to(remote netip.AddrPort) []sentDatagram {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent[unmapped(remote)])
}

// forget drops what was sent to remote.
func (c *capture) forget(remote netip.AddrPort) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sent, unmapped(remote))
}

// p2sHooks records the data path hooks of Clients.
type p2sHooks struct {
	mu        sync.Mutex
	attached  map[string]netip.Addr // attached now
	detached  []string              // every Detach, in order
	attachErr error                 // what Attach returns
}

func newHooks() *p2sHooks { return &p2sHooks{attached: map[string]netip.Addr{}} }

func (h *p2sHooks) attach(name string, addr netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.attachErr != nil {
		return h.attachErr
	}
	if _, dup := h.attached[name]; dup {
		return fmt.Errorf("%s attached twice", name)
	}
	h.attached[name] = addr
	return nil
}

func (h *p2sHooks) detach(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.attached, name)
	h.detached = append(h.detached, name)
}

// state returns copies of what is attached and what was detached.
func (h *p2sHooks) state() (map[string]netip.Addr, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]netip.Addr, len(h.attached))
	for k, v := range h.attached {
		out[k] = v
	}
	return out, slices.Clone(h.detached)
}

// p2sPKI is a root, the gateway's certificate and a client's, both of the
// root.
type p2sPKI struct{ root, gw, client *pkitest.Cert }

func newPKI(t testing.TB) p2sPKI {
	root := pkitest.Issue(t, "p2s root", true, nil)
	return p2sPKI{root: root, gw: pkitest.Issue(t, "gw.example.net", false, root, p2sGW.Addr()), client: pkitest.Issue(t, "client1", false, root)}
}

// clients returns a client configuration with pool, at most maxClients.
func (p p2sPKI) clients(h *p2sHooks, pool netip.Prefix, maxClients int) *Clients {
	return &Clients{Cert: p.gw.TLS(), Roots: []*x509.Certificate{p.root.Certificate}, Pool: pool, Routes: p2sRoutes,
		MaxClients: maxClients, Attach: h.attach, Detach: h.detach}
}

// gateway starts a gateway (newP2SGateway) that admits the PKI's
// clients, 10 at most, from p2sPool.
func (p p2sPKI) gateway(t testing.TB) *p2sGateway {
	t.Helper()
	g := newP2SGateway(t, Config{})
	if err := g.m.SetClients(p.clients(g.hooks, p2sPool, 10)); err != nil {
		t.Fatal(err)
	}
	return g
}

// roots returns a pool of the PKI's root, a client's trust in the
// gateway's certificate.
func (p p2sPKI) roots() *x509.CertPool {
	roots := x509.NewCertPool()
	roots.AddCert(p.root.Certificate)
	return roots
}

// p2sGateway is a Manager whose datagrams are captured, not delivered.
type p2sGateway struct {
	m     *Manager
	tr    *capture
	dp    *fakeDataplane
	hooks *p2sHooks
}

// newP2SGateway starts a Manager configured as cfg says, without
// clients; the test calls SetClients. Its goroutines must be gone when the
// test ends.
func newP2SGateway(t testing.TB, cfg Config) *p2sGateway {
	t.Helper()
	checkLeaks(t)
	return startP2SGateway(t, cfg)
}

// startP2SGateway is newP2SGateway for a test that checks for leaked
// goroutines itself.
func startP2SGateway(t testing.TB, cfg Config) *p2sGateway {
	t.Helper()
	g := &p2sGateway{tr: &capture{}, dp: newFakeDataplane(), hooks: newHooks()}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t, "gw")
	}
	cfg.Transport, cfg.Dataplane = g.tr, g.dp
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.m = m
	t.Cleanup(func() { m.Close() })
	return g
}

// clientConns returns how many client connections the Manager has,
// half-open ones included.
func (g *p2sGateway) clientConns() int {
	g.m.mu.Lock()
	defer g.m.mu.Unlock()
	return len(g.m.clients)
}

// clientAddrs returns the addresses of the connected clients, in order.
func (g *p2sGateway) clientAddrs() []netip.Addr {
	var out []netip.Addr
	for _, s := range g.m.Clients() {
		out = append(out, s.Addr)
	}
	return out
}

// p2sClient is a point-to-site client written against the RFC, one
// exchange at a time, with the test's goroutine as its loop.
type p2sClient struct {
	t                 testing.TB
	gw                *p2sGateway
	addr              netip.AddrPort
	spiI, spiR        uint64
	ni, nr            []byte
	dh                *suite.PrivateKey
	s                 suite.Suite
	keys              suite.IKEKeys
	out, in           suite.Cipher
	initReq, initResp []byte
	nextID            uint32
	cookie            []byte // the gateway's COOKIE, sent back first
	// behind, when valid, is the client's own endpoint behind a NAT: its
	// IKE_SA_INIT request carries NAT detection of it (RFC 7296 §2.23).
	behind netip.AddrPort
}

// connectedClient returns a gateway that takes maxClients certificate
// clients, and a client of pki's connected to it at its pool's first
// address.
func connectedClient(t *testing.T, maxClients int) (p2sPKI, *p2sGateway, *p2sClient) {
	t.Helper()
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	if err := g.m.SetClients(pki.clients(g.hooks, p2sPool, maxClients)); err != nil {
		t.Fatal(err)
	}
	cl := newP2SClient(t, g, clientAt(1))
	if _, addr := cl.connect(pki.client); addr != poolAddr(1) {
		t.Fatalf("the first client got %v, want %v", addr, poolAddr(1))
	}
	return pki, g, cl
}

// clientIKE is what test clients propose for the IKE SA.
const clientIKE = "aes256gcm16-prfsha256-x25519"

func newP2SClient(t testing.TB, gw *p2sGateway, addr netip.AddrPort) *p2sClient {
	t.Helper()
	ni, dh, spiI := newIKEOffer(t)
	return &p2sClient{t: t, gw: gw, addr: addr, spiI: spiI, ni: ni, dh: dh}
}

// newIKEOffer returns what the initiator of a new IKE SA brings of its
// own: a nonce, a Curve25519 key and an SPI (random, odd, so never zero).
func newIKEOffer(t testing.TB) (ni []byte, dh *suite.PrivateKey, spi uint64) {
	t.Helper()
	ni, err := suite.NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	dh, err = suite.GenerateKey(wire.DHCurve25519)
	if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return ni, dh, binary.BigEndian.Uint64(b[:]) | 1
}

// initRequest returns the client's IKE_SA_INIT request, with the
// SIGNATURE_HASH_ALGORITHMS of RFC 7427 §4.
func (cl *p2sClient) initRequest() []byte {
	cl.t.Helper()
	msg := wire.Message{
		Header: wire.Header{SPIi: cl.spiI, MajorVersion: wire.MajorVersion, Exchange: wire.IKESAInit, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{
			&wire.Notify{NotifyType: wire.Cookie, Data: cl.cookie},
			saPayload(mustProposals(cl.t, wire.ProtocolIKE, clientIKE), nil, true),
			&wire.KE{Group: wire.DHCurve25519, Data: cl.dh.PublicKey()},
			&wire.Nonce{Data: cl.ni},
			&wire.Notify{NotifyType: wire.SignatureHashAlgorithms, Data: suite.AppendSignatureHashes(nil, suite.SignatureHashes())},
		},
	}
	if cl.cookie == nil {
		msg.Payloads = msg.Payloads[1:]
	}
	if cl.behind.IsValid() {
		msg.Payloads = append(msg.Payloads,
			&wire.Notify{NotifyType: wire.NATDetectionSourceIP, Data: natHash(cl.spiI, 0, cl.behind)},
			&wire.Notify{NotifyType: wire.NATDetectionDestinationIP, Data: natHash(cl.spiI, 0, p2sGW)})
	}
	b, err := msg.Append(nil)
	if err != nil {
		cl.t.Fatal(err)
	}
	return b
}

// init runs IKE_SA_INIT and derives the IKE SA's keys; it returns the
// payloads of the response.
func (cl *p2sClient) init() []wire.Payload {
	cl.t.Helper()
	seen := cl.sendInit()
	return cl.initDone(cl.await(wire.IKESAInit, 0, seen))
}

// sendInit sends the client's IKE_SA_INIT request and returns how many
// responses to it the gateway had sent before.
func (cl *p2sClient) sendInit() (seen int) {
	cl.t.Helper()
	cl.initReq = cl.initRequest()
	seen = len(cl.fromGW(wire.IKESAInit, 0, true))
	cl.gw.m.HandlePacket(p2sGW, cl.addr, cl.initReq)
	return seen
}

// initDone derives the IKE SA's keys from resp, the gateway's response to
// the client's IKE_SA_INIT request, and returns its payloads.
func (cl *p2sClient) initDone(resp []byte) []wire.Payload {
	cl.t.Helper()
	msg, err := wire.ParseMessage(resp)
	if err != nil {
		cl.t.Fatalf("IKE_SA_INIT response: %v", err)
	}
	saP, ok1 := find[*wire.SA](msg.Payloads)
	ke, ok2 := find[*wire.KE](msg.Payloads)
	nonce, ok3 := find[*wire.Nonce](msg.Payloads)
	if !ok1 || !ok2 || !ok3 {
		cl.t.Fatalf("IKE_SA_INIT answered with %v", msg.Payloads)
	}
	s, _, err := accepted(mustProposals(cl.t, wire.ProtocolIKE, clientIKE), saP, wire.ProtocolIKE, 0)
	if err != nil {
		cl.t.Fatal(err)
	}
	gir, err := cl.dh.SharedSecret(ke.Data)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.s, cl.spiR, cl.nr, cl.initResp = s, msg.Header.SPIr, bytes.Clone(nonce.Data), resp
	skeyseed, err := suite.SKEYSEED(s.PRF, cl.ni, cl.nr, gir)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.deriveKeys(skeyseed, cl.ni, cl.nr)
	cl.nextID = 1
	return msg.Payloads
}

// deriveKeys derives the keys of the client's IKE SA, of suite cl.s
// between cl.spiI and cl.spiR, from skeyseed and the nonces (RFC 7296
// §2.14).
func (cl *p2sClient) deriveKeys(skeyseed, ni, nr []byte) {
	cl.t.Helper()
	var err error
	if cl.keys, err = cl.s.IKEKeys(skeyseed, ni, nr, cl.spiI, cl.spiR); err != nil {
		cl.t.Fatal(err)
	}
	if cl.out, cl.in, err = cl.keys.Ciphers(cl.s, true); err != nil {
		cl.t.Fatal(err)
	}
}

// fromGW returns the gateway's datagrams of this client's IKE SA:
// responses or requests of exch with message ID id.
func (cl *p2sClient) fromGW(exch wire.ExchangeType, id uint32, response bool) [][]byte {
	var out [][]byte
	for _, d := range cl.gw.tr.to(cl.addr) {
		h, _, err := wire.ParseHeader(d.data)
		if err == nil && h.SPIi == cl.spiI && h.Exchange == exch && h.MessageID == id && (h.Flags&wire.FlagResponse != 0) == response {
			out = append(out, d.data)
		}
	}
	return out
}

// await waits for the gateway's response to request id of exch, beyond
// the first seen ones.
func (cl *p2sClient) await(exch wire.ExchangeType, id uint32, seen int) []byte {
	cl.t.Helper()
	// The answer comes within microseconds: poll fast at first (the
	// fuzzer runs this thousands of times), then back off.
	deadline := time.Now().Add(5 * time.Second)
	for d := 20 * time.Microsecond; ; d = min(2*d, 5*time.Millisecond) {
		if got := cl.fromGW(exch, id, true); len(got) > seen {
			return got[seen]
		}
		if time.Now().After(deadline) {
			cl.t.Fatalf("no response to %v request %d", exch, id)
		}
		time.Sleep(d)
	}
}

// sealRaw returns a request of exch with message ID id whose SK payload
// holds plain, a payload chain starting with first.
func (cl *p2sClient) sealRaw(exch wire.ExchangeType, id uint32, first wire.PayloadType, plain []byte) ([]byte, error) {
	return cl.sealFlags(exch, id, wire.FlagInitiator, first, plain)
}

// sealFlags is sealRaw with the header's flags given.
func (cl *p2sClient) sealFlags(exch wire.ExchangeType, id uint32, flags wire.Flags, first wire.PayloadType, plain []byte) ([]byte, error) {
	h := wire.Header{SPIi: cl.spiI, SPIr: cl.spiR, MajorVersion: wire.MajorVersion, Exchange: exch, MessageID: id, Flags: flags}
	b, err := wire.AppendEncryptedHeader(nil, h, first, cl.out.SealedLen(len(plain)))
	if err != nil {
		return nil, err
	}
	return cl.out.Seal(b, b, plain)
}

// seal returns a request of exch with message ID id holding ps.
func (cl *p2sClient) seal(exch wire.ExchangeType, id uint32, ps []wire.Payload) []byte {
	cl.t.Helper()
	return cl.sealPayloads(exch, id, wire.FlagInitiator, ps)
}

// respond returns the client's response to the gateway's request id of
// exch, holding ps.
func (cl *p2sClient) respond(exch wire.ExchangeType, id uint32, ps []wire.Payload) []byte {
	cl.t.Helper()
	return cl.sealPayloads(exch, id, wire.FlagInitiator|wire.FlagResponse, ps)
}

// sealPayloads returns a message of exch with message ID id and flags,
// holding ps.
func (cl *p2sClient) sealPayloads(exch wire.ExchangeType, id uint32, flags wire.Flags, ps []wire.Payload) []byte {
	cl.t.Helper()
	plain, err := wire.AppendPayloads(nil, ps)
	if err != nil {
		cl.t.Fatal(err)
	}
	first := wire.PayloadNone
	if len(ps) > 0 {
		first = ps[0].Type()
	}
	b, err := cl.sealFlags(exch, id, flags, first, plain)
	if err != nil {
		cl.t.Fatal(err)
	}
	return b
}

// open decrypts a message of the gateway and returns its payloads.
func (cl *p2sClient) open(b []byte) []wire.Payload {
	cl.t.Helper()
	msg, err := wire.ParseMessage(b)
	if err != nil || len(msg.Payloads) == 0 {
		cl.t.Fatalf("gateway's message: %v", err)
	}
	sk, ok := msg.Payloads[len(msg.Payloads)-1].(*wire.Encrypted)
	if !ok {
		cl.t.Fatalf("gateway's message unprotected: %v", msg.Payloads)
	}
	plain, err := cl.in.Open(nil, b[:len(b)-len(sk.Body)], sk.Body)
	if err != nil {
		cl.t.Fatalf("gateway's message does not open: %v", err)
	}
	ps, err := wire.ParsePayloads(sk.NextPayload, plain)
	if err != nil {
		cl.t.Fatal(err)
	}
	return ps
}

// request sends an encrypted request and returns its response.
func (cl *p2sClient) request(exch wire.ExchangeType, ps []wire.Payload) []wire.Payload {
	cl.t.Helper()
	id := cl.nextID
	cl.nextID++
	cl.gw.m.HandlePacket(p2sGW, cl.addr, cl.seal(exch, id, ps))
	return cl.open(cl.await(exch, id, 0))
}

// sign returns the AUTH payload of the client with identity idi, signed
// by key (RFC 7296 §2.15, RFC 7427).
func (cl *p2sClient) sign(key crypto.Signer, idi *wire.ID) (*wire.Auth, error) {
	signed, err := suite.SignedOctets(cl.s.PRF, cl.initReq, cl.nr, cl.keys.PI, idi.AppendBody(nil))
	if err != nil {
		return nil, err
	}
	method, data, err := suite.SignAuth(key, signed, suite.SignatureHashes())
	if err != nil {
		return nil, err
	}
	return &wire.Auth{Method: method, Data: data}, nil
}

// dnOf returns the ID_DER_ASN1_DN identity of a certificate's subject.
func dnOf(c *pkitest.Cert) Identity {
	return Identity{Type: wire.IDDERASN1DN, Data: c.RawSubject}
}

// authAs returns an IKE_AUTH request as a road warrior sends it: identity
// id, AUTH signed by key, certs in CERT payloads, a CFG_REQUEST for an
// address and the subnets, and a child SA for any traffic.
func (cl *p2sClient) authAs(id Identity, key crypto.Signer, certs ...*pkitest.Cert) []wire.Payload {
	cl.t.Helper()
	idi := id.payload(false)
	ps := []wire.Payload{idi}
	for _, c := range certs {
		ps = append(ps, &wire.Cert{Encoding: wire.CertX509Signature, Data: c.Raw})
	}
	auth, err := cl.sign(key, idi)
	if err != nil {
		cl.t.Fatal(err)
	}
	any4 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	var spi [4]byte
	_, _ = rand.Read(spi[:])
	spi[0] |= 0x10
	return append(ps, auth, &wire.Notify{NotifyType: wire.InitialContact},
		&wire.CP{CFGType: wire.CFGRequest, Attributes: []wire.CPAttribute{{Type: wire.InternalIP4Address}, {Type: wire.InternalIP4Subnet}}},
		saPayload(mustProposals(cl.t, wire.ProtocolESP, "aes256gcm16"), spi[:], false),
		tsPayload(false, any4), tsPayload(true, any4))
}

// auth is authAs with the certificate's subject and key.
func (cl *p2sClient) auth(cert *pkitest.Cert, chain ...*pkitest.Cert) []wire.Payload {
	cl.t.Helper()
	return cl.authAs(dnOf(cert), cert.Key, append([]*pkitest.Cert{cert}, chain...)...)
}

// connect runs IKE_SA_INIT and IKE_AUTH with cert; it returns the IKE_AUTH
// response and the address it gives, invalid if none.
func (cl *p2sClient) connect(cert *pkitest.Cert, chain ...*pkitest.Cert) ([]wire.Payload, netip.Addr) {
	cl.t.Helper()
	cl.init()
	ps := cl.request(wire.IKEAuth, cl.auth(cert, chain...))
	return ps, cpAddr(ps)
}

// cpAddr returns the INTERNAL_IP4_ADDRESS of a CFG_REPLY in ps.
func cpAddr(ps []wire.Payload) netip.Addr {
	cp, ok := find[*wire.CP](ps)
	if !ok || cp.CFGType != wire.CFGReply {
		return netip.Addr{}
	}
	for _, a := range cp.Attributes {
		if a.Type == wire.InternalIP4Address && len(a.Value) == 4 {
			return netip.AddrFrom4([4]byte(a.Value))
		}
	}
	return netip.Addr{}
}

// deletedByGW reports whether the gateway sent a Delete of this client's
// IKE SA.
func (cl *p2sClient) deletedByGW() bool {
	cl.t.Helper()
	for _, d := range cl.gw.tr.to(cl.addr) {
		h, _, err := wire.ParseHeader(d.data)
		if err != nil || h.SPIi != cl.spiI || h.Exchange != wire.Informational || h.Flags&wire.FlagResponse != 0 {
			continue
		}
		for _, p := range cl.open(d.data) {
			if del, ok := p.(*wire.Delete); ok && del.Protocol == wire.ProtocolIKE {
				return true
			}
		}
	}
	return false
}

// selfSigned returns a self-signed certificate made from tmpl.
func selfSigned(t testing.TB, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(1)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCertNames covers RFC 7296 §3.5: a client's identity must be one its
// certificate vouches for, its subject or a subject alternative name of
// the identity's type.
func TestCertNames(t *testing.T) {
	cert := selfSigned(t, &x509.Certificate{
		Subject:        pkix.Name{CommonName: "alice", Organization: []string{"Contoso"}},
		DNSNames:       []string{"alice.vpn.example.com"},
		EmailAddresses: []string{"Alice@Example.com"},
		IPAddresses:    []net.IP{net.ParseIP("192.0.2.55").To4(), net.ParseIP("2001:db8::55")},
	})
	other := selfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "mallory", Organization: []string{"Contoso"}}})
	ip := func(s string) []byte { return netip.MustParseAddr(s).AsSlice() }
	for _, tc := range []struct {
		name string
		id   Identity
		want bool
	}{
		{"DN equal to the subject", Identity{Type: wire.IDDERASN1DN, Data: cert.RawSubject}, true},
		{"DN of another subject", Identity{Type: wire.IDDERASN1DN, Data: other.RawSubject}, false},
		{"DN truncated", Identity{Type: wire.IDDERASN1DN, Data: cert.RawSubject[:len(cert.RawSubject)-1]}, false},
		{"FQDN of a DNS SAN", FQDNIdentity("alice.vpn.example.com"), true},
		{"FQDN in another case", FQDNIdentity("ALICE.Vpn.Example.COM"), true},
		{"FQDN not in the SANs", FQDNIdentity("bob.vpn.example.com"), false},
		{"FQDN of the common name only", FQDNIdentity("alice"), false},
		{"email of an email SAN, other case", Identity{Type: wire.IDRFC822Addr, Data: []byte("alice@EXAMPLE.com")}, true},
		{"email not in the SANs", Identity{Type: wire.IDRFC822Addr, Data: []byte("bob@example.com")}, false},
		{"email SAN sent as an FQDN", FQDNIdentity("Alice@Example.com"), false},
		{"IPv4 of an IP SAN", Identity{Type: wire.IDIPv4Addr, Data: ip("192.0.2.55")}, true},
		{"IPv4 not in the SANs", Identity{Type: wire.IDIPv4Addr, Data: ip("192.0.2.56")}, false},
		{"IPv4 of 3 octets", Identity{Type: wire.IDIPv4Addr, Data: ip("192.0.2.55")[:3]}, false},
		{"IPv6 of an IP SAN", Identity{Type: wire.IDIPv6Addr, Data: ip("2001:db8::55")}, true},
		{"key ID", Identity{Type: wire.IDKeyID, Data: []byte("alice")}, false},
		{"unknown type", Identity{Type: 200, Data: cert.RawSubject}, false},
		{"no type", Identity{Data: cert.RawSubject}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := certNames(cert, tc.id); got != tc.want {
				t.Errorf("certNames(%v) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

// TestVerifyChain covers the check of a client's certificate: it must
// chain to an uploaded root, through intermediates it sends, and not be
// revoked (R12).
func TestVerifyChain(t *testing.T) {
	root := pkitest.Issue(t, "root", true, nil)
	otherRoot := pkitest.Issue(t, "other root", true, nil)
	inter := pkitest.Issue(t, "intermediate", true, root)
	leaf := pkitest.Issue(t, "client", false, root)
	leafOfInter := pkitest.Issue(t, "client of intermediate", false, inter)
	leafOfOther := pkitest.Issue(t, "stranger", false, otherRoot)
	revoked := pkitest.Issue(t, "revoked client", false, root)
	sum := sha1.Sum(revoked.Raw)
	st := &clientState{cfg: &Clients{
		Roots: []*x509.Certificate{root.Certificate},
		// Azure shows thumbprints in upper case, sometimes with spaces
		// around.
		Revoked: []string{" " + strings.ToUpper(hex.EncodeToString(sum[:])) + " ", strings.Repeat("AB", sha1.Size)},
	}}
	certs := func(cs ...*pkitest.Cert) []wire.Payload {
		var ps []wire.Payload
		for _, c := range cs {
			ps = append(ps, &wire.Cert{Encoding: wire.CertX509Signature, Data: c.Raw})
		}
		return ps
	}
	// Unrelated CA certificates to fill CERT payloads with.
	var filler []*pkitest.Cert
	for i := range maxClientCerts {
		filler = append(filler, pkitest.Issue(t, fmt.Sprintf("filler %d", i), true, nil))
	}
	garbage := &wire.Cert{Encoding: wire.CertX509Signature, Data: []byte("not DER")}
	for _, tc := range []struct {
		name string
		ps   []wire.Payload
		at   time.Time
		want *pkitest.Cert // nil: refused
		err  string
	}{
		{name: "certificate of the root", ps: certs(leaf), want: leaf},
		{name: "other payloads around it", ps: append([]wire.Payload{&wire.Nonce{Data: []byte{1}}, &wire.Cert{Encoding: wire.CertX509CRL, Data: []byte{1}}},
			certs(leaf)...), want: leaf},
		{name: "certificate of another root", ps: certs(leafOfOther), err: "does not chain"},
		{name: "the root itself as intermediate of a stranger", ps: certs(leafOfOther, root), err: "does not chain"},
		{name: "revoked", ps: certs(revoked), err: "is revoked"},
		{name: "intermediate sent", ps: certs(leafOfInter, inter), want: leafOfInter},
		{name: "intermediate not sent", ps: certs(leafOfInter), err: "does not chain"},
		{name: "expired", ps: certs(leaf), at: time.Now().Add(2 * time.Hour), err: "does not chain"},
		{name: "no CERT payload", ps: []wire.Payload{&wire.Nonce{Data: []byte{1}}}, err: "none sent"},
		{name: "only a CRL", ps: []wire.Payload{&wire.Cert{Encoding: wire.CertX509CRL, Data: leaf.Raw}}, err: "none sent"},
		{name: "not DER", ps: []wire.Payload{garbage}, err: "CERT payload"},
		{name: "garbage after the bound is not looked at",
			ps: append(append(certs(leafOfInter, inter), certs(filler[:maxClientCerts-2]...)...), slices.Repeat([]wire.Payload{garbage}, 1000)...), want: leafOfInter},
		{name: "an intermediate after the bound is not looked at",
			ps: append(certs(leafOfInter), append(certs(filler[:maxClientCerts-1]...), certs(inter)...)...), err: "does not chain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.at
			if at.IsZero() {
				at = time.Now()
			}
			got, err := st.verifyChain(tc.ps, at)
			switch {
			case tc.want != nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != nil && !got[0].Equal(tc.want.Certificate):
				t.Fatalf("returned %s, want %s", got[0].Subject, tc.want.Subject)
			case tc.want == nil && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one about %q", err, tc.err)
			}
		})
	}
}

// TestClientCPReply covers the CFG_REPLY of RFC 7296 §3.15: the client's
// address always, the IPv4 routes as INTERNAL_IP4_SUBNET (address and
// mask) only when the client asked for subnets or the supported attributes,
// and, asked for those, the list of the attributes it answers.
func TestClientCPReply(t *testing.T) {
	addr := netip.MustParseAddr("10.9.0.3")
	routes := []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("172.16.5.77/24"), // host bits set
		netip.MustParsePrefix("192.0.2.9/32"),
		netip.MustParsePrefix("0.0.0.0/0"),
	}
	addrAttr := wire.CPAttribute{Type: wire.InternalIP4Address, Value: []byte{10, 9, 0, 3}}
	subnets := []wire.CPAttribute{
		{Type: wire.InternalIP4Subnet, Value: []byte{10, 1, 0, 0, 255, 255, 0, 0}},
		{Type: wire.InternalIP4Subnet, Value: []byte{172, 16, 5, 0, 255, 255, 255, 0}},
		{Type: wire.InternalIP4Subnet, Value: []byte{192, 0, 2, 9, 255, 255, 255, 255}},
		{Type: wire.InternalIP4Subnet, Value: []byte{0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tc := range []struct {
		name  string
		asked []wire.CPAttributeType
		want  []wire.CPAttribute
	}{
		{"address asked", []wire.CPAttributeType{wire.InternalIP4Address}, []wire.CPAttribute{addrAttr}},
		{"nothing asked", nil, []wire.CPAttribute{addrAttr}},
		{"DNS asked", []wire.CPAttributeType{wire.InternalIP4Address, wire.InternalIP4DNS}, []wire.CPAttribute{addrAttr,
			{Type: wire.InternalIP4DNS, Value: []byte{10, 1, 0, 53}}, {Type: wire.InternalIP4DNS, Value: []byte{10, 1, 0, 54}}}},
		{"subnets asked", []wire.CPAttributeType{wire.InternalIP4Address, wire.InternalIP4Subnet}, append([]wire.CPAttribute{addrAttr}, subnets...)},
		{"supported attributes asked", []wire.CPAttributeType{wire.SupportedAttributes}, append(append([]wire.CPAttribute{addrAttr}, subnets...),
			wire.CPAttribute{Type: wire.SupportedAttributes, Value: []byte{0, 1, 0, 3, 0, 13}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &wire.CP{CFGType: wire.CFGRequest}
			for _, a := range tc.asked {
				req.Attributes = append(req.Attributes, wire.CPAttribute{Type: a})
			}
			got := clientCPReply(req, addr, routes, []netip.Addr{netip.MustParseAddr("10.1.0.53"), netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("10.1.0.54")})
			if got.CFGType != wire.CFGReply {
				t.Errorf("CFG type %v, want CFG_REPLY", got.CFGType)
			}
			if !slices.EqualFunc(got.Attributes, tc.want, func(a, b wire.CPAttribute) bool { return a.Type == b.Type && bytes.Equal(a.Value, b.Value) }) {
				t.Errorf("attributes %v, want %v", got.Attributes, tc.want)
			}
			if _, err := got.Append(nil); err != nil {
				t.Errorf("the reply does not encode: %v", err)
			}
		})
	}
}

// TestClientsValidate covers the checks of a client configuration.
func TestClientsValidate(t *testing.T) {
	pki := newPKI(t)
	good := func() *Clients { return pki.clients(newHooks(), p2sPool, 10) }
	if err := good().validate(); err != nil {
		t.Fatalf("a valid configuration refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		adj  func(*Clients)
		want string // "" for valid
	}{
		{"no gateway certificate", func(c *Clients) { c.Cert.Certificate = nil }, "no gateway certificate"},
		{"no gateway key", func(c *Clients) { c.Cert.PrivateKey = nil }, "cannot sign"},
		{"no roots", func(c *Clients) { c.Roots = nil }, "no root"},
		{"no pool", func(c *Clients) { c.Pool = netip.Prefix{} }, "client pool"},
		{"IPv6 pool", func(c *Clients) { c.Pool = netip.MustParsePrefix("fd00:9::/64") }, "client pool"},
		{"/31 pool", func(c *Clients) { c.Pool = netip.MustParsePrefix("10.9.0.0/31") }, "client pool"},
		{"/32 pool", func(c *Clients) { c.Pool = netip.MustParsePrefix("10.9.0.1/32") }, "client pool"},
		{"/30 pool", func(c *Clients) { c.Pool = netip.MustParsePrefix("10.9.0.0/30") }, ""},
		{"no routes", func(c *Clients) { c.Routes = nil }, "routes"},
		{"more routes than a child SA takes", func(c *Clients) {
			c.Routes = nil
			for i := range maxSelectors + 1 {
				c.Routes = append(c.Routes, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
			}
		}, ""},
		{"no clients allowed", func(c *Clients) { c.MaxClients = 0 }, "no clients"},
		{"negative clients", func(c *Clients) { c.MaxClients = -1 }, "no clients"},
		{"no Attach", func(c *Clients) { c.Attach = nil }, "hooks"},
		{"no Detach", func(c *Clients) { c.Detach = nil }, "hooks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.adj(c)
			err := c.validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("validate = %v, want an error about %q", err, tc.want)
			}
		})
	}
	// SetClients refuses what validate refuses and keeps serving as before.
	g := newP2SGateway(t, Config{})
	if err := g.m.SetClients(good()); err != nil {
		t.Fatal(err)
	}
	bad := good()
	bad.MaxClients = 0
	if err := g.m.SetClients(bad); err == nil {
		t.Fatal("SetClients took a configuration without clients")
	}
	if _, addr := newP2SClient(t, g, clientAt(1)).connect(pki.client); addr != poolAddr(1) {
		t.Errorf("after a refused SetClients the client got %v, want %v", addr, poolAddr(1))
	}
}

// TestClientInitCertReq covers RFC 7296 §3.7 and RFC 7427 §4: the
// IKE_SA_INIT response to a client names the roots its certificate must
// chain to in a CERTREQ and the hashes the gateway verifies signatures
// with.
func TestClientInitCertReq(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	// Two roots: the CERTREQ names both.
	root2 := pkitest.Issue(t, "second root", true, nil)
	cfg := pki.clients(g.hooks, p2sPool, 10)
	cfg.Roots = append(cfg.Roots, root2.Certificate)
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	ps := newP2SClient(t, g, clientAt(1)).init()
	cr, ok := find[*wire.CertReq](ps)
	if !ok {
		t.Fatalf("no CERTREQ in %v", ps)
	}
	if want := suite.CertReqData(cfg.Roots); cr.Encoding != wire.CertX509Signature || !bytes.Equal(cr.Data, want) || len(want) != 2*sha1.Size {
		t.Errorf("CERTREQ %v %x, want X509_SIGNATURE %x", cr.Encoding, cr.Data, want)
	}
	n := notify(ps, wire.SignatureHashAlgorithms)
	if n == nil {
		t.Fatalf("no SIGNATURE_HASH_ALGORITHMS in %v", ps)
	}
	if hs, err := suite.ParseSignatureHashes(n.Data); err != nil || !slices.Equal(hs, suite.SignatureHashes()) {
		t.Errorf("SIGNATURE_HASH_ALGORITHMS %v (%v), want %v", hs, err, suite.SignatureHashes())
	}

	// A site-to-site peer of the same gateway is answered by the site's
	// connection, not as a new client, though with the CERTREQ: a client
	// may share the site's address (TestClientAtSiteAddress).
	peerAddr := netip.MustParseAddrPort("203.0.113.9:500")
	p := basePeer("site", p2sGW.Addr(), peerAddr.Addr())
	p.Mode = ModeResponderOnly
	if err := g.m.Reconfig([]PeerConfig{p}); err != nil {
		t.Fatal(err)
	}
	site := newP2SClient(t, g, peerAddr)
	site.gw.m.HandlePacket(p2sGW, peerAddr, site.initRequest())
	resp, err := wire.ParseMessage(site.await(wire.IKESAInit, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := find[*wire.CertReq](resp.Payloads); !ok {
		t.Error("a configured peer's IKE_SA_INIT response lacks the CERTREQ while clients are served")
	}
	if g.clientConns() != 1 {
		t.Errorf("%d client connections, want 1", g.clientConns())
	}
}

// TestClientInitWithoutClients: a gateway that serves no clients drops an
// IKE_SA_INIT request from an address no peer has, and counts it.
func TestClientInitWithoutClients(t *testing.T) {
	g := newP2SGateway(t, Config{})
	cl := newP2SClient(t, g, clientAt(1))
	before := g.m.Stats().NoPeer
	g.m.HandlePacket(p2sGW, cl.addr, cl.initRequest())
	if got := g.m.Stats().NoPeer; got != before+1 {
		t.Errorf("NoPeer %d, want %d", got, before+1)
	}
	if n := len(g.tr.to(cl.addr)); n != 0 || g.clientConns() != 0 {
		t.Errorf("%d datagrams answered, %d client connections", n, g.clientConns())
	}
}

// TestClientConnect covers a client's IKE_AUTH (RFC 7296 §1.2, §2.15,
// §2.19): the gateway proves itself with its certificate, gives an
// address of the pool with the routes as subnets, narrows the child SA to
// that address, attaches the client to the data path and lists it; the
// client's Delete ends it all.
func TestClientConnect(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	cl := newP2SClient(t, g, clientAt(1))
	ps, addr := cl.connect(pki.client)
	if n := errorNotify(ps); n != nil {
		t.Fatalf("IKE_AUTH refused: %v", n.NotifyType)
	}
	if addr != poolAddr(1) {
		t.Errorf("address %v, want %v", addr, poolAddr(1))
	}
	// The gateway's AUTH verifies with its certificate, which it sends.
	idr, ok1 := find[*wire.ID](ps)
	auth, ok2 := find[*wire.Auth](ps)
	cert, ok3 := find[*wire.Cert](ps)
	if !ok1 || !ok2 || !ok3 || !idr.Responder {
		t.Fatalf("response %v", ps)
	}
	if !bytes.Equal(cert.Data, pki.gw.Raw) {
		t.Error("the gateway sent another certificate than its own")
	}
	signed, err := suite.SignedOctets(cl.s.PRF, cl.initResp, cl.ni, cl.keys.PR, idr.AppendBody(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.VerifyAuth(pki.gw.PublicKey, auth.Method, auth.Data, signed); err != nil {
		t.Errorf("the gateway's AUTH does not verify: %v", err)
	}
	cp, _ := find[*wire.CP](ps)
	if !slices.ContainsFunc(cp.Attributes, func(a wire.CPAttribute) bool {
		return a.Type == wire.InternalIP4Subnet && bytes.Equal(a.Value, []byte{10, 1, 0, 0, 255, 255, 0, 0})
	}) {
		t.Errorf("no INTERNAL_IP4_SUBNET for the route in %v", cp.Attributes)
	}
	// The child SA carries the client's address alone.
	tsi, tsr := findTS(ps)
	if tsi == nil || tsr == nil {
		t.Fatalf("no child SA: %v", ps)
	}
	children := g.dp.list()
	name := ""
	if len(children) == 1 {
		name = children[0].Tunnel
	}
	if len(children) != 1 || !strings.HasPrefix(name, "p2s-ikev2/") || !strings.HasSuffix(name, "/"+cl.addr.String()) || !slices.Equal(children[0].RemoteTS, []netip.Prefix{netip.PrefixFrom(addr, 32)}) ||
		!slices.Equal(children[0].LocalTS, p2sRoutes) {
		t.Errorf("children %+v, want one of %s for %v/32 to %v", children, name, addr, p2sRoutes)
	}
	attached, _ := g.hooks.state()
	if attached[name] != addr || len(attached) != 1 {
		t.Errorf("attached %v, want %s at %v", attached, name, addr)
	}
	st := g.m.Clients()
	if len(st) != 1 || st[0].Name != name || st[0].Addr != addr || st[0].Remote != cl.addr || st[0].Subject != "client1" || st[0].Since.IsZero() {
		t.Errorf("Clients() = %+v", st)
	}
	if len(g.m.Status()) != 0 {
		t.Errorf("a client is listed among the peers: %+v", g.m.Status())
	}

	// The client leaves.
	if ps := cl.request(wire.Informational, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}}); len(ps) != 0 {
		t.Errorf("Delete answered with %v", ps)
	}
	waitFor(t, 5*time.Second, "the client to be gone", func() bool {
		attached, detached := g.hooks.state()
		return len(g.m.Clients()) == 0 && g.clientConns() == 0 && len(attached) == 0 && slices.Equal(detached, []string{name})
	})
	if g.dp.count() != 0 {
		t.Errorf("%d child SAs left in the data path", g.dp.count())
	}
	if g.m.DisconnectClient(addr) {
		t.Error("DisconnectClient found a client that left")
	}
}

// TestClientAddresses covers the pool: addresses go lowest first, never
// the pool's first and last, to one client each; a full pool answers
// INTERNAL_ADDRESS_FAILURE (RFC 7296 §3.15.4); the address of a client
// that leaves or is disconnected goes to the next one.
func TestClientAddresses(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	if err := g.m.SetClients(pki.clients(g.hooks, p2sPool, 100)); err != nil {
		t.Fatal(err)
	}
	clients := map[netip.Addr]*p2sClient{}
	for i := 1; i <= 6; i++ {
		cl := newP2SClient(t, g, clientAt(i))
		cert := pkitest.Issue(t, fmt.Sprintf("client%d", i), false, pki.root)
		ps, addr := cl.connect(cert)
		if addr != poolAddr(i) {
			t.Fatalf("client %d got %v (%v), want %v", i, addr, ps, poolAddr(i))
		}
		clients[addr] = cl
	}
	want := []netip.Addr{poolAddr(1), poolAddr(2), poolAddr(3), poolAddr(4), poolAddr(5), poolAddr(6)}
	if got := g.clientAddrs(); !slices.Equal(got, want) {
		t.Fatalf("clients at %v, want %v", got, want)
	}

	// The pool is used up: .0 and .7 are not given out.
	late := newP2SClient(t, g, clientAt(7))
	ps, addr := late.connect(pki.client)
	if addr.IsValid() || notify(ps, wire.InternalAddressFailure) == nil {
		t.Fatalf("a client beyond the pool got %v: %v", addr, ps)
	}
	if attached, _ := g.hooks.state(); len(attached) != 6 {
		t.Errorf("%d clients attached, want 6", len(attached))
	}

	// The client at .2 leaves; the next client gets .2.
	clients[poolAddr(2)].request(wire.Informational, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}})
	waitFor(t, 5*time.Second, "the client at .2 to be gone", func() bool { return len(g.m.Clients()) == 5 })
	if _, addr := newP2SClient(t, g, clientAt(8)).connect(pkitest.Issue(t, "client8", false, pki.root)); addr != poolAddr(2) {
		t.Errorf("the client after .2 left got %v, want %v", addr, poolAddr(2))
	}

	// The client at .4 is disconnected: it is told, and .4 is free.
	if !g.m.DisconnectClient(poolAddr(4)) {
		t.Fatal("DisconnectClient found no client at .4")
	}
	if !clients[poolAddr(4)].deletedByGW() {
		t.Error("the disconnected client got no Delete")
	}
	if got := g.clientAddrs(); slices.Contains(got, poolAddr(4)) || len(got) != 5 {
		t.Errorf("clients at %v after disconnecting .4", got)
	}
	if _, addr := newP2SClient(t, g, clientAt(9)).connect(pkitest.Issue(t, "client9", false, pki.root)); addr != poolAddr(4) {
		t.Errorf("the client after .4 was disconnected got %v, want %v", addr, poolAddr(4))
	}
	if g.m.DisconnectClient(poolAddr(7)) || g.m.DisconnectClient(netip.MustParseAddr("192.0.2.99")) {
		t.Error("DisconnectClient found a client at an address nobody has")
	}

	// Close detaches everyone.
	g.m.Close()
	if attached, detached := g.hooks.state(); len(attached) != 0 || len(detached) != 8 {
		t.Errorf("after Close: attached %v, %d detached, want none and 8", attached, len(detached))
	}
}

// TestClientMaxClients: MaxClients bounds the connected clients (R11, R32)
// even when the pool has room.
func TestClientMaxClients(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	if err := g.m.SetClients(pki.clients(g.hooks, netip.MustParsePrefix("10.9.0.0/24"), 2)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if _, addr := newP2SClient(t, g, clientAt(i)).connect(pkitest.Issue(t, fmt.Sprintf("client%d", i), false, pki.root)); !addr.IsValid() {
			t.Fatalf("client %d got no address", i)
		}
	}
	ps, addr := newP2SClient(t, g, clientAt(3)).connect(pki.client)
	if addr.IsValid() || notify(ps, wire.InternalAddressFailure) == nil {
		t.Errorf("a third client of two allowed got %v: %v", addr, ps)
	}
	if n := len(g.m.Clients()); n != 2 {
		t.Errorf("%d clients connected, want 2", n)
	}
}

// TestClientSeatsSharedWithOpenVPN: the SKU's IKEv2/OpenVPN limit is one
// figure for both protocols (R32): with a limit of 2 and an OpenVPN
// client holding a seat of the count both share, one IKEv2 client gets an
// address and the next INTERNAL_ADDRESS_FAILURE; once the first is
// disconnected, its seat is free again. Each protocol was admitted up to
// the limit, twice it in all.
func TestClientSeatsSharedWithOpenVPN(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	var seats seat.Count
	if _, ok := seats.Take(2, 0); !ok { // an OpenVPN client's
		t.Fatal("no seat for the OpenVPN client")
	}
	cfg := pki.clients(g.hooks, netip.MustParsePrefix("10.9.0.0/24"), 2)
	cfg.Seats = &seats
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	_, first := newP2SClient(t, g, clientAt(1)).connect(pkitest.Issue(t, "client1", false, pki.root))
	if !first.IsValid() {
		t.Fatal("the first IKEv2 client got no address")
	}
	ps, addr := newP2SClient(t, g, clientAt(2)).connect(pkitest.Issue(t, "client2", false, pki.root))
	if addr.IsValid() || notify(ps, wire.InternalAddressFailure) == nil {
		t.Fatalf("an IKEv2 client past the limit shared with OpenVPN got %v: %v", addr, ps)
	}
	if !g.m.DisconnectClient(first) {
		t.Fatal("the first client was not connected")
	}
	if n := seats.Taken(); n != 1 {
		t.Fatalf("%d seats taken after the IKEv2 client left, want the OpenVPN client's", n)
	}
	if _, addr := newP2SClient(t, g, clientAt(3)).connect(pkitest.Issue(t, "client3", false, pki.root)); !addr.IsValid() {
		t.Error("an IKEv2 client got no address in the seat given back")
	}
}

// TestClientNoAddressSaysWhy: a client given no address
// (INTERNAL_ADDRESS_FAILURE) is logged with the reason, the gateway's
// limit of clients or the pool used up, which are not the same to the
// administrator who reads it.
func TestClientNoAddressSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pool       netip.Prefix
		maxClients int
		why        string
	}{
		{"limit reached, pool free", netip.MustParsePrefix("10.9.0.0/24"), 1, "limit of 1 point-to-site clients is reached"},
		{"pool used up", netip.MustParsePrefix("10.9.0.0/30"), 10, "no free address in the pool 10.9.0.0/30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pki := newPKI(t)
			var log logbuf.Buffer
			g := newP2SGateway(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err := g.m.SetClients(pki.clients(g.hooks, tc.pool, tc.maxClients)); err != nil {
				t.Fatal(err)
			}
			for i := 1; ; i++ {
				ps, addr := newP2SClient(t, g, clientAt(i)).connect(pkitest.Issue(t, fmt.Sprintf("client%d", i), false, pki.root))
				if addr.IsValid() {
					if i > 2 {
						t.Fatalf("client %d got %v", i, addr)
					}
					continue
				}
				if i == 1 || notify(ps, wire.InternalAddressFailure) == nil {
					t.Fatalf("client %d refused with %v", i, ps)
				}
				break
			}
			waitFor(t, 5*time.Second, "the refusal to be logged", func() bool { return strings.Contains(log.String(), "given no address") })
			for line := range strings.Lines(log.String()) {
				if strings.Contains(line, "given no address") && !strings.Contains(line, tc.why) {
					t.Errorf("the refusal is logged without %q: %s", tc.why, line)
				}
			}
		})
	}
}

// TestClientRefused covers the failures of a client's IKE_AUTH: each is
// answered with its notification (RFC 7296 §2.21.2, §3.10.1), takes no
// address, attaches nothing and ends the client's connection.
func TestClientRefused(t *testing.T) {
	pki := newPKI(t)
	revoked := pkitest.Issue(t, "revoked", false, pki.root)
	stranger := pkitest.Issue(t, "stranger", false, pkitest.Issue(t, "other root", true, nil))
	sum := sha1.Sum(revoked.Raw)
	g := newP2SGateway(t, Config{})
	cfg := pki.clients(g.hooks, p2sPool, 10)
	cfg.Revoked = []string{strings.ToUpper(hex.EncodeToString(sum[:]))}
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	without := func(ps []wire.Payload, pt wire.PayloadType) []wire.Payload {
		return slices.DeleteFunc(ps, func(p wire.Payload) bool { return p.Type() == pt })
	}
	for i, tc := range []struct {
		name string
		req  func(cl *p2sClient) []wire.Payload
		want wire.NotifyType
	}{
		{"revoked certificate", func(cl *p2sClient) []wire.Payload { return cl.auth(revoked) }, wire.AuthenticationFailed},
		{"certificate of another root", func(cl *p2sClient) []wire.Payload { return cl.auth(stranger) }, wire.AuthenticationFailed},
		{"no certificate", func(cl *p2sClient) []wire.Payload { return without(cl.auth(pki.client), wire.PayloadCERT) }, wire.AuthenticationFailed},
		{"identity not the certificate's", func(cl *p2sClient) []wire.Payload {
			return cl.authAs(FQDNIdentity("someone.else"), pki.client.Key, pki.client)
		}, wire.AuthenticationFailed},
		{"identity of the certificate, AUTH of another key", func(cl *p2sClient) []wire.Payload {
			return cl.authAs(dnOf(pki.client), otherKey, pki.client)
		}, wire.AuthenticationFailed},
		{"no IDi", func(cl *p2sClient) []wire.Payload { return without(cl.auth(pki.client), wire.PayloadIDi) }, wire.InvalidSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newP2SClient(t, g, clientAt(10+i))
			cl.init()
			ps := cl.request(wire.IKEAuth, tc.req(cl))
			if a := cpAddr(ps); notify(ps, tc.want) == nil || a.IsValid() {
				g.m.DisconnectClient(a) // not to hold up the next cases
				t.Fatalf("answered %v, want %v and no address", ps, tc.want)
			}
			waitFor(t, 5*time.Second, "the client's connection to end", func() bool { return g.clientConns() == 0 })
			if attached, _ := g.hooks.state(); len(attached) != 0 {
				t.Errorf("attached %v", attached)
			}
		})
	}
	// Nothing was consumed: the next client gets the first address.
	if _, addr := newP2SClient(t, g, clientAt(1)).connect(pki.client); addr != poolAddr(1) {
		t.Errorf("after the refusals a client got %v, want %v", addr, poolAddr(1))
	}
}

// TestClientAttachFails: a client the data path cannot take is answered
// TEMPORARY_FAILURE and its address goes back to the pool.
func TestClientAttachFails(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	g.hooks.mu.Lock()
	g.hooks.attachErr = errors.New("no room")
	g.hooks.mu.Unlock()
	ps, addr := newP2SClient(t, g, clientAt(1)).connect(pki.client)
	if notify(ps, wire.TemporaryFailure) == nil || addr.IsValid() {
		t.Fatalf("answered %v", ps)
	}
	waitFor(t, 5*time.Second, "the client's connection to end", func() bool { return g.clientConns() == 0 })
	if g.dp.count() != 0 {
		t.Errorf("%d child SAs installed for a client that was not attached", g.dp.count())
	}
	g.hooks.mu.Lock()
	g.hooks.attachErr = nil
	g.hooks.mu.Unlock()
	if _, addr := newP2SClient(t, g, clientAt(2)).connect(pki.client); addr != poolAddr(1) {
		t.Errorf("the next client got %v, want %v", addr, poolAddr(1))
	}
}

// TestSetClientsRoutes: a new configuration that changes only the routes
// keeps the connected clients; the clients that connect next get the new
// routes.
func TestSetClientsRoutes(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	cfg := pki.clients(g.hooks, p2sPool, 10)
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	first := newP2SClient(t, g, clientAt(1))
	if _, addr := first.connect(pki.client); addr != poolAddr(1) {
		t.Fatalf("got %v", addr)
	}
	// A configuration equal but for the routes, rebuilt as reconcile
	// does: other slices, the same certificates.
	next := pki.clients(g.hooks, p2sPool, 10)
	next.Routes = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/16")}
	if !next.sameClients(cfg) {
		t.Fatal("sameClients: a change of routes alone is a change of clients")
	}
	if err := g.m.SetClients(next); err != nil {
		t.Fatal(err)
	}
	if got := g.clientAddrs(); !slices.Equal(got, []netip.Addr{poolAddr(1)}) {
		t.Errorf("clients at %v after a change of routes", got)
	}
	if _, detached := g.hooks.state(); len(detached) != 0 || first.deletedByGW() {
		t.Errorf("a client was disconnected for a change of routes: detached %v", detached)
	}
	ps, addr := newP2SClient(t, g, clientAt(2)).connect(pkitest.Issue(t, "bob", false, pki.root))
	if addr != poolAddr(2) {
		t.Fatalf("the next client got %v", addr)
	}
	cp, _ := find[*wire.CP](ps)
	var subnets int
	for _, a := range cp.Attributes {
		if a.Type == wire.InternalIP4Subnet {
			subnets++
		}
	}
	if subnets != 2 {
		t.Errorf("the next client got %d subnets, want the 2 new routes: %v", subnets, cp.Attributes)
	}
	// The first client is still served: its IKE SA answers.
	if ps := first.request(wire.Informational, nil); len(ps) != 0 {
		t.Errorf("the kept client's INFORMATIONAL answered %v", ps)
	}
	// It connects again from the same endpoint (a new IKE SA, as
	// reauthentication makes one), where its kept connection is: it is a
	// next one, and gets the new routes too, in its configuration and its
	// child SA.
	again := newP2SClient(t, g, clientAt(1))
	ps, addr = again.connect(pki.client)
	if addr != poolAddr(1) {
		t.Fatalf("the client connecting again got %v", addr)
	}
	cp, _ = find[*wire.CP](ps)
	subnets = 0
	for _, a := range cp.Attributes {
		if a.Type == wire.InternalIP4Subnet {
			subnets++
		}
	}
	if _, tsr := findTS(ps); subnets != 2 || tsr == nil || len(tsr.Selectors) != 2 {
		t.Errorf("the client connecting again at its kept connection's endpoint got %d subnets and selectors %v, want the 2 new routes", subnets, tsr)
	}
}

// TestSetClientsChange: a new pool, RADIUS servers where there were none,
// RADIUS alone or no clients at all disconnect the connected clients,
// with a Delete.
func TestSetClientsChange(t *testing.T) {
	pki := newPKI(t)
	for _, tc := range []struct {
		name string
		adj  func(*Clients) *Clients
	}{
		{"other pool", func(c *Clients) *Clients { c.Pool = netip.MustParsePrefix("10.9.1.0/29"); return c }},
		{"RADIUS servers", func(c *Clients) *Clients {
			c.Radius = []radius.Server{{Addr: netip.MustParseAddrPort("192.0.2.9:1812"), Secret: []byte("s")}}
			return c
		}},
		{"RADIUS alone", func(c *Clients) *Clients { c.RadiusOnly = true; return c }},
		{"no clients", func(*Clients) *Clients { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newP2SGateway(t, Config{})
			cfg := pki.clients(g.hooks, p2sPool, 10)
			if err := g.m.SetClients(cfg); err != nil {
				t.Fatal(err)
			}
			cl := newP2SClient(t, g, clientAt(1))
			if _, addr := cl.connect(pki.client); !addr.IsValid() {
				t.Fatal("no address")
			}
			next := tc.adj(pki.clients(g.hooks, p2sPool, 10))
			if next != nil && next.sameClients(cfg) {
				t.Error("sameClients: no change")
			}
			if err := g.m.SetClients(next); err != nil {
				t.Fatal(err)
			}
			// SetClients returns once the clients are gone.
			if got := g.m.Clients(); len(got) != 0 {
				t.Errorf("clients left: %+v", got)
			}
			if attached, detached := g.hooks.state(); len(attached) != 0 || len(detached) != 1 {
				t.Errorf("attached %v, detached %v", attached, detached)
			}
			if !cl.deletedByGW() {
				t.Error("the client was not told (no Delete)")
			}
			if next == nil {
				again := newP2SClient(t, g, clientAt(2))
				noPeer := g.m.Stats().NoPeer
				g.m.HandlePacket(p2sGW, again.addr, again.initRequest())
				if g.m.Stats().NoPeer != noPeer+1 || len(g.tr.to(again.addr)) != 0 {
					t.Error("a gateway without clients answered a client")
				}
			}
		})
	}
}

// TestSetClientsLive: a root uploaded, other routes (a site connected),
// other DNS servers and another limit (the SKU resized) leave the
// connected client connected, with the routes and DNS servers it was
// given; the next client may authenticate with the new root and gets the
// new DNS servers. A root removed ends the clients whose certificate it
// issued, with a Delete, and no other.
func TestSetClientsLive(t *testing.T) {
	pki := newPKI(t)
	root2 := pkitest.Issue(t, "p2s root 2", true, nil)
	g := newP2SGateway(t, Config{})
	cfg := pki.clients(g.hooks, p2sPool, 10)
	cfg.DNS = []netip.Addr{netip.MustParseAddr("10.1.0.53")}
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	first := newP2SClient(t, g, clientAt(1))
	if _, addr := first.connect(pki.client); addr != poolAddr(1) {
		t.Fatalf("got %v", addr)
	}
	next := pki.clients(g.hooks, p2sPool, 20)
	next.Roots = append(next.Roots, root2.Certificate)
	next.Routes = append(slices.Clone(p2sRoutes), netip.MustParsePrefix("192.168.10.0/24"))
	next.DNS = []netip.Addr{netip.MustParseAddr("10.1.0.54")}
	if err := g.m.SetClients(next); err != nil {
		t.Fatal(err)
	}
	if got := g.clientAddrs(); !slices.Equal(got, []netip.Addr{poolAddr(1)}) || first.deletedByGW() {
		t.Fatalf("clients at %v after a root, routes, DNS servers and limit changed, the first told to go: %v", got, first.deletedByGW())
	}
	if ps := first.request(wire.Informational, nil); len(ps) != 0 {
		t.Errorf("the kept client's INFORMATIONAL answered %v", ps)
	}
	bob := pkitest.Issue(t, "bob", false, root2)
	second := newP2SClient(t, g, clientAt(2))
	second.init()
	req := second.auth(bob)
	cp, _ := find[*wire.CP](req)
	cp.Attributes = append(cp.Attributes, wire.CPAttribute{Type: wire.InternalIP4DNS})
	ps := second.request(wire.IKEAuth, req)
	if cpAddr(ps) != poolAddr(2) {
		t.Fatalf("a client of the root uploaded got %v: %v", cpAddr(ps), ps)
	}
	reply, _ := find[*wire.CP](ps)
	var dns []netip.Addr
	for _, a := range reply.Attributes {
		if a.Type == wire.InternalIP4DNS && len(a.Value) == 4 {
			dns = append(dns, netip.AddrFrom4([4]byte(a.Value)))
		}
	}
	if !slices.Equal(dns, next.DNS) {
		t.Errorf("the next client got DNS servers %v, want %v", dns, next.DNS)
	}

	// The first root removed: the first client goes, bob stays.
	last := pki.clients(g.hooks, p2sPool, 20)
	last.Roots, last.Routes, last.DNS = []*x509.Certificate{root2.Certificate}, next.Routes, next.DNS
	if err := g.m.SetClients(last); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the client of the removed root to go", func() bool { return slices.Equal(g.clientAddrs(), []netip.Addr{poolAddr(2)}) })
	if !first.deletedByGW() {
		t.Error("the client of the removed root was not told (no Delete)")
	}
	if second.deletedByGW() {
		t.Error("the client of the root kept was told to go")
	}
	if ps := second.request(wire.Informational, nil); len(ps) != 0 {
		t.Errorf("the kept client's INFORMATIONAL answered %v", ps)
	}
}

// TestSetClientsRadiusServers: other RADIUS servers (addresses, secrets,
// NAS-Identifier) leave the connected clients connected, and the next
// authentication asks the new ones; SSTP and OpenVPN clients stay alike.
// Every client was disconnected, certificate users too.
func TestSetClientsRadiusServers(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	cfg := pki.clients(g.hooks, p2sPool, 10)
	cfg.Radius = []radius.Server{{Addr: netip.MustParseAddrPort("192.0.2.9:1812"), Secret: []byte("s")}}
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	cl := newP2SClient(t, g, clientAt(1))
	if _, addr := cl.connect(pki.client); !addr.IsValid() {
		t.Fatal("no address")
	}
	next := pki.clients(g.hooks, p2sPool, 10)
	next.Radius = []radius.Server{{Addr: netip.MustParseAddrPort("192.0.2.10:1812"), Secret: []byte("t")}, {Addr: netip.MustParseAddrPort("192.0.2.11:1812"), Secret: []byte("u")}}
	next.NASIdentifier = "other"
	if err := g.m.SetClients(next); err != nil {
		t.Fatal(err)
	}
	if got := g.m.Clients(); len(got) != 1 || cl.deletedByGW() {
		t.Fatalf("after other RADIUS servers: clients %+v, told to go %v", got, cl.deletedByGW())
	}
	c := g.m.conn(g.m.Clients()[0].Name)
	var servers []radius.Server
	c.do(func() { servers = c.client.cfg.Radius })
	if len(servers) != 2 || servers[0].Addr != next.Radius[0].Addr {
		t.Errorf("the connected client's next authentication asks %v, want the new servers", servers)
	}
}

// TestSetClientsRevocation: a change of the revoked certificates
// disconnects the connected clients whose certificate it revokes, with a
// Delete, and no other; the list is a set of thumbprints, whatever their
// order, case or spelling (Azure's, openssl's with colons).
func TestSetClientsRevocation(t *testing.T) {
	pki := newPKI(t)
	other := pkitest.Issue(t, "client2", false, pki.root)
	thumb := func(c *pkitest.Cert) string {
		sum := sha1.Sum(c.Certificate.Raw)
		return hex.EncodeToString(sum[:])
	}
	g := newP2SGateway(t, Config{})
	cfg := pki.clients(g.hooks, p2sPool, 10)
	gone1, gone2 := pkitest.Issue(t, "gone1", false, pki.root), pkitest.Issue(t, "gone2", false, pki.root)
	cfg.Revoked = []string{thumb(gone1), strings.ToUpper(thumb(gone2))}
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	c1, c2 := newP2SClient(t, g, clientAt(1)), newP2SClient(t, g, clientAt(2))
	if _, addr := c1.connect(pki.client); !addr.IsValid() {
		t.Fatal("client1 got no address")
	}
	if _, addr := c2.connect(other); !addr.IsValid() {
		t.Fatal("client2 got no address")
	}
	set := func(revoked ...string) {
		t.Helper()
		next := pki.clients(g.hooks, p2sPool, 10)
		next.Revoked = revoked
		if err := g.m.SetClients(next); err != nil {
			t.Fatal(err)
		}
	}
	connected := func() []string {
		var out []string
		for _, s := range g.m.Clients() {
			out = append(out, s.Subject)
		}
		slices.Sort(out)
		return out
	}

	// The same list in another order and case revokes no one more.
	set(thumb(gone2), strings.ToUpper(thumb(gone1)))
	if got := connected(); !slices.Equal(got, []string{"client1", "client2"}) {
		t.Fatalf("after reordering the revocations, connected: %v", got)
	}
	if c1.deletedByGW() || c2.deletedByGW() {
		t.Fatal("a client was told to go by a reordered revocation list")
	}

	// client2's certificate revoked (as openssl prints a fingerprint):
	// client2 goes, client1 stays.
	var colons []string
	for h := thumb(other); h != ""; h = h[2:] {
		colons = append(colons, h[:2])
	}
	set(thumb(gone2), strings.Join(colons, ":"), thumb(gone1))
	// SetClients returns once the revoked client is gone.
	if got := connected(); !slices.Equal(got, []string{"client1"}) {
		t.Errorf("after revoking client2, connected: %v", got)
	}
	if !c2.deletedByGW() {
		t.Error("the revoked client was not told (no Delete)")
	}
	if c1.deletedByGW() {
		t.Error("the client not revoked was told to go")
	}
	if attached, detached := g.hooks.state(); len(attached) != 1 || len(detached) != 1 {
		t.Errorf("attached %v, detached %v", attached, detached)
	}
}

// TestClientCookie covers RFC 7296 §2.6 for clients: when cookies are
// asked for, a new client's IKE_SA_INIT gets a COOKIE and leaves no state;
// the retry with it is answered.
func TestClientCookie(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{CookieThreshold: -1})
	if err := g.m.SetClients(pki.clients(g.hooks, p2sPool, 10)); err != nil {
		t.Fatal(err)
	}
	cl := newP2SClient(t, g, clientAt(1))
	g.m.HandlePacket(p2sGW, cl.addr, cl.initRequest())
	resp, err := wire.ParseMessage(cl.await(wire.IKESAInit, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	n := notify(resp.Payloads, wire.Cookie)
	if n == nil || len(resp.Payloads) != 1 {
		t.Fatalf("answered %v, want a COOKIE alone", resp.Payloads)
	}
	if g.clientConns() != 0 || g.m.Stats().CookiesSent != 1 {
		t.Errorf("%d client connections, %d cookies sent", g.clientConns(), g.m.Stats().CookiesSent)
	}
	cl.cookie = n.Data
	if _, addr := cl.connect(pki.client); addr != poolAddr(1) {
		t.Errorf("the client that returned the cookie got %v", addr)
	}
}

// TestClientsBehindSpoofedNAT: IKE_SA_INIT requests spoofed from the
// address of a NAT that clients are behind, from as many ports as the
// gateway holds pending clients of one address, and never followed up,
// do not keep the clients behind that NAT out: from half of those on
// (peerCookieThreshold), a client from that address is asked for a
// cookie (RFC 7296 §2.6), which a spoofer that does not get the answers
// cannot return, and a real client behind the NAT that returns it
// connects. Before, the spoofed requests took all 16 places of the
// address, cookies were asked for only once 32 SAs were half open in
// all, and the real client's IKE_SA_INIT went unanswered for as long as
// they were renewed.
func TestClientsBehindSpoofedNAT(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	nat := netip.MustParseAddr("198.51.100.200")
	for i := range maxPendingClientsPerSender {
		spoofed := newP2SClient(t, g, netip.AddrPortFrom(nat, uint16(20000+i)))
		g.m.HandlePacket(p2sGW, spoofed.addr, spoofed.initRequest())
	}
	cl := newP2SClient(t, g, netip.AddrPortFrom(nat, 40000))
	g.m.HandlePacket(p2sGW, cl.addr, cl.initRequest())
	resp, err := wire.ParseMessage(cl.await(wire.IKESAInit, 0, 0))
	if err != nil {
		t.Fatalf("the client behind the NAT got no answer (%v); stats %+v", err, g.m.Stats())
	}
	if n := notify(resp.Payloads, wire.Cookie); n != nil {
		cl.cookie = n.Data
	}
	if _, addr := cl.connect(pki.client); addr != poolAddr(1) {
		t.Fatalf("the client behind the NAT got %v, want %v", addr, poolAddr(1))
	}
	if n := g.clientConns(); n > 1+maxPendingClientsPerSender/2 {
		t.Errorf("%d client connections, want the client's and at most %d spoofed", n, maxPendingClientsPerSender/2)
	}
}

// TestClientsFull: client connections not admitted yet are bounded, 16
// from one address and 256 in all, so that unauthenticated senders
// cannot crowd out clients; what is beyond is dropped, counted, and
// answered with nothing, while an admitted client stays served.
func TestClientsFull(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{CookieThreshold: 1 << 20, MaxHalfOpen: 1 << 10})
	if err := g.m.SetClients(pki.clients(g.hooks, p2sPool, 1)); err != nil {
		t.Fatal(err)
	}
	admitted := newP2SClient(t, g, clientAt(1))
	if _, addr := admitted.connect(pki.client); !addr.IsValid() {
		t.Fatal("the first client got no address")
	}
	at := func(ip, port int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 65, byte(ip >> 8), byte(ip)}), uint16(1000+port))
	}
	for i := range maxPendingClientsPerSender {
		newP2SClient(t, g, at(0, i)).init() // half open, from one address
	}
	extra := newP2SClient(t, g, at(0, maxPendingClientsPerSender))
	g.m.HandlePacket(p2sGW, extra.addr, extra.initRequest())
	if got := g.m.Stats().ClientsFull; got != 1 || len(g.tr.to(extra.addr)) != 0 {
		t.Errorf("the %d-th pending client from one address: ClientsFull %d, %d datagrams sent to it", maxPendingClientsPerSender+1, got, len(g.tr.to(extra.addr)))
	}
	for i := maxPendingClientsPerSender; i < maxPendingClients; i++ {
		newP2SClient(t, g, at(1+i/maxPendingClientsPerSender, i%maxPendingClientsPerSender)).init()
	}
	extra = newP2SClient(t, g, at(1000, 0))
	g.m.HandlePacket(p2sGW, extra.addr, extra.initRequest())
	if got := g.m.Stats().ClientsFull; got != 2 || len(g.tr.to(extra.addr)) != 0 {
		t.Errorf("the %d-th pending client: ClientsFull %d, %d datagrams sent to it", maxPendingClients+1, got, len(g.tr.to(extra.addr)))
	}
	if ps := admitted.request(wire.Informational, nil); len(ps) != 0 {
		t.Errorf("the admitted client's INFORMATIONAL was answered %v", ps)
	}
	if n := g.clientConns(); n != 1+maxPendingClients {
		t.Errorf("%d client connections, want %d", n, 1+maxPendingClients)
	}
}

// TestClientsFullIPv6: pending client connections from IPv6 addresses
// are bounded by /64, the prefix one host is given whole and may take any
// address of: 16 from addresses of one /64 fill its share (they would
// fill the 256 in all, each from an address of its own), the next from
// yet another address of it is dropped unanswered, and one from the next
// /64 is answered. An IPv4-mapped address counts as its IPv4 address.
func TestClientsFullIPv6(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{CookieThreshold: 1 << 20, MaxHalfOpen: 1 << 10})
	if err := g.m.SetClients(pki.clients(g.hooks, p2sPool, 1)); err != nil {
		t.Fatal(err)
	}
	at := func(prefix, host int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x87, 0, byte(prefix), 14: byte(host >> 8), 15: byte(host)}), 500)
	}
	for i := range maxPendingClientsPerSender {
		newP2SClient(t, g, at(0, i)).init()
	}
	extra := newP2SClient(t, g, at(0, maxPendingClientsPerSender))
	g.m.HandlePacket(p2sGW, extra.addr, extra.initRequest())
	if got := g.m.Stats().ClientsFull; got != 1 || len(g.tr.to(extra.addr)) != 0 {
		t.Errorf("the %d-th pending client from one /64, at %v: ClientsFull %d, %d datagrams sent to it", maxPendingClientsPerSender+1, extra.addr, got, len(g.tr.to(extra.addr)))
	}
	newP2SClient(t, g, at(1, 0)).init() // the next /64 is answered

	for i := range maxPendingClientsPerSender {
		newP2SClient(t, g, netip.AddrPortFrom(netip.MustParseAddr("::ffff:198.51.100.7"), uint16(1000+i))).init()
	}
	v4 := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), 2000)
	extra = newP2SClient(t, g, v4)
	g.m.HandlePacket(p2sGW, extra.addr, extra.initRequest())
	if got := g.m.Stats().ClientsFull; got != 2 || len(g.tr.to(extra.addr)) != 0 {
		t.Errorf("the %d-th pending client from 198.51.100.7, the others IPv4-mapped: ClientsFull %d, %d datagrams sent to it", maxPendingClientsPerSender+1, got, len(g.tr.to(extra.addr)))
	}
}

// TestClientConnectsAgain: a client that connects again from another port
// with the same certificate and INITIAL_CONTACT (RFC 7296 §2.4) replaces
// its stale connection, which is deleted and gives its address back;
// another client with the same certificate but without INITIAL_CONTACT
// leaves it be.
func TestClientConnectsAgain(t *testing.T) {
	pki, g, old := connectedClient(t, 10)

	quiet := newP2SClient(t, g, clientAt(2))
	quiet.init()
	ps := quiet.auth(pki.client)
	ps = slices.DeleteFunc(ps, func(p wire.Payload) bool {
		n, ok := p.(*wire.Notify)
		return ok && n.NotifyType == wire.InitialContact
	})
	if addr := cpAddr(quiet.request(wire.IKEAuth, ps)); addr != poolAddr(2) {
		t.Fatalf("the client without INITIAL_CONTACT got %v", addr)
	}
	if old.deletedByGW() || len(g.m.Clients()) != 2 {
		t.Fatalf("a connection without INITIAL_CONTACT replaced another: %v", g.clientAddrs())
	}

	again := newP2SClient(t, g, clientAt(3))
	if _, addr := again.connect(pki.client); addr != poolAddr(3) {
		t.Fatalf("the client connecting again got %v", addr)
	}
	waitFor(t, 5*time.Second, "the stale connections to be gone", func() bool {
		return slices.Equal(g.clientAddrs(), []netip.Addr{poolAddr(3)})
	})
	if !old.deletedByGW() || !quiet.deletedByGW() {
		t.Error("the stale connections were not deleted with a Delete")
	}
}

// eapRequest is one EAP step of a test client: it sends m (an EAP
// response) in an IKE_AUTH request and returns the gateway's EAP message
// and the whole answer.
func (cl *p2sClient) eapRequest(m ppp.EAP) (ppp.EAP, []wire.Payload) {
	cl.t.Helper()
	ps := cl.request(wire.IKEAuth, []wire.Payload{&wire.EAP{Data: m.Append(nil)}})
	p, ok := find[*wire.EAP](ps)
	if !ok {
		cl.t.Fatalf("no EAP in the answer %v", ps)
	}
	next, err := ppp.ParseEAP(p.Data)
	if err != nil {
		cl.t.Fatal(err)
	}
	return next, ps
}

// beginEAP sends the client's first IKE_AUTH request as cert's subject
// without AUTH (RFC 7296 §2.16: it asks for EAP) and returns the answer
// and the gateway's first EAP message in it.
func (cl *p2sClient) beginEAP(cert *pkitest.Cert) ([]wire.Payload, ppp.EAP) {
	cl.t.Helper()
	ps := cl.request(wire.IKEAuth, slices.DeleteFunc(cl.auth(cert), func(p wire.Payload) bool {
		return p.Type() == wire.PayloadAUTH || p.Type() == wire.PayloadCERT
	}))
	p, ok := find[*wire.EAP](ps)
	if !ok {
		cl.t.Fatalf("no EAP in the first IKE_AUTH answer %v", ps)
	}
	m, err := ppp.ParseEAP(p.Data)
	if err != nil {
		cl.t.Fatal(err)
	}
	return ps, m
}

// macAuth sends the client's last IKE_AUTH request after EAP, as cert's
// subject: its AUTH is a MAC keyed with key, the MSK (RFC 7296 §2.16).
// It returns the answer.
func (cl *p2sClient) macAuth(cert *pkitest.Cert, key []byte) []wire.Payload {
	cl.t.Helper()
	signed, err := suite.SignedOctets(cl.s.PRF, cl.initReq, cl.nr, cl.keys.PI, dnOf(cert).payload(false).AppendBody(nil))
	if err != nil {
		cl.t.Fatal(err)
	}
	mac, err := suite.PSKAuth(cl.s.PRF, key, signed)
	if err != nil {
		cl.t.Fatal(err)
	}
	return cl.request(wire.IKEAuth, []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: mac}})
}

// eapTLS runs the client's side of EAP-TLS (RFC 5216) with cert, from the
// gateway's first EAP request to its Success or Failure, which it
// returns, with the MSK on success.
func (cl *p2sClient) eapTLS(first ppp.EAP, cert *pkitest.Cert, roots *x509.CertPool) (ppp.EAP, []byte) {
	cl.t.Helper()
	conv := &eaptls.Conversation{}
	m := first
	for range 20 {
		var resp ppp.EAP
		switch {
		case m.Code != ppp.EAPRequest:
			if m.Code == ppp.EAPSuccess {
				msk, err := conv.Bridge.MSK()
				if err != nil {
					cl.t.Fatal(err)
				}
				return m, msk
			}
			return m, nil
		case m.Type == ppp.TypeIdentity:
			resp = ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeIdentity, Data: []byte(cert.Subject.CommonName)}
		default:
			d, err := ppp.ParseTLSData(m.Data)
			if err != nil {
				cl.t.Fatal(err)
			}
			var flight []byte
			switch {
			case d.Flags&ppp.FlagStart != 0:
				conv.Bridge = eaptls.NewBridge(false, &tls.Config{Certificates: []tls.Certificate{cert.TLS()}, RootCAs: roots,
					ServerName: p2sGW.Addr().String(), MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
				cl.t.Cleanup(conv.Bridge.Close)
				out, _, err := conv.Bridge.Exchange(nil, 5*time.Second)
				if err != nil {
					cl.t.Fatal(err)
				}
				flight = out
			case conv.Pending():
			default:
				msg, more, err := conv.Input(d)
				if err != nil {
					cl.t.Fatal(err)
				}
				if !more {
					out, done, err := conv.Bridge.Exchange(msg, 5*time.Second)
					if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "remote error" {
						// The gateway's TLS alert (RFC 5216 §2.1.3): answered
						// with an empty response, for the Failure.
						err = nil
					}
					if err != nil {
						cl.t.Fatalf("the client's TLS: %v", err)
					}
					conv.Done, flight = done, out
				}
			}
			if len(flight) > 0 {
				conv.Send(flight)
			}
			data := ppp.TLSData{}
			if conv.Pending() {
				data = conv.Next(500)
			}
			resp = ppp.EAP{Code: ppp.EAPResponse, ID: m.ID, Type: ppp.TypeTLS, Data: data.Append(nil)}
		}
		m, _ = cl.eapRequest(resp)
	}
	cl.t.Fatal("EAP-TLS did not end in 20 steps")
	return ppp.EAP{}, nil
}

// TestClientEAPTLS: a client whose IKE_AUTH request has no AUTH asks for
// EAP (RFC 7296 §2.16), as Windows' built-in client does with a user
// certificate. The gateway authenticates with its certificate and runs
// EAP-TLS: a client certificate of the root gets EAP Success, then both
// sides' AUTH are MACs keyed with the MSK, and the client gets its address
// and child SA as with certificate authentication. A client whose
// certificate chains to another root gets EAP Failure and no address; so
// does an AUTH computed with another key.
func TestClientEAPTLS(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	roots := pki.roots()
	begin := func(cl *p2sClient) ppp.EAP {
		t.Helper()
		cl.init()
		ps, m := cl.beginEAP(pki.client)
		gwCert, ok1 := find[*wire.Cert](ps)
		auth, ok2 := find[*wire.Auth](ps)
		idr, ok3 := find[*wire.ID](ps)
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("the first answer lacks CERT, AUTH or IDr: %v", ps)
		}
		// The gateway proves itself first, with its certificate.
		signed, err := suite.SignedOctets(cl.s.PRF, cl.initResp, cl.ni, cl.keys.PR, idr.AppendBody(nil))
		if err != nil || !bytes.Equal(gwCert.Data, pki.gw.Raw) || suite.VerifyAuth(pki.gw.PublicKey, auth.Method, auth.Data, signed) != nil {
			t.Fatalf("the gateway's AUTH does not verify with its certificate: %v", err)
		}
		if m.Code != ppp.EAPRequest || m.Type != ppp.TypeTLS {
			t.Fatalf("the first EAP message is %+v, want EAP-TLS's start", m)
		}
		return m
	}

	cl := newP2SClient(t, g, clientAt(1))
	end, msk := cl.eapTLS(begin(cl), pki.client, roots)
	if end.Code != ppp.EAPSuccess || len(msk) != 64 {
		t.Fatalf("EAP ended with code %d, MSK of %d bytes", end.Code, len(msk))
	}
	ps := cl.macAuth(pki.client, msk)
	auth, ok := find[*wire.Auth](ps)
	idr := IPIdentity(p2sGW.Addr()).payload(true)
	signedR, _ := suite.SignedOctets(cl.s.PRF, cl.initResp, cl.ni, cl.keys.PR, idr.AppendBody(nil))
	if !ok || !suite.VerifyPSKAuth(cl.s.PRF, msk, signedR, auth.Data) {
		t.Fatalf("the gateway's final AUTH is not keyed with the MSK: %v", ps)
	}
	if addr := cpAddr(ps); addr != poolAddr(1) {
		t.Fatalf("the EAP client got %v, want %v", addr, poolAddr(1))
	}
	if _, ok := find[*wire.SA](ps); !ok {
		t.Errorf("no child SA in the final answer: %v", ps)
	}
	if c := g.m.Clients(); len(c) != 1 || c[0].Subject != "client1" {
		t.Errorf("clients %+v, want client1", c)
	}

	stranger := pkitest.Issue(t, "stranger", false, pkitest.Issue(t, "other root", true, nil))
	cl2 := newP2SClient(t, g, clientAt(2))
	if end, _ := cl2.eapTLS(begin(cl2), stranger, roots); end.Code != ppp.EAPFailure {
		t.Errorf("a certificate of another root: EAP ended with code %d, want Failure", end.Code)
	}

	cl3 := newP2SClient(t, g, clientAt(3))
	end, _ = cl3.eapTLS(begin(cl3), pkitest.Issue(t, "carol", false, pki.root), roots)
	if end.Code != ppp.EAPSuccess {
		t.Fatalf("carol's EAP ended with code %d", end.Code)
	}
	if ps := cl3.macAuth(pki.client, make([]byte, 64)); notify(ps, wire.AuthenticationFailed) == nil || cpAddr(ps).IsValid() {
		t.Errorf("an AUTH keyed with another key was answered %v", ps)
	}
	waitFor(t, 5*time.Second, "the refused clients' connections to end", func() bool { return g.clientConns() == 1 })
}

// TestClientAtSiteAddress: a client at the address of a site (a laptop
// behind the branch's NAT) reaches the site's connection with its
// IKE_SA_INIT; its certificate AUTH hands the IKE SA over to a client's
// connection, which gives it an address; a refused one at that address
// leaves nothing behind, and the site's pre-shared key still
// authenticates the site.
func TestClientAtSiteAddress(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	site := basePeer("site", p2sGW.Addr(), clientAt(1).Addr())
	site.Mode = ModeResponderOnly
	if err := g.m.Reconfig([]PeerConfig{site}); err != nil {
		t.Fatal(err)
	}
	laptop := newP2SClient(t, g, netip.AddrPortFrom(clientAt(1).Addr(), 4500))
	if _, addr := laptop.connect(pki.client); addr != poolAddr(1) {
		t.Fatalf("the client at the site's address got %v", addr)
	}
	if c := g.m.Clients(); len(c) != 1 || c[0].Remote.Addr() != clientAt(1).Addr() {
		t.Fatalf("clients %+v", c)
	}
	if ps := laptop.request(wire.Informational, nil); len(ps) != 0 {
		t.Errorf("the handed-over IKE SA answered %v", ps)
	}
	if st := g.m.Status(); len(st) != 1 || len(st[0].IKESAs) != 0 {
		t.Errorf("the site's connection keeps %+v", st)
	}

	stranger := newP2SClient(t, g, netip.AddrPortFrom(clientAt(1).Addr(), 4501))
	if ps, addr := stranger.connect(pkitest.Issue(t, "stranger", false, pkitest.Issue(t, "other root", true, nil))); addr.IsValid() || notify(ps, wire.AuthenticationFailed) == nil {
		t.Errorf("a stranger at the site's address was answered %v", ps)
	}
	waitFor(t, 5*time.Second, "the stranger's connection to end", func() bool { return g.clientConns() == 1 })

	// The site itself: its PSK AUTH stays with the site's connection.
	s := newP2SClient(t, g, clientAt(1))
	s.init()
	idi := IPIdentity(clientAt(1).Addr()).payload(false)
	signed, err := suite.SignedOctets(s.s.PRF, s.initReq, s.nr, s.keys.PI, idi.AppendBody(nil))
	if err != nil {
		t.Fatal(err)
	}
	mac, err := suite.PSKAuth(s.s.PRF, site.PSK, signed)
	if err != nil {
		t.Fatal(err)
	}
	any4 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	ps := s.request(wire.IKEAuth, []wire.Payload{idi, &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: mac},
		saPayload(mustProposals(t, wire.ProtocolESP, "aes256gcm16"), []byte{0x10, 0, 0, 1}, false), tsPayload(false, any4), tsPayload(true, any4)})
	if _, ok := find[*wire.Auth](ps); !ok {
		t.Fatalf("the site was answered %v", ps)
	}
	if st := g.m.Status(); len(st) != 1 || st[0].State != "established" {
		t.Errorf("the site's connection: %+v", st)
	}
	if g.clientConns() != 1 {
		t.Errorf("%d client connections after the site authenticated, want 1", g.clientConns())
	}
}

// BenchmarkClientConnect connects point-to-site clients to one Manager one
// after another, each with a whole IKE_SA_INIT (X25519) and IKE_AUTH
// (ECDSA P-256 certificates both ways, RFC 7427 signatures, an address,
// a child SA). The client's own cryptography is in the time, so the rate is
// a lower bound of the gateway's. It reports the Manager's memory per
// connected client (heap and stack: its IKE SA, child SA and loop),
// clients being kept connected to the end.
func BenchmarkClientConnect(b *testing.B) {
	pki := newPKI(b)
	g := newP2SGateway(b, Config{})
	if err := g.m.SetClients(pki.clients(g.hooks, netip.MustParsePrefix("10.64.0.0/10"), b.N+1)); err != nil {
		b.Fatal(err)
	}
	noInitialContact := func(ps []wire.Payload) []wire.Payload {
		// All clients share one certificate; without INITIAL_CONTACT none
		// replaces another.
		return slices.DeleteFunc(ps, func(p wire.Payload) bool {
			n, ok := p.(*wire.Notify)
			return ok && n.NotifyType == wire.InitialContact
		})
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range b.N {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)}), 4500)
		cl := newP2SClient(b, g, addr)
		cl.init()
		if a := cpAddr(cl.request(wire.IKEAuth, noInitialContact(cl.auth(pki.client)))); !a.IsValid() {
			b.Fatalf("client %d got no address", i)
		}
		g.tr.forget(addr)
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := len(g.m.Clients()); n != b.N {
		b.Fatalf("%d clients connected, want %d", n, b.N)
	}
	b.ReportMetric(float64(int64(after.HeapInuse+after.StackInuse)-int64(before.HeapInuse+before.StackInuse))/float64(b.N), "B/client")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "clients/s")
}

// TestClientSelectors: a client's child SA names the routes, or any IPv4
// address when they are more than a child SA takes.
func TestClientSelectors(t *testing.T) {
	cl := &Clients{Routes: p2sRoutes}
	if got := cl.selectors(); !slices.Equal(got, p2sRoutes) {
		t.Errorf("selectors %v, want the routes %v", got, p2sRoutes)
	}
	cl.Routes = nil
	for i := range maxSelectors + 1 {
		cl.Routes = append(cl.Routes, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
	}
	if got := cl.selectors(); !slices.Equal(got, []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}) {
		t.Errorf("the selectors of %d routes: %v, want any IPv4 address", len(cl.Routes), got)
	}
}

// TestClientGetsEveryRoute: past 64 routes (the VNet's, its sites', then
// customRoutes), a client that proposes them all, as the VPN client
// package's swanctl.conf does (remote_ts), is answered every one of them
// in TSr and its child SA takes packets to every one, the custom routes
// last among them; one that proposes any address (Windows' built-in
// client) is narrowed to the same routes (RFC 7296 §2.9). An answer
// holds no more selectors than a TS payload does (255, §3.13), also to
// a client that proposes more ranges; past 255 routes, a client that
// proposes any address, as the package does then, is answered any
// address.
func TestClientGetsEveryRoute(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	cfg := pki.clients(g.hooks, p2sPool, 10)
	cfg.Routes = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	for i := range 60 {
		cfg.Routes = append(cfg.Routes, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(100 + i), 0, 0}), 16))
	}
	for i := range 10 {
		cfg.Routes = append(cfg.Routes, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24))
	}
	many := append(prefixSelectors(cfg.Routes), prefixSelector(netip.MustParsePrefix("0.0.0.0/0")))
	for i := range 200 {
		many = append(many, prefixSelector(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i), 0}), 24)))
	}
	many = many[:255]
	any4 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	var past []netip.Prefix
	for i := range 300 {
		past = append(past, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i / 256), byte(i), 0}), 24))
	}
	for i, tc := range []struct {
		name     string
		routes   []netip.Prefix
		proposed []selector
		all      bool // every route is answered and taken
	}{
		{"the package's routes", cfg.Routes, prefixSelectors(cfg.Routes), true},
		{"any address", cfg.Routes, any4, true},
		{"more ranges than a TS payload holds", cfg.Routes, many, false},
		{"any address past 255 routes", past, any4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := *cfg
			cfg.Routes = tc.routes
			if err := g.m.SetClients(&cfg); err != nil {
				t.Fatal(err)
			}
			cl := newP2SClient(t, g, clientAt(i+1))
			cl.init()
			req := cl.auth(pki.client)
			req[len(req)-1] = tsPayload(true, tc.proposed)
			ps := cl.request(wire.IKEAuth, req)
			if !cpAddr(ps).IsValid() {
				t.Fatal("no address")
			}
			var tsr []selector
			for _, p := range ps {
				if p, ok := p.(*wire.TrafficSelectors); ok && p.Responder {
					for _, w := range p.Selectors {
						s, _ := fromWire(w)
						tsr = append(tsr, s)
					}
				}
			}
			if len(tsr) == 0 || len(tsr) > 255 {
				t.Fatalf("TSr holds %d selectors, want 1 to 255", len(tsr))
			}
			if !tc.all {
				return
			}
			var local []netip.Prefix
			for _, ch := range g.dp.list() {
				if ch.Remote == cl.addr {
					local = ch.LocalTS
				}
			}
			for _, r := range tc.routes {
				if !slices.ContainsFunc(tsr, prefixSelector(r).within) {
					t.Errorf("TSr (%d selectors) leaves out route %v", len(tsr), r)
				}
				if !slices.ContainsFunc(local, func(p netip.Prefix) bool { return p.Contains(r.Addr()) && p.Bits() <= r.Bits() }) {
					t.Errorf("the client's child SA (%d selectors) does not take route %v", len(local), r)
				}
			}
		})
	}
}

// TestClientMOBIKE: a client that announced MOBIKE (RFC 4555) in IKE_AUTH
// is answered with MOBIKE_SUPPORTED; its UPDATE_SA_ADDRESSES from a new
// address moves the IKE SA and the child SAs there, and the response
// carries NAT detection for the new addresses and the request's COOKIE2.
// A client that did not announce MOBIKE gets no MOBIKE_SUPPORTED.
func TestClientMOBIKE(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	cl := newP2SClient(t, g, clientAt(1))
	cl.init()
	ps := cl.request(wire.IKEAuth, append(cl.auth(pki.client), &wire.Notify{NotifyType: wire.MOBIKESupported}))
	if cpAddr(ps) != poolAddr(1) || notify(ps, wire.MOBIKESupported) == nil {
		t.Fatalf("the MOBIKE client was answered %v", ps)
	}
	moved := netip.MustParseAddrPort("203.0.113.77:4500")
	cl.addr = moved
	cookie2 := bytes.Repeat([]byte{0xc2}, 16)
	// The client's NAT detection says a NAT rewrote its source (RFC 4555
	// §3.8: the hashes with the SA's SPIs).
	resp := cl.request(wire.Informational, []wire.Payload{&wire.Notify{NotifyType: wire.UpdateSAAddresses},
		&wire.Notify{NotifyType: wire.NATDetectionSourceIP, Data: natHash(cl.spiI, cl.spiR, netip.MustParseAddrPort("10.0.0.2:4500"))},
		&wire.Notify{NotifyType: wire.NATDetectionDestinationIP, Data: natHash(cl.spiI, cl.spiR, p2sGW)},
		&wire.Notify{NotifyType: wire.Cookie2, Data: cookie2}})
	if c := notify(resp, wire.Cookie2); c == nil || !bytes.Equal(c.Data, cookie2) {
		t.Errorf("the response does not carry the request's COOKIE2: %v", resp)
	}
	if d := notify(resp, wire.NATDetectionDestinationIP); d == nil || !bytes.Equal(d.Data, natHash(cl.spiI, cl.spiR, moved)) {
		t.Errorf("the response's NAT_DETECTION_DESTINATION_IP is not of the new address: %v", resp)
	}
	if c := g.m.Clients(); len(c) != 1 || c[0].Remote != moved {
		t.Errorf("clients %+v, want the client at %v", c, moved)
	}
	g.m.mu.Lock()
	c := g.m.clients[clientKey(moved)]
	g.m.mu.Unlock()
	var natRemote, natLocal bool
	c.do(func() { natRemote, natLocal = c.established().natRemote, c.established().natLocal })
	if !natRemote || natLocal {
		t.Errorf("after the move NAT remote %v, local %v; want the client behind a NAT, the gateway not", natRemote, natLocal)
	}
	g.dp.mu.Lock()
	for _, ch := range g.dp.children {
		if ch.Remote != moved {
			t.Errorf("child SA %08x still goes to %v", ch.In.SPI, ch.Remote)
		}
	}
	g.dp.mu.Unlock()

	other := newP2SClient(t, g, clientAt(2))
	if ps, _ := other.connect(pkitest.Issue(t, "bob", false, pki.root)); notify(ps, wire.MOBIKESupported) != nil {
		t.Errorf("a client without MOBIKE was answered MOBIKE_SUPPORTED")
	}
}

// TestClientNATMappingChanges: behind a NAT whose mapping changes, a
// MOBIKE client's SAs stay where they are until the client moves them
// (RFC 4555 §3.5); its liveness check from the new mapping is answered
// there, with NAT detection that shows the change (§3.8). A client
// without MOBIKE is followed to the new mapping (RFC 7296 §2.23).
func TestClientNATMappingChanges(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	private := netip.MustParseAddrPort("10.0.0.2:4500")
	childRemotes := func(addr netip.Addr) []netip.AddrPort {
		var out []netip.AddrPort
		for _, ch := range g.dp.list() {
			if slices.Contains(ch.RemoteTS, netip.PrefixFrom(addr, 32)) {
				out = append(out, ch.Remote)
			}
		}
		return out
	}
	remoteOf := func(subject string) netip.AddrPort {
		for _, c := range g.m.Clients() {
			if c.Subject == subject {
				return c.Remote
			}
		}
		return netip.AddrPort{}
	}

	cl := newP2SClient(t, g, clientAt(1))
	cl.behind = private
	cl.init()
	if a := cpAddr(cl.request(wire.IKEAuth, append(cl.auth(pki.client), &wire.Notify{NotifyType: wire.MOBIKESupported}))); a != poolAddr(1) {
		t.Fatalf("the MOBIKE client got %v", a)
	}
	remapped := netip.MustParseAddrPort("198.51.100.1:61000")
	cl.addr = remapped
	ps := cl.request(wire.Informational, []wire.Payload{
		&wire.Notify{NotifyType: wire.NATDetectionSourceIP, Data: natHash(cl.spiI, cl.spiR, private)},
		&wire.Notify{NotifyType: wire.NATDetectionDestinationIP, Data: natHash(cl.spiI, cl.spiR, p2sGW)}})
	if d := notify(ps, wire.NATDetectionDestinationIP); d == nil || !bytes.Equal(d.Data, natHash(cl.spiI, cl.spiR, remapped)) {
		t.Errorf("the liveness check from the new mapping was answered %v, want NAT detection of %v", ps, remapped)
	}
	if s := notify(ps, wire.NATDetectionSourceIP); s == nil || !bytes.Equal(s.Data, natHash(cl.spiI, cl.spiR, p2sGW)) {
		t.Errorf("the answer's NAT_DETECTION_SOURCE_IP is not of the gateway's %v: %v", p2sGW, ps)
	}
	if r := childRemotes(poolAddr(1)); !slices.Equal(r, []netip.AddrPort{clientAt(1)}) || remoteOf("client1") != clientAt(1) {
		t.Errorf("before UPDATE_SA_ADDRESSES the MOBIKE client's child SAs go to %v, its IKE SA to %v; want %v", r, remoteOf("client1"), clientAt(1))
	}
	cl.request(wire.Informational, []wire.Payload{&wire.Notify{NotifyType: wire.UpdateSAAddresses},
		&wire.Notify{NotifyType: wire.NATDetectionSourceIP, Data: natHash(cl.spiI, cl.spiR, private)},
		&wire.Notify{NotifyType: wire.NATDetectionDestinationIP, Data: natHash(cl.spiI, cl.spiR, p2sGW)}})
	if r := childRemotes(poolAddr(1)); !slices.Equal(r, []netip.AddrPort{remapped}) || remoteOf("client1") != remapped {
		t.Errorf("after UPDATE_SA_ADDRESSES the child SAs go to %v, the IKE SA to %v; want %v", r, remoteOf("client1"), remapped)
	}

	bob := newP2SClient(t, g, clientAt(2))
	bob.behind = private
	if _, a := bob.connect(pkitest.Issue(t, "bob", false, pki.root)); a != poolAddr(2) {
		t.Fatalf("bob got %v", a)
	}
	bobRemapped := netip.MustParseAddrPort("198.51.100.2:62000")
	bob.addr = bobRemapped
	if ps := bob.request(wire.Informational, nil); len(ps) != 0 {
		t.Errorf("bob's liveness check was answered %v, want an empty response", ps)
	}
	if r := childRemotes(poolAddr(2)); !slices.Equal(r, []netip.AddrPort{bobRemapped}) || remoteOf("bob") != bobRemapped {
		t.Errorf("bob (no MOBIKE) behind a NAT: child SAs go to %v, the IKE SA to %v; want %v", r, remoteOf("bob"), bobRemapped)
	}
}

// TestClientEndpointReused: a NAT may give the endpoint of a client to
// another device. A client that moved away leaves its endpoint free: a
// new client there gets a connection, a tunnel and an address of its own.
// A new client at the endpoint of one that is gone without a word takes
// the connection over: the old one's SAs, tunnel and address go.
func TestClientEndpointReused(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	mover := newP2SClient(t, g, clientAt(1))
	mover.init()
	if a := cpAddr(mover.request(wire.IKEAuth, append(mover.auth(pki.client), &wire.Notify{NotifyType: wire.MOBIKESupported}))); a != poolAddr(1) {
		t.Fatalf("the first client got %v", a)
	}
	mover.addr = netip.MustParseAddrPort("203.0.113.77:4500")
	mover.request(wire.Informational, []wire.Payload{&wire.Notify{NotifyType: wire.UpdateSAAddresses}})
	next := newP2SClient(t, g, clientAt(1))
	if _, a := next.connect(pkitest.Issue(t, "bob", false, pki.root)); a != poolAddr(2) {
		t.Fatalf("the client at the endpoint the first left got %v, want %v", a, poolAddr(2))
	}
	if attached, _ := g.hooks.state(); len(attached) != 2 {
		t.Errorf("attached %v, want two tunnels", attached)
	}
	if ps := mover.request(wire.Informational, nil); len(ps) != 0 {
		t.Errorf("the client that moved was answered %v", ps)
	}

	// carol's device is gone without a Delete; dave gets its endpoint.
	carol := newP2SClient(t, g, clientAt(3))
	if _, a := carol.connect(pkitest.Issue(t, "carol", false, pki.root)); a != poolAddr(3) {
		t.Fatalf("carol got %v", a)
	}
	dave := newP2SClient(t, g, clientAt(3))
	dave.init()
	// Without INITIAL_CONTACT: dave knows nothing of carol's SA.
	daveReq := slices.DeleteFunc(dave.auth(pkitest.Issue(t, "dave", false, pki.root)), func(p wire.Payload) bool {
		n, ok := p.(*wire.Notify)
		return ok && n.NotifyType == wire.InitialContact
	})
	if a := cpAddr(dave.request(wire.IKEAuth, daveReq)); a != poolAddr(3) {
		t.Fatalf("dave got %v, want carol's %v, given back", a, poolAddr(3))
	}
	var subjects []string
	for _, c := range g.m.Clients() {
		subjects = append(subjects, c.Subject)
	}
	slices.Sort(subjects)
	if !slices.Equal(subjects, []string{"bob", "client1", "dave"}) {
		t.Errorf("clients %v, want bob, client1 and dave", subjects)
	}
	n := 0
	for _, ch := range g.dp.list() {
		if slices.Contains(ch.RemoteTS, netip.PrefixFrom(poolAddr(3), 32)) {
			n++
		}
	}
	if attached, _ := g.hooks.state(); n != 1 || len(attached) != 3 {
		t.Errorf("%d child SAs for %v (carol's left behind?), %d tunnels attached", n, poolAddr(3), len(attached))
	}
}

// TestCertNamesDNEncoding: a client's DN identity names its certificate's
// subject also when it encodes the same attributes in another string type
// (UTF8String here, PrintableString in the certificate); another value
// does not.
func TestCertNamesDNEncoding(t *testing.T) {
	cert := selfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "alice", Organization: []string{"Contoso"}}})
	dn := func(cn string) []byte {
		t.Helper()
		utf8 := func(v string) asn1.RawValue { return asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(v)} }
		seq := pkix.RDNSequence{
			{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: utf8("Contoso")}},
			{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: utf8(cn)}},
		}
		b, err := asn1.MarshalWithParams(seq, "")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if bytes.Equal(dn("alice"), cert.RawSubject) {
		t.Fatal("the test's DN is encoded as the certificate's: nothing to compare")
	}
	if !certNames(cert, Identity{Type: wire.IDDERASN1DN, Data: dn("alice")}) {
		t.Error("the same DN in UTF8String does not name the certificate")
	}
	if certNames(cert, Identity{Type: wire.IDDERASN1DN, Data: dn("mallory")}) {
		t.Error("another DN names the certificate")
	}
}

// TestVerifyChainClientAuth: a certificate whose extended key usages
// leave out client authentication is refused, as EAP-TLS and SSTP refuse
// it; one without extended key usages is good for any.
func TestVerifyChainClientAuth(t *testing.T) {
	pki := newPKI(t)
	st := &clientState{cfg: pki.clients(newHooks(), p2sPool, 10)}
	issue := func(eku []x509.ExtKeyUsage) *x509.Certificate {
		t.Helper()
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "server"}, ExtKeyUsage: eku,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.root.Certificate, &key.PublicKey, pki.root.Key)
		if err != nil {
			t.Fatal(err)
		}
		return must(x509.ParseCertificate(der))
	}
	for _, tc := range []struct {
		eku []x509.ExtKeyUsage
		ok  bool
	}{{[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, false}, {nil, true}, {[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, true}} {
		c := issue(tc.eku)
		_, err := st.verifyChain([]wire.Payload{&wire.Cert{Encoding: wire.CertX509Signature, Data: c.Raw}}, time.Now())
		if (err == nil) != tc.ok {
			t.Errorf("extended key usages %v: %v", tc.eku, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestClientReconnectsWhenFull: a gateway with as many clients as it
// takes still admits one of them that connects again from another port
// with INITIAL_CONTACT: its stale connection, on its way out, does not
// count; another client is refused.
func TestClientReconnectsWhenFull(t *testing.T) {
	pki, g, old := connectedClient(t, 1)
	if ps, a := newP2SClient(t, g, clientAt(2)).connect(pkitest.Issue(t, "bob", false, pki.root)); a.IsValid() || notify(ps, wire.InternalAddressFailure) == nil {
		t.Fatalf("another client beyond MaxClients got %v (%v)", a, ps)
	}
	again := newP2SClient(t, g, netip.AddrPortFrom(clientAt(1).Addr(), 4500))
	if _, a := again.connect(pki.client); !a.IsValid() {
		t.Fatal("the client connecting again at a full gateway got no address")
	}
	waitFor(t, 5*time.Second, "the stale connection to be gone", func() bool { return len(g.m.Clients()) == 1 })
	if !old.deletedByGW() {
		t.Error("the stale connection got no Delete")
	}
}

// TestClientEndpointFloodAsksCookies: IKE_SA_INIT requests spoofed from
// a connected client's endpoint make the gateway ask for cookies (RFC
// 7296 §2.6) before that client's connection has no half-open slot left,
// as for a site: the client, which can return a cookie, still gets a new
// IKE SA from there (a reauthentication, a restart). Else 16 spoofed
// requests every 30 s kept it out.
func TestClientEndpointFloodAsksCookies(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	if _, a := newP2SClient(t, g, clientAt(1)).connect(pki.client); a != poolAddr(1) {
		t.Fatalf("got %v", a)
	}
	for range 2 * g.m.cfg.MaxHalfOpen {
		g.m.HandlePacket(p2sGW, clientAt(1), newP2SClient(t, g, clientAt(1)).initRequest()) // answers go nowhere
	}
	again := newP2SClient(t, g, clientAt(1))
	g.m.HandlePacket(p2sGW, again.addr, again.initRequest())
	resp, err := wire.ParseMessage(again.await(wire.IKESAInit, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if n := notify(resp.Payloads, wire.Cookie); n != nil {
		again.cookie = n.Data
	}
	if _, a := again.connect(pki.client); a != poolAddr(1) {
		t.Errorf("the client connecting again from its endpoint got %v, want %v", a, poolAddr(1))
	}
}

// TestSetClientsNewGatewayCert: the gateway's certificate issued again
// before it expires is what the clients that connect next get (a new one,
// and a connected one connecting again at its endpoint), and the
// connected clients stay: every client was disconnected, and the
// gateway's certificate was never renewed while it ran.
func TestSetClientsNewGatewayCert(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	cfg := pki.clients(g.hooks, p2sPool, 10)
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	first := newP2SClient(t, g, clientAt(1))
	if _, addr := first.connect(pki.client); addr != poolAddr(1) {
		t.Fatalf("got %v", addr)
	}
	renewed := pkitest.Issue(t, "gw.example.net", false, pki.root, p2sGW.Addr())
	next := pki.clients(g.hooks, p2sPool, 10)
	next.Cert = renewed.TLS()
	if err := g.m.SetClients(next); err != nil {
		t.Fatal(err)
	}
	if got := g.clientAddrs(); !slices.Equal(got, []netip.Addr{poolAddr(1)}) {
		t.Errorf("clients at %v after the gateway's certificate was renewed, want %v", got, poolAddr(1))
	}
	if _, detached := g.hooks.state(); len(detached) != 0 || first.deletedByGW() {
		t.Errorf("a client was disconnected when the gateway's certificate was renewed: detached %v", detached)
	}
	if ps := first.request(wire.Informational, nil); len(ps) != 0 {
		t.Errorf("the kept client's INFORMATIONAL answered %v", ps)
	}
	presented := func(ps []wire.Payload) *x509.Certificate {
		t.Helper()
		c, ok := find[*wire.Cert](ps)
		if !ok {
			t.Fatal("the gateway's IKE_AUTH response has no CERT")
		}
		x, err := x509.ParseCertificate(c.Data)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	ps, addr := newP2SClient(t, g, clientAt(2)).connect(pkitest.Issue(t, "bob", false, pki.root))
	if addr != poolAddr(2) {
		t.Fatalf("the next client got %v", addr)
	}
	if c := presented(ps); !c.Equal(renewed.Certificate) {
		t.Errorf("the next client got the certificate of serial %v, want the renewed one (%v)", c.SerialNumber, renewed.SerialNumber)
	}
	ps, addr = newP2SClient(t, g, clientAt(1)).connect(pki.client)
	if addr != poolAddr(1) {
		t.Fatalf("the client connecting again got %v", addr)
	}
	if c := presented(ps); !c.Equal(renewed.Certificate) {
		t.Errorf("the client connecting again at its kept connection's endpoint got the certificate of serial %v, want the renewed one (%v)", c.SerialNumber, renewed.SerialNumber)
	}
}

// asking returns the IKE_AUTH request ps with its CFG_REQUEST asking for
// the address want (RFC 7296 §3.15.1).
func asking(ps []wire.Payload, want netip.Addr) []wire.Payload {
	a := want.As4()
	for i, p := range ps {
		if cp, ok := p.(*wire.CP); ok && cp.CFGType == wire.CFGRequest {
			ps[i] = &wire.CP{CFGType: wire.CFGRequest, Attributes: []wire.CPAttribute{{Type: wire.InternalIP4Address, Value: a[:]}, {Type: wire.InternalIP4Subnet}}}
		}
	}
	return ps
}

// TestClientGetsTheAddressItAsksFor: a client that asks for an address
// (RFC 7296 §3.15.1: it had it before) gets it when the pool has it free,
// and the lowest free one when not; one that connects again from another
// port with INITIAL_CONTACT gets the address its stale connection held.
func TestClientGetsTheAddressItAsksFor(t *testing.T) {
	pki, g, _ := connectedClient(t, 10)
	connectAsking := func(i int, name string, want netip.Addr) (*p2sClient, netip.Addr) {
		t.Helper()
		cl := newP2SClient(t, g, clientAt(i))
		cl.init()
		cert := pkitest.Issue(t, name, false, pki.root)
		return cl, cpAddr(cl.request(wire.IKEAuth, asking(cl.auth(cert), want)))
	}
	if _, addr := connectAsking(2, "bob", poolAddr(5)); addr != poolAddr(5) {
		t.Fatalf("the client asking for %v got %v", poolAddr(5), addr)
	}
	for _, want := range []netip.Addr{
		poolAddr(5),                          // taken by bob
		poolAddr(1),                          // taken by the first client
		p2sPool.Masked().Addr(),              // the pool's network address
		netip.MustParseAddr("203.0.113.200"), // outside the pool
	} {
		if _, addr := connectAsking(3, "carol-"+want.String(), want); addr != poolAddr(2) {
			t.Errorf("the client asking for %v got %v, want the lowest free %v", want, addr, poolAddr(2))
		}
		waitFor(t, 5*time.Second, "the endpoint's client to be replaced", func() bool { return len(g.m.Clients()) == 3 })
	}

	// dave has .6; his device loses its NAT mapping and connects again
	// from another port, asking for .6.
	dave := pkitest.Issue(t, "dave", false, pki.root)
	before := newP2SClient(t, g, clientAt(4))
	before.init()
	if addr := cpAddr(before.request(wire.IKEAuth, asking(before.auth(dave), poolAddr(6)))); addr != poolAddr(6) {
		t.Fatalf("dave got %v, want %v", addr, poolAddr(6))
	}
	again := newP2SClient(t, g, netip.AddrPortFrom(clientAt(4).Addr(), 4500))
	again.init()
	if addr := cpAddr(again.request(wire.IKEAuth, asking(again.auth(dave), poolAddr(6)))); addr != poolAddr(6) {
		t.Errorf("dave connecting again got %v, want the %v he had", addr, poolAddr(6))
	}
	if !before.deletedByGW() {
		t.Error("dave's stale connection was not deleted")
	}
}
