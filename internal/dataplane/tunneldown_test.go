package dataplane

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/bgp"
	"github.com/vnetgw/vnetgw/internal/logbuf"
)

// bgpSite is one end of BGP over tunnels: a VNet of ranges vnet (the
// first holds its speaker at .255.4; a host at host when valid) and a
// gateway at public whose connections (by ID) go to the gateways at
// remote, each with its speaker and AS, whose speaker of AS as advertises
// networks. Each connection routes the first range of the other end
// (statically, as a site's connected range) into its tunnel.
type bgpSite struct {
	public   netip.Addr
	vnet     []netip.Prefix
	host     netip.Addr
	as       uint32
	networks []netip.Prefix
	conns    []bgpSiteConn
}

type bgpSiteConn struct {
	id     string
	remote *bgpSite
}

// speaker is the site's speaker address.
func (s *bgpSite) speaker() netip.Addr {
	a := s.vnet[0].Addr().As4()
	return netip.AddrFrom4([4]byte{a[0], a[1], 255, 4})
}

func (s *bgpSite) config() Config {
	v := VNet{ID: "v", Prefixes: s.vnet}
	if s.host.IsValid() {
		v.Hosts = []Host{{ID: "h", Name: "h", Addr: s.host, Kind: HostNetstack}}
	}
	g := Gateway{ID: "gw", VNet: "v", PublicAddr: s.public, BGP: &GatewayBGP{AS: s.as, Addr: s.speaker(), Networks: s.networks}}
	for _, c := range s.conns {
		far := c.remote.vnet[:1]
		v.Routes = append(v.Routes, Route{Prefix: far[0], Gateway: "gw"})
		g.Connections = append(g.Connections, Connection{ID: c.id, Remote: c.remote.public, PSK: Secret("k"), DPDTimeout: 20 * time.Second,
			LocalPrefixes: s.vnet, RemotePrefixes: c.remote.vnet, Routes: far})
		g.BGP.Peers = append(g.BGP.Peers, BGPPeer{Connection: c.id, Addr: c.remote.speaker(), AS: c.remote.as})
	}
	return Config{VNets: []VNet{v}, Gateways: []Gateway{g}}
}

// start runs the site on an engine of opts with its configuration.
func (s *bgpSite) start(t *testing.T, opts Options) (*Engine, Config) {
	t.Helper()
	e := New(opts)
	t.Cleanup(func() { e.Close() })
	cfg := s.config()
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	return e, cfg
}

// withoutConnections returns cfg with its gateway's connections deleted
// (their IKE SAs go, with a Delete the other ends get, and what those try
// again is refused); its speaker stays.
func withoutConnections(t *testing.T, e *Engine, cfg Config) {
	t.Helper()
	down := cfg
	down.Gateways = slices.Clone(cfg.Gateways)
	down.Gateways[0].Connections = nil
	if _, err := e.Reconfig(down); err != nil {
		t.Fatal(err)
	}
}

// learningPair is a gateway's site (10.1.0.0/16, AS 65001) at public gw
// and a far site (AS 65002) at public far, joined by connection "c" at
// both, the far one announcing learned (10.9.0.0/16) over BGP only.
func learningPair(gw, far string) (gwSite, site *bgpSite, learned netip.Prefix) {
	learned = netip.MustParsePrefix("10.9.0.0/16")
	gwSite = &bgpSite{public: netip.MustParseAddr(gw), vnet: prefixes("10.1.0.0/16"), as: 65001, networks: prefixes("10.1.0.0/16")}
	site = &bgpSite{public: netip.MustParseAddr(far), vnet: prefixes("10.2.0.0/16"), as: 65002, networks: []netip.Prefix{learned}}
	gwSite.conns, site.conns = []bgpSiteConn{{"c", site}}, []bgpSiteConn{{"c", gwSite}}
	return gwSite, site, learned
}

