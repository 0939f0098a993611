package ikev2

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// fakeNet is an in-memory network between Managers. A policy can drop,
// duplicate, reorder and delay datagrams; a NAT can rewrite one node's
// address.
type fakeNet struct {
	t  testing.TB
	mu sync.Mutex // guards the fields below
	// nodes by address; a node receives whatever is sent to its address,
	// whatever the port.
	nodes map[netip.Addr]*Manager
	// policy returns the delays of the copies of a datagram to deliver:
	// none drops it. Nil delivers one copy at once.
	policy func(from, to netip.AddrPort, b []byte) []time.Duration
	// inOrder picks the datagrams that arrive in the order they were
	// sent, each after the one before it (and no sooner than its delay):
	// a timer for each alone may swap two when a loaded machine runs
	// them late. Not for use with pause.
	inOrder     func(from, to netip.AddrPort, b []byte) bool
	lastInOrder chan struct{} // closed once the last one picked is delivered
	// held datagrams wait for release while hold is set.
	hold bool
	held []func()
	nat  *fakeNAT
	// dualStack are the nodes whose datagrams arrive with IPv4-mapped
	// IPv6 addresses (::ffff:a.b.c.d), as a dual-stack socket's do.
	dualStack map[netip.Addr]bool
	sent      []sentDatagram
	// sentBytes counts what was sent; with noRecord set, sent stays empty.
	sentBytes int
	noRecord  bool
	closed    bool
	wg        sync.WaitGroup // deliveries in flight
}

type sentDatagram struct {
	from, to netip.AddrPort
	data     []byte
	at       time.Time
}

// fakeNAT maps inside:port to public:mapped port, as a NAT in front of the
// inside address would.
type fakeNAT struct {
	inside, public netip.Addr
	ports          map[uint16]uint16 // inside port to public port
	back           map[uint16]uint16
	next           uint16
}

func newFakeNet(t testing.TB) *fakeNet {
	n := &fakeNet{t: t, nodes: map[netip.Addr]*Manager{}}
	t.Cleanup(n.close)
	return n
}

func (n *fakeNet) close() {
	n.mu.Lock()
	n.closed = true
	for range n.held {
		n.wg.Done() // never delivered
	}
	n.held = nil
	n.mu.Unlock()
	n.wg.Wait()
}

// attach makes m receive what is sent to addr.
func (n *fakeNet) attach(addr netip.Addr, m *Manager) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nodes[addr] = m
}

// detach makes addr unreachable, as a crashed host.
func (n *fakeNet) detach(addr netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.nodes, addr)
}

// setPolicy replaces the delivery policy.
func (n *fakeNet) setPolicy(p func(from, to netip.AddrPort, b []byte) []time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.policy = p
}

// keepOrder makes the datagrams for which f holds arrive in the order
// they were sent.
func (n *fakeNet) keepOrder(f func(from, to netip.AddrPort, b []byte) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.inOrder = f
}

// pause holds every datagram until resume.
func (n *fakeNet) pause() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hold = true
}

// resume delivers the held datagrams, in order.
func (n *fakeNet) resume() {
	n.mu.Lock()
	held := n.held
	n.held, n.hold = nil, false
	n.mu.Unlock()
	for _, f := range held {
		f()
	}
}

// datagrams returns copies of what was sent so far.
func (n *fakeNet) datagrams() []sentDatagram {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]sentDatagram(nil), n.sent...)
}

// waitBothRequests waits until a CREATE_CHILD_SA request of each side is
// among the datagrams sent from the mark-th on (two of them may be one
// request and its retransmission): while the network is paused, both
// requests are then on their way before either arrives.
func (n *fakeNet) waitBothRequests(t testing.TB, mark int) {
	t.Helper()
	waitFor(t, 10*time.Second, "both requests sent", func() bool {
		from := map[netip.Addr]bool{}
		for _, d := range n.datagrams()[mark:] {
			if h, _, err := wire.ParseHeader(d.data); err == nil && h.Exchange == wire.CreateChildSA && h.Flags&wire.FlagResponse == 0 {
				from[d.from.Addr()] = true
			}
		}
		return from[addrA] && from[addrB]
	})
}

// requests counts the requests of exchange type exch that were sent,
// each retransmission too.
func (n *fakeNet) requests(exch wire.ExchangeType) (k int) {
	for _, d := range n.datagrams() {
		if isRequest(d.data, exch) {
			k++
		}
	}
	return k
}

// distinctRequests counts the requests of exchange type exch that were
// sent; one sent again (the same bytes, RFC 7296 §2.1) counts once, as a
// loaded machine may retransmit where an idle one does not.
func (n *fakeNet) distinctRequests(exch wire.ExchangeType) int {
	seen := map[string]bool{}
	for _, d := range n.datagrams() {
		if isRequest(d.data, exch) {
			seen[string(d.data)] = true
		}
	}
	return len(seen)
}

