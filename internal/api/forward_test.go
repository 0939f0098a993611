package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/vnetgw/vnetgw/internal/region"
)

// TestForwardedLocation: the 202 of a reset that this node forwarded to
// the node that runs the connection has a Location on this node, the one
// the client called (behind a load balancer, the only one it may reach),
// which answers it as any node does; it named the other node, so that the
// SDK's poller asked a node it may not reach (here: one that has stopped,
// and one without TLS, to which the SDK sends no token).
func TestForwardedLocation(t *testing.T) {
	var reg *region.Region
	var other *url.URL
	e := newEnv(t, envOptions{reg: &reg, tls: true, elsewhere: func(string) *url.URL { return other }})
	b := httptest.NewServer(New(Config{Region: reg, Token: testToken}))
	defer b.Close()
	other, _ = url.Parse(b.URL)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	conn := netPath(subA, "rg", "connections", "c")
	e.must("PUT", conn, s2s(loc, s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")))

	r := e.do("POST", conn+"/resetconnection", nil)
	if r.status != http.StatusAccepted || !strings.HasPrefix(r.header.Get("Location"), e.srv.URL+"/subscriptions/"+subA+"/providers/Microsoft.Network/locations/") {
		t.Errorf("a forwarded reset: %d, Location %q; want 202 and a Location on %s", r.status, r.header.Get("Location"), e.srv.URL)
	}

	net, err := armnetwork.NewClientFactory(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	p, err := net.NewVirtualNetworkGatewayConnectionsClient().BeginResetConnection(context.Background(), "rg", "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Close() // the client reaches this node alone
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Second}); err != nil {
		t.Errorf("the SDK's poller of a forwarded reset: %v", err)
	}
}
