package ikev2

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// fuzzFixture is a responder Manager (b, the target) and an initiator (a)
// whose keys let the fuzzer send authenticated requests. It lives across
// fuzz iterations.
type fuzzFixture struct {
	n        *fakeNet
	a, b     *node
	mu       sync.Mutex // guards dropAuth
	dropAuth bool       // drop a's IKE_AUTH requests, leaving b half open
}

// Fuzz modes: what the fuzzer's datagram becomes.
const (
	fuzzRaw         = iota // sent as is
	fuzzToSA               // SPIs set to those of the established IKE SA
	fuzzEstablished        // plaintext payloads, encrypted under the established IKE SA
	fuzzHalfOpen           // plaintext payloads, encrypted as IKE_AUTH to a half-open SA
	fuzzModes
)

// newFuzzFixture is a fixture's network, which drops a's IKE_AUTH
// requests while dropAuth is set; its nodes are the caller's to add.
func newFuzzFixture(f testing.TB) *fuzzFixture {
	fx := &fuzzFixture{n: newFakeNet(f)}
	fx.n.setPolicy(func(from, _ netip.AddrPort, b []byte) []time.Duration {
		fx.mu.Lock()
		defer fx.mu.Unlock()
		if fx.dropAuth && from.Addr() == addrA && len(b) > 18 && wire.ExchangeType(b[18]) == wire.IKEAuth {
			return nil
		}
		return []time.Duration{0}
	})
	return fx
}

// fixture builds the fixture, which lives as long as f: each fuzz target
// has one of its own.
func fixture(f testing.TB) *fuzzFixture {
	fx := newFuzzFixture(f)
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	// a initiates only when told; b answers.
	pa.Mode, pb.Mode = ModeResponderOnly, ModeResponderOnly
	pa.RetransmitTimeout, pb.RetransmitTimeout = MaxRetransmitTimeout, MaxRetransmitTimeout
	fx.b = newNode(f, fx.n, "b", addrB, Config{MaxHalfOpen: 4}, pb)
	fx.a = newNode(f, fx.n, "a", addrA, Config{}, pa)
	return fx
}

// reset ends every SA on both sides and, unless halfOpen, establishes a new
// one; with halfOpen it leaves b with a half-open SA and a with its keys.
func (fx *fuzzFixture) reset(t testing.TB, halfOpen bool) *ikeSA {
	for _, nd := range []*node{fx.a, fx.b} {
		nd.onLoop(func(c *conn) {
			for _, sa := range c.sas {
				sa.kill("fuzz reset")
			}
			c.reap()
		})
	}
	fx.mu.Lock()
	fx.dropAuth = halfOpen
	fx.mu.Unlock()
	fx.a.onLoop(func(c *conn) { c.initiate() })
	var sa *ikeSA
	waitFor(t, 5*time.Second, "the fuzz fixture's IKE SA", func() bool {
		fx.a.onLoop(func(c *conn) {
			sa = nil
			for _, s := range c.sas {
				if halfOpen && s.state == stateAuthSent || !halfOpen && s.state == stateEstablished {
					sa = s
				}
			}
		})
		if halfOpen {
			return sa != nil && len(fx.b.status().IKESAs) == 1
		}
		return sa != nil && len(fx.b.established()) == 1
	})
	return sa
}

// current returns a's SA in the state wanted, or nil; an established one
// only if b has it established too.
func (fx *fuzzFixture) current(halfOpen bool) *ikeSA {
	var sa *ikeSA
	fx.a.onLoop(func(c *conn) {
		for _, s := range c.sas {
			if halfOpen && s.state == stateAuthSent || !halfOpen && s.state == stateEstablished {
				sa = s
			}
		}
	})
	if sa == nil || halfOpen {
		return sa
	}
	for _, s := range fx.b.established() {
		if s.SPIi == sa.spiI {
			return sa
		}
	}
	return nil
}

// settle waits until b's loop has processed what it was given.
func (fx *fuzzFixture) settle() { settleConn(fx.b.m.conn("to-a")) }

// settleConn returns once c's loop has handled the datagrams given to c
// before the call. It does not wait for the loop to take them (sleeping
// took most of a fuzz input's time): on the loop, it handles those still
// queued itself, as conn.run does.
func settleConn(c *conn) {
	c.do(func() {
		for !c.exit {
			select {
			case p := <-c.packets:
				c.handle(*p)
				c.tick(time.Now())
				c.reap()
				if c.stopping && len(c.sas) == 0 {
					c.exit = true
				}
			default:
				return
			}
		}
	})
}

