package reconcile

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
)

// How often observed state is read and, when it changed, written back.
const (
	StatusInterval     = 2 * time.Second
	FastStatusInterval = 100 * time.Millisecond
	FastStatusPeriod   = 15 * time.Second
)

// counterBase returns what the connection with resourceGuid guid carried
// before the data plane engine epoch started, from its stored status
// (nothing when that is of an earlier connection of its id, deleted
// since): the base stored with it when it was written under epoch, else
// (another engine wrote it: serve restarted, the VNet moved here) the
// bytes it showed then; and the ingress and egress bytes it showed.
//
// raw, when the connection is observed, are its counters now: lower than
// what the stored bytes had of the engine's, they started again within
// it (the connection left the data plane a moment and came back), and
// the bytes shown are the base too. Not observed (nil), it is not in the
// data plane, which counts it from zero when it is back: the bytes shown
// are the base already.
func counterBase(stored []byte, guid, epoch string, raw *[2]uint64) (region.CounterBase, [2]int64) {
	var old region.ConnectionStatus
	if stored == nil || json.Unmarshal(stored, &old) != nil || !old.Of(guid) {
		return region.CounterBase{}, [2]int64{}
	}
	shown := [2]int64{old.IngressBytes, old.EgressBytes}
	if old.Epoch == epoch {
		var b region.CounterBase
		if old.Base != nil {
			b = *old.Base
		}
		if raw != nil && int64(raw[0]) >= shown[0]-b.Ingress && int64(raw[1]) >= shown[1]-b.Egress {
			return b, shown
		}
	}
	// The tunnels shown, and those a status of it not observed (which
	// shows none) kept in its base: they showed that much.
	b := region.CounterBase{Ingress: old.IngressBytes, Egress: old.EgressBytes}
	if old.Base != nil && len(old.Base.Tunnels) > 0 {
		b.Tunnels = maps.Clone(old.Base.Tunnels)
	}
	for _, t := range old.Tunnels {
		if b.Tunnels == nil {
			b.Tunnels = map[string][2]int64{}
		}
		b.Tunnels[t.Tunnel] = [2]int64{t.IngressBytesTransferred, t.EgressBytesTransferred}
	}
	return b, shown
}