// isRequest tells whether msg is a request of exchange type exch.
func isRequest(msg []byte, exch wire.ExchangeType) bool {
	h, _, err := wire.ParseHeader(msg)
	return err == nil && h.Exchange == exch && h.Flags&wire.FlagResponse == 0
}

// endpoint returns the Transport of the node at addr.
func (n *fakeNet) endpoint() Transport { return netTransport{n} }

type netTransport struct{ n *fakeNet }

func (tr netTransport) SendIKE(local, remote netip.AddrPort, msg []byte) error {
	n := tr.n
	b := bytes.Clone(msg)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.sentBytes += len(b)
	if !n.noRecord {
		n.sent = append(n.sent, sentDatagram{from: local, to: remote, data: b, at: time.Now()})
	}
	from := local
	if nat := n.nat; nat != nil && local.Addr() == nat.inside {
		from = nat.out(local)
	}
	to := remote
	if nat := n.nat; nat != nil && remote.Addr() == nat.public {
		var ok bool
		if to, ok = nat.in(remote); !ok {
			return nil
		}
	}
	delays := []time.Duration{0}
	if n.policy != nil {
		delays = n.policy(from, to, b)
	}
	ordered := n.inOrder != nil && n.inOrder(from, to, b)
	for _, d := range delays {
		deliver := func() {
			// A datagram sent to a mapped address goes to the IPv4
			// one, and comes from the IPv4 sender, as the kernel
			// sends it.
			to, from := unmapped(to), unmapped(from)
			n.mu.Lock()
			m, dual := n.nodes[to.Addr()], n.dualStack[to.Addr()]
			n.mu.Unlock()
			if dual {
				to, from = mapped(to), mapped(from)
			}
			if m != nil {
				m.HandlePacket(to, from, b)
			}
		}
		var prev, done chan struct{}
		if ordered {
			prev, done = n.lastInOrder, make(chan struct{})
			n.lastInOrder = done
		}
		n.wg.Add(1)
		f := func() {
			defer n.wg.Done()
			if prev != nil {
				<-prev
			}
			deliver()
			if done != nil {
				close(done)
			}
		}
		if n.hold {
			n.held = append(n.held, func() { time.AfterFunc(d, f) })
			continue
		}
		time.AfterFunc(d, f)
	}
	return nil
}

func (nat *fakeNAT) out(local netip.AddrPort) netip.AddrPort {
	p, ok := nat.ports[local.Port()]
	if !ok {
		nat.next++
		p = 30000 + nat.next
		nat.ports[local.Port()] = p
		nat.back[p] = local.Port()
	}
	return netip.AddrPortFrom(nat.public, p)
}

func (nat *fakeNAT) in(public netip.AddrPort) (netip.AddrPort, bool) {
	p, ok := nat.back[public.Port()]
	return netip.AddrPortFrom(nat.inside, p), ok
}

// fakeDataplane records the child SAs a Manager installs.
type fakeDataplane struct {
	mu       sync.Mutex // guards the fields below
	children map[uint32]ipsec.Child
	// drained are the children that send nothing more (DrainChild),
	// still in children until removed.
	drained  map[uint32]bool
	installs int
	removes  []uint32
	drains   []uint32 // every DrainChild's, also of children removed since
	moves    int
	signal   chan struct{} // gets a value on every install, if not nil
	// uncovered counts the removals and drains that left no installed
	// child that sends with the selectors of the one removed or drained:
	// traffic between them had no SA.
	uncovered int
	// espFlowing: ESP from the peer opens all the time (LastInbound is
	// now); else espLast is when it last did.
	espFlowing bool
	espLast    time.Time
}

// LastInbound is when ESP from the peer last opened (InboundClock).
func (d *fakeDataplane) LastInbound(string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.espFlowing {
		return time.Now()
	}
	return d.espLast
}

// espFlow starts or stops ESP from the peer.
func (d *fakeDataplane) espFlow(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.espFlowing && !on {
		d.espLast = time.Now()
	}
	d.espFlowing = on
}

func newFakeDataplane() *fakeDataplane {
	return &fakeDataplane{children: map[uint32]ipsec.Child{}, drained: map[uint32]bool{}}
}

func (d *fakeDataplane) InstallChild(c ipsec.Child) error {
	d.mu.Lock()
	d.children[c.In.SPI] = c
	d.installs++
	sig := d.signal
	d.mu.Unlock()
	if sig != nil {
		select {
		case sig <- struct{}{}:
		default:
		}
	}
	return nil
}