// peerID returns the message ID b expects next on the IKE SA with
// initiator SPI spiI.
func (fx *fuzzFixture) peerID(spiI uint64) uint32 {
	var id uint32
	fx.b.onLoop(func(c *conn) {
		for _, s := range c.sas {
			if s.spiI == spiI {
				id = s.peerID
			}
		}
	})
	return id
}

// seal encrypts plaintext payloads as a request of a under sa.
func seal(sa *ikeSA, exch wire.ExchangeType, id uint32, first wire.PayloadType, plain []byte) []byte {
	var out []byte
	sa.c.do(func() {
		h := wire.Header{SPIi: sa.spiI, SPIr: sa.spiR, MajorVersion: 2, Exchange: exch, MessageID: id, Flags: wire.FlagInitiator}
		b, err := wire.AppendEncryptedHeader(nil, h, first, sa.out.SealedLen(len(plain)))
		if err != nil {
			return
		}
		out, _ = sa.out.Seal(b, b, plain)
	})
	return out
}

// encodeChain returns the type of the first payload of ps and the
// payloads encoded, as the plaintext of an SK payload.
func encodeChain(f *testing.F, ps []wire.Payload) (wire.PayloadType, []byte) {
	plain, err := wire.AppendPayloads(nil, ps)
	if err != nil {
		f.Fatal(err)
	}
	first := wire.PayloadNone
	if len(ps) > 0 {
		first = ps[0].Type()
	}
	return first, plain
}

// fuzzExchanges maps the fuzzer's first octet to an exchange type.
var fuzzExchanges = []wire.ExchangeType{wire.IKEAuth, wire.CreateChildSA, wire.Informational, wire.IKESAInit}

// FuzzHandlePacket feeds arbitrary datagrams to a responder Manager: as
// they are, aimed at a live IKE SA, and as the authenticated content of
// requests under an established and a half-open IKE SA. It must never
// panic; the responder must still answer a fresh IKE SA afterwards.
func FuzzHandlePacket(f *testing.F) {
	fx := fixture(f)
	fx.reset(f, false)
	for _, d := range fx.n.datagrams() {
		f.Add(uint8(fuzzRaw), d.data)
		f.Add(uint8(fuzzToSA), d.data)
	}
	spi := []byte{1, 2, 3, 4}
	chains := [][]wire.Payload{
		nil,
		{&wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4, SPIs: [][]byte{spi}}},
		{&wire.Delete{Protocol: wire.ProtocolIKE}},
		{&wire.Notify{Protocol: wire.ProtocolESP, SPI: spi, NotifyType: wire.RekeySA},
			saPayload(mustProposals(f, wire.ProtocolESP, "aes256gcm16-x25519", "aes128-sha1"), spi, true),
			&wire.Nonce{Data: bytes.Repeat([]byte{7}, 32)},
			&wire.KE{Group: wire.DHCurve25519, Data: bytes.Repeat([]byte{9}, 32)},
			tsPayload(false, prefixSelectors([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})),
			tsPayload(true, prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}))},
		{saPayload(mustProposals(f, wire.ProtocolIKE, "aes256gcm16-prfsha256-x25519"), spi8(99), true),
			&wire.Nonce{Data: bytes.Repeat([]byte{7}, 32)},
			&wire.KE{Group: wire.DHCurve25519, Data: bytes.Repeat([]byte{9}, 32)}},
		{IPIdentity(addrA).payload(false), &wire.Notify{NotifyType: wire.InitialContact},
			&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: bytes.Repeat([]byte{1}, 32)},
			saPayload(mustProposals(f, wire.ProtocolESP, "aes256gcm16"), spi, false),
			tsPayload(false, prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})),
			tsPayload(true, prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}))},
	}
	for i, ps := range chains {
		first, plain := encodeChain(f, ps)
		for _, mode := range []uint8{fuzzEstablished, fuzzHalfOpen} {
			f.Add(mode, append([]byte{byte(i % 3), byte(first)}, plain...))
		}
	}
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		mode %= fuzzModes
		from, to := netip.AddrPortFrom(addrA, 500), netip.AddrPortFrom(addrB, 500)
		switch mode {
		case fuzzRaw:
			fx.b.m.HandlePacket(to, from, data)
		case fuzzToSA:
			sa := fx.current(false)
			if sa == nil {
				sa = fx.reset(t, false)
			}
			msg := bytes.Clone(data)
			if len(msg) >= 16 {
				binary.BigEndian.PutUint64(msg[0:], sa.spiI)
				binary.BigEndian.PutUint64(msg[8:], sa.spiR)
			}
			fx.b.m.HandlePacket(to, from, msg)
		case fuzzEstablished, fuzzHalfOpen:
			if len(data) < 2 {
				return
			}
			half := mode == fuzzHalfOpen
			sa := fx.current(half)
			if sa == nil || half {
				sa = fx.reset(t, half)
			}
			exch, id := fuzzExchanges[int(data[0])%len(fuzzExchanges)], fx.peerID(sa.spiI)
			if half {
				exch, id = wire.IKEAuth, 1
			}
			msg := seal(sa, exch, id, wire.PayloadType(data[1]), data[2:])
			if msg == nil {
				return
			}
			fx.b.m.HandlePacket(sa.remote, sa.local, msg)
		}
		fx.settle()
	})
}

