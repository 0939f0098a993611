package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/tun"
	"github.com/vnetgw/vnetgw/internal/tunnel"
	"github.com/vnetgw/vnetgw/internal/udp"
	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// The load generator stands in for many branch gateways: each peer is
// vnetgw's own IKEv2 daemon (an ikev2.Manager with one peer, the gateway),
// on an address of its own in the peers' namespace, so that the gateway
// sees each as a distinct peer. It runs in this process.
//
// Peers that only negotiate ("IKE only") have a plain UDP socket on their
// address's NAT-T port and a data plane that records when the child SA
// arrives; they start on the gateway's port 500 and move to 4500 as
// RFC 7296 §2.23 says. Peers that carry traffic share vnetgw's own ESP
// data path: one udp.Transport with an IKE and a NAT-T endpoint per peer,
// one tunnel.Engine and one TUN device in the peers' namespace, so that
// their side of a tunnel is the same code as the gateway's.

// lightBuf is the read buffer of an IKE-only peer: IKE messages are a few
// hundred bytes, and RFC 7383 fragments what would exceed 1,280.
const lightBuf = 4096

// loadGen is a set of initiating peers of one gateway.
type loadGen struct {
	peers []*initiator
	// up receives each peer whose first child SA is installed; it holds
	// one slot per peer, so sends never block.
	up chan *initiator

	// The shared data path of the peers that carry traffic; nil without
	// traffic.
	tr  *udp.Transport
	eng *tunnel.Engine
}

// initiator is one peer of the load generator.
type initiator struct {
	addr netip.Addr
	// traffic: the peer uses the shared data path; otherwise it only
	// negotiates, on conn.
	traffic bool
	cfg     ikev2.PeerConfig
	m       *ikev2.Manager
	// conn is the socket of an IKE-only peer.
	conn *net.UDPConn
	// readDone is closed when the read loop of conn ends.
	readDone chan struct{}
	// upAt is when the first child SA was installed.
	upAt   time.Time
	isUp   atomic.Bool
	active bool // Reconfig gave the Manager its peer
}

// loadGenConfig says what a load generator negotiates with whom.
type loadGenConfig struct {
	// Peers is the number of peers, Traffic how many of the first ones
	// carry traffic.
	Peers, Traffic int
	// Gateway is the gateway's address; its ports are the defaults.
	Gateway netip.Addr
	// IKE and ESP are the proposals, in strongSwan's syntax.
	IKE, ESP string
}

