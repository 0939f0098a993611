package reconcile

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
)

// Live answers the API's questions about the running data plane (the api
// package's DataPlane): what the store's status cannot hold, or not fresh
// enough.
type Live struct{ Engine *dataplane.Engine }

// IKESAs returns the IKE SAs of connection id, the newest first.
func (l Live) IKESAs(id string) []arm.IKESA {
	sas, counters := l.Engine.IKESAs(strings.ToLower(id))
	now := time.Now()
	out := make([]arm.IKESA, 0, len(sas))
	for _, sa := range sas {
		a := arm.IKESA{
			LocalEndpoint: sa.Local.String(), RemoteEndpoint: sa.Remote.String(),
			InitiatorSPI: fmt.Sprintf("%016x", sa.SPIi), ResponderSPI: fmt.Sprintf("%016x", sa.SPIr),
			IsSAInitiator: sa.Initiator, State: sa.State, Proposal: sa.Proposal,
			NATLocal: sa.NATLocal, NATRemote: sa.NATRemote, QuickModeSAs: []arm.ChildSA{},
		}
		if !sa.Established.IsZero() {
			a.EstablishedTime = sa.Established.UTC().Format(time.RFC3339)
			a.ElapsedTimeInSeconds = int64(now.Sub(sa.Established) / time.Second)
		}
		for _, c := range sa.Children {
			n := counters[c.InSPI]
			a.QuickModeSAs = append(a.QuickModeSAs, arm.ChildSA{
				InboundPackets: n.PacketsIn, InboundBytes: n.BytesIn, OutboundPackets: n.PacketsOut, OutboundBytes: n.BytesOut,
				InboundSPI: fmt.Sprintf("%08x", c.InSPI), OutboundSPI: fmt.Sprintf("%08x", c.OutSPI), Proposal: c.Proposal,
				LocalTrafficSelectors: prefixStrings(c.LocalTS), RemoteTrafficSelectors: prefixStrings(c.RemoteTS),
				UDPEncapsulation: c.Encap, Rekeyed: c.Rekeyed,
				InstalledTime: c.Installed.UTC().Format(time.RFC3339), ElapsedTimeInSeconds: int64(now.Sub(c.Installed) / time.Second),
			})
		}
		out = append(out, a)
	}
	return out
}

// ResetConnection ends the tunnel of connection id and starts it again; it
// reports whether a gateway runs the connection.
func (l Live) ResetConnection(id string) bool {
	return l.Engine.ResetConnection(strings.ToLower(id))
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
