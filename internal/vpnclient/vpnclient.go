// Package vpnclient builds a gateway's VPN client configuration package
// (generatevpnclientpackage): a zip with what a point-to-site client needs
// besides its own certificate: the gateway's address and SSTP port, the CA
// that issued the gateway's certificate, the ranges to route through the
// tunnel, and, per protocol the gateway serves, what connects: for SSTP,
// scripts for vnetgw's own client, Linux's sstpc and pppd, and Windows'
// built-in client; for IKEv2, strongSwan's configuration and a script
// that loads it, and Windows' built-in client.
package vpnclient

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/atomicfile"
	"github.com/vnetgw/vnetgw/internal/strongswan"
)

// Settings are what a client of one gateway needs to know.
type Settings struct {
	Gateway string     `json:"gateway"` // the gateway's name
	Addr    netip.Addr `json:"address"` // its public address
	Port    uint16     `json:"sstpPort"`
	// IKEPort and NATTPort are the UDP ports it speaks IKEv2 on, before
	// and after NAT detection (serve's --ike-port and --natt-port); zero
	// means 500 and 4500.
	IKEPort  uint16       `json:"ikePort"`
	NATTPort uint16       `json:"nattPort"`
	Pool     netip.Prefix `json:"clientAddressPool"`
	// Protocols are those the gateway serves: SSTP, IkeV2, OpenVPN.
	Protocols []string `json:"protocols"`
	// Authentication is how clients authenticate: Certificate, Radius
	// (user name and password, OpenVPN's), or both; none means
	// Certificate.
	Authentication []string       `json:"authentication,omitempty"`
	Routes         []netip.Prefix `json:"routes"` // through the tunnel
	// IPsecPolicy is the gateway's custom IPsec/IKE policy of IKEv2
	// clients (vnet-gateway vpn-client ipsec-policy set), which is all it
	// offers them; nil: none, its defaults. IKEProposal and ESPProposal
	// are the same policy in strongSwan's syntax.
	IPsecPolicy              *arm.IPsecPolicy `json:"vpnClientIpsecPolicy,omitempty"`
	IKEProposal, ESPProposal string           `json:"-"`
	// CA is the PEM certificate that issued the gateway's; clients check
	// the gateway with it.
	CA []byte `json:"-"`
	// OpenVPNKey is the gateway's OpenVPN static key (PEM), which the
	// profile's tls-crypt wraps control packets with; nil: none.
	OpenVPNKey []byte `json:"-"`
}

// Files of the package.
const (
	FileReadme   = "README.txt"
	FileSettings = "settings.json"
	FileCA       = "gateway-ca.pem"
	FileVnetgw   = "vnetgw/connect.sh"
	FileSSTPC    = "linux/sstpc.sh"
	FileWindows  = "windows/add-vpn-connection.ps1"
	// IKEv2: strongSwan's swanctl.conf, the script that installs and
	// starts it, and Windows' built-in client.
	FileSwanctl      = "linux/swanctl.conf"
	FileIKEv2        = "linux/ikev2.sh"
	FileWindowsIKEv2 = "windows/add-vpn-connection-ikev2.ps1"
	// OpenVPN: the profile of any OpenVPN 2.6 client, as Azure's package
	// has it (OpenVPN/vpnconfig.ovpn), its certificate and key left for
	// the user to paste.
	FileOpenVPN = "OpenVPN/vpnconfig.ovpn"
	// Generic: with IKEv2, Azure's settings of a generic client, which
	// scripts written for Azure's packages read (/VpnProfile/VpnServer,
	// VpnType, Routes), and the certificate to check the gateway with
	// (here PEM, the same as FileCA).
	FileGenericSettings = "Generic/VpnSettings.xml"
	FileGenericCA       = "Generic/VpnServerRoot.cer"
)

// Placeholders of FileSwanctl with RADIUS alone: the user's name and
// password.
const (
	SwanctlUserPlaceholder     = "$USERNAME"
	SwanctlPasswordPlaceholder = "$PASSWORD"
)

// Placeholders of FileOpenVPN, Azure's names for them.
const (
	OpenVPNCertPlaceholder = "$CLIENTCERTIFICATE"
	OpenVPNKeyPlaceholder  = "$PRIVATEKEY"
)

// Certificates and Radius report how clients authenticate.
func (s Settings) Certificates() bool {
	return len(s.Authentication) == 0 || slices.ContainsFunc(s.Authentication, func(a string) bool { return strings.EqualFold(a, "Certificate") })
}
func (s Settings) Radius() bool {
	return slices.ContainsFunc(s.Authentication, func(a string) bool { return strings.EqualFold(a, "Radius") })
}

