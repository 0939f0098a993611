package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/dnstest"
)

// TestFQDNOfSeveralAddressesKeepsTunnel: a site's name that stands for
// two addresses, which its name server gives in another order at the next
// lookup, leaves the tunnel at the address it uses; it moved to the new
// first address at every lookup, and the tunnel was set up again each
// time (once a minute, by default).
func TestFQDNOfSeveralAddressesKeepsTunnel(t *testing.T) {
	const ike, natt = 18870, 18871
	gwAddr := netip.MustParseAddr("127.150.1.1")
	site, other := netip.MustParseAddr("127.150.2.1"), netip.MustParseAddr("127.150.2.2")
	dns, resolver := nameServer(t)
	dns.Set("branch.example", site, other)
	startSilentPeer(t, site, gwAddr, ike, natt)
	// No lookup but the first and the test's own.
	e := New(Options{IKEPort: ike, NATTPort: natt, Resolver: resolver, ResolveInterval: time.Hour})
	defer e.Close()
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", PublicAddr: gwAddr, Connections: []Connection{{ID: "c", RemoteFQDN: "branch.example",
			PSK: Secret("k"), LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("192.168.0.0/24")}}}}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the tunnel to the site's first address", func() bool {
		return e.Status().Connections["c"].State == Connected
	})
	established := e.Status().Connections["c"].Established

	// resolve has the name stand for addrs, looks it up, and returns
	// what it stands for now.
	resolve := func(addrs ...netip.Addr) (netip.Addr, error) {
		dns.Set("branch.example", addrs...)
		e.resolveNames(context.Background())
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.resolvedAddr("branch.example", false)
	}
	addr, err := resolve(other, site)
	if err != nil || addr != site {
		t.Fatalf("the name stands for %v (%v), want %v, the address in use and still one of the name's", addr, err, site)
	}
	if st := e.Status().Connections["c"]; st.State != Connected || !st.Established.Equal(established) {
		t.Fatalf("the tunnel is %s, established %v, want Connected since %v: it was set up again", st.State, st.Established, established)
	}

	// A name that no longer stands for the address in use moves the
	// tunnel to its first.
	if addr, err = resolve(other); err != nil || addr != other {
		t.Fatalf("the name stands for %v (%v), want %v, its only address now", addr, err, other)
	}

	// Addresses no VPN device has are passed over; a name of only such
	// is a failed lookup, which says why and keeps the tunnel where it is.
	if addr, err = resolve(netip.IPv4Unspecified(), site); err != nil || addr != site {
		t.Fatalf("the name stands for %v (%v), want %v, its unicast address", addr, err, site)
	}
	dns.Set("branch.example", netip.MustParseAddr("224.0.0.1"))
	e.resolveNames(context.Background())
	e.mu.Lock()
	r := e.names[nameKey{"branch.example", false}]
	e.mu.Unlock()
	if r.err == nil || !strings.Contains(r.err.Error(), "no unicast") || r.addr != site {
		t.Fatalf("a name of a multicast address alone: %v, %v; want an error saying it has no unicast address, and %v kept", r.addr, r.err, site)
	}
}

// TestFQDNOfGatewayNotStarted: a site's name that resolves while its
// gateway does not run (its IKE port taken) leaves the gateway waiting
// for its retry, its connection saying why; handing the connections of
// a gateway that does not run to it crashed serve. Once the port is free
// the gateway starts and its tunnel goes to the address the name gave.
func TestFQDNOfGatewayNotStarted(t *testing.T) {
	const ike, natt = 18874, 18875
	gwAddr := netip.MustParseAddr("127.150.1.3")
	site := netip.MustParseAddr("127.150.2.3")
	dns, resolver := nameServer(t)
	taken, err := net.ListenPacket("udp", netip.AddrPortFrom(gwAddr, ike).String())
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	startSilentPeer(t, site, gwAddr, ike, natt)
	e := New(Options{IKEPort: ike, NATTPort: natt, Resolver: resolver, ResolveInterval: time.Hour})
	defer e.Close()
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", PublicAddr: gwAddr, Connections: []Connection{{ID: "c", RemoteFQDN: "branch.example",
			PSK: Secret("k"), LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("192.168.0.0/24")}}}}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	reason := func() string {
		ts := e.Status().Connections["c"].Tunnels
		if len(ts) == 0 {
			return ""
		}
		return ts[0].Reason
	}
	waitUntil(t, 10*time.Second, "a reason saying the gateway does not run", func() bool {
		return strings.Contains(reason(), "not running")
	})
	dns.Set("branch.example", site)
	e.resolveNames(context.Background())
	e.mu.Lock()
	addr, err := e.resolvedAddr("branch.example", false)
	e.mu.Unlock()
	if err != nil || addr != site {
		t.Fatalf("the name stands for %v (%v), want %v", addr, err, site)
	}
	if r := reason(); !strings.Contains(r, "not running") {
		t.Fatalf("the connection's reason is %q, want the gateway's start failure", r)
	}
	taken.Close()
	waitUntil(t, 3*RetryInterval, "the tunnel to the name's address once the gateway started", func() bool {
		e.Retry()
		return e.Status().Connections["c"].State == Connected
	})
}

