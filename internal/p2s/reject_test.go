package p2s

import (
	"fmt"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestProtocolRejectIdentifierRFC1661Section5_7: each Protocol-Reject
// has an Identifier of its own (RFC 1661 §5.7: changed for each), and
// however many are sent, our next request's Identifier is not our last
// request's, whose answer came (§5.1), so that a late copy of that
// answer is not taken for one to the new request; client and gateway.
func TestProtocolRejectIdentifierRFC1661Section5_7(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			x.l.lcpOurs, x.l.lcpPeers = true, true
			x.request(x.req.Data)
			last, _ := x.answered()
			if err := x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: last.ID, Data: last.Data}.Append(nil)); err != nil || !x.l.up.Load() {
				t.Fatalf("the renegotiation: err %v, up %v; want up", err, x.l.up.Load())
			}
			// IPv6CP, which the link does not speak: 255 Protocol-Rejects.
			ipv6cp := ppp.Packet{Code: ppp.ConfReq, ID: 1}.Append(nil)
			for range 255 {
				if err := x.l.handlePPP(ppp.ProtoIPv6CP, ipv6cp); err != nil {
					t.Fatal(err)
				}
			}
			rejs, _ := x.conn.take(t, ppp.ProtoLCP)
			if len(rejs) != 255 {
				t.Fatalf("255 IPv6CP packets answered with %d LCP packets, want 255 Protocol-Rejects", len(rejs))
			}
			for i, p := range rejs {
				if p.Code != ppp.ProtoRej || i > 0 && p.ID == rejs[i-1].ID {
					t.Fatalf("LCP packet %d: code %d, Identifier %d after %d; want a Protocol-Reject, another Identifier", i, p.Code, p.ID, rejs[max(i-1, 0)].ID)
				}
			}
			x.request(x.req.Data)
			ours, _ := x.answered()
			if ours.Code != ppp.ConfReq || ours.ID == last.ID {
				t.Fatalf("our IPCP request after the Protocol-Rejects: %+v; want a Configure-Request with another Identifier than the last's (%d)", ours, last.ID)
			}
		})
	}
}
