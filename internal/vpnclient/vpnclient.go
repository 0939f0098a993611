// Package vpnclient builds a gateway's VPN client configuration package
// (generatevpnclientpackage): a zip with what a point-to-site client needs
// besides its own certificate: the gateway's address and SSTP port, the CA
// that issued the gateway's certificate, the ranges to route through the
// tunnel, and scripts that connect with vnetgw's own client, with Linux's
// sstpc and pppd, and with Windows' built-in client.
package vpnclient

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

// Settings are what a client of one gateway needs to know.
type Settings struct {
	Gateway string         `json:"gateway"` // the gateway's name
	Addr    netip.Addr     `json:"address"` // its public address
	Port    uint16         `json:"sstpPort"`
	Pool    netip.Prefix   `json:"clientAddressPool"`
	Routes  []netip.Prefix `json:"routes"` // through the tunnel
	// CA is the PEM certificate that issued the gateway's; clients check
	// the gateway with it.
	CA []byte `json:"-"`
}

// Files of the package.
const (
	FileReadme   = "README.txt"
	FileSettings = "settings.json"
	FileCA       = "gateway-ca.pem"
	FileVnetgw   = "vnetgw/connect.sh"
	FileSSTPC    = "linux/sstpc.sh"
	FileWindows  = "windows/add-vpn-connection.ps1"
)

// Zip returns the package.
func (s Settings) Zip() ([]byte, error) {
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
		{FileVnetgw, s.render(vnetgwScript), 0o755},
		{FileSSTPC, s.render(sstpcScript), 0o755},
		{FileWindows, s.render(windowsScript), 0o644},
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

func (s Settings) render(t *template.Template) []byte {
	var b bytes.Buffer
	if err := t.Execute(&b, s); err != nil {
		// The templates are fixed and their data is typed: a failure is
		// a bug here, not bad input.
		panic(fmt.Sprintf("vpnclient: template %s: %v", t.Name(), err))
	}
	return b.Bytes()
}

var funcs = template.FuncMap{
	"join": func(ps []netip.Prefix, sep string) string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.String()
		}
		return strings.Join(out, sep)
	},
}

var readme = template.Must(template.New("readme").Funcs(funcs).Parse(`Point-to-site (SSTP) to gateway {{.Gateway}}

Gateway:      {{.Addr}}, TCP port {{.Port}} (SSTP over HTTPS)
Client pool:  {{.Pool}} (the gateway gives each client an address of it)
Routes:       {{join .Routes ", "}}
Trust:        ` + FileCA + ` issued the gateway's certificate

Authenticate with your own client certificate and key, issued by a root
certificate uploaded to the gateway (vpnClientRootCertificates). The
package holds no secret.

  ` + FileVnetgw + ` CERT KEY NETNS    vnetgw's own client (root), for the
                                            programs of a network namespace
  ` + FileSSTPC + ` CERT KEY           Linux: sstpc with pppd (EAP-TLS)
  ` + FileWindows + `   Windows' built-in client
                                            (not tested by vnetgw's tests)

A client does not reconnect by itself after the connection ends (R14);
vnetgw's own client does with --reconnect.
`))

var vnetgwScript = template.Must(template.New("vnetgw").Funcs(funcs).Parse(`#!/bin/sh
# Connects the network namespace NETNS to gateway {{.Gateway}} with vnetgw's own
# point-to-site client, as root. Further arguments go to vnetgw p2s connect
# (such as --reconnect).
set -eu
[ $# -ge 3 ] || { echo "usage: $0 CERT KEY NETNS [vnetgw p2s connect flags]" >&2; exit 2; }
cert=$1 key=$2 netns=$3
shift 3
exec vnetgw p2s connect --gateway {{.Addr}}:{{.Port}} --ca "$(dirname "$0")/../` + FileCA + `" \
  --cert "$cert" --key "$key" --netns "$netns"{{range .Routes}} --route {{.}}{{end}} "$@"
`))

var sstpcScript = template.Must(template.New("sstpc").Funcs(funcs).Parse(`#!/bin/sh
# Connects to gateway {{.Gateway}} with Linux's SSTP client, sstpc with pppd
# (EAP-TLS with the client certificate), as root, on the PPP interface IFNAME
# (default vnetgw0), and routes the gateway's ranges into it. pppd stays in
# the background while the connection lasts; kill "$(cat /run/IFNAME.pid)"
# ends it.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 CERT KEY [IFNAME]" >&2; exit 2; }
ca="$(dirname "$0")/../` + FileCA + `"
ifc=${3:-vnetgw0}
# pppd checks the gateway's certificate: issued by the package's CA, for
# the gateway's address (remotename).
pppd updetach noauth nodefaultroute user "$(basename "$1" .pem)" remotename {{.Addr}} \
  ca "$ca" cert "$1" key "$2" ifname "$ifc" \
  plugin sstp-pppd-plugin.so sstp-sock "/run/sstpc/sstpc-$ifc" \
  pty "sstpc --ca-cert $ca --nolaunchpppd --ipparam $ifc {{.Addr}}{{if ne .Port 443}}:{{.Port}}{{end}}"
{{range .Routes}}ip route replace {{.}} dev "$ifc"
{{end}}echo "connected on $ifc; to disconnect: kill \$(cat /run/$ifc.pid)"
`))

var windowsScript = template.Must(template.New("windows").Funcs(funcs).Parse(`# Adds an SSTP connection to gateway {{.Gateway}} to Windows' built-in VPN
# client, with EAP-TLS (a client certificate in the user's store, issued by
# a root uploaded to the gateway). Import ` + FileCA + ` into the Trusted
# Root Certification Authorities of the computer first. Windows checks the
# gateway's name: SSTP from Windows needs the gateway on port 443 (serve
# --sstp-port 443) and a certificate for the address it dials.
# Not tested by vnetgw's tests (no Windows there).
$name = "vnetgw-{{.Gateway}}"
$eap = New-EapConfiguration -Tls -UserCertificate
Add-VpnConnection -Name $name -ServerAddress "{{.Addr}}" -TunnelType Sstp -EncryptionLevel Required ` + "`" + `
  -AuthenticationMethod Eap -EapConfigXmlStream $eap.EapConfigXmlStream -SplitTunneling -RememberCredential
{{range .Routes}}Add-VpnConnectionRoute -ConnectionName $name -DestinationPrefix "{{.}}"
{{end}}
`))

// Extract writes the files of a package under dir, with their modes. It
// refuses names that would leave dir.
func Extract(zipped []byte, dir string) error {
	r, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return fmt.Errorf("VPN client package: %w", err)
	}
	for _, f := range r.File {
		if !fs.ValidPath(f.Name) {
			return fmt.Errorf("VPN client package: file name %q", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(rc, 16<<20))
		rc.Close()
		if err != nil {
			return err
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, body, f.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
