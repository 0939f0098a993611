package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
)

// Gateway is one gateway of a topology, as a system sees it.
type Gateway struct {
	// NS is the gateway's namespace; forwarding is on in it.
	NS *Namespace
	// WAN is the gateway's outer address on the link to the other gateway
	// (interface "wan"), e.g. 10.0.0.1/24.
	WAN netip.Prefix
	// LAN is the gateway's address on the link to its host (interface
	// "lan"), e.g. 10.1.0.1/16; LAN.Masked() is the network behind it.
	LAN netip.Prefix
}

// Topology is host A ── gateway A ══ gateway B ── host B in four fresh
// namespaces. The hosts route everything through their gateway; the
// gateways have no route to the far network until a system gives them one.
type Topology struct {
	// HostA and HostB are the hosts' namespaces, where iperf3 runs.
	HostA, HostB *Namespace
	// HostAAddr and HostBAddr are the hosts' addresses.
	HostAAddr, HostBAddr netip.Addr
	A, B                 Gateway
}

// The addresses of every topology; each topology lives in its own
// namespaces, so they can repeat.
var (
	hostAAddr = netip.MustParsePrefix("10.1.0.2/16")
	gwALAN    = netip.MustParsePrefix("10.1.0.1/16")
	gwAWAN    = netip.MustParsePrefix("10.0.0.1/24")
	gwBWAN    = netip.MustParsePrefix("10.0.0.2/24")
	gwBLAN    = netip.MustParsePrefix("10.2.0.1/16")
	hostBAddr = netip.MustParsePrefix("10.2.0.2/16")
)

// NewTopology builds a topology in namespaces named vbench<pid>-<tag>…. On
// error it removes what it made.
func NewTopology(ctx context.Context, tag string) (t *Topology, err error) {
	t = &Topology{HostAAddr: hostAAddr.Addr(), HostBAddr: hostBAddr.Addr()}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("build topology %s: %w", tag, err), t.Close())
			t = nil
		}
	}()
	base := fmt.Sprintf("%s%d-%s", namePrefix, os.Getpid(), tag)
	for _, n := range []struct {
		ns   **Namespace
		role string
	}{{&t.HostA, "ha"}, {&t.A.NS, "ga"}, {&t.B.NS, "gb"}, {&t.HostB, "hb"}} {
		if *n.ns, err = newNamespace(ctx, base+n.role); err != nil {
			return t, err
		}
	}
	t.A.WAN, t.A.LAN, t.B.WAN, t.B.LAN = gwAWAN, gwALAN, gwBWAN, gwBLAN
	// Interface names only need to be unique inside each namespace.
	links := []struct {
		a, b         *Namespace
		aIf, bIf     string
		aAddr, bAddr netip.Prefix
		bDefault     netip.Addr // b's default gateway, when b is a host
	}{
		{a: t.A.NS, aIf: "wan", aAddr: gwAWAN, b: t.B.NS, bIf: "wan", bAddr: gwBWAN},
		{a: t.A.NS, aIf: "lan", aAddr: gwALAN, b: t.HostA, bIf: "eth0", bAddr: hostAAddr, bDefault: gwALAN.Addr()},
		{a: t.B.NS, aIf: "lan", aAddr: gwBLAN, b: t.HostB, bIf: "eth0", bAddr: hostBAddr, bDefault: gwBLAN.Addr()},
	}
	for _, l := range links {
		if err := link(ctx, l.a, l.aIf, l.aAddr, l.b, l.bIf, l.bAddr); err != nil {
			return t, err
		}
		if l.bDefault.IsValid() {
			if _, err := l.b.Run(ctx, "ip", "route", "add", "default", "via", l.bDefault.String()); err != nil {
				return t, err
			}
		}
	}
	for _, gw := range []*Namespace{t.A.NS, t.B.NS} {
		if _, err := gw.Run(ctx, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return t, err
		}
	}
	return t, nil
}

// link joins namespaces a and b with a veth pair, its ends named aIf and
// bIf, with the given addresses, both up.
func link(ctx context.Context, a *Namespace, aIf string, aAddr netip.Prefix, b *Namespace, bIf string, bAddr netip.Prefix) error {
	if _, err := run(ctx, "ip", "link", "add", aIf, "netns", a.Name, "type", "veth", "peer", "name", bIf, "netns", b.Name); err != nil {
		return err
	}
	for _, end := range []struct {
		ns   *Namespace
		ifc  string
		addr netip.Prefix
	}{{a, aIf, aAddr}, {b, bIf, bAddr}} {
		if _, err := end.ns.Run(ctx, "ip", "addr", "add", end.addr.String(), "dev", end.ifc); err != nil {
			return err
		}
		if _, err := end.ns.Run(ctx, "ip", "link", "set", end.ifc, "up"); err != nil {
			return err
		}
	}
	return nil
}

// WaitTraffic pings host B from host A until a reply comes back or d
// passes.
func (t *Topology) WaitTraffic(ctx context.Context, d time.Duration) error {
	var last error
	err := waitFor(ctx, d, func() bool {
		_, last = t.HostA.Run(ctx, "ping", "-c1", "-W1", t.HostBAddr.String())
		return last == nil
	})
	if err != nil {
		return fmt.Errorf("no traffic from host A to host B after %s: %w", d, last)
	}
	return nil
}

// Close deletes the namespaces and kills what still runs in them.
func (t *Topology) Close() error {
	var errs []error
	for _, ns := range []*Namespace{t.HostA, t.A.NS, t.B.NS, t.HostB} {
		if ns != nil {
			if err := ns.delete(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ns.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
