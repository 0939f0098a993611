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
	"github.com/vnetgw/vnetgw/internal/strongswan"
)

// TestSharedKeyChange: a new key set through the API (the CLI's
// `vpn-connection shared-key update`, a PUT of .../sharedkey) replaces the
// tunnel's key (R21): the tunnel authenticated with the old key goes away
// and cannot come back while strongSwan holds the old key; once strongSwan
// has the new one, the tunnel comes back by itself; and strongSwan with
// the old key again fails to authenticate.
func TestSharedKeyChange(t *testing.T) {
	require(t)
	e := newS2S(t)
	e.up(t)
	ping(t, e.host, e.site.host, 10*time.Second)

	// A key that strongSwan would read as base64 were it not written in
	// hex (strongswan.SecretValue).
	const newKey = "0sReplacedKey2027"
	if out, err := e.r.cli("vpn-connection", "shared-key", "update", "-g", "s2s", "--connection-name", "hub-to-branch", "--value", newKey); err != nil {
		t.Fatalf("vnetgw vpn-connection shared-key update: %v\n%s", err, out)
	}
	if out, err := e.r.cli("vpn-connection", "shared-key", "show", "-g", "s2s", "--connection-name", "hub-to-branch"); err != nil || !strings.Contains(out, newKey) {
		t.Fatalf("shared-key show after the update: %v\n%s", err, out)
	}
	// vnetgw drops the SAs made with the old key and tries the new one,
	// which strongSwan refuses.
	waitNoSAs(t, e.site.ch, 10*time.Second)
	waitLog(t, e.site.ch, "MAC mismatched", 15*time.Second)
	c := e.r.waitConnection(e.conn, 10*time.Second, "failing to authenticate", func(p arm.ConnectionProperties) bool {
		return !connected(p) && strings.Contains(p.ConnectionStatusReason, "AUTHENTICATION_FAILED")
	})
	t.Logf("with the old key at strongSwan: %s (%s)", c.Properties.ConnectionStatus, c.Properties.ConnectionStatusReason)

	// strongSwan gets the new key: vnetgw's next attempt succeeds.
	setKey(t, e.site, e.gwAddr, newKey)
	start := time.Now()
	e.r.waitConnection(e.conn, 30*time.Second, "Connected with the new key", connected)
	t.Logf("Connected with the new key %s after strongSwan got it", time.Since(start).Round(100*time.Millisecond))
	ping(t, e.host, e.site.host, 10*time.Second)

	// The old key no longer works: strongSwan with it cannot initiate.
	setKey(t, e.site, e.gwAddr, s2sKey)
	if out, err := e.site.ch.Swanctl("--terminate", "--ike", "peer", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --terminate: %v\n%s", err, out)
	}
	out, err := e.site.ch.Initiate()
	if err == nil {
		t.Fatalf("strongSwan with the old key could initiate:\n%s", out)
	}
	if !strings.Contains(out, "AUTHENTICATION_FAILED") {
		t.Errorf("strongSwan's initiation with the old key failed, but not on authentication:\n%s", out)
	}
}

// TestCustomPolicyChange: a custom IPsec/IKE policy set on a running
// connection through the API (ipsecPolicies) re-establishes the tunnel
// with the policy's algorithms, as strongSwan's SA list shows, and the
// hosts reach each other through it.
func TestCustomPolicyChange(t *testing.T) {
	require(t)
	e := newS2S(t, func(c *netnstest.CharonConfig) {
		c.IKEProposal = ikeProposal + ",aes256-sha384-ecp384"
		c.ESPProposal = espProposal + ",aes256-sha256-modp2048"
	})
	e.up(t)
	if out, err := e.site.ch.WaitSAs(10*time.Second, "AES_GCM_16-256", "ECP_256"); err != nil {
		t.Fatalf("the default proposals were not chosen: %v\n%s", err, out)
	}
	// az's vpn-connection ipsec-policy add.
	if out, err := e.r.cli("vpn-connection", "ipsec-policy", "add", "-g", "s2s", "--connection-name", "hub-to-branch", "--ike-encryption", "AES256",
		"--ike-integrity", "SHA384", "--dh-group", "ECP384", "--ipsec-encryption", "AES256", "--ipsec-integrity", "SHA256", "--pfs-group", "PFS2048",
		"--sa-lifetime", "3600"); err != nil || !strings.Contains(out, `"dhGroup": "ECP384"`) {
		t.Fatalf("vpn-connection ipsec-policy add: %v\n%s", err, out)
	}
	out, err := e.site.ch.WaitSAs(30*time.Second, "ESTABLISHED", "INSTALLED", "HMAC_SHA2_384_192", "ECP_384", "AES_CBC-256/HMAC_SHA2_256_128")
	if err != nil {
		t.Fatalf("the policy's algorithms: %v", err)
	}
	if strings.Contains(out, "AES_GCM") {
		t.Errorf("an SA with the old proposal remains:\n%s", out)
	}
	e.r.waitConnection(e.conn, 30*time.Second, "Connected with the policy", connected)
	ping(t, e.host, e.site.host, 10*time.Second)
	ping(t, e.site.lan, e.hostAddr, 10*time.Second)
}

