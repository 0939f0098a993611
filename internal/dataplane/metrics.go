package dataplane

import (
	"bufio"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/tunnel"
	"github.com/vnetgw/vnetgw/internal/udp"
)

// metricFamilies are the metrics WriteMetrics writes, in order, with the
// Azure VPN gateway metric each one stands for where there is one.
var metricFamilies = []struct{ name, typ, help string }{
	{"vnetgw_tunnel_up", "gauge", "1 when the instance's tunnel of the connection is Connected (Azure: tunnel connection status)"},
	{"vnetgw_tunnel_ingress_bytes_total", "counter", "inner bytes received from the peer (Azure: Tunnel Ingress Bytes)"},
	{"vnetgw_tunnel_egress_bytes_total", "counter", "inner bytes sent to the peer (Azure: Tunnel Egress Bytes)"},
	{"vnetgw_tunnel_ingress_packets_total", "counter", "inner packets received from the peer (Azure: Tunnel Ingress Packets)"},
	{"vnetgw_tunnel_egress_packets_total", "counter", "inner packets sent to the peer (Azure: Tunnel Egress Packets)"},
	{"vnetgw_tunnel_dropped_packets_total", "counter", "packets of the tunnel dropped, by reason: no_sa (no child SA for them), no_selector (policy-based: no child SA whose traffic selectors hold them, Azure's egress TS mismatch; one is asked for), seal, too_big (longer than the tunnel carries, with Don't Fragment set or IPv6: answered with ICMP Fragmentation Needed or Packet Too Big), send (sealed, but the socket did not send them), replay, integrity, padding, length, expired (the child SA refused them: a replay, an ICV that did not verify, bad padding, a bad length, past its hard lifetime), inner_write (opened, but the inner side did not take them), dummy (the peer's dummy packets, RFC 4303 §2.6), selector (outside the child SA's traffic selectors: Azure's ingress TS mismatch), malformed, ecn (marked Congestion Experienced on the way but not ECN-capable inside, RFC 6040 §4.2), nat_no_flow (to a Dynamic NAT rule's external space, of no flow its internal side started), nat_full (a Dynamic NAT rule had no free address and port)"},
	{"vnetgw_tunnel_nat_flows", "gauge", "flows the connection's Dynamic NAT rules hold"},
	{"vnetgw_gateway_dropped_packets_total", "counter", "packets a gateway instance dropped before a tunnel knew them, by reason: not_ip, no_route, short, unknown_spi, queue_full (its VNet side), openvpn_control (an OpenVPN client's control packet without the gateway's tls-crypt or tls-auth key, or replayed), openvpn_data (an OpenVPN data packet that does not open)"},
	{"vnetgw_gateway_udp_datagrams_total", "counter", "datagrams the gateway instance's UDP ports (IKE, NAT-T) and raw ESP endpoint received, by kind: ike, nat_keepalive (RFC 3948 §2.3), esp"},
	{"vnetgw_gateway_udp_dropped_datagrams_total", "counter", "datagrams the gateway instance's UDP ports and raw ESP endpoint dropped before the IKE daemon or the tunnels saw them, by reason: malformed (on the NAT-T port, empty or a non-ESP marker with no IKE message after it; raw ESP, not an IPv4 packet), no_handler (ESP where nothing takes it), truncated (longer than the read buffer)"},
	{"vnetgw_gateway_udp_read_errors_total", "counter", "failed reads (of a batch, not datagrams) on the gateway instance's UDP ports and raw ESP endpoint"},
	{"vnetgw_gateway_nat_keepalives_sent_total", "counter", "NAT-keepalives the gateway instance sent from behind a NAT (RFC 3948 §4), by result: sent, failed"},
	{"vnetgw_gateway_path_mtu_errors_total", "counter", "ICMP Fragmentation Needed (RFC 1191) and Packet Too Big (RFC 8201) the gateway instance read about its ESP packets: each may lower the path MTU of the tunnels on that path"},
	{"vnetgw_ike_sas", "gauge", "established IKE SAs (and IKEv1 ISAKMP SAs) of the gateway instance (Azure: Tunnel MMSA Count)"},
	{"vnetgw_ike_dropped_messages_total", "counter", "IKE messages the gateway instance dropped, by IKE version and reason: malformed, unknown_spi (no SA of ours), no_peer (a first message from an address no connection has), integrity (did not decrypt or verify; IKEv1: refused), unexpected, queue_full"},
	{"vnetgw_ike_retransmits_total", "counter", "IKE requests the gateway instance sent again for want of an answer, by IKE version"},
	{"vnetgw_ike_liveness_checks_total", "counter", "dead peer detection checks the gateway instance began, by IKE version: each after a peer sent neither IKE nor ESP for the DPD interval (IKEv2: an empty INFORMATIONAL request; IKEv1: R-U-THERE); one sent again counts once"},
	{"vnetgw_vnet_forwarded_packets_total", "counter", "packets the VNet's router forwarded"},
	{"vnetgw_vnet_dropped_packets_total", "counter", "packets the VNet's router dropped or a host of it could not take, by reason: no_route (R43; with --internet-egress also what may not go to the Internet; a host's multicast, broadcast and IPv6 link-local packets), ttl_expired, malformed, undeliverable (a TUN host's device did not take them)"},
	{"vnetgw_vnet_internet_flows_total", "counter", "TCP connections and UDP flows of the VNet's hosts to the Internet (serve --internet-egress), by result: opened, failed (the node could not open it: refused, unreachable), full (refused while as many flows were open as may be: each attempt counts, every SYN a host sends again and every datagram of a UDP flow that could not open)"},
	{"vnetgw_vnet_internet_flows", "gauge", "TCP connections and UDP flows of the VNet's hosts to the Internet open now"},
	{"vnetgw_radius_dropped_answers_total", "counter", "answers of RADIUS servers (to the gateways' questions about point-to-site clients) dropped, by reason: wrong_id (another request's Identifier: a late or duplicate answer), unverified (malformed, or its Response Authenticator or Message-Authenticator does not check out, or it lacks a Message-Authenticator it must have, or its MS-CHAP2-Success is of another Ident than the response asked about)"},
	{"vnetgw_p2s_connections", "gauge", "point-to-site clients connected to the gateway instance, by protocol (Azure: P2S Connection Count)"},
	{"vnetgw_bgp_peer_up", "gauge", "1 when the BGP session with the peer is Established (Azure: BGP Peer Status)"},
	{"vnetgw_bgp_routes_learned", "gauge", "routes the gateway instance learned from the BGP peer (Azure: BGP Routes Learned)"},
}

