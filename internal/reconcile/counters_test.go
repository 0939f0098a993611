package reconcile

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
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
// connection left the data plane and came back), or a connection not in
// it, make what was shown the base, so that the bytes shown never go
// down.
func TestCounterBaseWithinAnEngine(t *testing.T) {
	stored, _ := json.Marshal(region.ConnectionStatus{Epoch: "e1", IngressBytes: 150, EgressBytes: 160, Base: &region.CounterBase{Ingress: 100, Egress: 100}})
	for _, c := range []struct {
		epoch string
		raw   *[2]uint64
		want  [2]int64
	}{
		{"e1", &[2]uint64{50, 60}, [2]int64{100, 100}},   // going on
		{"e1", &[2]uint64{70, 90}, [2]int64{100, 100}},   // more
		{"e1", nil, [2]int64{150, 160}},                  // not observed: out of the data plane, from zero when back
		{"e1", &[2]uint64{10, 70}, [2]int64{150, 160}},   // started again
		{"e2", &[2]uint64{500, 500}, [2]int64{150, 160}}, // another engine
	} {
		base, shown := counterBase(stored, "", c.epoch, c.raw)
		if got := [2]int64{base.Ingress, base.Egress}; got != c.want || shown != [2]int64{150, 160} {
			t.Errorf("engine %s, counters %v: base %v, shown %v; want base %v", c.epoch, c.raw, got, shown, c.want)
		}
	}
}

// TestRecreatedConnectionCountsFromZero: a connection deleted and made
// again under its id (as a script does that deletes and creates it) counts
// its own bytes, not the deleted one's too: the status the deleted one
// left (removed only at the loop's next status pass) was taken as the new
// one's base, and it showed the old bytes for good.
func TestRecreatedConnectionCountsFromZero(t *testing.T) {
	remadeCountsFromZero(t, gatewayFixture(t), func(remake func()) { remake() })
}

// remadeCountsFromZero has two VNets of f, their gateways connected both
// ways, carry traffic; then between calls remake, which deletes the
// connection from a to b and makes it again (the caller may hold the
// loop around it). Once its tunnel is up again, with no traffic since,
// the connection must show fewer bytes than the deleted one carried.
func remadeCountsFromZero(t *testing.T, f *fixture, between func(remake func())) {
	t.Helper()
	ctx := context.Background()
	va, ga := f.gateway(t, "again", "a", "10.1.0.0/16", 0, 1)
	vb, gb := f.gateway(t, "again", "b", "10.2.0.0/16", 0, 1)
	ab := f.connect(t, "again", ga, gb, false)
	f.connect(t, "again", gb, ga, false)
	ha, _ := f.nic(t, "again", "host-a", va.Child("subnets", "default"))
	hb, hbAddr := f.nic(t, "again", "host-b", vb.Child("subnets", "default"))
	f.waitHost(t, ha)
	f.waitHost(t, hb)
	h, _ := f.eng.NetstackHost(ha.Key())
	shown := func() *arm.Connection {
		doc, err := f.reg.Get(ab)
		if err != nil {
			t.Fatal(err)
		}
		return doc.(*arm.Connection)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c := shown(); c.Properties.IngressBytesTransferred == 0 || c.Properties.EgressBytesTransferred == 0; c = shown() {
		if time.Now().After(deadline) {
			t.Fatalf("no traffic counted in 30 s: %+v", c.Properties)
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		h.Ping(pctx, hbAddr)
		cancel()
	}
	before := shown().Properties
	between(func() {
		if _, err := f.reg.Delete(ctx, ab); err != nil {
			t.Fatal(err)
		}
		f.connect(t, "again", ga, gb, false)
	})
	deadline = time.Now().Add(30 * time.Second)
	for c := shown(); c.Properties.ConnectionStatus != region.Connected ||
		c.Properties.IngressBytesTransferred >= before.IngressBytesTransferred || c.Properties.EgressBytesTransferred >= before.EgressBytesTransferred; c = shown() {
		if time.Now().After(deadline) {
			t.Fatalf("made again, the connection shows %s, %d/%d bytes in/out; the deleted one had carried %d/%d",
				c.Properties.ConnectionStatus, c.Properties.IngressBytesTransferred, c.Properties.EgressBytesTransferred, before.IngressBytesTransferred, before.EgressBytesTransferred)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
