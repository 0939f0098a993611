// Package devicecfg writes the configuration of the on-premises VPN device
// at the far end of a site-to-site connection, as ARM's
// vpndeviceconfigurationscript operation does: the device's half of the
// tunnel that the gateway runs, derived from the same data-plane
// configuration (reconcile.Build), so that the two cannot disagree. The one
// device it writes for is strongSwan (swanctl.conf).
package devicecfg

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/ike/ikev1"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/reconcile"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/strongswan"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// The one device this package writes for.
const (
	Vendor          = "strongSwan"
	DeviceFamily    = "swanctl"
	FirmwareVersion = "5.9"
)

// SupportedDevices returns the devices Script writes for, in the XML that
// ARM's supportedvpndevices operation returns.
func SupportedDevices() string {
	return `<Vendors><Vendor name="` + Vendor + `"><DeviceFamilies><DeviceFamily name="` + DeviceFamily +
		`"><FirmwareVersions><FirmwareVersion name="` + FirmwareVersion + `" /></FirmwareVersions></DeviceFamily></DeviceFamilies></Vendor></Vendors>`
}

// Ports are the UDP ports the gateways speak IKE on (serve's --ike-port and
// --natt-port); zero means 500 and 4500.
type Ports struct{ IKE, NATT uint16 }

// Script returns the configuration of the device at the far end of the
// connection id in s. p names the device: empty fields mean strongSwan's;
// another device is refused.
func Script(s *region.Snapshot, id arm.ID, p arm.VPNDeviceScriptParameters, ports Ports) (string, error) {
	if err := supported(p); err != nil {
		return "", err
	}
	var conn *arm.Connection
	for _, c := range s.Connections() {
		if arm.Equal(c.ID, id.String()) {
			conn = c
		}
	}
	if conn == nil {
		return "", arm.Errorf(arm.CodeResourceNotFound, "the connection '%s' was not found", id.Name())
	}
	if t := conn.Properties.ConnectionType; t != arm.ConnectionIPsec {
		return "", arm.Errorf(arm.CodeUnsupportedConnection,
			"a device configuration is for an IPsec (site-to-site) connection; %s is of type %s, with no device at its far end", id.Name(), t)
	}
	// One tunnel per instance of the gateway (two when active-active),
	// each with the connection as that instance runs it (its own NAT
	// rules and BGP addresses).
	var instances []instance
	owned := map[string]bool{} // the VNet of its gateway alone: a region may hold thousands
	if g := s.Gateway(conn.Properties.VirtualNetworkGateway1.RefID()); g != nil {
		if v := s.VNetOf(g); v != nil {
			owned[strings.ToLower(v.ID)] = true
		}
	}
	for _, g := range reconcile.Build(s, owned).Gateways {
		for _, c := range g.Connections {
			if c.ID == strings.ToLower(conn.ID) {
				instances = append(instances, instance{g, c})
			}
		}
	}
	if len(instances) > 0 {
		return write(conn, instances, ports)
	}
	return "", arm.Errorf(arm.CodeGatewayNotReady,
		"connection %s has no tunnel to configure yet: its gateway needs a public IP address and its local network gateway a gatewayIpAddress or fqdn", id.Name())
}

// supported refuses a device other than strongSwan with swanctl.conf.
func supported(p arm.VPNDeviceScriptParameters) error {
	ok := func(got, want string) bool { return got == "" || strings.EqualFold(got, want) }
	if ok(p.Vendor, Vendor) && ok(p.DeviceFamily, DeviceFamily) && (p.FirmwareVersion == "" || strings.HasPrefix(p.FirmwareVersion, "5.9") || strings.HasPrefix(p.FirmwareVersion, "6.")) {
		return nil
	}
	return arm.Errorf(arm.CodeUnsupportedVPNDevice,
		"no configuration for vendor %q, device family %q, firmware %q: vnetgw writes one for vendor %s, device family %s, firmware 5.9 or later",
		p.Vendor, p.DeviceFamily, p.FirmwareVersion, Vendor, DeviceFamily)
}

