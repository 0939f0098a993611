package p2s

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/vpnclient"
)

// TestOpenVPNProfileCertificateOrPassword: the package's profile of a
// gateway that takes certificates and RADIUS (vpnAuthenticationTypes
// Certificate and Radius) connects a certificate user who does what the
// package says (the placeholders replaced with the certificate and key)
// without asking for a user name and password, which the gateway does
// not check then and the user does not have; a password user who does
// what the profile says instead (the two blocks deleted, auth-user-pass
// taken in) connects with the password, which the RADIUS server checks.
func TestOpenVPNProfileCertificateOrPassword(t *testing.T) {
	secret := []byte("s3cret")
	var asked atomic.Int32
	rad := fakeRadius(t, secret, 0, true, &asked)
	withRadius := func(c *Config) { c.Radius = []radius.Server{{Addr: rad, Secret: secret}} }

	srv, laptop, client := startOpenVPNWith(t, withRadius, func(conf string) string { return bothProfile(t, conf) })
	if !openVPNConnected(client, 30*time.Second) {
		t.Fatalf("OpenVPN with the certificate pasted into the profile did not connect:\n%s", client.Output())
	}
	if out, err := laptop.Try("ping", "-c", "1", "-W", "2", "10.1.0.4"); err != nil {
		t.Errorf("ping through OpenVPN: %v\n%s", err, out)
	}
	if c := srv.Clients(); len(c) != 1 || c[0].Identity != "alice" {
		t.Errorf("the server lists %+v, want alice by her certificate", c)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the RADIUS server was asked %d times about a certificate user", n)
	}

	creds := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(creds, []byte("bob\ncorrect horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, _, client = startOpenVPNWith(t, withRadius, func(conf string) string {
		conf = bothProfile(t, conf)
		i, j := strings.Index(conf, "\n<cert>\n"), strings.Index(conf, "</key>\n")
		if i < 0 || j < 0 || !strings.Contains(conf, "\n#auth-user-pass\n") {
			t.Fatalf("the profile has no <cert> and <key> to delete, or no auth-user-pass to take in:\n%s", conf)
		}
		conf = conf[:i+1] + conf[j+len("</key>\n"):]
		return strings.Replace(conf, "\n#auth-user-pass\n", "\nauth-user-pass "+creds+"\n", 1)
	})
	if !openVPNConnected(client, 30*time.Second) {
		t.Fatalf("OpenVPN with the password instead of the certificate did not connect:\n%s", client.Output())
	}
	if c := srv.Clients(); len(c) != 1 || c[0].Identity != "bob" || asked.Load() != 1 {
		t.Errorf("the server lists %+v after %d RADIUS requests, want bob by his password after one", c, asked.Load())
	}
}

// bothProfile is the package's profile of the gateway of conf (its CA and
// static key) when it takes certificates and RADIUS, with the client's
// certificate and key of conf pasted in, as the package's README says.
func bothProfile(t *testing.T, conf string) string {
	t.Helper()
	block := func(name string) string {
		_, rest, _ := strings.Cut(conf, "\n<"+name+">\n")
		b, _, ok := strings.Cut(rest, "</"+name+">\n")
		if !ok {
			t.Fatalf("the profile has no <%s>:\n%s", name, conf)
		}
		return b
	}
	zipped, err := vpnclient.Settings{Gateway: "gateway", Addr: netip.MustParseAddr("192.0.2.1"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"OpenVPN"}, Authentication: []string{"Certificate", "Radius"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
		CA: []byte(block("ca")), OpenVPNKey: []byte(block("tls-crypt"))}.Zip()
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(t.TempDir(), "pkg")
	if err := vpnclient.Extract(zipped, pkg); err != nil {
		t.Fatal(err)
	}
	profile, err := os.ReadFile(filepath.Join(pkg, vpnclient.FileOpenVPN))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(vpnclient.OpenVPNCertPlaceholder, strings.TrimSpace(block("cert")),
		vpnclient.OpenVPNKeyPlaceholder, strings.TrimSpace(block("key"))).Replace(string(profile))
}
