package reconcile

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/region"
)

// TestCountersGoOnAcrossRestart: a connection's ingress and egress bytes
// (R39) go on from where they were when serve restarts (a new engine
// whose tunnels count from zero): never lower, and higher with traffic
// after the restart.
func TestCountersGoOnAcrossRestart(t *testing.T) {
	f := gatewayFixture(t)
	ctx := context.Background()
	va, ga := f.gateway(t, "count", "a", "10.1.0.0/16", 0, 1)
	vb, gb := f.gateway(t, "count", "b", "10.2.0.0/16", 0, 1)
	ab := f.connect(t, "count", ga, gb, false)
	f.connect(t, "count", gb, ga, false)
	ha, _ := f.nic(t, "count", "host-a", va.Child("subnets", "default"))
	hb, hbAddr := f.nic(t, "count", "host-b", vb.Child("subnets", "default"))
	status := func() region.ConnectionStatus {
		var st region.ConnectionStatus
		json.Unmarshal(f.reg.Snapshot().Status(ab.Key()), &st)
		return st
	}
	// traffic pings from a to b until the status shows more than floor
	// both ways, checking that it never shows less.
	traffic := func(floor region.ConnectionStatus, what string) region.ConnectionStatus {
		t.Helper()
		f.waitHost(t, ha)
		f.waitHost(t, hb)
		h, _ := f.eng.NetstackHost(ha.Key())
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := status()
			if st.IngressBytes < floor.IngressBytes || st.EgressBytes < floor.EgressBytes {
				t.Fatalf("%s: the counters went down: %d/%d bytes in/out, were %d/%d", what, st.IngressBytes, st.EgressBytes, floor.IngressBytes, floor.EgressBytes)
			}
			if st.IngressBytes > floor.IngressBytes && st.EgressBytes > floor.EgressBytes {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no traffic counted in 30 s: %+v", what, st)
			}
			pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			h.Ping(pctx, hbAddr)
			cancel()
		}
	}
	before := traffic(region.ConnectionStatus{}, "first run")
	f.restart(t)
	after := traffic(before, "after the restart")
	t.Logf("ingress/egress bytes: %d/%d before the restart, %d/%d after", before.IngressBytes, before.EgressBytes, after.IngressBytes, after.EgressBytes)
}
