package reconcile

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
)

// TestFastPassWritesStateOnly: with 1,000 busy connections (counters
// moving on every one), a fast status pass (FastStatusInterval, after a
// reconfiguration) writes only the connection whose state changed, not
// the 1,000 whose counters moved; those go at the next pass with
// counters (StatusInterval). Before, every fast pass rewrote them all:
// 10 transactions of the whole region a second, for 15 s after any
// change.
func TestFastPassWritesStateOnly(t *testing.T) {
	reg, conns := largeRegion(t, 100, 10)
	ctx := context.Background()
	observed := func(bytes uint64) dataplane.Status {
		st := dataplane.Status{Epoch: "e1", Connections: map[string]dataplane.ConnectionStatus{}}
		for _, c := range conns {
			ts := dataplane.TunnelState{State: dataplane.Connected, Ingress: bytes, Egress: 2 * bytes, Established: time.Unix(1700000000, 0)}
			st.Connections[c.Key()] = dataplane.ConnectionStatus{TunnelState: ts,
				Tunnels: []dataplane.TunnelStatus{{PublicAddr: netip.MustParseAddr("127.198.0.1"), RemoteAddr: netip.MustParseAddr("127.198.1.1"), TunnelState: ts}}}
		}
		return st
	}
	write := func(w statusWrite) int {
		t.Helper()
		n := 0
		for _, byKey := range w.byVNet {
			if err := reg.PutStatuses(ctx, byKey); err != nil {
				t.Fatal(err)
			}
			for k := range byKey {
				if strings.Contains(k, "/connections/") {
					n++
				}
			}
		}
		return n
	}
	if n := write(statusUpdates(reg.Snapshot(), observed(100), nil, nil, "", true)); n != len(conns) {
		t.Fatalf("the first pass wrote %d connections' status, want %d", n, len(conns))
	}

	busy := observed(5000)
	if n := write(statusUpdates(reg.Snapshot(), busy, nil, nil, "", false)); n != 0 {
		t.Fatalf("a fast pass wrote %d connections whose counters alone moved, want none", n)
	}
	down := busy.Connections[conns[7].Key()]
	down.State, down.Reason = dataplane.NotConnected, "the peer stopped answering"
	down.Tunnels = []dataplane.TunnelStatus{{PublicAddr: down.Tunnels[0].PublicAddr, RemoteAddr: down.Tunnels[0].RemoteAddr, TunnelState: down.TunnelState}}
	busy.Connections[conns[7].Key()] = down
	if n := write(statusUpdates(reg.Snapshot(), busy, nil, nil, "", false)); n != 1 {
		t.Fatalf("a fast pass wrote %d connections' status, want the one whose state changed", n)
	}
	var st region.ConnectionStatus
	if err := json.Unmarshal(reg.Snapshot().Status(conns[7].Key()), &st); err != nil || st.ConnectionStatus != region.NotConnected || st.Reason != "the peer stopped answering" {
		t.Fatalf("the connection that went down shows %+v (%v)", st, err)
	}
	if st.IngressBytes != 5000 || st.EgressBytes != 10000 {
		t.Errorf("written with its state, it shows %d/%d bytes in/out, want the counters of then, 5000/10000", st.IngressBytes, st.EgressBytes)
	}
	if n := write(statusUpdates(reg.Snapshot(), busy, nil, nil, "", true)); n != len(conns)-1 {
		t.Fatalf("a pass with counters wrote %d connections' status, want the %d whose counters moved", n, len(conns)-1)
	}
}