// Modes of FuzzClientPackets: what the fuzzer's datagram becomes.
const (
	clientFuzzRaw  = iota // sent as is from a client's address, twice, then from another
	clientFuzzToSA        // SPIs set to those of a client's half-open IKE SA
	clientFuzzAuth        // the plaintext of that client's IKE_AUTH request
	clientFuzzModes
)

// fillIn completes a fuzzed IKE_AUTH payload chain with what the fuzzer
// cannot know, this run's keys: an empty ID_DER_ASN1_DN becomes the
// certificate's subject, an empty X.509 CERT the certificate, an empty
// AUTH the signature over the first ID. It reports whether it changed
// anything.
func (cl *p2sClient) fillIn(cert *pkitest.Cert, ps []wire.Payload) bool {
	changed := false
	var id *wire.ID
	for _, p := range ps {
		switch p := p.(type) {
		case *wire.ID:
			if !p.Responder && p.IDType == wire.IDDERASN1DN && len(p.Data) == 0 {
				p.Data, changed = cert.RawSubject, true
			}
			if id == nil {
				id = p
			}
		case *wire.Cert:
			if p.Encoding == wire.CertX509Signature && len(p.Data) == 0 {
				p.Data, changed = cert.Raw, true
			}
		}
	}
	for _, p := range ps {
		if a, ok := p.(*wire.Auth); ok && len(a.Data) == 0 && id != nil {
			if s, err := cl.sign(cert.Key, id); err == nil {
				a.Method, a.Data, changed = s.Method, s.Data, true
			}
		}
	}
	return changed
}

