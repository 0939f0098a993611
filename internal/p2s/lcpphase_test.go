package p2s

import (
	"fmt"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestNonLCPDiscardedUntilLCPOpenRFC1661Section3_4: while the peer
// renegotiates LCP, its IPCP request is silently discarded (RFC 1661
// §3.4: non-LCP packets before LCP is open MUST be), and the same request
// once LCP is open again is answered.
func TestNonLCPDiscardedUntilLCPOpenRFC1661Section3_4(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			x.l.lcpOurs, x.l.lcpPeers = true, true
			if err := x.l.handleLCP(ppp.Packet{Code: ppp.ConfReq, ID: 9, Data: ppp.AppendOptions(nil, []ppp.Option{magicOption(0x0badcafe)})}.Append(nil)); err != nil {
				t.Fatal(err)
			}
			var ours ppp.Packet
			lcp, _ := x.conn.take(t, ppp.ProtoLCP)
			for _, p := range lcp {
				if p.Code == ppp.ConfReq {
					ours = p
				}
			}
			x.req.ID++
			if err := x.l.handlePPP(ppp.ProtoIPCP, x.req.Append(nil)); err != nil {
				t.Fatal(err)
			}
			if sent, _ := x.conn.take(t, ppp.ProtoIPCP); len(sent) != 0 {
				t.Fatalf("an IPCP request while LCP is being renegotiated answered with %+v; want it discarded", sent)
			}
			if err := x.l.handleLCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil {
				t.Fatal(err)
			}
			x.conn.take(t, ppp.ProtoIPCP) // our request, LCP open again
			if err := x.l.handlePPP(ppp.ProtoIPCP, x.req.Append(nil)); err != nil {
				t.Fatal(err)
			}
			if _, answer := x.answered(); answer.Code != ppp.ConfAck {
				t.Fatalf("the IPCP request once LCP is open again answered with %+v; want an Ack", answer)
			}
		})
	}
}