// Section is the name of the gateway's connection in FileSwanctl, and of
// its IKE SA: swanctl.conf's section names hold no dots, which a
// gateway's name may (strongswan.SectionName).
func (s Settings) Section() string { return "vnetgw-" + strongswan.SectionName(s.Gateway) }

// SSTP, IKEv2 and OpenVPN report whether the gateway serves the
// protocol.
func (s Settings) SSTP() bool    { return s.serves("SSTP") }
func (s Settings) IKEv2() bool   { return s.serves("IkeV2") }
func (s Settings) OpenVPN() bool { return s.serves("OpenVPN") }

func (s Settings) serves(proto string) bool {
	return slices.ContainsFunc(s.Protocols, func(p string) bool { return strings.EqualFold(p, proto) })
}

// Zip returns the package.
func (s Settings) Zip() ([]byte, error) {
	if s.IKEPort == 0 {
		s.IKEPort = 500
	}
	if s.NATTPort == 0 {
		s.NATTPort = 4500
	}
	settings, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	files := []struct {
		name string
		body []byte
		mode fs.FileMode
	}{
		{FileReadme, s.render(readme), 0o644},
		{FileSettings, append(settings, '\n'), 0o644},
		{FileCA, s.CA, 0o644},
	}
	if s.SSTP() {
		files = append(files, []struct {
			name string
			body []byte
			mode fs.FileMode
		}{{FileVnetgw, s.render(vnetgwScript), 0o755}, {FileSSTPC, s.render(sstpcScript), 0o755}, {FileWindows, s.render(windowsScript), 0o644}}...)
	}
	if s.IKEv2() {
		files = append(files, []struct {
			name string
			body []byte
			mode fs.FileMode
		}{{FileSwanctl, s.render(swanctlConf), 0o644}, {FileIKEv2, s.render(ikev2Script), 0o755}, {FileWindowsIKEv2, s.render(windowsIKEv2Script), 0o644}}...)
		generic, err := s.genericSettings()
		if err != nil {
			return nil, err
		}
		files = append(files, []struct {
			name string
			body []byte
			mode fs.FileMode
		}{{FileGenericSettings, generic, 0o644}, {FileGenericCA, s.CA, 0o644}}...)
	}
	if s.OpenVPN() {
		files = append(files, struct {
			name string
			body []byte
			mode fs.FileMode
		}{FileOpenVPN, s.render(openVPNProfile), 0o600}) // the gateway's static key
	}
	now := time.Now()
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: now}
		h.SetMode(f.mode)
		fw, err := w.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// genericProfile is FileGenericSettings: Azure's VpnProfile, of the
// IKEv2 gateway; encoding/xml escapes what it holds.
type genericProfile struct {
	XMLName   xml.Name `xml:"VpnProfile"`
	VpnServer string   // the gateway's address
	VpnType   string   // IkeV2
	Routes    string   // the ranges through the tunnel, comma separated
}

func (s Settings) genericSettings() ([]byte, error) {
	routes := make([]string, len(s.Routes))
	for i, r := range s.Routes {
		routes[i] = r.String()
	}
	b, err := xml.MarshalIndent(genericProfile{VpnServer: s.Addr.String(), VpnType: "IkeV2", Routes: strings.Join(routes, ",")}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

func (s Settings) render(t *template.Template) []byte {
	var b bytes.Buffer
	if err := t.Execute(&b, s); err != nil {
		// The templates are fixed and their data is typed: a failure is
		// a bug here, not bad input.
		panic(fmt.Sprintf("vpnclient: template %s: %v", t.Name(), err))
	}
	return b.Bytes()
}

// maxTrafficSelectors is as many traffic selectors as one TS payload
// holds, and a gateway's answer.
const maxTrafficSelectors = 255

var funcs = template.FuncMap{
	"join": func(ps []netip.Prefix, sep string) string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.String()
		}
		return strings.Join(out, sep)
	},
	// remoteTS is swanctl.conf's remote_ts: the routes, or any IPv4
	// address past what one TS payload holds (RFC 7296 §3.13: Number of
	// TSs is one octet), which the gateway narrows to its routes, or
	// answers as it is past as many of them.
	"remoteTS": func(ps []netip.Prefix) string {
		if len(ps) > maxTrafficSelectors {
			return netip.PrefixFrom(netip.IPv4Unspecified(), 0).String()
		}
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.String()
		}
		return strings.Join(out, ",")
	},
	"maxTS": func() int { return maxTrafficSelectors },
	"pem":   func(b []byte) string { return strings.TrimSpace(string(b)) },
	// addrport writes an IPv6 address in brackets, so that its last group
	// is not taken for the port.
	"addrport": func(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() },
	"windowsIPsec": func(p *arm.IPsecPolicy) windowsIPsec {
		if p == nil {
			return windowsIPsec{"GCMAES256", "GCMAES256", "GCMAES256", "SHA256", "ECP256", "None"}
		}
		return windowsIPsec{windowsName("esp", p.IPsecIntegrity), p.IPsecEncryption, p.IKEEncryption, windowsName("ike", p.IKEIntegrity),
			windowsName("dh", p.DHGroup), windowsName("pfs", p.PFSGroup)}
	},
}

