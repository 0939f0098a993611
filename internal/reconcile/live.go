package reconcile

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/bgp"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/pcap"
)

// Live answers the API's questions about the running data plane (the api
// package's DataPlane): what the store's status cannot hold, or not fresh
// enough.
type Live struct{ Engine *dataplane.Engine }

// IKESAs returns the IKE SAs of connection id, the newest first.
func (l Live) IKESAs(id string) []arm.IKESA {
	sas, counters := l.Engine.IKESAs(strings.ToLower(id))
	now := time.Now()
	out := make([]arm.IKESA, 0, len(sas))
	for _, sa := range sas {
		a := arm.IKESA{
			LocalEndpoint: sa.Local.String(), RemoteEndpoint: sa.Remote.String(),
			InitiatorSPI: fmt.Sprintf("%016x", sa.SPIi), ResponderSPI: fmt.Sprintf("%016x", sa.SPIr),
			IsSAInitiator: sa.Initiator, State: sa.State, Proposal: sa.Proposal,
			NATLocal: sa.NATLocal, NATRemote: sa.NATRemote, QuickModeSAs: []arm.ChildSA{},
		}
		if !sa.Established.IsZero() {
			a.EstablishedTime = sa.Established.UTC().Format(time.RFC3339)
			a.ElapsedTimeInSeconds = int64(now.Sub(sa.Established) / time.Second)
		}
		for _, c := range sa.Children {
			n := counters[c.InSPI]
			a.QuickModeSAs = append(a.QuickModeSAs, arm.ChildSA{
				InboundPackets: n.PacketsIn, InboundBytes: n.BytesIn, OutboundPackets: n.PacketsOut, OutboundBytes: n.BytesOut,
				InboundSPI: fmt.Sprintf("%08x", c.InSPI), OutboundSPI: fmt.Sprintf("%08x", c.OutSPI), Proposal: c.Proposal,
				LocalTrafficSelectors: prefixStrings(c.LocalTS), RemoteTrafficSelectors: prefixStrings(c.RemoteTS),
				UDPEncapsulation: c.Encap, Rekeyed: c.Rekeyed,
				InstalledTime: c.Installed.UTC().Format(time.RFC3339), ElapsedTimeInSeconds: int64(now.Sub(c.Installed) / time.Second),
			})
		}
		out = append(out, a)
	}
	return out
}

// captureWait is how long the start of a packet capture waits for its
// gateway (or its connection's tunnel) to run: a gateway created a moment
// ago runs once the loop has given it to the data plane.
const captureWait = 5 * time.Second