// settleClients waits until the loops of the Manager's clients have
// processed what they were given.
func settleClients(m *Manager) {
	m.mu.Lock()
	conns := make([]*conn, 0, len(m.clients))
	for _, c := range m.clients {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	for _, c := range conns {
		settleConn(c)
	}
}

// copyFor returns a client of gateway g, for test t, with the nonce,
// key and SPI of offer: a fuzz target that starts IKE SA after IKE SA,
// each with a gateway of its own, makes no key for them (some 100 µs
// each for Curve25519).
func (offer *p2sClient) copyFor(t testing.TB, g *p2sGateway) *p2sClient {
	cl := *offer
	cl.t, cl.gw = t, g
	return &cl
}

// initNow is init, without polling for the response: the gateway's
// client loops have handled the request when it looks (settleClients).
func (cl *p2sClient) initNow() {
	cl.t.Helper()
	seen := cl.sendInit()
	settleClients(cl.gw.m)
	cl.initDone(cl.await(wire.IKESAInit, 0, seen))
}

// FuzzClientPackets feeds arbitrary datagrams to a Manager that serves
// point-to-site clients: IKE_SA_INIT requests and anything else from
// addresses no peer has, datagrams aimed at a client's half-open IKE SA,
// and the authenticated content of a client's IKE_AUTH request. It must
// never panic, and Close must end every client: no goroutine, address,
// attachment or child SA may outlive it.
//
// Each input has a gateway of its own, to close. Its clients are copies
// of one (copyFor), whose key is made once, and their IKE_SA_INIT is
// answered as soon as the gateway's loops have handled it (initNow).
// Goroutines are counted after Close, their stacks read only when there
// are more than before the gateway. Inputs over 512 octets are not tried:
// the fuzzer minimizes each that finds new coverage with some n²/2 cuts
// of its n octets, fuzzing nothing else meanwhile, and the seeds are 198
// at most.
func FuzzClientPackets(f *testing.F) {
	pki := newPKI(f)
	offer := newP2SClient(f, nil, clientAt(1))
	init := offer.initRequest()
	f.Add(uint8(clientFuzzRaw), init)
	f.Add(uint8(clientFuzzRaw), init[:len(init)-1])
	withCookie := *offer
	withCookie.cookie = bytes.Repeat([]byte{5}, 32)
	f.Add(uint8(clientFuzzRaw), withCookie.initRequest())
	f.Add(uint8(clientFuzzToSA), init)
	any4 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	child := []wire.Payload{saPayload(mustProposals(f, wire.ProtocolESP, "aes256gcm16", "aes128-sha1"), []byte{0, 0, 1, 0}, false),
		tsPayload(false, any4), tsPayload(true, any4)}
	dn := &wire.ID{IDType: wire.IDDERASN1DN}
	cert := &wire.Cert{Encoding: wire.CertX509Signature}
	auth := &wire.Auth{Method: wire.AuthDigitalSignature}
	cp := &wire.CP{CFGType: wire.CFGRequest, Attributes: []wire.CPAttribute{{Type: wire.InternalIP4Address}, {Type: wire.InternalIP4Subnet}}}
	chains := [][]wire.Payload{
		nil,
		append([]wire.Payload{dn, cert, auth, &wire.Notify{NotifyType: wire.InitialContact}, cp}, child...),
		{dn, cert, auth, cp},
		append([]wire.Payload{FQDNIdentity("client1").payload(false), cert, auth,
			&wire.CP{CFGType: wire.CFGRequest, Attributes: []wire.CPAttribute{{Type: wire.SupportedAttributes, Value: []byte{0, 1, 0, 13}},
				{Type: wire.InternalIP4Address, Value: []byte{10, 9, 0, 200}}, {Type: wire.InternalIP6Address}}}}, child...),
		append([]wire.Payload{dn, cert, &wire.Cert{Encoding: wire.CertX509Signature, Data: []byte{0x30, 0x03, 1, 2, 3}}, auth, cp}, child...),
		append([]wire.Payload{dn, cert, cp}, child...),
		{dn, auth},
	}
	for _, ps := range chains {
		first, plain := encodeChain(f, ps)
		f.Add(uint8(clientFuzzAuth), append([]byte{byte(first)}, plain...))
	}
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		if len(data) > 512 {
			return
		}
		goroutines := runtime.NumGoroutine()
		g := startP2SGateway(t, Config{MaxHalfOpen: 4})
		if err := g.m.SetClients(pki.clients(g.hooks, netip.MustParsePrefix("10.9.0.0/24"), 4)); err != nil {
			t.Fatal(err)
		}
		switch mode % clientFuzzModes {
		case clientFuzzRaw:
			g.m.HandlePacket(p2sGW, clientAt(1), data)
			g.m.HandlePacket(p2sGW, clientAt(1), data)
			g.m.HandlePacket(p2sGW, clientAt(2), data)
		case clientFuzzToSA:
			cl := offer.copyFor(t, g)
			cl.initNow()
			msg := bytes.Clone(data)
			if len(msg) >= 16 {
				binary.BigEndian.PutUint64(msg[0:], cl.spiI)
				binary.BigEndian.PutUint64(msg[8:], cl.spiR)
			}
			g.m.HandlePacket(p2sGW, cl.addr, msg)
		case clientFuzzAuth:
			if len(data) < 1 {
				return
			}
			cl := offer.copyFor(t, g)
			cl.initNow()
			first, plain := wire.PayloadType(data[0]), data[1:]
			if ps, err := wire.ParsePayloads(first, bytes.Clone(plain)); err == nil && cl.fillIn(pki.client, ps) {
				if b, err := wire.AppendPayloads(nil, ps); err == nil {
					first, plain = ps[0].Type(), b
				}
			}
			msg, err := cl.sealRaw(wire.IKEAuth, 1, first, plain)
			if err != nil {
				return
			}
			g.m.HandlePacket(p2sGW, cl.addr, msg)
		}
		settleClients(g.m)
		g.m.Close()
		g.m.mu.Lock()
		conns, addrs := len(g.m.clients), len(g.m.clientAddrs)
		g.m.mu.Unlock()
		if attached, _ := g.hooks.state(); conns != 0 || addrs != 0 || len(attached) != 0 || g.dp.count() != 0 {
			t.Errorf("after Close: %d client connections, %d addresses, attached %v, %d child SAs", conns, addrs, attached, g.dp.count())
		}
		// Only a goroutine more than before the gateway has its stack
		// read, all others' with it: reading them after every input
		// (checkLeaks) took more than the rest of the input.
		if runtime.NumGoroutine() > goroutines {
			if stacks, leaked := leakedLoops(); leaked {
				t.Errorf("goroutines leaked:\n%s", stacks)
			}
		}
	})
}