// windowsIPsec is a policy in the names of Windows'
// Set-VpnConnectionIPsecConfiguration; without a policy, AES-GCM with
// ECP-256, which the gateway's defaults take.
type windowsIPsec struct {
	AuthenticationTransform, CipherTransform, Encryption, Integrity, DHGroup, PFSGroup string
}

// Azure's names that Windows spells otherwise; the others are the same.
var windowsNames = map[string]string{
	// ESP integrity (AuthenticationTransformConstants).
	"esp:MD5": "MD596", "esp:SHA1": "SHA196", "esp:SHA256": "SHA256128",
	// IKE integrity (IntegrityCheckMethod): a GCM cipher's PRF is SHA-256,
	// as the gateway takes it.
	"ike:GCMAES128": "SHA256", "ike:GCMAES256": "SHA256",
	// Diffie-Hellman groups of IKE (DHGroup) and of child SAs (PfsGroup).
	"dh:DHGroup1": "Group1", "dh:DHGroup2": "Group2", "dh:DHGroup14": "Group14", "dh:DHGroup2048": "Group14", "dh:DHGroup24": "Group24",
	"pfs:PFS14": "PFS2048",
}

func windowsName(kind, azure string) string {
	if w, ok := windowsNames[kind+":"+azure]; ok {
		return w
	}
	return azure
}

var readme = template.Must(template.New("readme").Funcs(funcs).Parse(`Point-to-site to gateway {{.Gateway}}

Gateway:      {{.Addr}}{{if .SSTP}}, SSTP on TCP port {{.Port}} (HTTPS){{end}}{{if .OpenVPN}}, OpenVPN on TCP port {{.Port}}{{end}}{{if .IKEv2}}, IKEv2 on UDP ports {{.IKEPort}} and {{.NATTPort}}{{end}}
Client pool:  {{.Pool}} (the gateway gives each client an address of it{{if and (or .SSTP .OpenVPN) .IKEv2}};
              SSTP and OpenVPN clients from its lower half, IKEv2 clients from its upper{{end}})
Routes:       {{join .Routes ", "}}
Trust:        ` + FileCA + ` issued the gateway's certificate

{{if .Certificates}}Authenticate with your own client certificate and key, issued by a root
certificate uploaded to the gateway (vpnClientRootCertificates){{if .Radius}}, or
with a user name and password, which the gateway's RADIUS server checks
{{- if .SSTP}}
(SSTP: vnetgw p2s connect --user NAME; the scripts below take certificates){{end}}{{end}}.
{{- else}}Authenticate with a user name and password, which the gateway's RADIUS
server checks.{{end}}{{if and .OpenVPN .OpenVPNKey}} The package holds one secret, the gateway's key in
` + FileOpenVPN + ` (written readable by its owner alone): give it to the
gateway's users only.{{else}} The package holds no secret.{{end}}
{{if .SSTP}}
SSTP:
{{- if .Certificates}}
  ` + FileVnetgw + ` CERT KEY NETNS    vnetgw's own client (root), for the
                                            programs of a network namespace
  ` + FileSSTPC + ` CERT KEY           Linux: sstpc with pppd (EAP-TLS)
{{- else}}
  ` + FileVnetgw + ` USER NETNS        vnetgw's own client (root), for the
                                            programs of a network namespace
  ` + FileSSTPC + ` USER               Linux: sstpc with pppd (MS-CHAPv2)
{{- end}}
  ` + FileWindows + `   Windows' built-in client
                                            (not tested by vnetgw's tests)
{{end}}{{if .IKEv2}}
IKEv2 (certificate authentication, the address in a configuration payload):
  ` + FileIKEv2 + ` CERT KEY            Linux: installs ` + FileSwanctl + `, the
                                            certificates and the key for
                                            strongSwan (swanctl) and connects
  ` + FileWindowsIKEv2 + `   Windows' built-in client
                                            (not tested by vnetgw's tests)
  ` + FileGenericSettings + `                the gateway's address (VpnServer),
                                            IkeV2 and the routes, as in
                                            Azure's package, and
  ` + FileGenericCA + `              the same as ` + FileCA + `
{{end}}{{if .OpenVPN}}
OpenVPN (TCP port {{.Port}}, {{if .Certificates}}the client certificate in TLS{{if .Radius}}, or a user name and password{{end}}{{else}}a user name and password, which openvpn asks for{{end}}):
{{- if .Certificates}}
  ` + FileOpenVPN + `        any OpenVPN 2.6 client: replace
                                            ` + OpenVPNCertPlaceholder + ` and ` + OpenVPNKeyPlaceholder + `
                                            with the certificate and key
                                            (PEM), {{if .Radius}}or delete those two
                                            blocks and the # before
                                            auth-user-pass for the password,
                                            {{end}}then openvpn --config
{{- else}}
  ` + FileOpenVPN + `        any OpenVPN 2.6 client: openvpn --config
{{- end}}
{{end}}
A client does not reconnect by itself after the connection ends (R14);
vnetgw's own client does with --reconnect.
`))