func (d *fakeDataplane) MoveChild(_ string, inSPI uint32, local, remote netip.AddrPort, encap bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.children[inSPI]
	if !ok {
		return errors.New("no such child")
	}
	c.Local, c.Remote, c.Encap = local, remote, encap
	d.children[inSPI] = c
	d.moves++
	return nil
}

func (d *fakeDataplane) RemoveChild(_ string, inSPI uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.children[inSPI]
	drained := d.drained[inSPI]
	delete(d.children, inSPI)
	delete(d.drained, inSPI)
	d.removes = append(d.removes, inSPI)
	if ok && !drained {
		d.checkCovered(c)
	}
}

func (d *fakeDataplane) DrainChild(_ string, inSPI uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.children[inSPI]
	if !ok || d.drained[inSPI] {
		return
	}
	d.drained[inSPI] = true
	d.drains = append(d.drains, inSPI)
	d.checkCovered(c)
}

// ended tells whether the pair with inbound SPI spi left what the data
// path sends with: removed, or drained (it still opens what arrives with
// it a while).
func (d *fakeDataplane) ended(spi uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.drained[spi] || slices.Contains(d.removes, spi)
}

// drainedOnce tells whether the pair with inbound SPI spi was drained.
func (d *fakeDataplane) drainedOnce(spi uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Contains(d.drains, spi)
}

// checkCovered counts c as uncovered if no child that sends has its
// selectors. d.mu is held.
func (d *fakeDataplane) checkCovered(c ipsec.Child) {
	for spi, o := range d.children {
		if !d.drained[spi] && slices.Equal(o.LocalTS, c.LocalTS) && slices.Equal(o.RemoteTS, c.RemoteTS) {
			return
		}
	}
	d.uncovered++
}

// uncoveredRemovals returns how many removals or drains left the
// selectors of the child removed or drained without an SA to send with.
func (d *fakeDataplane) uncoveredRemovals() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.uncovered
}

// list returns the installed children that send.
func (d *fakeDataplane) list() []ipsec.Child {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]ipsec.Child, 0, len(d.children))
	for spi, c := range d.children {
		if !d.drained[spi] {
			out = append(out, c)
		}
	}
	return out
}

// count returns how many installed children send.
func (d *fakeDataplane) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.children) - len(d.drained)
}

// node is a Manager on the fake network.
type node struct {
	m    *Manager
	dp   *fakeDataplane
	addr netip.Addr
	peer PeerConfig
}

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
)

