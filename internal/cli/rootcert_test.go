package cli

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// p2sGateway makes gateway gw in group rg with a point-to-site
// configuration (a client pool and IKEv2) and site-to-site connection
// conn.
func p2sGateway(t *testing.T) {
	t.Helper()
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/27")
	must(t, "public-ip", "create", "-g", "rg", "-n", "gw-ip")
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--public-ip-addresses", "gw-ip",
		"--address-prefixes", "172.16.201.0/24", "--client-protocol", "IkeV2")
	must(t, "local-gateway", "create", "-g", "rg", "-n", "site", "--gateway-ip-address", "127.0.0.50", "--local-address-prefixes", "192.168.0.0/16")
	must(t, "vpn-connection", "create", "-g", "rg", "-n", "conn", "--vnet-gateway1", "gw", "--local-gateway2", "site")
}

// -o table of the commands on a gateway's point-to-site parts and on
// policies shows their values (it showed blank lines), and -o json of no
// policy is an empty list (it was null).
func TestPolicyAndCertificateTables(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	root, _ := pkitest.Issue(t, "alice root", true, nil).WritePEM(t, t.TempDir(), "alice-root")
	for _, tc := range []struct {
		name string
		args []string
		want string // a regular expression
	}{
		{"root-cert create", []string{"vnet-gateway", "root-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "alice-root", "--public-cert-data", root, "-o", "table"},
			`AddressPool\s+Protocols\s+AuthenticationTypes\s+RootCertificates.*\n[- ]+\n172\.16\.201\.0/24\s+IkeV2\s+Certificate\s+alice-root`},
		{"revoked-cert create", []string{"vnet-gateway", "revoked-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "lost", "--thumbprint", "a1:b2:c3:d4:e5:f6:07:18:29:3a:4b:5c:6d:7e:8f:90:a1:b2:c3:d4", "-o", "table"},
			`172\.16\.201\.0/24\s+IkeV2\s+Certificate\s+alice-root\s+lost`},
		{"root-cert delete", []string{"vnet-gateway", "root-cert", "delete", "-g", "rg", "--gateway-name", "gw", "-n", "alice-root", "-o", "table"},
			`172\.16\.201\.0/24\s+IkeV2\s+Certificate\s+lost`},
		{"vpn-client ipsec-policy show, none", []string{"vnet-gateway", "vpn-client", "ipsec-policy", "show", "-g", "rg", "--gateway-name", "gw"},
			`^\[\]\n$`},
		{"vpn-client ipsec-policy set", []string{"vnet-gateway", "vpn-client", "ipsec-policy", "set", "-g", "rg", "--gateway-name", "gw", "-o", "table",
			"--ike-encryption", "GCMAES256", "--ike-integrity", "SHA384", "--dh-group", "ECP384", "--ipsec-encryption", "GCMAES256", "--ipsec-integrity", "GCMAES256", "--pfs-group", "ECP384"},
			`IkeEncryption.*\n[- ]+\nGCMAES256\s+SHA384\s+ECP384\s+GCMAES256\s+GCMAES256\s+ECP384\s+27000\s+102400000\n$`},
		{"vpn-client ipsec-policy show", []string{"vnet-gateway", "vpn-client", "ipsec-policy", "show", "-g", "rg", "--gateway-name", "gw", "-o", "table"},
			`\nGCMAES256\s+SHA384\s+ECP384`},
		{"vpn-client ipsec-policy clear", []string{"vnet-gateway", "vpn-client", "ipsec-policy", "clear", "-g", "rg", "--gateway-name", "gw"},
			`^\[\]\n$`},
		{"vpn-connection ipsec-policy list, none", []string{"vpn-connection", "ipsec-policy", "list", "-g", "rg", "--connection-name", "conn"},
			`^\[\]\n$`},
		{"vpn-connection ipsec-policy add", []string{"vpn-connection", "ipsec-policy", "add", "-g", "rg", "--connection-name", "conn", "-o", "table",
			"--ike-encryption", "AES256", "--ike-integrity", "SHA256", "--dh-group", "DHGroup14", "--ipsec-encryption", "AES256", "--ipsec-integrity", "SHA256", "--pfs-group", "PFS14"},
			`\nAES256\s+SHA256\s+DHGroup14\s+AES256\s+SHA256\s+PFS14\s+27000`},
		{"vpn-connection ipsec-policy list", []string{"vpn-connection", "ipsec-policy", "list", "-g", "rg", "--connection-name", "conn", "-o", "table"},
			`\nAES256\s+SHA256\s+DHGroup14`},
		{"vpn-connection ipsec-policy clear", []string{"vpn-connection", "ipsec-policy", "clear", "-g", "rg", "--connection-name", "conn", "-o", "table"},
			`^IkeEncryption.*\n[- ]+\n$`},
	} {
		out := must(t, tc.args...)
		if !regexp.MustCompile(tc.want).MatchString(out) {
			t.Errorf("%s printed\n%s\nwant it to match %q", tc.name, out, tc.want)
		}
		if strings.Contains(out, "null") {
			t.Errorf("%s printed null:\n%s", tc.name, out)
		}
	}
}

// The VPN client package of a gateway with a custom IPsec policy for its
// IKEv2 clients sets that policy in Windows' script and strongSwan's
// configuration: the gateway offers it alone.
func TestVPNClientPackageFollowsPolicy(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	must(t, "vnet-gateway", "vpn-client", "ipsec-policy", "set", "-g", "rg", "--gateway-name", "gw",
		"--ike-encryption", "GCMAES256", "--ike-integrity", "SHA384", "--dh-group", "ECP384", "--ipsec-encryption", "GCMAES256", "--ipsec-integrity", "GCMAES256", "--pfs-group", "ECP384")
	dir := t.TempDir()
	must(t, "vnet-gateway", "vpn-client", "generate", "-g", "rg", "-n", "gw", "--output-dir", dir)
	for file, want := range map[string]string{
		"windows/add-vpn-connection-ikev2.ps1": "-EncryptionMethod GCMAES256 -IntegrityCheckMethod SHA384 -DHGroup ECP384 -PfsGroup ECP384",
		"linux/swanctl.conf":                   "esp_proposals = aes256gcm16-ecp384",
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q (%v):\n%s", file, want, err, b)
		}
	}
}

// root-cert create --public-cert-data takes the certificate's base64 DER
// itself, as az does, besides a file (it took a file alone, and read the
// data as a file name that was not there).
func TestRootCertCreateFromData(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	root := pkitest.Issue(t, "alice root", true, nil)
	data := base64.StdEncoding.EncodeToString(root.Raw)
	file, _ := root.WritePEM(t, t.TempDir(), "bob-root")
	must(t, "vnet-gateway", "root-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "alice-root", "--public-cert-data", data)
	must(t, "vnet-gateway", "root-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "bob-root", "--public-cert-data", file)
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	certs := map[string]string{}
	for _, r := range gw.Properties.VPNClientConfiguration.VPNClientRootCertificates {
		certs[r.Name] = r.Properties.PublicCertData
	}
	if certs["alice-root"] != data || certs["bob-root"] != data {
		t.Errorf("root certificates %v, want alice-root and bob-root with %s", certs, data)
	}
	for _, typo := range []string{"/no/such/root.pem", "root"} { // "root" is base64 too
		code, _, errOut := vnetgw(t, "vnet-gateway", "root-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "typo", "--public-cert-data", typo)
		if code == 0 || !strings.Contains(errOut, "neither a readable file nor a certificate in base64 DER") {
			t.Errorf("--public-cert-data %s, not there: exit %d, %s", typo, code, errOut)
		}
	}
}

// vpn-client generate prints the package's URL as a JSON string with
// -o json (the default), as az does, and bare with -o table: it printed
// it bare with either, which a JSON reader of the output refused.
func TestVPNClientGenerateOutput(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	var u string
	mustJSON(t, &u, "vnet-gateway", "vpn-client", "generate", "-g", "rg", "-n", "gw")
	if !strings.HasPrefix(u, "https://") || !strings.Contains(u, "/vpnclientpackage/") {
		t.Errorf("-o json: %q, want the package's URL", u)
	}
	out := must(t, "vnet-gateway", "vpn-client", "generate", "-g", "rg", "-n", "gw", "-o", "table")
	if !strings.HasPrefix(out, "https://") || strings.Count(out, "\n") != 1 {
		t.Errorf("-o table: %q, want the URL on its line", out)
	}
}

// revoked-cert has az's delete, which lets a revoked certificate in again
// (a certificate revoked by mistake stayed so), and create of a name that
// is revoked already replaces it (it added a second of that name).
func TestRevokedCertCreateAndDelete(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	revoked := func() []string {
		t.Helper()
		var gw arm.VirtualNetworkGateway
		mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
		var out []string
		for _, r := range gw.Properties.VPNClientConfiguration.VPNClientRevokedCertificates {
			out = append(out, r.Name+" "+r.Properties.Thumbprint)
		}
		return out
	}
	rc := []string{"vnet-gateway", "revoked-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "lost", "--thumbprint"}
	must(t, append(rc, "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4")...)
	must(t, append(rc, "b1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4")...)
	if got := revoked(); len(got) != 1 || !strings.HasPrefix(strings.ToLower(got[0]), "lost b1b2") {
		t.Errorf("after create twice: %q, want lost with the second thumbprint", got)
	}
	must(t, "vnet-gateway", "revoked-cert", "delete", "-g", "rg", "--gateway-name", "gw", "-n", "lost")
	if got := revoked(); len(got) != 0 {
		t.Errorf("after delete: %q, want none", got)
	}
	code, out, errOut := vnetgw(t, "vnet-gateway", "revoked-cert", "delete", "-g", "rg", "--gateway-name", "gw", "-n", "lost")
	if code == 0 || strings.TrimSpace(errOut) != `error: gateway gw: no revoked certificate "lost"` {
		t.Errorf("delete again: exit %d, want gateway gw: no revoked certificate \"lost\"\n%s%s", code, out, errOut)
	}
}

// Deleting a gateway's root certificate, revoked certificate or NAT rule
// that it does not have names the gateway whose it is not: the user may
// have meant another gateway (it said `no NAT rule "nope"` alone).
func TestMissingGatewayPartNamesGateway(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet-gateway", "root-cert", "delete", "-g", "rg", "--gateway-name", "gw", "-n", "nope"}, `error: gateway gw: no root certificate "nope"`},
		{[]string{"vnet-gateway", "revoked-cert", "delete", "-g", "rg", "--gateway-name", "gw", "-n", "nope"}, `error: gateway gw: no revoked certificate "nope"`},
		{[]string{"vnet-gateway", "nat-rule", "remove", "-g", "rg", "--gateway-name", "gw", "-n", "nope"}, `error: gateway gw: no NAT rule "nope"`},
	} {
		code, out, errOut := vnetgw(t, tc.args...)
		if code == 0 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("vnetgw %s: exit %d, want %s\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
}

// vpn-client generate --output-dir does not write through a symbolic link
// already in the directory (linux -> elsewhere): it is refused, naming
// the link, and nothing is written, there or where it points; a link to
// a file (README.txt -> elsewhere) too, the file it points at unchanged.
func TestVPNClientPackageNotThroughSymlink(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	for _, link := range []string{"linux", "README.txt"} {
		dir, elsewhere := t.TempDir(), t.TempDir()
		target := elsewhere
		if link == "README.txt" {
			target = filepath.Join(elsewhere, "kept")
			if err := os.WriteFile(target, []byte("kept\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := vnetgw(t, "vnet-gateway", "vpn-client", "generate", "-g", "rg", "-n", "gw", "--output-dir", dir)
		if code == 0 || !strings.Contains(errOut, filepath.Join(dir, link)+" is a symbolic link") {
			t.Errorf("%s a symbolic link: exit %d, %s; want it refused, naming it", link, code, errOut)
		}
		entries, _ := os.ReadDir(elsewhere)
		if b, _ := os.ReadFile(filepath.Join(elsewhere, "kept")); (link == "linux" && len(entries) != 0) || (link == "README.txt" && (len(entries) != 1 || string(b) != "kept\n")) {
			t.Errorf("%s a symbolic link: %d files where it points (%q); want none written there", link, len(entries), b)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != link || entries[0].Type()&os.ModeSymlink == 0 {
			t.Errorf("%s a symbolic link: after generate %v; want the link alone, as it was", link, entries)
		}
	}
}

// vpn-client show-url, az's, shows the URL of the package generate made
// (a JSON string with -o json, bare with -o table); of a gateway without point-to-site it is refused, saying so. It was not
// there: "unknown command".
func TestVPNClientShowURL(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	var made, shown string
	mustJSON(t, &made, "vnet-gateway", "vpn-client", "generate", "-g", "rg", "-n", "gw")
	mustJSON(t, &shown, "vnet-gateway", "vpn-client", "show-url", "-g", "rg", "-n", "gw")
	if shown != made {
		t.Errorf("show-url after generate: %q; want its URL %q", shown, made)
	}
	if out := must(t, "vnet-gateway", "vpn-client", "show-url", "-g", "rg", "-n", "gw", "-o", "table"); out != made+"\n" {
		t.Errorf("show-url -o table: %q; want the URL on its line", out)
	}
	must(t, "vnet", "create", "-g", "rg", "-n", "other", "--address-prefixes", "10.2.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.2.255.0/27")
	must(t, "public-ip", "create", "-g", "rg", "-n", "other-ip")
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "other", "--vnet", "other", "--public-ip-addresses", "other-ip")
	code, _, errOut := vnetgw(t, "vnet-gateway", "vpn-client", "show-url", "-g", "rg", "-n", "other")
	if code == 0 || !strings.Contains(errOut, "VpnClientConfigurationNotFound") {
		t.Errorf("show-url of a gateway without point-to-site: exit %d, %s; want VpnClientConfigurationNotFound", code, errOut)
	}
}

// vnet-gateway create takes az's --root-cert-name and --root-cert-data
// (unknown flags): the point-to-site configuration gets that root
// certificate beside the client pool, in one step as in Azure's
// walk-through; run again with another name, it adds a second one. One
// without the other is refused before anything is written.
func TestGatewayCreateRootCert(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/27")
	must(t, "public-ip", "create", "-g", "rg", "-n", "gw-ip")
	root := pkitest.Issue(t, "alice root", true, nil)
	data := base64.StdEncoding.EncodeToString(root.Raw)
	file, _ := root.WritePEM(t, t.TempDir(), "bob-root")
	create := []string{"vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--public-ip-addresses", "gw-ip"}
	if code, out, errOut := vnetgw(t, append(create, "--address-prefixes", "172.16.201.0/24", "--root-cert-name", "alice-root")...); code != 2 || !strings.Contains(errOut, "--root-cert-name and --root-cert-data go together") {
		t.Errorf("--root-cert-name alone: exit %d\n%s%s", code, out, errOut)
	}
	must(t, append(create, "--address-prefixes", "172.16.201.0/24", "--client-protocol", "SSTP", "--root-cert-name", "alice-root", "--root-cert-data", data)...)
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--root-cert-name", "bob-root", "--root-cert-data", file)
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	certs := map[string]string{}
	for _, r := range gw.Properties.VPNClientConfiguration.VPNClientRootCertificates {
		certs[r.Name] = r.Properties.PublicCertData
	}
	if len(certs) != 2 || certs["alice-root"] != data || certs["bob-root"] != data {
		t.Errorf("root certificates %v, want alice-root and bob-root with %s", certs, data)
	}
}