var swanctlConf = template.Must(template.New("swanctl").Funcs(funcs).Parse(`# strongSwan (swanctl) as a point-to-site client of gateway {{.Gateway}} over
# IKEv2. {{if .Certificates}}The client certificate goes in x509/{{.Gateway}}-client.pem, its key
# in private/, and ` + FileCA + ` in x509ca/{{.Gateway}}-ca.pem of swanctl's
# directory (` + FileIKEv2 + ` puts them there). Connect with
#   swanctl --initiate --ike {{.Section}} --child net
# The client authenticates with its certificate in IKEv2 (auth = pubkey){{if .Radius}};
# EAP (auth = eap-mschapv2, eap_id and a secret) goes to the gateway's
# RADIUS server.{{else}};
# auth = eap-tls (strongSwan's eap-tls plugin) does it in EAP-TLS instead.{{end}}{{else}}The client authenticates with a user name and password
# (EAP-MSCHAPv2, strongSwan's eap-mschapv2 and eap-identity plugins),
# which the gateway's RADIUS server checks: replace ` + SwanctlUserPlaceholder + ` and
# ` + SwanctlPasswordPlaceholder + ` below (` + FileIKEv2 + ` does), and put ` + FileCA + ` in
# x509ca/{{.Gateway}}-ca.pem of swanctl's directory. Connect with
#   swanctl --initiate --ike {{.Section}} --child net{{end}}
connections {
  {{.Section}} {
    version = 2
    remote_addrs = {{.Addr}}
{{- if or (ne .IKEPort 500) (ne .NATTPort 4500)}}
    # The gateway speaks IKE on UDP port {{.IKEPort}} and, with NAT traversal,
    # {{.NATTPort}} (serve's --ike-port and --natt-port). The client speaks NAT-T
    # from the start, from its port 4500 to the gateway's NAT-T port, where
    # ESP goes too: from port 500, strongSwan would move to the gateway's port
    # 4500 once it saw the gateway's NAT, which this gateway does not use.
    local_port = 4500
    remote_port = {{.NATTPort}}
{{- end}}
{{- if .IKEProposal}}
    # The gateway offers its custom IPsec/IKE policy alone.
    proposals = {{.IKEProposal}}
{{- end}}
    vips = 0.0.0.0
    # Not answered while it connects (the network not up yet, the gateway
    # restarting, its RADIUS server not answering), the client tries
    # again until it connects or is refused (a wrong password, a revoked
    # certificate); swanctl --terminate --ike {{.Section}} stops it.
    # swanctl's default, 1, gave up after the first try's retransmissions.
    keyingtries = 0
    # A liveness check after 30 s without a word from the gateway; behind
    # a NAT it also finds a new mapping, and MOBIKE moves the SAs there.
    dpd_delay = 30s
{{- if .Radius}}
    # The gateway's RADIUS server may limit a session (Session-Timeout),
    # which the gateway tells the client in IKE_AUTH (AUTH_LIFETIME): the
    # client authenticates again, in a new IKE SA, this long before the
    # session ends. strongSwan's default, a tenth of rekey_time (24 min),
    # had it authenticate again at once, over and over, with a limit under
    # that.
    over_time = 1m
{{- end}}
    local {
{{- if .Certificates}}
      auth = pubkey
      certs = {{.Gateway}}-client.pem
{{- else}}
      auth = eap-mschapv2
      eap_id = "` + SwanctlUserPlaceholder + `"
{{- end}}
    }
    remote {
      auth = pubkey
      id = {{.Addr}}
      cacerts = {{.Gateway}}-ca.pem
    }
    children {
      net {
{{- if gt (len .Routes) maxTS}}
        # More routes than one traffic selector payload holds ({{maxTS}}): any
        # IPv4 address. The gateway narrows it to its IPv4 routes when they
        # are no more; else it takes it, and all the virtual IP's traffic
        # goes through the tunnel.
{{- end}}
        remote_ts = {{remoteTS .Routes}}
{{- if .ESPProposal}}
        esp_proposals = {{.ESPProposal}}
{{- end}}
        start_action = none
      }
    }
  }
}
{{- if not .Certificates}}
secrets {
  eap-{{.Section}} {
    id = "` + SwanctlUserPlaceholder + `"
    secret = "` + SwanctlPasswordPlaceholder + `"
  }
}
{{- end}}
`))

