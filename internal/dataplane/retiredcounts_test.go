package dataplane

import (
	"net/netip"
	"testing"
	"time"
)

// TestConnectionCountersStayWhenAnInstanceGoes: a connection's bytes
// never go down while it stays configured. An active-active gateway made
// active-standby (its second IP configuration removed), or a VNet-to-VNet
// peer that loses an instance, takes one of the connection's tunnels away:
// the connection's counters lost that tunnel's bytes, and the reconcile
// loop took the drop for counters that started again (counterBase) and
// showed the remaining tunnel's bytes twice from then on.
func TestConnectionCountersStayWhenAnInstanceGoes(t *testing.T) {
	e := New(Options{IKEPort: 18974, NATTPort: 18975})
	t.Cleanup(func() { e.Close() })
	site := netip.MustParseAddr("127.177.1.9")
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}}}
	for i, a := range []string{"127.177.1.1", "127.177.1.2"} {
		cfg.Gateways = append(cfg.Gateways, Gateway{ID: "gw", Instance: i, VNet: "v", PublicAddr: netip.MustParseAddr(a),
			Connections: []Connection{{ID: "c", Remote: site, PSK: Secret("k"), Mode: "ResponderOnly", DPDTimeout: 20 * time.Second,
				LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("10.2.0.0/16"), Routes: prefixes("10.2.0.0/16")}}})
	}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	// What each instance's tunnel carried so far (no peer here: its
	// counters are set as they would have been counted).
	e.mu.Lock()
	e.tally("gw|c|c").last = counts{ingress: 1000, egress: 2000, ingressPackets: 10, egressPackets: 20}
	e.tally("gw#1|c|c").last = counts{ingress: 300, egress: 400, ingressPackets: 3, egressPackets: 4}
	e.mu.Unlock()
	before := e.Status().Connections["c"]
	if before.Ingress != 1300 || before.Egress != 2400 {
		t.Fatalf("both instances: %d/%d bytes in/out, want 1300/2400", before.Ingress, before.Egress)
	}
	cfg.Gateways = cfg.Gateways[:1] // active-standby now
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	after := e.Status().Connections["c"]
	if after.Ingress < before.Ingress || after.Egress < before.Egress || after.IngressPackets < before.IngressPackets || after.EgressPackets < before.EgressPackets {
		t.Errorf("one instance left: the connection shows %d/%d bytes, %d/%d packets in/out; it had shown %d/%d, %d/%d",
			after.Ingress, after.Egress, after.IngressPackets, after.EgressPackets, before.Ingress, before.Egress, before.IngressPackets, before.EgressPackets)
	}
	// Deleted, and made again under its id, it counts from zero.
	cfg.Gateways[0].Connections = nil
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Gateways[0].Connections = []Connection{{ID: "c", Remote: site, PSK: Secret("k"), Mode: "ResponderOnly",
		LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("10.2.0.0/16"), Routes: prefixes("10.2.0.0/16")}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if again := e.Status().Connections["c"]; again.Ingress != 0 || again.Egress != 0 {
		t.Errorf("made again: %d/%d bytes in/out, want 0/0", again.Ingress, again.Egress)
	}
}
