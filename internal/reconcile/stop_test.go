package reconcile

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/region"
)

// TestStopWritesLastStatus: when serve stops, the loop writes the
// connections' status a last time before the data plane stops, and
// returns only once it is in the store (which closes next): each
// connection shows NotConnected, as it is once the data plane has
// stopped and until it starts again, and the bytes it carried until the
// stop, from which its counters go on at the next start (R39). The
// status writer was left running: the status showed what the last pass
// (up to 2 s before) had written, Connected and fewer bytes, and a write
// under way raced the store's close.
func TestStopWritesLastStatus(t *testing.T) {
	f := gatewayFixture(t)
	ctx := context.Background()
	va, ga := f.gateway(t, "stop", "a", "10.1.0.0/16", 0, 1)
	vb, gb := f.gateway(t, "stop", "b", "10.2.0.0/16", 0, 1)
	ab := f.connect(t, "stop", ga, gb, false)
	f.connect(t, "stop", gb, ga, false)
	ha, _ := f.nic(t, "stop", "host-a", va.Child("subnets", "default"))
	hb, hbAddr := f.nic(t, "stop", "host-b", vb.Child("subnets", "default"))
	f.waitHost(t, ha)
	f.waitHost(t, hb)
	h, _ := f.eng.NetstackHost(ha.Key())
	status := func() region.ConnectionStatus {
		var st region.ConnectionStatus
		json.Unmarshal(f.reg.Snapshot().Status(ab.Key()), &st)
		return st
	}
	deadline := time.Now().Add(30 * time.Second)
	for st := status(); st.ConnectionStatus != region.Connected || st.IngressBytes == 0; st = status() {
		if time.Now().After(deadline) {
			t.Fatalf("no traffic counted in 30 s: %+v", st)
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		h.Ping(pctx, hbAddr)
		cancel()
	}
	// More traffic, then the stop: the last status has at least what the
	// data plane counted before it.
	for range 5 {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		h.Ping(pctx, hbAddr)
		cancel()
	}
	counted := f.eng.Status().Connections[ab.Key()]
	f.stop()
	st := status()
	if st.ConnectionStatus != region.NotConnected || st.Reason != reasonStopped {
		t.Errorf("after the stop the connection shows %s (%q), want %s (%q)", st.ConnectionStatus, st.Reason, region.NotConnected, reasonStopped)
	}
	for _, tn := range st.Tunnels {
		if tn.ConnectionStatus != region.NotConnected {
			t.Errorf("after the stop tunnel %s shows %s", tn.Tunnel, tn.ConnectionStatus)
		}
	}
	if st.IngressBytes < int64(counted.Ingress) || st.EgressBytes < int64(counted.Egress) {
		t.Errorf("after the stop the connection shows %d/%d bytes in/out; the data plane had counted %d/%d before it",
			st.IngressBytes, st.EgressBytes, counted.Ingress, counted.Egress)
	}
	// The next start goes on from there.
	f.run(t)
	deadline = time.Now().Add(30 * time.Second)
	for st := status(); st.ConnectionStatus != region.Connected; st = status() {
		if time.Now().After(deadline) {
			t.Fatalf("after the start: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if after := status(); after.IngressBytes < st.IngressBytes || after.EgressBytes < st.EgressBytes {
		t.Errorf("after the start the connection shows %d/%d bytes in/out, %d/%d at the stop", after.IngressBytes, after.EgressBytes, st.IngressBytes, st.EgressBytes)
	}
}