// setKey gives strongSwan at the site a new key for the gateway at gw.
func setKey(t *testing.T, s *site, gw netip.Addr, key string) {
	t.Helper()
	f := filepath.Join(s.ch.Dir, "secrets.conf")
	conf := fmt.Sprintf("secrets {\n  ike-peer {\n    id-1 = %s\n    id-2 = %s\n    secret = %s\n  }\n}\n", s.addr, gw, strongswan.SecretValue(key))
	if err := os.WriteFile(f, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := s.ch.Swanctl("--load-creds", "--file", f); err != nil {
		t.Fatalf("swanctl --load-creds: %v\n%s", err, out)
	}
}

// waitLog waits until strongSwan's log contains s.
func waitLog(t *testing.T, ch *netnstest.Charon, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(ch.Log(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan's log lacks %q after %s:\n%s", s, d, tail(ch.Log(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRestartBringsTunnelsBack: serve stopped with SIGTERM tells strongSwan
// (its SAs go), and started again on the same data directory brings the
// host and the tunnel back without any API call; after kill -9 (strongSwan
// still holds the dead SAs) the new IKE SA replaces them (INITIAL_CONTACT,
// RFC 7296 §2.4) and traffic flows again.
func TestRestartBringsTunnelsBack(t *testing.T) {
	require(t)
	e := newS2S(t)
	e.up(t)
	ping(t, e.host, e.site.host, 10*time.Second)

	e.r.stop()
	waitNoSAs(t, e.site.ch, 5*time.Second)
	// A clean stop leaves nothing behind: no public address, no device.
	if out := e.r.ns.Run("ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(out, " "+e.gwAddr.String()+"/") {
		t.Errorf("the gateway's public address stayed on lo after SIGTERM:\n%s", out)
	}
	if out := e.host.Run("ip", "-o", "addr", "show"); strings.Contains(out, " "+e.hostAddr.String()+"/") {
		t.Errorf("the host's TUN device stayed after SIGTERM:\n%s", out)
	}
	start := time.Now()
	e.r.start()
	waitHostDevice(t, e.host, e.hostAddr)
	e.r.waitConnection(e.conn, 30*time.Second, "Connected after a restart", connected)
	ping(t, e.host, e.site.host, 10*time.Second)
	ping(t, e.site.lan, e.hostAddr, 10*time.Second)
	t.Logf("SIGTERM and start: traffic flows %s after the start", time.Since(start).Round(100*time.Millisecond))

	e.r.kill()
	if _, err := e.site.ch.WaitSAs(time.Second, "ESTABLISHED"); err != nil {
		t.Fatalf("after kill -9 strongSwan should still hold the SAs: %v", err)
	}
	// An address of the pool that a killed run left on the interface (of
	// a gateway deleted meanwhile, say) goes at the next start.
	const stale = "198.51.100.250"
	e.r.ns.Run("ip", "addr", "add", stale+"/32", "dev", "lo")
	start = time.Now()
	e.r.start()
	waitHostDevice(t, e.host, e.hostAddr)
	if out := e.r.ns.Run("ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(out, " "+stale+"/") {
		t.Errorf("a stale address of the pool stayed on lo after the start:\n%s", out)
	}
	e.r.waitConnection(e.conn, 30*time.Second, "Connected after kill -9", connected)
	ping(t, e.host, e.site.host, 10*time.Second)
	ping(t, e.site.lan, e.hostAddr, 10*time.Second)
	t.Logf("kill -9 and start: traffic flows %s after the start", time.Since(start).Round(100*time.Millisecond))
	if sas := e.site.ch.SAs(); strings.Count(sas, "ESTABLISHED") != 1 {
		t.Errorf("strongSwan holds stale IKE SAs after the restart:\n%s", sas)
	}
}