// TestTunnelDownWithdrawsLearned: the routes a gateway learned over BGP
// from a peer behind a connection's tunnel go 3 s (tunnelDownGrace) after
// that tunnel goes down (here the site deletes the connection, and with
// it the IKE SA), not when the session's hold timer (90 s) expires: until
// then they sent the VNet's traffic into a tunnel that carries nothing. When the tunnel
// is back, the session is established again and the routes return.
func TestTunnelDownWithdrawsLearned(t *testing.T) {
	const ike, natt = 18890, 18891
	gwSite, site, learned := learningPair("127.181.1.1", "127.181.1.2")
	var aLog logbuf.Buffer
	a, _ := gwSite.start(t, Options{IKEPort: ike, NATTPort: natt, Logger: slog.New(slog.NewTextHandler(&aLog, nil))})
	b, bCfg := site.start(t, Options{IKEPort: ike, NATTPort: natt})
	has := func() bool { return slices.Contains(a.LearnedPrefixes("gw"), learned) }
	waitUntil(t, 60*time.Second, "learned route through the tunnel", has)

	start := time.Now()
	withoutConnections(t, b, bCfg)
	// The session's hold time is 90 s: well within it, and long enough
	// for a slow machine.
	for has() {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the route learned from the peer behind the tunnel stays %v after the tunnel went down (tunnel %s, session %s)",
				time.Since(start), a.Status().Connections["c"].State, a.BGP("gw")[0].Peers()[0].State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("route withdrawn %v after the site deleted the tunnel", time.Since(start))
	if st := a.Status().Connections["c"].State; st == Connected {
		t.Errorf("route withdrawn with the tunnel %s", st)
	}
	if ps := a.BGP("gw")[0].Peers(); ps[0].State == "Established" || !strings.Contains(ps[0].LastError, "the tunnels of connection c are down") {
		t.Errorf("the peer's status does not say its tunnel is down: %+v", ps[0])
	}
	if !strings.Contains(aLog.String(), "BGP peer unreachable") {
		t.Errorf("the session's end logged without why:\n%s", aLog.String())
	}

	// The tunnel comes back, and with it the session and the route.
	if _, err := b.Reconfig(bCfg); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the tunnel up again", func() bool { return a.Status().Connections["c"].State == Connected })
	start = time.Now()
	waitUntil(t, 60*time.Second, "learned route back through the tunnel", has)
	t.Logf("route back %v after the tunnel came up", time.Since(start))
}

// TestTunnelDownFailsOverToOtherSite: two sites announce the same range
// over BGP, each through its own connection of the gateway. When the
// tunnel of the one whose route is best goes down, the VNet's traffic to
// the range goes to the other site within seconds: its route takes over
// as the first one's is withdrawn with its tunnel. It was dropped in the
// tunnel that was down until the session's hold timer (90 s) expired.
func TestTunnelDownFailsOverToOtherSite(t *testing.T) {
	const ike, natt = 18892, 18893
	shared := netip.MustParsePrefix("10.9.0.0/16")
	dst := netip.MustParseAddr("10.9.0.10") // a host in both sites
	gwSite := &bgpSite{public: netip.MustParseAddr("127.181.2.1"), vnet: prefixes("10.1.0.0/16"), host: netip.MustParseAddr("10.1.0.10"), as: 65001, networks: prefixes("10.1.0.0/16")}
	// Site b's speaker has the lower BGP identifier: its route is best
	// (RFC 4271 §9.1.2.2 (f)).
	b := &bgpSite{public: netip.MustParseAddr("127.181.2.2"), vnet: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16"), shared}, host: dst, as: 65002, networks: []netip.Prefix{shared}}
	c := &bgpSite{public: netip.MustParseAddr("127.181.2.3"), vnet: []netip.Prefix{netip.MustParsePrefix("10.3.0.0/16"), shared}, host: dst, as: 65003, networks: []netip.Prefix{shared}}
	gwSite.conns = []bgpSiteConn{{"to-b", b}, {"to-c", c}}
	b.conns, c.conns = []bgpSiteConn{{"c", gwSite}}, []bgpSiteConn{{"c", gwSite}}
	opts := Options{IKEPort: ike, NATTPort: natt}
	a, _ := gwSite.start(t, opts)
	bEngine, bCfg := b.start(t, opts)
	c.start(t, opts)
	best := func() string {
		for _, r := range a.BGP("gw")[0].Best() {
			if r.Prefix == shared {
				return r.Peer
			}
		}
		return ""
	}
	waitUntil(t, 60*time.Second, "b's route best with c's learned too", func() bool {
		return best() == "to-b" && len(a.BGP("gw")[0].Learned()) == 2
	})
	h, _ := a.NetstackHost("h")
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := h.Ping(ctx, dst)
		return err
	}
	waitUntil(t, 30*time.Second, "an answer from site b", func() bool { return ping() == nil })

	start := time.Now()
	withoutConnections(t, bEngine, bCfg)
	waitUntil(t, 20*time.Second, "the tunnel to b down", func() bool { return a.Status().Connections["to-b"].State != Connected })
	// Well within the hold time (90 s), and long enough for a slow
	// machine.
	for ping() != nil {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no answer from site c %v after site b's tunnel went down (best route from %q, tunnel to b %s, to c %s)",
				time.Since(start), best(), a.Status().Connections["to-b"].State, a.Status().Connections["to-c"].State)
		}
	}
	t.Logf("site c answers %v after site b deleted its tunnel", time.Since(start))
	if p := best(); p != "to-c" {
		t.Errorf("best route from %q, want to-c", p)
	}
}

