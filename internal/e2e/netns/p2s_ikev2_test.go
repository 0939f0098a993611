package netns

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// roadWarrior starts strongSwan at site s as a point-to-site client of the
// gateway at gwAddr: it authenticates with cert and key, trusts the
// region's CA for the gateway's certificate, asks for an address (a
// virtual IP) and sends traffic for route through the tunnel.
func roadWarrior(t *testing.T, r *region, s *site, gwAddr netip.Addr, cert, key, route string) *netnstest.Charon {
	t.Helper()
	conf := fmt.Sprintf(`connections {
  p2s {
    version = 2
    local_addrs = %s
    remote_addrs = %s
    vips = 0.0.0.0
    proposals = %s
    local {
      auth = pubkey
      certs = client.pem
    }
    remote {
      auth = pubkey
      id = %s
      cacerts = ca.pem
    }
    children {
      net {
        remote_ts = %s
        esp_proposals = %s
        start_action = none
      }
    }
  }
}
`, s.addr, gwAddr, ikeProposal, gwAddr, route, espProposal)
	files := map[string][]byte{}
	for name, path := range map[string]string{"x509/client.pem": cert, "private/client.key": key, "x509ca/ca.pem": filepath.Join(r.dir, "ca.pem")} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	s.ch = netnstest.StartCharon(t, s.gw, netnstest.CharonConfig{Swanctl: conf, Files: files})
	return s.ch
}

// TestPointToSiteIKEv2: a gateway with IKEv2 and SSTP among its client
// protocols serves IKEv2 clients (R4, R10) from the upper half of its
// pool, as Azure splits it. strongSwan as a road warrior authenticates with
// a certificate of the uploaded root (R12), checks the gateway's
// certificate against the region's CA, gets an address of the pool in a
// configuration payload and pings the VNet's host, which pings it back.
// The health API lists it by its IKEv2_ id, the metrics count it, and
// disconnecting it through the API deletes its SAs at strongSwan. A client
// of another root is refused.
func TestPointToSiteIKEv2(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443"}})
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, hostAddr := r.tunHost(vnet, "web")
	dir := t.TempDir()
	rootDER, certFile, keyFile := clientPKI(t, dir, "alice")
	_, strangerCert, strangerKey := clientPKI(t, dir, "mallory")
	enableP2S(r, gw, "172.16.201.0/24", rootDER, "IkeV2", "SSTP")

	laptop := newSite(t, r, 1, pool)
	ch := roadWarrior(t, r, laptop, gwAddr, certFile, keyFile, "10.1.0.0/16")
	var out string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		// The gateway starts serving clients shortly after the change.
		var err error
		if out, err = ch.Initiate(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan did not connect: %v\n%s", err, out)
		}
	}
	// 172.16.201.128/25 is IKEv2's half; its first address is not given.
	const clientAddr = "172.16.201.129"
	if _, err := ch.WaitSAs(5*time.Second, "ESTABLISHED", "INSTALLED", "local  "+clientAddr+"/32", "remote 10.1.0.0/16"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ch.Log(), "installing new virtual IP "+clientAddr) {
		t.Errorf("strongSwan did not install the virtual IP %s:\n%s", clientAddr, tail(ch.Log(), 40))
	}
	ping(t, laptop.gw, hostAddr, 10*time.Second)
	ping(t, host, mustAddr(t, clientAddr), 10*time.Second)

	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil ||
		!strings.Contains(out, "IKEv2_"+clientAddr) || !strings.Contains(out, "alice") {
		t.Errorf("vpn-client show-health: %v\n%s", err, out)
	}
	p2sLabels := []string{"gateway", strings.ToLower(gw.String()), "protocol", "IKEv2"}
	if n, _ := r.metric("vnetgw_p2s_connections", p2sLabels...); n != 1 {
		t.Errorf("vnetgw_p2s_connections = %d with alice connected", n)
	}

	// The administrator ends the connection: strongSwan is told.
	if out, err := r.cli("vnet-gateway", "disconnect-vpn-connections", "-g", "p2s", "-n", "hub-gw", "--vpn-connections", "IKEv2_"+clientAddr); err != nil {
		t.Fatalf("disconnect-vpn-connections: %v\n%s", err, out)
	}
	waitNoSAs(t, ch, 10*time.Second)
	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil || strings.Contains(out, clientAddr) {
		t.Errorf("vpn-client show-health after the disconnect: %v\n%s", err, out)
	}

	stranger := newSite(t, r, 2, pool)
	sch := roadWarrior(t, r, stranger, gwAddr, strangerCert, strangerKey, "10.1.0.0/16")
	if out, err := sch.Initiate(); err == nil || !strings.Contains(out+sch.Log(), "AUTHENTICATION_FAILED") {
		t.Errorf("a client of another root: %v\n%s", err, out)
	}
}
