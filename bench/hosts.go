package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// HostTransfer is iperf3 TCP, one stream, between two hosts through one
// tunnel that the API made: a host on a network interface attached as a
// TUN device (properties.attachment) in a VNet, and a host on premises or
// in another VNet.
type HostTransfer struct {
	// Name says which tunnel and which way.
	Name    string
	Samples []Sample
	// Loads are /proc/loadavg's 1-minute figure after each run.
	Loads []float64
}

// The host transfers of the control part, each way.
const (
	TransferSite      = "VNet host → on-premises host, through vnetgw → strongSwan"
	TransferSiteBack  = "on-premises host → VNet host, through strongSwan → vnetgw"
	TransferVNet      = "VNet a host → VNet b host, through a VNet-to-VNet tunnel"
	TransferVNetBack  = "VNet b host → VNet a host, through a VNet-to-VNet tunnel"
	cpHostSubnetA     = "10.1.0.0/24"
	cpHostSubnetB     = "10.2.0.0/24"
	cpHostSubnetName  = "hosts"
	hostDeviceTimeout = 15 * time.Second
)

// hostTransfers makes a network interface attached as a TUN device in
// each of the control network's host namespaces (one in VNet a, one in
// VNet b), connects VNet a to the site and to VNet b through the API, and
// runs iperf3 through each tunnel both ways, o.Runs times of o.Seconds.
// The site's host is charon's namespace, on the site's first address.
func (s *serve) hostTransfers(ctx context.Context, o Options, res *ControlResult, cn *controlNet, a, b site, lng arm.ID, log *slog.Logger) error {
	hostA, err := s.tunHost(ctx, a, cpHostSubnetA, "host-a", cn.HostA)
	if err != nil {
		return err
	}
	hostB, err := s.tunHost(ctx, b, cpHostSubnetB, "host-b", cn.HostB)
	if err != nil {
		return err
	}
	conn := func(name string) arm.ID { return arm.NetworkID(cpSub, cpConnectRG, "connections", name) }
	toSite, ab, ba := conn("a-to-onprem-hosts"), conn("a-to-b-hosts"), conn("b-to-a-hosts")
	if _, err := s.connect(ctx, []arm.ID{toSite, ab, ba}, func() error {
		if err := s.putConnection(ctx, toSite, a.gw, arm.ConnectionIPsec, lng, ""); err != nil {
			return err
		}
		if err := s.putConnection(ctx, ab, a.gw, arm.ConnectionVnet2Vnet, b.gw, ""); err != nil {
			return err
		}
		return s.putConnection(ctx, ba, b.gw, arm.ConnectionVnet2Vnet, a.gw, "")
	}); err != nil {
		return err
	}
	siteHost := nth(netip.MustParsePrefix(cpSiteSpace), 0)
	pairs := []struct {
		name string
		topo Topology
		rev  bool
	}{
		{TransferSite, Topology{HostA: cn.HostA, HostB: cn.Charon, HostBAddr: siteHost}, false},
		{TransferSiteBack, Topology{HostA: cn.HostA, HostB: cn.Charon, HostBAddr: siteHost}, true},
		{TransferVNet, Topology{HostA: cn.HostA, HostB: cn.HostB, HostBAddr: hostB}, false},
		{TransferVNetBack, Topology{HostA: cn.HostA, HostB: cn.HostB, HostBAddr: hostB}, true},
	}
	for _, p := range pairs {
		res.Transfers = append(res.Transfers, HostTransfer{Name: p.name})
	}
	log.Info("host transfers", "part", PartControl, "vnet_a_host", hostA, "vnet_b_host", hostB, "site_host", siteHost)
	for run := 1; run <= o.Runs; run++ {
		for i, p := range pairs {
			if err := sleep(ctx, settle); err != nil {
				return err
			}
			sm, err := measure(ctx, &p.topo, Test{Name: "tcp-1", Streams: 1, Reverse: p.rev}, o.Seconds, []int{s.proc.Pid()})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				res.Failures = append(res.Failures, fmt.Sprintf("%s run %d: %v", p.name, run, err))
				log.Warn("host transfer failed", "part", PartControl, "transfer", p.name, "run", run, "err", err)
				continue
			}
			t := &res.Transfers[i]
			t.Samples, t.Loads = append(t.Samples, sm), append(t.Loads, load1())
			log.Info("measured", "part", PartControl, "transfer", p.name, "run", run, "mbps", round(sm.Mbps))
		}
	}
	return nil
}

// tunHost adds subnet prefix to st's VNet and a network interface in it,
// attached as a TUN device in ns, and waits until the device has the
// interface's address. It returns that address.
func (s *serve) tunHost(ctx context.Context, st site, prefix, name string, ns *Namespace) (netip.Addr, error) {
	sn := arm.Subnet{Properties: arm.SubnetProperties{AddressPrefix: prefix}}
	subnet := st.vnet.Child("subnets", cpHostSubnetName)
	if _, err := s.c.Put(ctx, subnet, sn, nil); err != nil {
		return netip.Addr{}, err
	}
	n := arm.NetworkInterface{Resource: arm.Resource{Location: "westeurope"}}
	n.Properties.IPConfigurations = []arm.NetworkInterfaceIPConfiguration{{Name: "ipconfig1",
		Properties: arm.NetworkInterfaceIPConfigurationProperties{Subnet: arm.Ref(subnet.String())}}}
	n.Properties.Attachment = &arm.Attachment{Kind: "tun", NetNS: ns.Name}
	var got arm.NetworkInterface
	if _, err := s.c.Put(ctx, arm.NetworkID(cpSub, st.rg, "networkInterfaces", name), n, &got); err != nil {
		return netip.Addr{}, err
	}
	addr, err := netip.ParseAddr(got.Properties.IPConfigurations[0].Properties.PrivateIPAddress)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("network interface %s: %w", name, err)
	}
	var out string
	if err := waitFor(ctx, hostDeviceTimeout, func() bool {
		out, _ = ns.Run(ctx, "ip", "-o", "-4", "addr", "show")
		return strings.Contains(out, " "+addr.String()+"/")
	}); err != nil {
		return addr, fmt.Errorf("no TUN device with %s in %s: %w:\n%s", addr, ns.Name, err, out)
	}
	return addr, nil
}
