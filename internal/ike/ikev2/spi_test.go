package ikev2

import (
	"net/netip"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestReservedChildSPIRefused: a CREATE_CHILD_SA whose proposal names a
// reserved SPI for the peer's inbound SA (RFC 4303 §2.1: 0 MUST NOT be
// sent, 1 to 255 are IANA's) is refused with NO_PROPOSAL_CHOSEN, and no
// child is installed; a valid one is taken.
func TestReservedChildSPIRefused(t *testing.T) {
	_, g, cl := connectedClient(t, 1)
	any4 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	create := func(spi uint32) []wire.Payload {
		t.Helper()
		ni, err := suite.NewNonce()
		if err != nil {
			t.Fatal(err)
		}
		return cl.request(wire.CreateChildSA, []wire.Payload{
			saPayload(mustProposals(t, wire.ProtocolESP, "aes256gcm16"), spi4(spi), false),
			&wire.Nonce{Data: ni}, tsPayload(false, any4), tsPayload(true, any4)})
	}
	for _, spi := range []uint32{0, 1, 255} {
		if n := errorNotify(create(spi)); n == nil || n.NotifyType != wire.NoProposalChosen {
			t.Errorf("a child with the peer's SPI %d answered %v, want NO_PROPOSAL_CHOSEN", spi, n)
		}
	}
	if got := g.dp.count(); got != 1 {
		t.Errorf("%d child SAs in the data path, want 1", got)
	}
	if n := errorNotify(create(256)); n != nil {
		t.Errorf("a child with the peer's SPI 256 answered %v", n.NotifyType)
	}
}
