package reconcile

import (
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
)

// StatusInterval is how often observed state is written back.
const StatusInterval = 2 * time.Second

// statusUpdates compares what the data plane observes with what is stored
// and returns the writes that bring the store up to date: a status per
// connection, nil for statuses of connections that are gone.
func statusUpdates(s *region.Snapshot, observed dataplane.Status) map[string]*region.ConnectionStatus {
	out := map[string]*region.ConnectionStatus{}
	seen := map[string]bool{}
	for _, c := range s.Connections() {
		key := strings.ToLower(c.ID)
		seen[key] = true
		want := &region.ConnectionStatus{ConnectionStatus: region.NotConnected, Reason: "the gateway has no tunnel for this connection"}
		if r, ok := s.RemoteOf(c); ok {
			if g := s.Gateway(c.Properties.VirtualNetworkGateway1.RefID()); g != nil {
				want.InterRegion = r.Location != g.Location
			}
		}
		if o, ok := observed.Connections[key]; ok {
			want.ConnectionStatus, want.Reason = o.State, o.Reason
			want.IngressBytes, want.EgressBytes = int64(o.Ingress), int64(o.Egress)
			t := arm.TunnelConnectionHealth{Tunnel: c.Name, ConnectionStatus: o.State,
				IngressBytesTransferred: int64(o.Ingress), EgressBytesTransferred: int64(o.Egress)}
			if !o.Established.IsZero() {
				t.LastConnectionEstablishedUTCTime = o.Established.UTC().Format(time.RFC3339)
			}
			want.Tunnels = []arm.TunnelConnectionHealth{t}
		}
		if !sameStatus(s.Status(key), want) {
			out[key] = want
		}
	}
	for _, key := range s.StatusKeys() {
		if !seen[key] {
			out[key] = nil
		}
	}
	return out
}

func sameStatus(a, b *region.ConnectionStatus) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.ConnectionStatus != b.ConnectionStatus || a.IngressBytes != b.IngressBytes || a.EgressBytes != b.EgressBytes ||
		a.InterRegion != b.InterRegion || a.Reason != b.Reason || len(a.Tunnels) != len(b.Tunnels) {
		return false
	}
	for i := range a.Tunnels {
		if a.Tunnels[i] != b.Tunnels[i] {
			return false
		}
	}
	return true
}
