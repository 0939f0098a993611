package ikev1

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// TestReservedSPIRefused: a peer's SPI below 256 (reserved, RFC 4303
// §2.1) is refused as its quick mode message comes, with an INVALID-SPI
// notification that names it: by the responder in message 1, which
// answered it with message 2 and installed the child once HASH(3) came;
// by the initiator in message 2, which sent HASH(3) and installed the
// child. No child SA has the reserved SPI, on either side.
func TestReservedSPIRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		fromI bool // the initiator's message 1 has the SPI, not the responder's message 2
	}{{"responder, message 1", true}, {"initiator, message 2", false}} {
		var first []byte // what the refusing side sent first once it had the SPI
		mi, mr, ri, rr := rewriteQuick(t, nil, c.fromI, func(fi bool, msg []byte) {
			if first == nil && fi != c.fromI {
				first = msg
			}
		}, func(in *wire.SA) {
			in.Proposals[0].SPI = []byte{0, 0, 0, 7}
		})
		m := mr
		if !c.fromI {
			m = mi
		}
		var n wire.Notify
		if first != nil && first[18] == wire.ExchangeInfo {
			sa := onlySA(t, m)
			h, _ := wire.ParseHeader(first)
			m.mu.Lock()
			ps, _, err := sa.decrypt(h, first, sa.s.Hash.phase2IV(sa.p1iv, h.MessageID), nil)
			m.mu.Unlock()
			if err != nil || len(ps) != 1 {
				t.Fatalf("%s: an informational message that does not open: %v", c.name, err)
			}
			n, _ = wire.ParseNotify(ps[0].Body)
		}
		if n.Type != wire.NotifyInvalidSPI || n.Protocol != wire.ProtocolESP || !bytes.Equal(n.SPI, []byte{0, 0, 0, 7}) {
			t.Errorf("%s: after SPI 7 came, the first message sent is not an INVALID-SPI that names it (exchange %v, notify %+v)", c.name, first != nil && first[18] == wire.ExchangeInfo, n)
		}
		for _, r := range []*recorder{ri, rr} {
			r.mu.Lock()
			if slices.ContainsFunc(r.children, func(ch ipsec.Child) bool { return ch.In.SPI < 256 || ch.Out.SPI < 256 }) {
				t.Errorf("%s: a child SA with SPI 7 was installed", c.name)
			}
			r.mu.Unlock()
		}
		if st := m.Status(); !strings.Contains(st[0].LastError, "SPI 7 is reserved") {
			t.Errorf("%s: the refusing side's status: %q", c.name, st[0].LastError)
		}
	}
}