// StartPacketCapture starts capturing the inner packets of gateway or
// connection id, once it runs (captureWait at most).
func (l Live) StartPacketCapture(id string, cfg pcap.Config) error {
	c, deadline := pcap.Start(cfg), time.Now().Add(captureWait)
	for {
		err := l.Engine.StartPacketCapture(strings.ToLower(id), c)
		if !errors.Is(err, dataplane.ErrNotRunning) || time.Now().After(deadline) {
			return captureError(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StopPacketCapture ends id's capture and returns its file.
func (l Live) StopPacketCapture(id string) ([]byte, uint64, uint64, error) {
	c, err := l.Engine.StopPacketCapture(strings.ToLower(id))
	if err != nil {
		return nil, 0, 0, captureError(err)
	}
	file, captured, missed := c.Stop()
	return file, captured, missed, nil
}

func captureError(err error) error {
	switch {
	case errors.Is(err, dataplane.ErrCaptureRunning):
		return arm.Errorf(arm.CodePacketCaptureRunning, "a packet capture runs here already; stop it first (stopPacketCapture)")
	case errors.Is(err, dataplane.ErrTooManyCaptures):
		return arm.Errorf(arm.CodeTooManyRequests, "%v: stop one first", err)
	case errors.Is(err, dataplane.ErrNoCapture):
		return arm.Errorf(arm.CodeNoPacketCapture, "no packet capture runs here; start one (startPacketCapture)")
	case errors.Is(err, dataplane.ErrNotRunning):
		return arm.Errorf(arm.CodeGatewayNotReady, "the gateway (or the connection's tunnel) does not run (yet): see connectionStatusReason")
	}
	return err
}

// WriteMetrics writes the engine's counters for Prometheus.
func (l Live) WriteMetrics(w io.Writer) error { return l.Engine.WriteMetrics(w) }

// ResetConnection ends the tunnel of connection id and starts it again,
// on the gateway instance whose public address is vip or, without one, on
// all; it reports whether a gateway runs the connection.
func (l Live) ResetConnection(id string, vip netip.Addr) bool {
	return l.Engine.ResetConnection(strings.ToLower(id), vip)
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// BGPPeers returns the BGP peers of gateway id's speakers (R41).
func (l Live) BGPPeers(id string) []arm.BGPPeerStatus {
	var out []arm.BGPPeerStatus
	for _, s := range l.Engine.BGP(strings.ToLower(id)) {
		for _, p := range s.Peers() {
			st := arm.BGPPeerStatus{LocalAddress: p.Local.String(), Neighbor: p.Addr.String(), ASN: int64(p.AS), State: bgpState(p.State),
				RoutesReceived: int64(p.RoutesReceived), MessagesSent: int64(p.MessagesSent), MessagesReceived: int64(p.MessagesReceived)}
			if !p.Since.IsZero() {
				st.ConnectedDuration = timeSpan(time.Since(p.Since))
			}
			out = append(out, st)
		}
	}
	return out
}

// bgpState names a session state as Azure does.
func bgpState(s string) string {
	switch s {
	case "Established":
		return "Connected"
	case "Connect", "Active", "OpenSent", "OpenConfirm":
		return "Connecting"
	case "Idle":
		return "Idle"
	}
	return "Unknown"
}

// timeSpan writes d as .NET's TimeSpan does: hh:mm:ss.fffffff, the days
// in front once there is one (d.hh:mm:ss.fffffff).
func timeSpan(d time.Duration) string {
	days, h, m, s := int(d/(24*time.Hour)), int(d.Hours())%24, int(d.Minutes())%60, int(d.Seconds())%60
	out := fmt.Sprintf("%02d:%02d:%02d.%07d", h, m, s, (d%time.Second)/100)
	if days > 0 {
		out = fmt.Sprintf("%d.%s", days, out)
	}
	return out
}

// LearnedRoutes returns the routes of gateway id's speakers: the VNet's
// ranges they originate, and every route their peers announced.
func (l Live) LearnedRoutes(id string) []arm.GatewayRoute {
	var out []arm.GatewayRoute
	for _, s := range l.Engine.BGP(strings.ToLower(id)) {
		cfg := s.Config()
		for _, p := range cfg.Networks {
			out = append(out, arm.GatewayRoute{LocalAddress: cfg.ID.String(), Network: p.String(), SourcePeer: cfg.ID.String(), Origin: "Network", Weight: 32768})
		}
		for _, r := range s.Learned() {
			out = append(out, gatewayRoute(cfg.ID, r, "EBgp"))
		}
	}
	slices.SortFunc(out, func(a, b arm.GatewayRoute) int {
		return cmp.Or(strings.Compare(a.LocalAddress, b.LocalAddress), strings.Compare(a.Network, b.Network), strings.Compare(a.SourcePeer, b.SourcePeer))
	})
	return out
}

// AdvertisedRoutes returns what gateway id's speakers announce to peer.
func (l Live) AdvertisedRoutes(id string, peer netip.Addr) []arm.GatewayRoute {
	var out []arm.GatewayRoute
	for _, s := range l.Engine.BGP(strings.ToLower(id)) {
		cfg := s.Config()
		for _, r := range s.Advertised(peer) {
			gr := gatewayRoute(cfg.ID, r, "EBgp")
			gr.SourcePeer = cfg.ID.String() // this gateway sends it
			out = append(out, gr)
		}
	}
	slices.SortFunc(out, func(a, b arm.GatewayRoute) int { return strings.Compare(a.Network, b.Network) })
	return out
}

func gatewayRoute(local netip.Addr, r bgp.Route, origin string) arm.GatewayRoute {
	// An AS_SET is one step of the path, its ASes in no order (RFC 4271
	// §5.1.2): in braces, "65010-{65020,65030}", not as if a sequence.
	var path []string
	for _, seg := range r.ASPath {
		var ases []string
		for _, as := range seg.ASNs {
			ases = append(ases, strconv.FormatUint(uint64(as), 10))
		}
		if seg.Set {
			ases = []string{"{" + strings.Join(ases, ",") + "}"}
		}
		path = append(path, ases...)
	}
	return arm.GatewayRoute{LocalAddress: local.String(), Network: r.Prefix.String(), NextHop: r.NextHop.String(),
		SourcePeer: r.PeerAddr.String(), Origin: origin, ASPath: strings.Join(path, "-"), Weight: 32768}
}

// LearnedPrefixes returns the prefixes gateway id learned over BGP and
// routes (R41).
func (l Live) LearnedPrefixes(id string) []netip.Prefix {
	return l.Engine.LearnedPrefixes(strings.ToLower(id))
}

// The id of a point-to-site client's connection is its protocol, as
// Azure's ids start, "_" and the address it was given.

// DisconnectVPNClients ends the point-to-site connections of gateway id
// with the given ids (as VPNClients names them; others are ignored) and
// returns how many were connected.
func (l Live) DisconnectVPNClients(id string, ids []string) int {
	var conns []dataplane.P2SConnection
	for _, s := range ids {
		proto, addr, ok := strings.Cut(s, "_")
		if a, err := netip.ParseAddr(addr); err == nil && ok && (proto == dataplane.ProtocolSSTP || proto == dataplane.ProtocolIKEv2 || proto == dataplane.ProtocolOpenVPN) {
			conns = append(conns, dataplane.P2SConnection{Protocol: proto, Addr: a})
		}
	}
	return l.Engine.DisconnectP2S(strings.ToLower(id), conns)
}

// VPNClients returns the point-to-site clients of gateway id.
func (l Live) VPNClients(id string) []arm.VPNClientConnectionHealthDetail {
	var out []arm.VPNClientConnectionHealthDetail
	for _, c := range l.Engine.P2SClients(strings.ToLower(id)) {
		out = append(out, arm.VPNClientConnectionHealthDetail{
			VPNConnectionID: c.Protocol + "_" + c.Addr.String(), VPNConnectionDuration: int64(time.Since(c.Since) / time.Second),
			VPNConnectionTime: c.Since.UTC().Format(time.RFC3339), PublicIPAddress: c.Remote.String(), PrivateIPAddress: c.Addr.String(),
			VPNUserName: c.Identity, IngressBytesTransferred: int64(c.BytesIn), EgressBytesTransferred: int64(c.BytesOut),
			IngressPacketsTransferred: int64(c.PacketsIn), EgressPacketsTransferred: int64(c.PacketsOut),
			MaxBandwidth: int64(c.Peak.BytesPerSecond), MaxPacketsPerSecond: int64(c.Peak.PacketsPerSecond)})
	}
	return out
}
