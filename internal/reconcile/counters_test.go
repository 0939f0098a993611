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

// TestCounterBaseWithinAnEngine: counters that go on within one engine
// keep the stored base; counters that started again within it (the
// connection left the data plane and came back) make what was shown the
// base, so that the bytes shown never go down.
func TestCounterBaseWithinAnEngine(t *testing.T) {
	stored, _ := json.Marshal(region.ConnectionStatus{Epoch: "e1", IngressBytes: 150, EgressBytes: 160, Base: &region.CounterBase{Ingress: 100, Egress: 100}})
	for _, c := range []struct {
		epoch string
		raw   *[2]uint64
		want  [2]int64
	}{
		{"e1", &[2]uint64{50, 60}, [2]int64{100, 100}},   // going on
		{"e1", &[2]uint64{70, 90}, [2]int64{100, 100}},   // more
		{"e1", nil, [2]int64{100, 100}},                  // not observed: as it was
		{"e1", &[2]uint64{10, 70}, [2]int64{150, 160}},   // started again
		{"e2", &[2]uint64{500, 500}, [2]int64{150, 160}}, // another engine
	} {
		base, shown := counterBase(stored, c.epoch, c.raw)
		if got := [2]int64{base.Ingress, base.Egress}; got != c.want || shown != [2]int64{150, 160} {
			t.Errorf("engine %s, counters %v: base %v, shown %v; want base %v", c.epoch, c.raw, got, shown, c.want)
		}
	}
}