// metrics collects samples by family.
type metrics map[string][]string

// add adds one sample; labels are name, value pairs.
func (m metrics) add(name string, v uint64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	for i := 0; i+1 < len(labels); i += 2 {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(labels[i])
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(labels[i+1]))
		b.WriteByte('"')
	}
	if len(labels) > 0 {
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatUint(v, 10))
	m[name] = append(m[name], b.String())
}

// labelEscaper escapes a label value (Prometheus text format 0.0.4).
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// reason is one count of a metric by reason.
type reason struct {
	name string
	n    uint64
}

// addReasons adds a sample per reason, labelled with labels and the reason.
func (m metrics) addReasons(name string, labels []string, rs ...reason) {
	for _, r := range rs {
		m.add(name, r.n, append(labels[:len(labels):len(labels)], "reason", r.name)...)
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// WriteMetrics writes the counters of what the engine runs in the
// Prometheus text format (version 0.0.4): its VNets' routers, its
// gateways' tunnels, point-to-site clients and BGP peers. Resources are
// labelled by their lower-cased ids.
func (e *Engine) WriteMetrics(w io.Writer) error {
	m := metrics{}
	e.mu.Lock()
	for _, id := range slices.Sorted(maps.Keys(e.vnets)) {
		v := e.vnets[id]
		s := v.stats()
		m.add("vnetgw_vnet_forwarded_packets_total", s.Forwarded, "vnet", id)
		m.addReasons("vnetgw_vnet_dropped_packets_total", []string{"vnet", id},
			reason{"no_route", s.NoRoute}, reason{"ttl_expired", s.TTLExpired}, reason{"malformed", s.Malformed},
			reason{"undeliverable", s.Undeliverable})
		if v.egress != nil {
			es := v.egress.Stats()
			m.add("vnetgw_vnet_internet_flows_total", es.Opened, "vnet", id, "result", "opened")
			m.add("vnetgw_vnet_internet_flows_total", es.Failed, "vnet", id, "result", "failed")
			m.add("vnetgw_vnet_internet_flows_total", es.Full, "vnet", id, "result", "full")
			m.add("vnetgw_vnet_internet_flows", es.Open, "vnet", id)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(e.gateways)) {
		e.gatewayMetrics(m, e.gateways[key])
	}
	gateways := len(e.gateways) > 0
	e.mu.Unlock()
	if gateways {
		// The process's: the radius package counts them.
		wrongID, unverified := radius.Drops()
		m.addReasons("vnetgw_radius_dropped_answers_total", nil, reason{"wrong_id", wrongID}, reason{"unverified", unverified})
	}

	bw := bufio.NewWriter(w)
	for _, f := range metricFamilies {
		if len(m[f.name]) == 0 {
			continue
		}
		bw.WriteString("# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.typ + "\n")
		for _, s := range m[f.name] {
			bw.WriteString(s + "\n")
		}
	}
	return bw.Flush()
}

// gatewayMetrics adds one gateway instance's samples; e.mu is held.
func (e *Engine) gatewayMetrics(m metrics, g *gw) {
	gwID, inst := g.cfg.ID, strconv.Itoa(g.cfg.Instance)
	// Not "instance": Prometheus labels what it scrapes with the target's
	// instance and job, and renames labels of those names in the data
	// (exported_instance).
	instance := []string{"gateway", gwID, "gateway_instance", inst}
	if g.port != nil {
		m.addReasons("vnetgw_gateway_dropped_packets_total", instance, reason{"queue_full", g.port.Dropped()})
	}
	if g.p2s != nil {
		control, data := g.p2s.OpenVPNDrops()
		m.addReasons("vnetgw_gateway_dropped_packets_total", instance, reason{"openvpn_control", control}, reason{"openvpn_data", data})
	}
	if g.gw == nil {
		for _, c := range g.cfg.Connections {
			m.add("vnetgw_tunnel_up", 0, tunnelLabels(c, instance)...)
		}
		return
	}
	d := g.gw.Engine().Drops()
	m.addReasons("vnetgw_gateway_dropped_packets_total", instance,
		reason{"not_ip", d.NotIP}, reason{"no_route", d.NoRoute}, reason{"short", d.Short}, reason{"unknown_spi", d.UnknownSPI})
	udpMetrics(m, instance, g.gw.UDP().Stats())
	status := map[string]gateway.ConnectionStatus{}
	ikeSAs := 0
	for _, cs := range g.gw.Status() {
		status[cs.Name] = cs
		ikeSAs += cs.IKESAs
	}
	m.add("vnetgw_ike_sas", uint64(ikeSAs), instance...)
	v2, v1 := g.gw.IKEStats()
	for _, d := range []struct {
		version string
		s       ikev2.Stats
	}{{"2", v2}, {"1", v1}} {
		s, labels := d.s, append(instance[:len(instance):len(instance)], "version", d.version)
		m.addReasons("vnetgw_ike_dropped_messages_total", labels,
			reason{"malformed", s.Malformed}, reason{"unknown_spi", s.UnknownSPI}, reason{"no_peer", s.NoPeer},
			reason{"integrity", s.Integrity}, reason{"unexpected", s.Unexpected}, reason{"queue_full", s.QueueFull})
		m.add("vnetgw_ike_retransmits_total", s.Retransmits, labels...)
		m.add("vnetgw_ike_liveness_checks_total", s.LivenessChecks, labels...)
	}
	for _, c := range g.cfg.Connections {
		labels := tunnelLabels(c, instance)
		t, ok := status[c.tunnelName()]
		m.add("vnetgw_tunnel_up", b2u(t.State == gateway.Connected), labels...)
		if !ok {
			continue
		}
		m.add("vnetgw_tunnel_ingress_bytes_total", t.BytesIn, labels...)
		m.add("vnetgw_tunnel_egress_bytes_total", t.BytesOut, labels...)
		m.add("vnetgw_tunnel_ingress_packets_total", t.PacketsIn, labels...)
		m.add("vnetgw_tunnel_egress_packets_total", t.PacketsOut, labels...)
		m.addReasons("vnetgw_tunnel_dropped_packets_total", labels, tunnelDropReasons(t.Drops)...)
		if slices.ContainsFunc(c.NAT, func(n tunnel.NAT) bool { return n.Dynamic }) {
			m.add("vnetgw_tunnel_nat_flows", uint64(t.NATFlows), labels...)
		}
	}
	if g.p2s != nil {
		for _, proto := range []string{ProtocolSSTP, ProtocolOpenVPN} {
			if proto == ProtocolSSTP && g.p2sCfg.SSTP || proto == ProtocolOpenVPN && g.p2sCfg.OpenVPN {
				_, _, n := g.p2s.Traffic(proto)
				m.add("vnetgw_p2s_connections", uint64(n), append(instance[:len(instance):len(instance)], "protocol", proto)...)
			}
		}
	}
	if g.ikev2Clients {
		_, _, n := g.gw.ClientTraffic()
		m.add("vnetgw_p2s_connections", uint64(n), append(instance[:len(instance):len(instance)], "protocol", ProtocolIKEv2)...)
	}
	if g.bgp != nil {
		for _, p := range g.bgp.s.Peers() {
			peer := append(instance[:len(instance):len(instance)], "peer", p.Addr.String())
			m.add("vnetgw_bgp_peer_up", b2u(p.State == "Established"), peer...)
			m.add("vnetgw_bgp_routes_learned", uint64(p.RoutesReceived), peer...)
		}
	}
}

// udpMetrics adds the samples of a gateway instance's UDP transport.
func udpMetrics(m metrics, instance []string, s udp.Stats) {
	label := func(name, value string) []string {
		return append(instance[:len(instance):len(instance)], name, value)
	}
	m.add("vnetgw_gateway_udp_datagrams_total", s.IKE, label("kind", "ike")...)
	m.add("vnetgw_gateway_udp_datagrams_total", s.Keepalives, label("kind", "nat_keepalive")...)
	m.add("vnetgw_gateway_udp_datagrams_total", s.ESP, label("kind", "esp")...)
	m.addReasons("vnetgw_gateway_udp_dropped_datagrams_total", instance,
		reason{"malformed", s.Drops.Malformed}, reason{"no_handler", s.Drops.NoHandler}, reason{"truncated", s.Drops.Truncated})
	m.add("vnetgw_gateway_udp_read_errors_total", s.Drops.ReadErrors, instance...)
	m.add("vnetgw_gateway_nat_keepalives_sent_total", s.KeepalivesSent, label("result", "sent")...)
	m.add("vnetgw_gateway_nat_keepalives_sent_total", s.KeepaliveSendFails, label("result", "failed")...)
	m.add("vnetgw_gateway_path_mtu_errors_total", s.TooBig, instance...)
}

// tunnelDropReasons are the reasons of vnetgw_tunnel_dropped_packets_total:
// every counter of d but Open, the sum of replay, integrity, padding,
// length and expired (summed over the reasons, it would count twice).
func tunnelDropReasons(d tunnel.TunnelDrops) []reason {
	return []reason{{"no_sa", d.NoSA}, {"no_selector", d.NoSelector}, {"seal", d.Seal}, {"too_big", d.TooBig}, {"send", d.Send},
		{"replay", d.Replay}, {"integrity", d.Integrity}, {"padding", d.Padding}, {"length", d.Length}, {"expired", d.Expired},
		{"inner_write", d.InnerWrite}, {"dummy", d.Dummy}, {"selector", d.Selector}, {"malformed", d.Malformed},
		{"ecn", d.ECN}, {"nat_no_flow", d.NATNoFlow}, {"nat_full", d.NATFull}}
}

// tunnelLabels are the labels of connection c's tunnel at the gateway
// instance: a standby tunnel's name is one more.
func tunnelLabels(c Connection, instance []string) []string {
	labels := append([]string{"connection", c.ID}, instance...)
	if c.Tunnel != "" {
		labels = append(labels, "standby", c.Tunnel)
	}
	return labels
}