// testLogger returns a logger that writes to the test log when
// VNETGW_TEST_LOG is set, and discards otherwise.
func testLogger(t testing.TB, name string) *slog.Logger {
	if os.Getenv("VNETGW_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// basePeer returns the configuration of a peer from local to remote with
// fast timers for tests.
func basePeer(name string, local, remote netip.Addr) PeerConfig {
	return PeerConfig{
		Name:              name,
		Local:             netip.AddrPortFrom(local, 500),
		Remote:            netip.AddrPortFrom(remote, 500),
		PSK:               PSK("test-psk-0123456789"),
		RetransmitTimeout: 100 * time.Millisecond,
		RetransmitTries:   4,
		ReconnectDelay:    200 * time.Millisecond,
		DPDInterval:       -1,
	}
}

// newNode starts a Manager at addr with peer as its only peer.
func newNode(t testing.TB, n *fakeNet, name string, addr netip.Addr, cfg Config, peer PeerConfig) *node {
	t.Helper()
	dp := newFakeDataplane()
	cfg.Logger = testLogger(t, name)
	cfg.Transport = n.endpoint()
	cfg.Dataplane = dp
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.attach(addr, m)
	t.Cleanup(func() { m.Close() })
	if err := m.Reconfig([]PeerConfig{peer}); err != nil {
		t.Fatal(err)
	}
	return &node{m: m, dp: dp, addr: addr, peer: peer}
}

// pair starts two Managers: a initiates (ModeDefault), b only responds,
// each configuration adjusted by its function.
func pair(t testing.TB, adjA, adjB func(*PeerConfig)) (n *fakeNet, a, b *node) {
	t.Helper()
	checkLeaks(t)
	n = newFakeNet(t)
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	pb.Mode = ModeResponderOnly
	if adjA != nil {
		adjA(&pa)
	}
	if adjB != nil {
		adjB(&pb)
	}
	b = newNode(t, n, "b", addrB, Config{}, pb)
	a = newNode(t, n, "a", addrA, Config{}, pa)
	return n, a, b
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// status returns the status of the node's only peer.
func (nd *node) status() PeerStatus {
	s := nd.m.Status()
	if len(s) != 1 {
		return PeerStatus{}
	}
	return s[0]
}

// established returns the established IKE SAs of the node's peer.
func (nd *node) established() []IKESAStatus {
	var out []IKESAStatus
	for _, sa := range nd.status().IKESAs {
		if sa.State == "established" {
			out = append(out, sa)
		}
	}
	return out
}

// waitUp waits until both nodes have one established IKE SA with the same
// SPIs and want children each, installed in the data path.
func waitUp(t testing.TB, a, b *node, want int) {
	t.Helper()
	waitFor(t, 10*time.Second, "IKE SA and child SAs up on both sides", func() bool {
		ea, eb := a.established(), b.established()
		return len(ea) == 1 && len(eb) == 1 && ea[0].SPIi == eb[0].SPIi && ea[0].SPIr == eb[0].SPIr &&
			len(ea[0].Children) == want && len(eb[0].Children) == want &&
			a.dp.count() == want && b.dp.count() == want
	})
}

// onLoop runs f on the loop of the node's peer.
func (nd *node) onLoop(f func(c *conn)) {
	c := nd.m.conn(nd.peer.Name)
	if c == nil {
		return
	}
	c.do(func() { f(c) })
}

// checkKeys checks that the children of a and b are the two ends of the
// same SAs: what one seals with its outbound SA the other opens with its
// inbound SA of the same SPI, in both directions.
func checkKeys(t testing.TB, a, b *node) {
	t.Helper()
	ca, cb := a.dp.list(), b.dp.list()
	if len(ca) != len(cb) {
		t.Fatalf("%d children on one side, %d on the other", len(ca), len(cb))
	}
	byIn := map[uint32]ipsec.Child{}
	for _, c := range cb {
		byIn[c.In.SPI] = c
	}
	for _, c := range ca {
		peer, ok := byIn[c.Out.SPI]
		if !ok {
			t.Fatalf("a's outbound SPI %08x is no inbound SPI of b", c.Out.SPI)
		}
		if peer.Out.SPI != c.In.SPI {
			t.Fatalf("b's outbound SPI %08x, a's inbound %08x", peer.Out.SPI, c.In.SPI)
		}
		sealOpen(t, c.Out, peer.In)
		sealOpen(t, peer.Out, c.In)
		if c.Encap != peer.Encap {
			t.Errorf("encapsulation %v on one side, %v on the other", c.Encap, peer.Encap)
		}
	}
}

// sealOpen seals a packet with out and opens it with in.
func sealOpen(t testing.TB, out, in esp.Config) {
	t.Helper()
	so, err := esp.New(out)
	if err != nil {
		t.Fatalf("outbound SA: %v", err)
	}
	si, err := esp.New(in)
	if err != nil {
		t.Fatalf("inbound SA: %v", err)
	}
	inner := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	buf := make([]byte, esp.Headroom+len(inner)+esp.Tailroom)
	copy(buf[esp.Headroom:], inner)
	pkt, err := so.Seal(buf, len(inner), espwire.NextHeaderIPv4)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	got, _, err := si.Open(pkt)
	if err != nil || !bytes.Equal(got, inner) {
		t.Fatalf("SPI %08x: what one side seals the other cannot open: %v", out.SPI, err)
	}
}

// mustProposals parses proposals in strongSwan's syntax.
func mustProposals(t testing.TB, p wire.ProtocolID, ss ...string) []suite.Proposal {
	t.Helper()
	var out []suite.Proposal
	for _, s := range ss {
		pr, err := suite.ParseProposal(p, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pr)
	}
	return out
}

// lossy returns a policy that drops a datagram with probability drop,
// duplicates it with probability dup and delays each copy by up to
// maxDelay, which reorders them.
func lossy(seed uint64, drop, dup float64, maxDelay time.Duration) func(from, to netip.AddrPort, b []byte) []time.Duration {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed))
	return func(_, _ netip.AddrPort, _ []byte) []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if r.Float64() < drop {
			return nil
		}
		n := 1
		if r.Float64() < dup {
			n = 2
		}
		ds := make([]time.Duration, n)
		for i := range ds {
			if maxDelay > 0 {
				ds[i] = time.Duration(r.Int64N(int64(maxDelay)))
			}
		}
		return ds
	}
}

// checkLeaks fails the test if goroutines of this package outlive it. It
// is registered first, so its cleanup runs last.
func checkLeaks(t testing.TB) {
	t.Cleanup(func() {
		if stacks, leaked := leakedLoops(); leaked {
			t.Errorf("goroutines leaked:\n%s", stacks)
		}
	})
}

// leakedLoops waits up to 2 s for the loops of this package's connections
// (conn.run) to end; if one still runs, it returns the stacks of every
// goroutine.
func leakedLoops() (stacks string, leaked bool) {
	for range 200 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "ikev2.(*conn).run") {
			return "", false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return stacks, true
}
