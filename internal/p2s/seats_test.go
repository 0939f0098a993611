package p2s

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/seat"
)

// TestOpenVPNSharesSeatsWithIKEv2: the SKU's IKEv2/OpenVPN limit is one
// figure for both protocols (R32): with a limit of 2 and an IKEv2 client
// holding a seat of the count both share, one OpenVPN client is admitted
// and the next told AUTH_FAILED,TEMP; once the IKEv2 client leaves, it is
// admitted. Each protocol was admitted up to the limit, twice it in all.
func TestOpenVPNSharesSeatsWithIKEv2(t *testing.T) {
	var seats seat.Count
	if _, ok := seats.Take(2, 0); !ok { // an IKEv2 client's
		t.Fatal("no seat for the IKEv2 client")
	}
	r := newRegion(t, Config{Listen: netip.MustParseAddrPort("127.192.0.3:0"), OpenVPN: true, OpenVPNMaxClients: 2, Seats: &seats})
	first, err := dialTestOVPN(t, r.srv.Addr()).session(0, &r.pki.client, "", "")
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, first, 20*time.Second, "for the first OpenVPN client")
	bob := pkitest.Issue(t, "bob", false, r.pki.root).TLS()
	tc, err := dialTestOVPN(t, r.srv.Addr()).session(0, &bob, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var b [2048]byte
	tc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := tc.Read(b[:]); err != nil || !strings.HasPrefix(string(b[:n]), "AUTH_FAILED,TEMP:2 point-to-site clients are connected over IKEv2 and OpenVPN") {
		t.Fatalf("an OpenVPN client past the limit shared with IKEv2 was answered %q, %v; want AUTH_FAILED,TEMP with the reason", b[:n], err)
	}
	seats.Give() // the IKEv2 client leaves
	tc, err = dialTestOVPN(t, r.srv.Addr()).session(0, &bob, "", "")
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, tc, 20*time.Second, "for the next OpenVPN client, the IKEv2 client gone")
	if n := seats.Taken(); n != 2 {
		t.Errorf("%d seats taken, want the 2 OpenVPN clients'", n)
	}
	r.srv.Close()
	if n := seats.Taken(); n != 0 {
		t.Errorf("%d seats taken after the server closed, want none", n)
	}
}