// statusUpdates compares what the data plane observes with what is stored
// and returns the writes that bring the store up to date: a status per
// connection, nil for statuses of connections that are gone. With owned
// (the VNets this node runs; nil: all) it writes only the statuses of
// what runs here and leaves the others' to the nodes that run them, each
// VNet's under the fence of its claim; node names this node in the VNets'
// status.
//
// Without counters, a connection's or a VNet's status whose counters
// alone moved is not written: under traffic every one of them moves all
// the time, and the fast passes after a change (every
// FastStatusInterval) would rewrite them all.
func statusUpdates(s *region.Snapshot, observed dataplane.Status, owned map[string]bool, fences map[string]store.Cond, node string, counters bool) statusWrite {
	out := statusWrite{byVNet: map[string]map[string][]byte{}, fences: fences}
	seen := map[string]bool{}
	// vnet is the VNet the status is of, "" for none known (its write is
	// not fenced).
	set := func(vnet, key string, b []byte) {
		if owned == nil {
			vnet = ""
		}
		if out.byVNet[vnet] == nil {
			out.byVNet[vnet] = map[string][]byte{}
		}
		out.byVNet[vnet][key] = b
	}
	put := func(vnet, key string, v any) {
		b, err := json.Marshal(v)
		if err == nil && !bytes.Equal(b, s.Status(key)) {
			set(strings.ToLower(vnet), key, b)
		}
	}
	elsewhere := func(key, vnet string) bool {
		if owned == nil || owned[strings.ToLower(vnet)] {
			return false
		}
		seen[key] = true
		return true
	}
	for _, v := range s.VirtualNetworks() {
		key := strings.ToLower(v.ID)
		seen[key] = true
		if elsewhere(key, v.ID) {
			continue
		}
		st := observed.VNets[key]
		if !counters && sameVNetState(s.Status(key), node) {
			continue
		}
		put(key, key, region.VNetStatus{Forwarded: st.Forwarded, DroppedNoRoute: st.NoRoute, DroppedTTL: st.TTLExpired, DroppedMalformed: st.Malformed, DroppedUndeliverable: st.Undeliverable, Node: node})
	}
	for _, n := range s.NetworkInterfaces() {
		key := strings.ToLower(n.ID)
		vnet := ""
		if len(n.Properties.IPConfigurations) > 0 {
			sid, err := arm.ParseID(n.Properties.PrimaryIPConfiguration().Properties.Subnet.RefID())
			if err == nil {
				if vnet = sid.Parent().Key(); elsewhere(key, vnet) {
					continue
				}
			}
		}
		o, ok := observed.Hosts[key]
		if !ok {
			continue
		}
		seen[key] = true
		st := region.HostStatus{State: region.HostRunning}
		if !o.Running {
			st = region.HostStatus{State: region.HostFailed, Error: o.Error}
		}
		put(vnet, key, st)
	}
	for _, c := range s.Connections() {
		key := strings.ToLower(c.ID)
		seen[key] = true
		vnet := ""
		if g := s.Gateway(c.Properties.VirtualNetworkGateway1.RefID()); g != nil {
			if v := s.VNetOf(g); v != nil {
				if vnet = v.ID; elsewhere(key, vnet) {
					continue
				}
			}
		}
		want := &region.ConnectionStatus{ConnectionStatus: region.NotConnected, Reason: "the gateway has no tunnel for this connection", GUID: c.Properties.ResourceGUID}
		if r, ok := s.RemoteOf(c); !ok {
			want.Reason = "the remote end has no IP address: a remote gateway without a public address yet"
			if why := s.RemoteReason(c.Properties.VirtualNetworkGateway2.RefID()); why != "" {
				want.Reason = why
			}
		} else {
			if g := s.Gateway(c.Properties.VirtualNetworkGateway1.RefID()); g != nil {
				want.InterRegion = interRegion(r, g)
			}
		}
		// Not observed (its gateway instance restarting), it shows what
		// it showed.
		var raw *[2]uint64
		if o, ok := observed.Connections[key]; ok {
			raw = &[2]uint64{o.Ingress, o.Egress}
		}
		base, shown := counterBase(s.Status(key), c.Properties.ResourceGUID, observed.Epoch, raw)
		want.Epoch, want.IngressBytes, want.EgressBytes = observed.Epoch, shown[0], shown[1]
		if base.Ingress != 0 || base.Egress != 0 || len(base.Tunnels) > 0 {
			want.Base = &base
		}
		if o, ok := observed.Connections[key]; ok {
			want.IngressBytes, want.EgressBytes = base.Ingress, base.Egress
			want.ConnectionStatus, want.Reason = o.State, o.Reason
			if why := s.RemoteMisfit(c.Properties.VirtualNetworkGateway2.RefID()); why != "" {
				// Its tunnel runs on what was known of the remote gateway;
				// what its region has now is not taken. That comes first:
				// a tunnel that is not up often fails for it (to an address
				// the remote gateway left), its own reason after it.
				if want.Reason != "" {
					why += " | " + want.Reason
				}
				want.Reason = why
			}
			want.IngressBytes += int64(o.Ingress)
			want.EgressBytes += int64(o.Egress)
			remotes := map[netip.Addr]bool{}
			for _, ot := range o.Tunnels {
				remotes[ot.RemoteAddr] = true
			}
			for _, ot := range o.Tunnels {
				// One tunnel per instance of the gateway, or per pair of
				// instances of two active-active gateways: named by the
				// connection, and by the instance's address when there are
				// several, and the peer's when there are several of those.
				name := c.Name
				if len(o.Tunnels) > 1 {
					name += "-" + ot.PublicAddr.String()
				}
				if len(remotes) > 1 {
					name += "-" + ot.RemoteAddr.String()
				}
				tb := base.Tunnels[name]
				t := arm.TunnelConnectionHealth{Tunnel: name, ConnectionStatus: ot.State,
					IngressBytesTransferred: tb[0] + int64(ot.Ingress), EgressBytesTransferred: tb[1] + int64(ot.Egress)}
				if !ot.Established.IsZero() {
					t.LastConnectionEstablishedUTCTime = ot.Established.UTC().Format(time.RFC3339)
				}
				want.Tunnels = append(want.Tunnels, t)
			}
		}
		if !counters && sameState(s.Status(key), want) {
			continue
		}
		put(vnet, key, want)
	}
	for _, key := range s.StatusKeys() {
		if !seen[key] {
			set("", key, nil)
		}
	}
	return out
}

// statusWrite is one pass's status writes: by the VNet they are of
// (lower-cased id; "": of none, such as the statuses of what is gone, or
// of every VNet on one node), each VNet's under its fence when it has one.
type statusWrite struct {
	byVNet map[string]map[string][]byte
	fences map[string]store.Cond
	seq    uint64 // set by the loop as it hands it over
}

// sameState tells whether the stored status of a connection has the
// state of want: its connectionStatus, reason and tunnels' states, all
// but the counters.
func sameState(stored []byte, want *region.ConnectionStatus) bool {
	var old region.ConnectionStatus
	if stored == nil || json.Unmarshal(stored, &old) != nil {
		return false
	}
	a, b := withoutCounters(old), withoutCounters(*want)
	return a.ConnectionStatus == b.ConnectionStatus && a.Reason == b.Reason && a.InterRegion == b.InterRegion && a.GUID == b.GUID &&
		slices.Equal(a.Tunnels, b.Tunnels)
}

// withoutCounters is c without its bytes and what they are counted from.
func withoutCounters(c region.ConnectionStatus) region.ConnectionStatus {
	c.IngressBytes, c.EgressBytes, c.Epoch, c.Base = 0, 0, "", nil
	c.Tunnels = slices.Clone(c.Tunnels)
	for i := range c.Tunnels {
		c.Tunnels[i].IngressBytesTransferred, c.Tunnels[i].EgressBytesTransferred = 0, 0
	}
	return c
}

// sameVNetState tells whether the stored status of a VNet names node as
// the one that runs it: all but its counters.
func sameVNetState(stored []byte, node string) bool {
	var old region.VNetStatus
	return stored != nil && json.Unmarshal(stored, &old) == nil && old.Node == node
}