var ikev2Script = template.Must(template.New("ikev2").Funcs(funcs).Parse(`#!/bin/sh
{{- if .Certificates}}
# Connects to gateway {{.Gateway}} over IKEv2 with strongSwan (charon running,
# swanctl), as root: installs ` + FileSwanctl + `, the client certificate CERT,
# its key KEY and the gateway's CA into swanctl's directory (SWANCTL_DIR,
# default /etc/swanctl), loads them and connects, trying again
# while the gateway does not answer. strongSwan gets an address
# of the gateway's pool and routes the gateway's ranges through the tunnel.
# swanctl --terminate --ike {{.Section}} ends it.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 CERT KEY" >&2; exit 2; }
dir=${SWANCTL_DIR:-/etc/swanctl}
here=$(dirname "$0")
mkdir -p "$dir/conf.d" "$dir/x509" "$dir/x509ca" "$dir/private"
cp "$here/swanctl.conf" "$dir/conf.d/vnetgw-{{.Gateway}}.conf"
cp "$1" "$dir/x509/{{.Gateway}}-client.pem"
install -m 600 "$2" "$dir/private/{{.Gateway}}-client.key"
{{- else}}
# Connects to gateway {{.Gateway}} over IKEv2 with strongSwan (charon running,
# swanctl, its eap-mschapv2 and eap-identity plugins), as root: asks for
# USER's password (or takes $VNETGW_PASSWORD), installs ` + FileSwanctl + ` with both and the gateway's CA into
# swanctl's directory (SWANCTL_DIR, default /etc/swanctl), loads them and
# connects, trying again while the gateway does not answer.
# swanctl --terminate --ike {{.Section}} ends it.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 USER  (the password is asked for)" >&2; exit 2; }
dir=${SWANCTL_DIR:-/etc/swanctl}
here=$(dirname "$0")
user=$1
` + askPassword + `# Quoted for swanctl ("" and \), then for sed's replacement.
esc() { printf '%s' "$1" | sed -e 's/[\\"]/\\&/g' -e 's/[\\&|]/\\&/g'; }
mkdir -p "$dir/conf.d" "$dir/x509ca"
umask 077
# Made anew: a file an earlier run left (the certificate's, readable by
# all) would keep its mode with the password in it.
rm -f "$dir/conf.d/vnetgw-{{.Gateway}}.conf"
# sed reads its script from a pipe (printf is the shell's own): on its
# command line, which every user sees, the password would show.
printf 's|[$]` + SwanctlUserPlaceholder[1:] + `|%s|g\ns|[$]` + SwanctlPasswordPlaceholder[1:] + `|%s|g\n' "$(esc "$1")" "$(esc "$VNETGW_PASSWORD")" |
  sed -f /dev/stdin "$here/swanctl.conf" > "$dir/conf.d/vnetgw-{{.Gateway}}.conf"
{{- end}}
cp "$here/../` + FileCA + `" "$dir/x509ca/{{.Gateway}}-ca.pem"
swanctl --load-all
swanctl --initiate --ike {{.Section}} --child net
`))

