package netns

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestOtherPortsWithStrongSwan: with serve on IKE ports other than 500 and
// 4500 (--ike-port, --natt-port, as an unprivileged serve runs), a
// strongSwan device that starts the tunnel (connectionMode ResponderOnly)
// with the configuration the API writes for it brings it up: it speaks
// NAT-T from its port 4500 to the gateway's NAT-T port (from port 500,
// strongSwan would move to the gateway's port 4500 once it saw the
// gateway's NAT, and the tunnel would never come up). Hosts on both
// sides reach each other.
func TestOtherPortsWithStrongSwan(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--ike-port", "15600", "--natt-port", "15601"}})
	vnet := r.vnet("ports", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _ := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, hostAddr := r.tunHost(vnet, "web")
	s := newSite(t, r, 1, pool, "10.98.0.2/24")
	lgw := r.localGateway("ports", "westeurope", "branch", s.addr, s.lanTS)
	conn := r.putConnection(gw, "hub-to-branch", "", arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.ConnectionMode = arm.ModeResponderOnly
	})
	script, err := r.c.DeviceScript(context.Background(), conn, arm.VPNDeviceScriptParameters{})
	if err != nil || !strings.Contains(script, "local_port = 4500") || !strings.Contains(script, "remote_port = 15601") {
		t.Fatalf("the device configuration (%v) does not speak NAT-T to the gateway's port 15601:\n%s", err, script)
	}
	s.ch = netnstest.StartCharon(t, s.gw, netnstest.CharonConfig{Swanctl: script})
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	ping(t, s.lan, hostAddr, 15*time.Second)
	ping(t, host, s.host, 15*time.Second)
}
