package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// peerNet is where one gateway meets many peers: the gateway's namespace
// and the peers' namespace, joined by a veth pair, and for the strongSwan
// check a third namespace for charon.
//
//	peers 10.128.0.0/15 ─ L 10.250.0.2 ══ 10.250.0.1 G (the gateway) ══ 10.250.1.2 S (charon, 10.130.0.0/16)
//	hosts 10.100.0.0/16 ─┘                          └─ hosts 10.200.0.0/16
//
// Every address of 10.128.0.0/15 is local in L through one route of type
// local (AnyIP), as all of 127.0.0.0/8 is on a loopback device: a peer binds
// its own address without any set-up per address, and the gateway sees each
// as a distinct peer. The hosts behind the peers and behind the gateway are
// AnyIP ranges too; iperf3 binds to one address of them per tunnel.
type peerNet struct {
	// GW is the gateway's namespace, Peers the load generator's.
	GW, Peers *Namespace
	// Swan is charon's namespace; nil until addSwan.
	Swan *Namespace
	base string
}

// The addresses of a peerNet; each lives in its own namespaces, so they may
// repeat across nets.
var (
	pnGateway  = netip.MustParsePrefix("10.250.0.1/30")
	pnPeersWAN = netip.MustParsePrefix("10.250.0.2/30")
	pnPeers    = netip.MustParsePrefix("10.128.0.0/15")
	pnPeerLAN  = netip.MustParsePrefix("10.100.0.0/16")
	pnGWLAN    = netip.MustParsePrefix("10.200.0.0/16")
	pnSwanLink = netip.MustParsePrefix("10.250.1.1/30")
	pnSwanWAN  = netip.MustParsePrefix("10.250.1.2/30")
	pnSwan     = netip.MustParsePrefix("10.130.0.0/16")
)

// maxPeers is the most tunnels a peerNet holds: the addresses of its
// smallest range (pnPeerLAN), less the first and the last.
const maxPeers = 1<<16 - 2

// nth returns the address i+1 places after the start of p: the first
// address of p is left out.
func nth(p netip.Prefix, i int) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i) + 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// peerAddr is peer i's IKE address, peerHost the host behind it and gwHost
// the host behind the gateway that its tunnel reaches.
func peerAddr(i int) netip.Addr { return nth(pnPeers, i) }
func peerHost(i int) netip.Addr { return nth(pnPeerLAN, i) }
func gwHost(i int) netip.Addr   { return nth(pnGWLAN, i) }

// newPeerNet builds a peerNet in namespaces named vbench<pid>-<tag>…. On
// error it removes what it made.
func newPeerNet(ctx context.Context, tag string) (pn *peerNet, err error) {
	pn = &peerNet{base: fmt.Sprintf("%s%d-%s", namePrefix, os.Getpid(), tag)}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("build peer network %s: %w", tag, err), pn.Close())
			pn = nil
		}
	}()
	if pn.GW, err = newNamespace(ctx, pn.base+"g"); err != nil {
		return pn, err
	}
	if pn.Peers, err = newNamespace(ctx, pn.base+"l"); err != nil {
		return pn, err
	}
	if err := link(ctx, pn.GW, "peers", pnGateway, pn.Peers, "wan", pnPeersWAN); err != nil {
		return pn, err
	}
	for _, c := range []struct {
		ns   *Namespace
		args []string
	}{
		{pn.Peers, []string{"route", "add", "local", pnPeers.String(), "dev", "lo"}},
		{pn.Peers, []string{"route", "add", "local", pnPeerLAN.String(), "dev", "lo"}},
		{pn.GW, []string{"route", "add", pnPeers.String(), "via", pnPeersWAN.Addr().String()}},
		{pn.GW, []string{"route", "add", "local", pnGWLAN.String(), "dev", "lo"}},
	} {
		if _, err := c.ns.Run(ctx, append([]string{"ip"}, c.args...)...); err != nil {
			return pn, err
		}
	}
	return pn, nil
}

// addSwan adds charon's namespace with n addresses of pnSwan on its link
// to the gateway, added in one `ip -batch`, and returns them.
func (pn *peerNet) addSwan(ctx context.Context, dir string, n int) ([]netip.Addr, error) {
	if pn.Swan != nil {
		return nil, errors.New("peer network: charon's namespace exists already")
	}
	var err error
	if pn.Swan, err = newNamespace(ctx, pn.base+"s"); err != nil {
		return nil, err
	}
	if err := link(ctx, pn.GW, "swan", pnSwanLink, pn.Swan, "wan", pnSwanWAN); err != nil {
		return nil, err
	}
	if _, err := pn.GW.Run(ctx, "ip", "route", "add", pnSwan.String(), "via", pnSwanWAN.Addr().String()); err != nil {
		return nil, err
	}
	if _, err := pn.Swan.Run(ctx, "ip", "route", "add", "default", "via", pnSwanLink.Addr().String()); err != nil {
		return nil, err
	}
	addrs := make([]netip.Addr, n)
	var batch strings.Builder
	for i := range addrs {
		addrs[i] = nth(pnSwan, i)
		fmt.Fprintf(&batch, "addr add %s/32 dev wan\n", addrs[i])
	}
	path := filepath.Join(dir, "addresses.batch")
	if err := os.WriteFile(path, []byte(batch.String()), 0o644); err != nil {
		return nil, err
	}
	if _, err := pn.Swan.Run(ctx, "ip", "-batch", path); err != nil {
		return nil, err
	}
	return addrs, nil
}

// Close deletes the namespaces and kills what still runs in them.
func (pn *peerNet) Close() error {
	var errs []error
	for _, ns := range []*Namespace{pn.Swan, pn.Peers, pn.GW} {
		if ns != nil {
			if err := ns.delete(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ns.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