var windowsIKEv2Script = template.Must(template.New("windows-ikev2").Funcs(funcs).Parse(`# Adds an IKEv2 connection to gateway {{.Gateway}} to Windows' built-in VPN
# client, {{if .Certificates}}authenticated with a machine certificate (in the computer's
# store, issued by a root uploaded to the gateway){{else}}authenticated with a user name and password (EAP-MSCHAPv2,
# asked for when connecting), which the gateway's RADIUS server checks{{end}}. Import ` + FileCA + `
# into the Trusted Root Certification Authorities of the computer first.
# Not tested by vnetgw's tests (no Windows there).
{{- if or (ne .IKEPort 500) (ne .NATTPort 4500)}}
# Windows' client speaks IKE on UDP ports 500 and 4500 only: this gateway
# uses {{.IKEPort}} and {{.NATTPort}} (serve's --ike-port and --natt-port), which it
# cannot reach.
{{- end}}
$name = "vnetgw-{{.Gateway}}-ikev2"
Add-VpnConnection -Name $name -ServerAddress "{{.Addr}}" -TunnelType Ikev2 -EncryptionLevel Required ` + "`" + `
  {{if .Certificates}}-AuthenticationMethod MachineCertificate{{else}}-AuthenticationMethod Eap -RememberCredential{{end}} -SplitTunneling
{{- with windowsIPsec .IPsecPolicy}}
{{- if $.IPsecPolicy}}
# The gateway offers its custom IPsec/IKE policy alone (vnet-gateway
# vpn-client ipsec-policy): the same here.
{{- else}}
# Windows offers the 1024-bit MODP group by default, which vnetgw does not
# take (RFC 8247): AES-GCM with ECP-256 instead.
{{- end}}
Set-VpnConnectionIPsecConfiguration -ConnectionName $name -AuthenticationTransformConstants {{.AuthenticationTransform}} ` + "`" + `
  -CipherTransformConstants {{.CipherTransform}} -EncryptionMethod {{.Encryption}} -IntegrityCheckMethod {{.Integrity}} -DHGroup {{.DHGroup}} -PfsGroup {{.PFSGroup}} -Force
{{- end}}
{{range .Routes}}Add-VpnConnectionRoute -ConnectionName $name -DestinationPrefix "{{.}}"
{{end}}
`))

var vnetgwScript = template.Must(template.New("vnetgw").Funcs(funcs).Parse(`#!/bin/sh
# Connects the network namespace NETNS to gateway {{.Gateway}} with vnetgw's own
# point-to-site client, as root{{if not .Certificates}}, as USER: its password is asked for (or
# taken from $VNETGW_PASSWORD) and checked by the gateway's RADIUS server{{end}}.
# Further arguments go to vnetgw p2s connect (such as --reconnect).
set -eu
{{- if .Certificates}}
[ $# -ge 3 ] || { echo "usage: $0 CERT KEY NETNS [vnetgw p2s connect flags]" >&2; exit 2; }
cert=$1 key=$2 netns=$3
shift 3
exec vnetgw p2s connect --gateway {{addrport .Addr .Port}} --ca "$(dirname "$0")/../` + FileCA + `" \
  --cert "$cert" --key "$key" --netns "$netns"{{range .Routes}} --route {{.}}{{end}} "$@"
{{- else}}
[ $# -ge 2 ] || { echo "usage: $0 USER NETNS [vnetgw p2s connect flags]" >&2; exit 2; }
user=$1 netns=$2
shift 2
` + askPassword + `export VNETGW_PASSWORD
exec vnetgw p2s connect --gateway {{addrport .Addr .Port}} --ca "$(dirname "$0")/../` + FileCA + `" \
  --user "$user" --netns "$netns"{{range .Routes}} --route {{.}}{{end}} "$@"
{{- end}}
`))

// shQuote is sh's quoting of a word for pppd's pty, which runs its
// command with sh: the package's path may hold a quote ("Bob's VPN").
const shQuote = `shq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
`

// askPassword is the scripts' question for $user's password, into
// $VNETGW_PASSWORD unless it is set already; the terminal echoes again
// when the script is interrupted.
const askPassword = `if [ -z "${VNETGW_PASSWORD+set}" ]; then
  printf 'Password of %s: ' "$user" >&2
  trap 'stty echo 2>/dev/null; exit 130' INT TERM HUP
  stty -echo 2>/dev/null || true
  IFS= read -r VNETGW_PASSWORD || true
  stty echo 2>/dev/null || true
  echo >&2
fi
`