// newLoadGen makes the peers in pn's peers' namespace. Nothing is sent
// until run starts them. The returned loadGen, also on error, must be
// closed.
func newLoadGen(pn *peerNet, c loadGenConfig) (*loadGen, error) {
	ike, err := suite.ParseProposal(wire.ProtocolIKE, c.IKE)
	if err != nil {
		return nil, err
	}
	esp, err := suite.ParseProposal(wire.ProtocolESP, c.ESP)
	if err != nil {
		return nil, err
	}
	g := &loadGen{up: make(chan *initiator, c.Peers)}
	byAddr := make(map[netip.Addr]*initiator, c.Traffic)
	if c.Traffic > 0 {
		g.tr = udp.New(udp.Config{IKE: func(local, remote netip.AddrPort, msg []byte) {
			if p := byAddr[local.Addr()]; p != nil {
				p.m.HandlePacket(local, remote, msg)
			}
		}})
		var routes []netip.Prefix
		tc := tunnel.Config{}
		for i := range c.Traffic {
			r := netip.PrefixFrom(gwHost(i), 32)
			routes = append(routes, r)
			tc.Tunnels = append(tc.Tunnels, tunnel.Tunnel{Name: peerName(i), Routes: []netip.Prefix{r}})
		}
		dev, err := tun.Create(tun.Config{Name: "lg0", NetNS: pn.Peers.Path(), Routes: routes})
		if err != nil {
			g.tr.Close()
			g.tr = nil
			return g, fmt.Errorf("load generator: %w", err)
		}
		if g.eng, err = tunnel.New(tunnel.Options{Inner: dev, Outer: g.tr}); err != nil {
			dev.Close()
			return g, fmt.Errorf("load generator: %w", err)
		}
		if err := g.eng.Reconfig(tc); err != nil {
			return g, fmt.Errorf("load generator: %w", err)
		}
	}
	g.peers = make([]*initiator, c.Peers)
	for i := range g.peers {
		p := &initiator{addr: peerAddr(i), traffic: i < c.Traffic}
		g.peers[i] = p
		local := netip.AddrPortFrom(p.addr, ikev2.DefaultNATTPort)
		if p.traffic {
			local = netip.AddrPortFrom(p.addr, ikev2.DefaultIKEPort)
			byAddr[p.addr] = p
		}
		p.cfg = ikev2.PeerConfig{
			Name: peerName(i), Local: local, Remote: netip.AddrPortFrom(c.Gateway, ikev2.DefaultIKEPort),
			PSK: ikev2.PSK(benchPSK), IKEProposals: []suite.Proposal{ike}, ESPProposals: []suite.Proposal{esp},
			Mode: ikev2.ModeInitiatorOnly, ForceEncap: true,
		}
	}
	// Sockets are opened in the peers' namespace; everything else runs
	// where it likes. The IKE-only peers' sockets come first, as their
	// Managers' transports; the shared transport's endpoints last, once
	// every Manager exists to take what they receive.
	err = pn.Peers.Do(func() error {
		for i, p := range g.peers {
			if p.traffic {
				continue
			}
			conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(p.cfg.Local))
			if err != nil {
				return fmt.Errorf("load generator: peer %d: %w", i, err)
			}
			p.conn = conn
		}
		return nil
	})
	if err != nil {
		return g, err
	}
	for _, p := range g.peers {
		var tr ikev2.Transport = g.tr
		if !p.traffic {
			tr = lightTransport{p.conn}
		}
		if p.m, err = ikev2.New(ikev2.Config{Transport: tr, Dataplane: initiatorDataplane{g: g, p: p}}); err != nil {
			return g, err
		}
		if !p.traffic {
			p.readDone = make(chan struct{})
			go p.readLoop()
		}
	}
	err = pn.Peers.Do(func() error {
		for _, p := range g.peers[:c.Traffic] {
			if _, err := g.tr.ListenIKE(p.cfg.Local); err != nil {
				return err
			}
			if _, err := g.tr.ListenNATT(netip.AddrPortFrom(p.addr, ikev2.DefaultNATTPort), g.eng); err != nil {
				return err
			}
		}
		return nil
	})
	return g, err
}

// peerName names peer i's connection, here and at the gateway.
func peerName(i int) string { return fmt.Sprintf("peer%05d", i) }

// lightTransport sends an IKE-only peer's messages from its socket, after
// a non-ESP marker to the NAT-T port (RFC 3948 §2.2).
type lightTransport struct{ conn *net.UDPConn }

func (t lightTransport) SendIKE(_, remote netip.AddrPort, msg []byte) error {
	b := msg
	if remote.Port() == ikev2.DefaultNATTPort {
		b = append(espwire.AppendNonESPMarker(make([]byte, 0, espwire.NonESPMarkerLen+len(msg))), msg...)
	}
	_, err := t.conn.WriteToUDPAddrPort(b, remote)
	return err
}

// readLoop hands what arrives at an IKE-only peer to its Manager. The
// peer's own port is the NAT-T port, so IKE messages come after a non-ESP
// marker (RFC 3948 §2.2), except from a port-500 peer that leaves it out
// (an IKE header starts with a non-zero SPI, Classify's ESP). ESP is not
// expected and dropped.
func (p *initiator) readLoop() {
	defer close(p.readDone)
	buf := make([]byte, lightBuf)
	local := p.cfg.Local
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg := buf[:n]
		kind, err := espwire.Classify(msg)
		switch {
		case err != nil:
			continue
		case kind == espwire.KindIKE:
			msg = msg[espwire.NonESPMarkerLen:]
		case kind == espwire.KindESP && from.Port() == ikev2.DefaultNATTPort:
			continue
		}
		p.m.HandlePacket(local, from, msg)
	}
}

