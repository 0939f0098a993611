package api

import (
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/federation"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/region"
)

// twoRegions starts two regions, each an API on its own bbolt file served
// over HTTPS, that find each other's gateways through federation as
// vnetgw serve --peer does: each reads the other's endpoint, token and CA
// from a data directory. optsA, when given, are a's options but for
// these.
func twoRegions(t *testing.T, optsA ...envOptions) (a, b *env) {
	t.Helper()
	dirA, dirB := t.TempDir(), t.TempDir()
	oa := envOptions{}
	if len(optsA) > 0 {
		oa = optsA[0]
	}
	oa.tls, oa.remotes, oa.pool = true, federation.New([]string{dirB}), "127.10.0.0/24"
	a = newEnv(t, oa)
	b = newEnv(t, envOptions{tls: true, remotes: federation.New([]string{dirA}), pool: "127.11.0.0/24"})
	for dir, e := range map[string]*env{dirA: a, dirB: b} {
		ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw})
		for name, content := range map[string][]byte{datadir.Endpoint: []byte(e.srv.URL + "\n"), datadir.Token: []byte(testToken + "\n"), datadir.CA: ca} {
			if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return a, b
}

// A gateway deleted in one region while another region makes a
// connection to it: one of the two is refused (both may be), never both
// made, and the regions' states agree after each round: a connection
// exists only to a gateway that exists, which is not left Deleting.
func TestCrossRegionDeleteRace(t *testing.T) {
	a, b := twoRegions(t)
	sa := a.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	const rounds = 20
	var conns, deletes int
	for k := range rounds {
		sb := b.site(subB, fmt.Sprintf("rg%d", k), "eastus", fmt.Sprintf("10.%d.0.0/16", k+2), "RouteBased", "VpnGw1")
		conn := netPath(subA, "rg", "connections", fmt.Sprintf("c%d", k))
		ans := burst([]*env{a, b}, []call{{"PUT", conn, v2v(loc, sa.gw, sb.gw)}, {"DELETE", sb.gw, nil}})
		t.Logf("round %d: connection %d %s, delete %d %s", k, ans[0].status, ans[0].code(), ans[1].status, ans[1].code())
		if made(ans[0]) && made(ans[1]) {
			t.Errorf("round %d: both the connection to %s and the delete of it were made", k, sb.gw)
		}
		c, g := a.do("GET", conn, nil), b.do("GET", sb.gw, nil)
		switch {
		case made(ans[0]) != (c.status == http.StatusOK):
			t.Errorf("round %d: the connection's PUT answered %d, and a GET of it %d", k, ans[0].status, c.status)
		case made(ans[1]) != (g.status == http.StatusNotFound):
			t.Errorf("round %d: the gateway's DELETE answered %d, and a GET of it %d", k, ans[1].status, g.status)
		case c.status == http.StatusOK && g.status != http.StatusOK:
			t.Errorf("round %d: connection %s goes to gateway %s, which is not there (%d)", k, conn, sb.gw, g.status)
		case g.status == http.StatusOK && g.str("properties.provisioningState") != "Succeeded":
			t.Errorf("round %d: gateway %s is left %s", k, sb.gw, g.str("properties.provisioningState"))
		}
		if made(ans[0]) {
			conns++
			a.must("DELETE", conn, nil)
		}
		if made(ans[1]) {
			deletes++
		}
	}
	t.Logf("%d rounds: %d connections made, %d deletes", rounds, conns, deletes)
}

// A delete of a gateway that another region's connection ends at is
// refused, and leaves the gateway as it was: Succeeded, not Deleting.
func TestCrossRegionDeleteRefusedUnmarks(t *testing.T) {
	a, b := twoRegions(t)
	sa := a.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	sb := b.site(subB, "rg", "eastus", "10.2.0.0/16", "RouteBased", "VpnGw1")
	conn := netPath(subA, "rg", "connections", "c")
	a.must("PUT", conn, v2v(loc, sa.gw, sb.gw))
	b.expect("DELETE", sb.gw, nil, http.StatusConflict, "InUseVirtualNetworkGatewayCannotBeDeleted")
	b.expect("DELETE", rgPath(subB, "rg"), nil, http.StatusConflict, "ResourceGroupDeletionBlocked")
	if s := b.must("GET", sb.gw, nil).str("properties.provisioningState"); s != "Succeeded" {
		t.Errorf("the gateway whose delete was refused is %s, want Succeeded", s)
	}
	a.must("DELETE", conn, nil)
	b.must("DELETE", sb.gw, nil)
	b.expect("GET", sb.gw, nil, http.StatusNotFound, "ResourceNotFound")
	a.expect("PUT", conn, v2v(loc, sa.gw, sb.gw), http.StatusBadRequest, "InvalidResourceReference")
}