// TestSlowNamesLookedUpTogether: the names of a gateway's sites are
// looked up at once, so that a name server slow to answer holds the
// lookups up for one wait, not one each: the test's name server answers
// only once all four names are asked. They were looked up one after
// another, each waiting up to 5 s, and the others behind it.
func TestSlowNamesLookedUpTogether(t *testing.T) {
	const ike, natt = 18876, 18877
	gwAddr := netip.MustParseAddr("127.150.1.4")
	dns, resolver := nameServer(t)
	e := New(Options{IKEPort: ike, NATTPort: natt, Resolver: resolver, ResolveInterval: time.Hour})
	defer e.Close()
	g := Gateway{ID: "gw", VNet: "v", PublicAddr: gwAddr}
	name := func(i int) string { return fmt.Sprintf("branch%d.example", i) }
	site := func(i, move int) netip.Addr { return netip.AddrFrom4([4]byte{127, 150, 3, byte(10*move + i)}) }
	const sites = 4
	for i := range sites {
		dns.Set(name(i), site(i, 0))
		g.Connections = append(g.Connections, Connection{ID: fmt.Sprint("c", i), RemoteFQDN: name(i), PSK: Secret("k"), Mode: "ResponderOnly",
			LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes(fmt.Sprintf("192.168.%d.0/24", i))})
	}
	if _, err := e.Reconfig(Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}}, Gateways: []Gateway{g}}); err != nil {
		t.Fatal(err)
	}
	stands := func(move int) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		for i := range sites {
			if addr, err := e.resolvedAddr(name(i), false); err != nil || addr != site(i, move) {
				return fmt.Errorf("%s stands for %v (%v), want %v", name(i), addr, err, site(i, move))
			}
		}
		return nil
	}
	waitUntil(t, 30*time.Second, "the names looked up", func() bool { return stands(0) == nil })
	for i := range sites {
		dns.Set(name(i), site(i, 1))
	}
	dns.Hold(sites)
	e.resolveNames(context.Background())
	if err := stands(1); err != nil {
		t.Fatalf("with a name server that answers once all are asked: %v", err)
	}
}

// TestFQDNOntoAddressOfSiteKeepsItsTunnel: a site's name that comes to
// resolve to the address another site of the gateway is configured at
// (gatewayIpAddress) leaves that site its tunnel and says why it gets
// none. The connection first in order took the address, so that a name
// (a branch's dynamic DNS, a stale record) took down the tunnel of a
// site whose address the API had checked, when its connection sorted
// first.
func TestFQDNOntoAddressOfSiteKeepsItsTunnel(t *testing.T) {
	const ike, natt = 18876, 18877
	gwAddr := netip.MustParseAddr("127.150.1.4")
	site := netip.MustParseAddr("127.150.2.4")
	dns, resolver := nameServer(t)
	startSilentPeer(t, site, gwAddr, ike, natt)
	e := New(Options{IKEPort: ike, NATTPort: natt, Resolver: resolver, ResolveInterval: time.Hour})
	defer e.Close()
	// "a" by name sorts before "b" at its address.
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", PublicAddr: gwAddr, Connections: []Connection{
			{ID: "a", RemoteFQDN: "branch.example", PSK: Secret("k"), LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("192.168.1.0/24")},
			{ID: "b", Remote: site, PSK: Secret("k"), LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("192.168.2.0/24")},
		}}}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the tunnel of the site at its address", func() bool {
		return e.Status().Connections["b"].State == Connected
	})
	established := e.Status().Connections["b"].Established

	dns.Set("branch.example", site)
	e.resolveNames(context.Background()) // a tunnel it takes down goes at once
	st := e.Status().Connections
	if b := st["b"]; b.State != Connected || !b.Established.Equal(established) {
		t.Fatalf("the site at %v: %s (%s), established %v; want Connected since %v: a name resolved to its address took its tunnel", site, b.State, b.Reason, b.Established, established)
	}
	if a := st["a"]; a.State != NotConnected || !strings.Contains(a.Reason, "same peer address") {
		t.Fatalf("the site by name: %s (%s), want NotConnected saying connection b has its address", a.State, a.Reason)
	}
}

// nameServer serves names for a test on loopback, and gives the resolver
// that asks it alone.
func nameServer(t *testing.T) (*dnstest.Server, *net.Resolver) {
	conn, err := net.ListenPacket("udp", "127.150.0.53:0")
	if err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Serve(t, conn)
	return dns, &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns.Addr())
	}}
}