// initiatorDataplane records when a peer's child SA arrives and, for a
// peer that carries traffic, installs it in the shared engine.
type initiatorDataplane struct {
	g *loadGen
	p *initiator
}

func (d initiatorDataplane) MoveChild(tunnel string, inSPI uint32, local, remote netip.AddrPort, encap bool) error {
	if d.p.traffic {
		return d.g.eng.MoveChild(tunnel, inSPI, local, remote, encap)
	}
	return nil
}

func (d initiatorDataplane) InstallChild(c ipsec.Child) error {
	if d.p.traffic {
		if err := d.g.eng.AddChild(c); err != nil {
			return err
		}
	}
	if d.p.isUp.CompareAndSwap(false, true) {
		d.p.upAt = time.Now()
		d.g.up <- d.p
	}
	return nil
}

func (d initiatorDataplane) RemoveChild(tunnel string, inSPI uint32) {
	if d.p.traffic {
		d.g.eng.RemoveChild(tunnel, inSPI)
	}
}

func (d initiatorDataplane) DrainChild(tunnel string, inSPI uint32) {
	if d.p.traffic {
		d.g.eng.DrainChild(tunnel, inSPI)
	}
}

// bringUp is what one run of the load generator measured.
type bringUp struct {
	// Start is when the first peer initiated, Done when the last child SA
	// arrived (the latest of the peers' times).
	Start, Done time.Time
	// Up is how many peers have a child SA.
	Up int
}

// run starts the peers, keeping window of them negotiating at a time
// (a new one starts when one is up), until all are up, d passes or ctx
// ends. Every peer initiates once; a failed negotiation is retried by its
// Manager (after ikev2.DefaultReconnectDelay). window bounds the half-open
// IKE SAs at the gateway: below its cookie threshold
// (ikev2.DefaultCookieThreshold) every IKE_SA_INIT is answered at once.
func (g *loadGen) run(ctx context.Context, window int, d time.Duration) (bringUp, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := func(i int) error {
		p := g.peers[i]
		p.active = true
		return p.m.Reconfig([]ikev2.PeerConfig{p.cfg})
	}
	b := bringUp{Start: time.Now()}
	next := 0
	for ; next < min(window, len(g.peers)); next++ {
		if err := start(next); err != nil {
			return b, err
		}
	}
	for b.Up < len(g.peers) {
		select {
		case p := <-g.up:
			b.Up++
			b.Done = later(b.Done, p.upAt)
			if next < len(g.peers) {
				if err := start(next); err != nil {
					return b, err
				}
				next++
			}
		case <-ctx.Done():
			return b, fmt.Errorf("%d of %d peers up after %s (%d started); %s", b.Up, len(g.peers), d, next, g.why())
		}
	}
	return b, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// why describes the first failure a peer that is not up reports.
func (g *loadGen) why() string {
	for i, p := range g.peers {
		if !p.active || p.isUp.Load() {
			continue
		}
		for _, s := range p.m.Status() {
			if s.LastError != "" {
				return fmt.Sprintf("%s: %s", peerName(i), s.LastError)
			}
		}
		return fmt.Sprintf("%s: no error reported (stats %+v)", peerName(i), p.m.Stats())
	}
	return "no peer reports an error"
}

// close stops every peer (each tells the gateway it leaves, if it still
// listens) and the shared data path.
func (g *loadGen) close() error {
	var wg sync.WaitGroup
	errs := make([]error, len(g.peers))
	for i, p := range g.peers {
		if p == nil || p.m == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.m.Close()
		}()
	}
	wg.Wait()
	for _, p := range g.peers {
		if p != nil && p.conn != nil {
			p.conn.Close()
			if p.readDone != nil {
				<-p.readDone
			}
		}
	}
	if g.eng != nil {
		errs = append(errs, g.eng.Close())
	}
	if g.tr != nil {
		errs = append(errs, g.tr.Close())
	}
	return errors.Join(errs...)
}