// A VNet whose address space changes in one region, to overlap the VNet
// at the far end of a connection another region makes at once: one of
// the two is refused (both may be), never both made (R35), and what
// stands is as its answer said.
func TestCrossRegionAddressSpaceRace(t *testing.T) {
	a, b := twoRegions(t)
	sa := a.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	const rounds = 20
	var conns, changes int
	for k := range rounds {
		base := fmt.Sprintf("10.%d", k+2)
		sb := b.site(subB, fmt.Sprintf("rg%d", k), "eastus", base+".0.0/16", "RouteBased", "VpnGw1")
		// The new space holds the old one, so the subnets stay inside
		// it, and 10.1.128.0/17, inside sa's VNet.
		overlapping := vnet("eastus", []string{base + ".0.0/16", "10.1.128.0/17"},
			subnet("default", base+".0.0/24"), subnet("GatewaySubnet", base+".255.0/27"))
		conn := netPath(subA, "rg", "connections", fmt.Sprintf("c%d", k))
		ans := burst([]*env{a, b}, []call{{"PUT", conn, v2v(loc, sa.gw, sb.gw)}, {"PUT", sb.vnet, overlapping}})
		t.Logf("round %d: connection %d %s, address space %d %s", k, ans[0].status, ans[0].code(), ans[1].status, ans[1].code())
		if made(ans[0]) && made(ans[1]) {
			t.Errorf("round %d: both the connection to %s and the overlapping address space of %s were made", k, sb.gw, sb.vnet)
		}
		c := a.do("GET", conn, nil)
		prefixes, _ := b.must("GET", sb.vnet, nil).field("properties.addressSpace.addressPrefixes").([]any)
		switch {
		case made(ans[0]) != (c.status == http.StatusOK):
			t.Errorf("round %d: the connection's PUT answered %d, and a GET of it %d", k, ans[0].status, c.status)
		case made(ans[1]) != (len(prefixes) == 2):
			t.Errorf("round %d: the VNet's PUT answered %d, and it holds %v", k, ans[1].status, prefixes)
		}
		if made(ans[0]) {
			conns++
			a.must("DELETE", conn, nil)
		}
		if made(ans[1]) {
			changes++
		}
	}
	t.Logf("%d rounds: %d connections made, %d address spaces changed", rounds, conns, changes)
}

// TestCrossRegionBGPChangeNotTaken: a VNet-to-VNet connection with
// enableBgp to another region's gateway holds R41 as one to a gateway of
// this region does. When that region turns the gateway's BGP off, or gives
// it the ASN of the gateway here (the gateways peer over external BGP
// only), the change cannot be refused there, which does not know the
// connection's BGP; here it is not taken, as a change of its VNet over
// ours (R35) is not: what was known stays, and that is logged. Both were
// taken without a word: the connection's BGP peer was dropped, or made one
// of its own AS, while the same change in one region is refused.
func TestCrossRegionBGPChangeNotTaken(t *testing.T) {
	var (
		log logbuf.Buffer
		reg *region.Region
	)
	a, b := twoRegions(t, envOptions{reg: &reg, regionLog: slog.New(slog.NewTextHandler(&log, nil))})
	sa := a.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	sb := b.site(subB, "rg", "eastus", "10.2.0.0/16", "RouteBased", "VpnGw1")
	withBGP := func(s site, asn int) obj {
		body := gateway(s.loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
		body["properties"].(obj)["enableBgp"] = asn != 0
		if asn != 0 {
			body["properties"].(obj)["bgpSettings"] = obj{"asn": asn}
		}
		return body
	}
	a.must("PUT", sa.gw, withBGP(sa, 65010))
	b.must("PUT", sb.gw, withBGP(sb, 65020))
	conn := netPath(subA, "rg", "connections", "c")
	body := v2v(loc, sa.gw, sb.gw)
	body["properties"].(obj)["enableBgp"] = true
	a.must("PUT", conn, body)
	// known is the BGP speaker of b's gateway as a knows it.
	known := func() (int64, bool) {
		s := reg.Snapshot()
		for _, c := range s.Connections() {
			if r, ok := s.RemoteOf(c); ok {
				return r.BGPAS, r.BGPAddr.IsValid()
			}
		}
		t.Fatal("a's connection has no remote end")
		return 0, false
	}
	if as, ok := known(); as != 65020 || !ok {
		t.Fatalf("a knows b's gateway's BGP speaker as AS %d (address %v), want 65020", as, ok)
	}
	// takes waits until a knows b's speaker as AS asn.
	takes := func(asn int64) {
		t.Helper()
		deadline := time.Now().Add(2*region.RemoteRefresh + 30*time.Second)
		for as, _ := known(); as != asn; as, _ = known() {
			if time.Now().After(deadline) {
				t.Fatalf("b's gateway's ASN %d fits a's connection: a knows AS %d", asn, as)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var seen int
	want := int64(65020)
	for _, c := range []struct {
		name, says string
		asn        int
	}{
		{"BGP off", "enableBgp needs BGP enabled on gateway gw", 0},
		{"the ASN of a's gateway", "both ends of a BGP connection have ASN 65010", 65010},
	} {
		b.must("PUT", sb.gw, withBGP(sb, c.asn)) // b knows nothing of a's connection's BGP
		deadline := time.Now().Add(2*region.RemoteRefresh + 30*time.Second)
		for !strings.Contains(log.Since(&seen), c.says) {
			if time.Now().After(deadline) {
				as, ok := known()
				t.Fatalf("%s in b: no line in a's log says %q; a knows b's speaker as AS %d (address %v):\n%s", c.name, c.says, as, ok, log.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if as, ok := known(); as != want || !ok {
			t.Errorf("%s in b: a knows b's gateway's BGP speaker as AS %d (address %v), want %d kept", c.name, as, ok, want)
		}
		// A change that fits is taken; the next that does not is
		// logged at once.
		want++
		b.must("PUT", sb.gw, withBGP(sb, int(want)))
		takes(want)
	}
}