// TestDeadPeerWithdrawsLearned: the routes a gateway learned over BGP
// from a peer behind a tunnel go when liveness checks find the tunnel's
// peer dead (RFC 7296 §2.4; here its sockets closed, as an uplink lost
// is seen), 3 s (tunnelDownGrace) after, not when the session's hold
// timer (90 s) expires.
func TestDeadPeerWithdrawsLearned(t *testing.T) {
	const ike, natt = 18894, 18895
	gwSite, site, learned := learningPair("127.181.3.1", "127.181.3.2")
	cfg := gwSite.config()
	cfg.Gateways[0].Connections[0].DPDTimeout = 8 * time.Second
	a := New(Options{IKEPort: ike, NATTPort: natt})
	t.Cleanup(func() { a.Close() })
	if _, err := a.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	b, _ := site.start(t, Options{IKEPort: ike, NATTPort: natt})
	has := func() bool { return slices.Contains(a.LearnedPrefixes("gw"), learned) }
	waitUntil(t, 60*time.Second, "learned route through the tunnel", has)

	b.mu.Lock()
	err := b.gateways["gw"].gw.CloseSockets()
	b.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// The peer is found dead about 8 s after it went silent (DPDTimeout);
	// the hold time is 90 s.
	for has() {
		if time.Since(start) > 40*time.Second {
			t.Fatalf("the route learned from the peer behind the tunnel stays %v after the peer went silent (tunnel %s, session %s)",
				time.Since(start), a.Status().Connections["c"].State, a.BGP("gw")[0].Peers()[0].State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("route withdrawn %v after the peer went silent", time.Since(start))
	if st := a.Status().Connections["c"].State; st == Connected {
		t.Errorf("route withdrawn with the tunnel %s", st)
	}
}

// TestTunnelGapKeepsSession: a tunnel left without a child SA for a
// moment keeps the BGP session over it and the routes learned over it,
// as a router's session over a tunnel interface does; here the gateway
// resets the connection (az's vpn-connection reset), as a
// break-before-make reauthentication does: its IKE SA and child SA are
// deleted, the peer told, and new ones negotiated at once. The session
// ended at the gap (Cease, routes withdrawn at both ends) and came back
// with a new OPEN seconds later. The grace is 30 s here, for a slow
// machine; the tests above run with the default one.
func TestTunnelGapKeepsSession(t *testing.T) {
	const ike, natt = 18898, 18899
	gwSite, site, learned := learningPair("127.186.1.1", "127.186.1.2")
	var aLog, bLog logbuf.Buffer
	debug := &slog.HandlerOptions{Level: slog.LevelDebug}
	a, _ := gwSite.start(t, Options{IKEPort: ike, NATTPort: natt, Logger: slog.New(slog.NewTextHandler(&aLog, debug)), tunnelDownGrace: 30 * time.Second})
	b, _ := site.start(t, Options{IKEPort: ike, NATTPort: natt, Logger: slog.New(slog.NewTextHandler(&bLog, debug)), tunnelDownGrace: 30 * time.Second})
	session := func(e *Engine) bgp.PeerStatus { return e.BGP("gw")[0].Peers()[0] }
	// The gateway routes the site's range into the tunnel; the site
	// holds the gateway's, which it also routes there statically.
	siteHas := func() bool {
		return slices.ContainsFunc(b.BGP("gw")[0].Best(), func(r bgp.Route) bool { return r.Prefix == gwSite.vnet[0] })
	}
	has := func() bool { return slices.Contains(a.LearnedPrefixes("gw"), learned) && siteHas() }
	waitUntil(t, 60*time.Second, "both sessions and the learned routes through the tunnel", func() bool {
		return has() && session(a).State == "Established" && session(b).State == "Established"
	})
	aBefore, bBefore := session(a), session(b)

	// A reset whose gap the gateway does not see (its new child SA came
	// before it looked) shows nothing: reset again until it has seen
	// one.
	seen := func() bool {
		l := aLog.String()
		return strings.Contains(l, "BGP peers held") || strings.Contains(l, "BGP peer unreachable")
	}
	var gone []string
	for i := 0; !seen(); i++ {
		if i == 10 {
			t.Fatalf("the gateway did not see its tunnel down in %d resets", i)
		}
		up := a.Status().Connections["c"].Established
		if !a.ResetConnection("c", netip.Addr{}) {
			t.Fatal("no connection c to reset")
		}
		waitUntil(t, 60*time.Second, "the tunnel up again", func() bool {
			if !has() {
				gone = append(gone, fmt.Sprintf("%v at the gateway, %v at the site", a.LearnedPrefixes("gw"), b.BGP("gw")[0].Best()))
			}
			st := a.Status().Connections["c"]
			return st.State == Connected && st.Established.After(up)
		})
	}
	if len(gone) > 0 {
		t.Errorf("the learned routes went during the gap: learned %s", gone[0])
	}
	for _, end := range []struct {
		name   string
		e      *Engine
		before bgp.PeerStatus
		log    *logbuf.Buffer
	}{{"gateway", a, aBefore, &aLog}, {"site", b, bBefore, &bLog}} {
		if ps := session(end.e); ps.State != "Established" || !ps.Since.Equal(end.before.Since) {
			t.Errorf("the %s's session did not stay: established %v before the gap, now %+v", end.name, end.before.Since, ps)
		}
		if l := end.log.String(); strings.Contains(l, "BGP peer unreachable") {
			t.Errorf("the %s ended its session at the gap:\n%s", end.name, bgpLines(l))
		}
	}
	if !has() {
		t.Errorf("the learned routes are gone: %v at the gateway, %v at the site", a.LearnedPrefixes("gw"), b.BGP("gw")[0].Best())
	}
}

// bgpLines returns the lines of log that are about BGP.
func bgpLines(log string) string {
	var out []string
	for l := range strings.Lines(log) {
		if strings.Contains(l, "BGP") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}