var sstpcScript = template.Must(template.New("sstpc").Funcs(funcs).Parse(`#!/bin/sh
{{- if .Certificates}}
# Connects to gateway {{.Gateway}} with Linux's SSTP client, sstpc with pppd
# (EAP-TLS with the client certificate), as root, on the PPP interface IFNAME
# (default vnetgw0), and routes the gateway's ranges into it. pppd stays in
# the background while the connection lasts; kill "$(cat /run/IFNAME.pid)"
# ends it.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 CERT KEY [IFNAME]" >&2; exit 2; }
ca="$(dirname "$0")/../` + FileCA + `"
ifc=${3:-vnetgw0}
` + shQuote + `# pppd checks the gateway's certificate: issued by the package's CA, for
# the gateway's address (remotename).
pppd updetach noauth nodefaultroute user "$(basename "$1" .pem)" remotename {{.Addr}} \
  ca "$ca" cert "$1" key "$2" ifname "$ifc" \
  plugin sstp-pppd-plugin.so sstp-sock "/run/sstpc/sstpc-$ifc" \
  pty "sstpc --ca-cert $(shq "$ca") --nolaunchpppd --ipparam $(shq "$ifc") {{if and .Addr.Is4 (eq .Port 443)}}{{.Addr}}{{else}}{{addrport .Addr .Port}}{{end}}"
{{- else}}
# Connects to gateway {{.Gateway}} with Linux's SSTP client, sstpc with pppd,
# as root, on the PPP interface IFNAME (default vnetgw0): asks for USER's
# password (or takes it from $VNETGW_PASSWORD), which the gateway's RADIUS
# server checks (MS-CHAPv2), and routes the gateway's ranges into the
# interface. pppd stays in the background while the connection lasts;
# kill "$(cat /run/IFNAME.pid)" ends it.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 USER [IFNAME]  (the password is asked for)" >&2; exit 2; }
ca="$(dirname "$0")/../` + FileCA + `"
ifc=${2:-vnetgw0}
` + shQuote + `user=$1
` + askPassword + `# The user and password go to pppd in an options file only root reads,
# not on its command line, which every user sees; the file goes when the
# script ends, interrupted too.
esc() { printf '%s' "$1" | sed -e 's/[\\"]/\\&/g'; }
opts=$(mktemp)
trap 'rm -f "$opts"' EXIT
trap 'rm -f "$opts"; exit 130' INT TERM HUP
chmod 600 "$opts"
printf 'user "%s"\npassword "%s"\n' "$(esc "$1")" "$(esc "$VNETGW_PASSWORD")" > "$opts"
pppd updetach noauth nodefaultroute file "$opts" remotename {{.Addr}} \
  refuse-pap refuse-chap refuse-mschap refuse-eap ifname "$ifc" \
  plugin sstp-pppd-plugin.so sstp-sock "/run/sstpc/sstpc-$ifc" \
  pty "sstpc --ca-cert $(shq "$ca") --nolaunchpppd --ipparam $(shq "$ifc") {{if and .Addr.Is4 (eq .Port 443)}}{{.Addr}}{{else}}{{addrport .Addr .Port}}{{end}}"
{{- end}}
{{range .Routes}}ip route replace {{.}} dev "$ifc"
{{end}}echo "connected on $ifc; to disconnect: kill \$(cat /run/$ifc.pid)"
`))

var windowsScript = template.Must(template.New("windows").Funcs(funcs).Parse(`# Adds an SSTP connection to gateway {{.Gateway}} to Windows' built-in VPN
# client, {{if .Certificates}}with EAP-TLS (a client certificate in the user's store, issued by
# a root uploaded to the gateway){{else}}with a user name and password (MS-CHAPv2, asked for when
# connecting), which the gateway's RADIUS server checks{{end}}. Import ` + FileCA + ` into the Trusted
# Root Certification Authorities of the computer first. Windows checks the
# gateway's name: SSTP from Windows needs the gateway on port 443 (serve
# --sstp-port 443) and a certificate for the address it dials.
# Not tested by vnetgw's tests (no Windows there).
$name = "vnetgw-{{.Gateway}}"
{{- if .Certificates}}
$eap = New-EapConfiguration -Tls -UserCertificate
Add-VpnConnection -Name $name -ServerAddress "{{.Addr}}" -TunnelType Sstp -EncryptionLevel Required ` + "`" + `
  -AuthenticationMethod Eap -EapConfigXmlStream $eap.EapConfigXmlStream -SplitTunneling -RememberCredential
{{- else}}
Add-VpnConnection -Name $name -ServerAddress "{{.Addr}}" -TunnelType Sstp -EncryptionLevel Required ` + "`" + `
  -AuthenticationMethod MSChapv2 -SplitTunneling -RememberCredential
{{- end}}
{{range .Routes}}Add-VpnConnectionRoute -ConnectionName $name -DestinationPrefix "{{.}}"
{{end}}
`))

