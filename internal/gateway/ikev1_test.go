package gateway_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// ikev1Proposals are the IKEv1 proposals tested against strongSwan: AES-CBC
// with SHA-2 and SHA-1 in phase 1 (IKEv1 has no AEAD there), AES-CBC and
// AES-GCM for ESP, and PFS.
var ikev1Proposals = []struct{ ike, esp string }{
	{"aes256-sha256-modp2048", "aes256-sha256"},
	{"aes128-sha1-modp2048", "aes128gcm16"},
	{"aes256-sha384-ecp384", "aes256gcm16-ecp384"},
}

// TestStrongSwanIKEv1Interop: IKEv1 (RFC 2409: Main Mode with a pre-shared
// key, Quick Mode, NAT-T with ESP in UDP) against strongSwan, vnetgw as
// responder and as initiator: ping both ways and iperf3 both ways between
// the hosts behind the gateways (R4: site-to-site IKEv1).
func TestStrongSwanIKEv1Interop(t *testing.T) {
	netnstest.RequireStrongSwan(t, "iperf3", "ping")
	for _, p := range ikev1Proposals {
		for _, role := range []string{"responder", "initiator"} {
			t.Run(p.ike+"/"+p.esp+"/vnetgw-"+role, func(t *testing.T) {
				tp := newTopology(t)
				mode := ikev2.ModeResponderOnly
				if role == "initiator" {
					mode = ikev2.ModeInitiatorOnly
				}
				cfg := charonConfig(p.ike, p.esp)
				cfg.IKEVersion = 1
				ch := netnstest.StartCharon(t, tp.gwB, cfg)
				conn := connection(t, p.ike, p.esp, mode)
				conn.IKEv1 = true
				gw := startVnetgw(t, tp.gwA, netip.MustParseAddr("10.0.0.1"), conn)
				if role == "responder" {
					if out, err := ch.Initiate(); err != nil {
						t.Fatalf("strongSwan could not initiate: %v\n%s", err, out)
					}
				}
				st := waitConnected(t, gw, 15*time.Second)
				if !strings.Contains(st.Proposal, "IKEv1") {
					t.Errorf("vnetgw reports proposal %q", st.Proposal)
				}
				sas, err := ch.WaitSAs(10*time.Second, "ESTABLISHED", "INSTALLED")
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(sas, "IKEv1") {
					t.Errorf("strongSwan's SA is not IKEv1:\n%s", sas)
				}
				ping(t, tp.hostA, "10.2.0.2")
				ping(t, tp.hostB, "10.1.0.2")
				ab, ba := iperf(t, tp, 2, false), iperf(t, tp, 2, true)
				t.Logf("iperf3 TCP 2 s over IKEv1: A→B %.0f Mbit/s, B→A %.0f Mbit/s", ab, ba)
				if st := gw.Status()[0]; st.BytesIn == 0 || st.BytesOut == 0 || len(st.Children) != 1 {
					t.Fatalf("status after traffic: %+v", st)
				}
			})
		}
	}
}


// The child vnetgw initiated carries the traffic strongSwan narrowed it to.
func TestIKEv1InitiatorTakesNarrowing(t *testing.T) {
	netnstest.RequireStrongSwan(t, "ping")
	tp := newTopology(t)
	cfg := charonConfig("aes256-sha256-modp2048", "aes256-sha256")
	cfg.IKEVersion = 1
	netnstest.StartCharon(t, tp.gwB, cfg)
	conn := connection(t, "aes256-sha256-modp2048", "aes256-sha256", ikev2.ModeInitiatorOnly)
	conn.IKEv1 = true
	gw := startVnetgw(t, tp.gwA, netip.MustParseAddr("10.0.0.1"), conn)
	st := waitConnected(t, gw, 15*time.Second)
	c := st.Children[0]
	t.Logf("vnetgw proposed 0.0.0.0/0 both ways; the child carries %v <-> %v", c.LocalTS, c.RemoteTS)
	if len(c.LocalTS) != 1 || len(c.RemoteTS) != 1 || c.LocalTS[0] != lanA || c.RemoteTS[0] != lanB {
		t.Errorf("child selectors %v <-> %v, want %v <-> %v", c.LocalTS, c.RemoteTS, lanA, lanB)
	}
	ping(t, tp.hostA, "10.2.0.2")
}