// pskSyntax is what a shared key may hold (R21, R38): nothing that needs
// quoting in swanctl.conf.
var pskSyntax = regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`)

// device is the template's view of one connection.
type device struct {
	Name, Gateway, Site  string
	Version              int // of IKE
	Tunnels              []tunnel
	Addr, FQDN           string // the device's address, or the name it is known by
	IKEPort, NATTPort    uint16
	IKE, ESP             string
	DPD                  string
	Start, Close, OnDPD  string
	Why                  string // a comment on the actions
	ChildLife, ChildKeep string // life_time and rekey_time, or empty
	LifeBytes, KeepBytes uint64
	PSK                  string
}

// instance is the connection as one instance of its gateway runs it.
type instance struct {
	g dataplane.Gateway
	c dataplane.Connection
}

// tunnel is the device's connection to one instance of the gateway.
type tunnel struct {
	Name        string
	GatewayAddr netip.Addr
	Children    []child
}

// child is one child SA of the device: its selectors, from its side.
type child struct{ Name, LocalTS, RemoteTS string }

// write writes the configuration of connection conn as the instances of
// its gateway run it.
func write(conn *arm.Connection, is []instance, ports Ports) (string, error) {
	g, c := is[0].g, is[0].c
	if !pskSyntax.Match(c.PSK) {
		return "", arm.Errorf(arm.CodeInvalidSharedKey, "the connection's shared key is not 1-128 letters and digits")
	}
	gwID, _ := arm.ParseID(conn.Properties.VirtualNetworkGateway1.RefID())
	siteID, _ := arm.ParseID(conn.Properties.LocalNetworkGateway2.RefID())
	// Named with its resource group: connections of one name in two
	// groups (to two hubs, say) may end at one device.
	connID, _ := arm.ParseID(conn.ID)
	name := strongswan.SectionName(connID.ResourceGroup + "-" + conn.Name)
	d := device{
		Name: name, Gateway: gwID.Name(), Site: siteID.Name(),
		FQDN: c.RemoteFQDN, IKEPort: ports.IKE, NATTPort: ports.NATT,
		IKE: proposals(c.IKEProposals, suite.DefaultProposals(wire.ProtocolIKE)),
		ESP: proposals(c.ESPProposals, suite.DefaultProposals(wire.ProtocolESP)),
		PSK: string(c.PSK), Version: 2,
	}
	if c.Remote.IsValid() {
		d.Addr = c.Remote.String()
	}
	if c.IKEv1 {
		d.Version = 1
		d.IKE = proposals(c.IKEProposals, ikev1.DefaultIKEProposals())
		d.ESP = proposals(c.ESPProposals, ikev1.DefaultESPProposals())
	}
	if d.IKEPort == 500 {
		d.IKEPort = 0
	}
	if d.NATTPort == 4500 {
		d.NATTPort = 0
	}
	// The gateway checks liveness after a quarter of the timeout of
	// silence (dataplane); the device does the same.
	dpd := c.DPDTimeout
	if dpd == 0 {
		dpd = region.DefaultDPDTimeoutSeconds * time.Second
	}
	d.DPD = seconds(dpd / 4)
	if c.ChildLifetime > 0 {
		d.ChildLife, d.ChildKeep = seconds(c.ChildLifetime), seconds(c.ChildLifetime*9/10)
	}
	if c.ChildLifetimeKB > 0 {
		d.LifeBytes, d.KeepBytes = c.ChildLifetimeKB*1024, c.ChildLifetimeKB*1024*9/10
	}
	for _, in := range is {
		t := tunnel{Name: name, GatewayAddr: in.g.PublicAddr, Children: children(in.g, in.c)}
		if len(is) > 1 {
			t.Name = fmt.Sprintf("%s-%d", name, in.g.Instance+1)
		}
		d.Tunnels = append(d.Tunnels, t)
	}
	switch {
	case c.Mode == arm.ModeInitiatorOnly:
		d.Start, d.Close, d.OnDPD = "none", "none", "clear"
		d.Why = "the gateway starts this tunnel (connectionMode InitiatorOnly): the device answers"
	case g.PolicyBased:
		d.Start, d.Close, d.OnDPD = "trap", "trap", "trap"
		d.Why = "a policy-based gateway removes the tunnel after 5 minutes without traffic; the next packet, from either side, sets it up again"
	case c.Mode == arm.ModeResponderOnly:
		d.Start, d.Close, d.OnDPD = "start", "start", "restart"
		d.Why = "the gateway only answers (connectionMode ResponderOnly): the device starts the tunnel and keeps it up"
	default:
		d.Start, d.Close, d.OnDPD = "none", "none", "clear"
		d.Why = "the gateway starts this tunnel and keeps it up (connectionMode Default): the device answers"
	}
	var b strings.Builder
	if err := swanctl.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// children are the device's child SAs, mirroring the gateway's: one per
// pair of site and VNet prefixes (or of the ranges of each of
// trafficSelectorPolicies) for a policy-based gateway or
// usePolicyBasedTrafficSelectors (R18); otherwise one whose selectors hold
// the site's ranges (everything, for the default site of forced tunneling,
// R25) and every range the gateway routes to (its VNet, its point-to-site
// pool, and the other connections' ranges for transit, R37).
func children(g dataplane.Gateway, c dataplane.Connection) []child {
	if c.IKEv1 && !g.PolicyBased && !c.PolicySelectors {
		// IKEv1 names one subnet a side: a child per pair, and one for
		// the BGP session's ends, as the gateway proposes them
		// (dataplane.IKEv1Children).
		var out []child
		for _, cc := range dataplane.IKEv1Children(g, c) {
			out = append(out, child{Name: fmt.Sprintf("net-%d", len(out)+1), LocalTS: join(cc.RemoteTS), RemoteTS: join(cc.LocalTS)})
		}
		if len(out) == 0 {
			out = bgpOnlyIKEv1(g, c)
		}
		if len(out) == 0 {
			out = append(out, child{Name: "net", LocalTS: "dynamic", RemoteTS: join(c.LocalPrefixes)})
		}
		return out
	}
	if g.PolicyBased || c.PolicySelectors {
		pols := c.Selectors
		if len(pols) == 0 {
			pols = []dataplane.SelectorPolicy{{Local: c.LocalPrefixes, Remote: c.RemotePrefixes}}
		}
		// The pairs of one IP version, as the gateway negotiates them.
		var out []child
		for _, sp := range pols {
			for _, cc := range ikev2.PolicyBased(sp.Local, sp.Remote) {
				out = append(out, child{Name: fmt.Sprintf("net-%d", len(out)+1), LocalTS: join(cc.RemoteTS), RemoteTS: join(cc.LocalTS)})
			}
		}
		return out
	}
	// The default site of forced tunneling takes everything of the
	// default route's IP version; its ranges of the other version stay
	// (the gateway routes them into the tunnel as well).
	local := c.RemotePrefixes
	for _, p := range c.Routes {
		if p.Bits() == 0 {
			local = append([]netip.Prefix{p}, slices.DeleteFunc(slices.Clone(local), func(q netip.Prefix) bool { return q.Addr().Is4() == p.Addr().Is4() })...)
		}
	}
	remote := append([]netip.Prefix(nil), c.LocalPrefixes...)
	if g.P2S != nil {
		remote = append(remote, g.P2S.Pool) // point-to-site clients reach the site too (R33)
	}
	for _, o := range g.Connections {
		if o.ID == c.ID {
			continue
		}
		for _, p := range o.Routes {
			if p.Bits() > 0 {
				remote = append(remote, p)
			}
		}
	}
	// The BGP session's ends (R41), where the ranges leave them out (an
	// APIPA address, a site known by its speaker alone): the gateway
	// routes them into the tunnel, and the device's selectors must hold
	// them too. An end behind a NAT rule is named as the device sees it:
	// the site's speaker at its own address, not the one after its
	// IngressSnat rule (its bgpPeeringAddress), the gateway's inside the
	// EgressSnat rule's external space; a site that names no ranges, its
	// speaker alone, has it only so.
	if g.BGP != nil {
		for _, p := range g.BGP.Peers {
			if p.Connection != c.ID {
				continue
			}
			remote = withHost(remote, c.Seen(cmp.Or(p.Local, g.BGP.Addr), true))
			local = withHost(local, c.Seen(p.Addr, false))
		}
	}
	return []child{{Name: "net", LocalTS: join(local), RemoteTS: join(remote)}}
}

// bgpOnlyIKEv1 are the device's child SAs of an IKEv1 connection to a
// site that names no ranges, only its BGP speaker: the gateway proposes
// any-to-any and takes the device's narrowing, to the first child that
// fits (strongSwan's choice among equal matches), so the first holds the
// BGP session's ends, the speaker against the VNet range that holds the
// gateway's end (or that end alone), and the others the speaker against
// the other VNet ranges. The ends are as the device sees them, through
// the connection's NAT rules (Static ones: BGP has no Dynamic rule).
func bgpOnlyIKEv1(g dataplane.Gateway, c dataplane.Connection) []child {
	if g.BGP == nil {
		return nil
	}
	var out []child
	for _, p := range g.BGP.Peers {
		own := cmp.Or(p.Local, g.BGP.Addr)
		if p.Connection != c.ID || !own.IsValid() || !p.Addr.IsValid() || own.Is4() != p.Addr.Is4() {
			continue
		}
		site, gw := netip.PrefixFrom(c.Seen(p.Addr, false), p.Addr.BitLen()), c.Seen(own, true)
		first := netip.PrefixFrom(gw, gw.BitLen())
		if i := slices.IndexFunc(c.LocalPrefixes, func(v netip.Prefix) bool { return v.Contains(gw) }); i >= 0 {
			first = c.LocalPrefixes[i]
		}
		out = append(out, child{Name: fmt.Sprintf("net-%d", len(out)+1), LocalTS: site.String(), RemoteTS: first.String()})
		for _, v := range c.LocalPrefixes {
			if v != first && v.Addr().Is4() == site.Addr().Is4() {
				out = append(out, child{Name: fmt.Sprintf("net-%d", len(out)+1), LocalTS: site.String(), RemoteTS: v.String()})
			}
		}
	}
	return out
}

// withHost returns ps with a's host prefix when no prefix of ps holds a.
func withHost(ps []netip.Prefix, a netip.Addr) []netip.Prefix {
	if !a.IsValid() || slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) }) {
		return ps
	}
	return append(slices.Clip(ps), netip.PrefixFrom(a, a.BitLen()))
}

// proposals writes the gateway's proposals, or its defaults, as a
// swanctl.conf list.
func proposals(custom []string, defaults []suite.Proposal) string {
	if len(custom) > 0 {
		return strings.Join(custom, ", ")
	}
	var out []string
	for _, pr := range defaults {
		out = append(out, pr.String())
	}
	return strings.Join(out, ", ")
}

func join(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%ds", max(int64(d/time.Second), 1)) }

var swanctl = template.Must(template.New("").Funcs(template.FuncMap{"secret": strongswan.SecretValue}).Parse(`# swanctl.conf of the on-premises device of vnetgw connection {{.Name}}:
# gateway {{.Gateway}} at {{range $i, $t := .Tunnels}}{{if $i}} and {{end}}{{$t.GatewayAddr}}{{end}}, local network gateway {{.Site}} at {{or .Addr .FQDN}}.
{{- if gt (len .Tunnels) 1}}
# The gateway is active-active: one tunnel to each of its instances; it
# sends through the first while that is up.
{{- end}}
# Install it as /etc/swanctl/conf.d/{{.Name}}.conf and run swanctl --load-all.
# It holds the connection's pre-shared key: keep it as secret as the key.
{{- if or .IKEPort .NATTPort}}
# The gateway speaks IKE on UDP port {{or .IKEPort 500}} and, after NAT traversal, {{or .NATTPort 4500}} (serve's --ike-port and --natt-port).
# The tunnels it starts go to the same ports of this device: set charon.port
# and charon.port_nat_t in strongswan.conf to them, or have the device start
# the tunnel (the connection's connectionMode ResponderOnly).
{{- end}}
connections {
{{- range $t := .Tunnels}}
  {{$t.Name}} {
    version = {{$.Version}}
{{- if $.Addr}}
    # local_addrs is this device's address; behind a NAT, its private one.
    local_addrs = {{$.Addr}}
{{- else}}
    # The device is known by name: whatever address it has now.
    local_addrs = %any
{{- end}}
    remote_addrs = {{$t.GatewayAddr}}
{{- if or $.IKEPort $.NATTPort}}
    # When this device starts the tunnel, it speaks NAT-T from the start,
    # from its port 4500 to the gateway's NAT-T port, where ESP goes too:
    # from port 500, strongSwan would move to the gateway's port 4500
    # once it sees the gateway's NAT, which this gateway does not use.
    local_port = 4500
    remote_port = {{or $.NATTPort 4500}}
{{- end}}
    proposals = {{$.IKE}}
    dpd_delay = {{$.DPD}}
    local {
      auth = psk
{{- if $.Addr}}
      id = {{$.Addr}}
{{- else}}
      # Its name, which the gateway takes too: behind a NAT, the device
      # could not name the address the name resolves to.
      id = {{$.FQDN}}
{{- end}}
    }
    remote {
      auth = psk
      id = {{$t.GatewayAddr}}
    }
    children {
{{- range $t.Children}}
      {{.Name}} {
        local_ts = {{.LocalTS}}
        remote_ts = {{.RemoteTS}}
        mode = tunnel
        esp_proposals = {{$.ESP}}
{{- with $.ChildLife}}
        life_time = {{.}}
        rekey_time = {{$.ChildKeep}}
{{- end}}
{{- with $.LifeBytes}}
        life_bytes = {{.}}
        rekey_bytes = {{$.KeepBytes}}
{{- end}}
        # {{$.Why}}.
        start_action = {{$.Start}}
        close_action = {{$.Close}}
        dpd_action = {{$.OnDPD}}
      }
{{- end}}
    }
  }
{{- end}}
}
secrets {
  ike-{{.Name}} {
    id-device = {{or .Addr .FQDN}}
{{- range $i, $t := .Tunnels}}
    id-gateway-{{$i}} = {{$t.GatewayAddr}}
{{- end}}
    secret = {{secret .PSK}}
  }
}
`))