// Extract writes the files of a package under dir, with their modes. It
// refuses names that would leave dir, and to write through a symbolic
// link under dir (a folder or file of the package's names that is one),
// which would put the files wherever it points.
func Extract(zipped []byte, dir string) error {
	r, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return fmt.Errorf("VPN client package: %w", err)
	}
	// Every name checked before any file is written: a refusal leaves
	// dir as it was.
	if len(r.File) > maxFiles {
		return fmt.Errorf("VPN client package: %d files, over the %d a package has", len(r.File), maxFiles)
	}
	var total uint64
	for _, f := range r.File {
		if total += f.UncompressedSize64; total > maxExtractedTotal {
			return fmt.Errorf("VPN client package: over %d bytes in all", uint64(maxExtractedTotal))
		}
		if !fs.ValidPath(f.Name) {
			return fmt.Errorf("VPN client package: file name %q", f.Name)
		}
		if f.UncompressedSize64 > maxExtracted {
			return fmt.Errorf("VPN client package: %s of %d bytes, over the %d a package's file has", f.Name, f.UncompressedSize64, maxExtracted)
		}
		if err := noSymlink(dir, f.Name); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Written through dir opened as a root: a link made after the check
	// (another user's, in a directory others write to) that leads out
	// of dir is refused and not followed.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, f := range r.File {
		if err := root.MkdirAll(path.Dir(f.Name), 0o755); err != nil {
			return fmt.Errorf("VPN client package: %s: %w", filepath.Join(dir, filepath.FromSlash(path.Dir(f.Name))), err)
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		err = atomicfile.WriteIn(root, f.Name, f.Mode().Perm(), func(w io.Writer) error {
			// Its size is checked above; archive/zip refuses more data
			// than the size says.
			_, err := io.Copy(w, rc)
			return err
		})
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// maxExtracted bounds a file Extract writes, maxExtractedTotal all of
// them and maxFiles their number: a package has a dozen files of a few
// KiB, and a zip of a few MiB can unpack to many GiB.
const (
	maxExtracted      = 16 << 20
	maxExtractedTotal = 64 << 20
	maxFiles          = 1000
)

// noSymlink returns an error if a step of name (a valid fs path) under
// dir, a folder or the file itself, is a symbolic link.
func noSymlink(dir, name string) error {
	path := dir
	for step := range strings.SplitSeq(name, "/") {
		path = filepath.Join(path, step)
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // made by Extract
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("VPN client package: %s is a symbolic link; not writing %s through it", path, name)
		}
	}
	return nil
}

var openVPNProfile = template.Must(template.New("openvpn").Funcs(funcs).Parse(`# OpenVPN 2.6 as a point-to-site client of gateway {{.Gateway}}, over TCP
# port {{.Port}}{{if .Certificates}}, the client certificate in TLS. Replace the placeholders in
# <cert> and <key> below with the client certificate and its key (PEM){{if .Radius}},
# or delete those two blocks and the # before auth-user-pass to
# authenticate with a user name and password (RADIUS) instead{{end}},{{else}}, authenticated by user name and password (RADIUS);{{end}}
# then
#   openvpn --config vpnconfig.ovpn
# The gateway pushes the address, the routes ({{join .Routes ", "}}),
# the DNS servers, the cipher (AES-256-GCM) and the keepalive.
client
dev tun
proto tcp-client
remote {{.Addr}} {{.Port}}
nobind
remote-cert-tls server
verify-x509-name {{.Addr}} name
tls-version-min 1.2
data-ciphers AES-256-GCM
disable-dco
{{- if .Radius}}
# The user name and password, asked for at the terminal, or from a file
# of two lines: auth-user-pass FILE.{{if .Certificates}} Left out (#) with the
# certificate: openvpn would ask for them too, before it connects.
#auth-user-pass
{{- else}}
auth-user-pass
{{- end}}
{{- end}}
<ca>
{{pem .CA}}
</ca>
{{- if .OpenVPNKey}}
# The gateway's key: it drops control packets that do not carry it, and
# tls-crypt encrypts them, certificates included. Keep it as you keep
# the client's key.
<tls-crypt>
{{pem .OpenVPNKey}}
</tls-crypt>
{{- end}}
{{- if .Certificates}}
<cert>
` + OpenVPNCertPlaceholder + `
</cert>
<key>
` + OpenVPNKeyPlaceholder + `
</key>
{{- end}}
`))
