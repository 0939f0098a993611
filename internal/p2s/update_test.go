package p2s

import (
	"crypto/x509"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestUpdateOpenVPNNextSessions: Update applies new routes (a site
// connected), DNS servers, roots and limits to the OpenVPN sessions that
// begin next, the connected one staying (R10–R14, R32): a limit lowered
// to the clients connected admits no other, and ends none; raised, with
// the new root uploaded, it admits a client of that root, pushed the new
// routes and DNS servers.
func TestUpdateOpenVPNNextSessions(t *testing.T) {
	r := newRegion(t, Config{Listen: netip.MustParseAddrPort("127.192.0.2:0"), OpenVPN: true, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
		DNS: []netip.Addr{netip.MustParseAddr("10.1.0.53")}})
	first, err := dialTestOVPN(t, r.srv.Addr()).session(0, &r.pki.client, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustPush(t, first, 20*time.Second, "for the first client"); !strings.Contains(got, ",route 10.1.0.0 255.255.0.0") || !strings.Contains(got, ",dhcp-option DNS 10.1.0.53") {
		t.Fatalf("the first client was pushed %q", got)
	}
	root2 := pkitest.Issue(t, "P2S root 2", true, nil)
	st := r.srv.settings().Settings
	st.Roots = append(slices.Clone(st.Roots), root2.Certificate)
	st.Routes = append(slices.Clone(st.Routes), netip.MustParsePrefix("192.168.10.0/24"))
	st.DNS = []netip.Addr{netip.MustParseAddr("10.1.0.54")}
	st.OpenVPNMaxClients = 1
	if !r.srv.Update(st) {
		t.Fatal("Update refused a change of roots, routes, DNS servers and limits")
	}
	bob := pkitest.Issue(t, "bob", false, root2).TLS()
	tc, err := dialTestOVPN(t, r.srv.Addr()).session(0, &bob, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var b [2048]byte
	tc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := tc.Read(b[:]); err != nil || !strings.HasPrefix(string(b[:n]), "AUTH_FAILED,TEMP:1 point-to-site clients are connected over IKEv2 and OpenVPN") {
		t.Fatalf("a client past the limit lowered to 1 was answered %q, %v; want AUTH_FAILED,TEMP with the reason", b[:n], err)
	}
	if cs := r.srv.Clients(); len(cs) != 1 || cs[0].Identity != "alice" {
		t.Fatalf("clients after the changes: %+v, want alice alone", cs)
	}
	st.OpenVPNMaxClients = 2
	r.srv.Update(st)
	tc, err = dialTestOVPN(t, r.srv.Addr()).session(0, &bob, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got := mustPush(t, tc, 20*time.Second, "for a client of the new root, the limit raised")
	for _, opt := range []string{",route 10.1.0.0 255.255.0.0", ",route 192.168.10.0 255.255.255.0", ",dhcp-option DNS 10.1.0.54"} {
		if !strings.Contains(got, opt) {
			t.Errorf("the next client's push lacks %q: %q", opt, got)
		}
	}
	if strings.Contains(got, "10.1.0.53") {
		t.Errorf("the next client was pushed the old DNS server: %q", got)
	}
	if n := len(r.srv.Clients()); n != 2 {
		t.Errorf("%d clients connected, want alice and bob", n)
	}
}

// TestUpdateKeepsOpenVPNClient: Debian's OpenVPN, connected, stays
// connected and reaches the VNet across an Update of its gateway's
// routes (a site connected), DNS servers and roots (one more uploaded);
// removed, the root of its certificate ends it, as its server tells it
// (HALT).
func TestUpdateKeepsOpenVPNClient(t *testing.T) {
	srv, laptop, client := openVPNClient(t)
	if out, err := laptop.Try("ping", "-c", "1", "-W", "2", "10.1.0.4"); err != nil {
		t.Fatalf("ping through OpenVPN: %v\n%s\nclient:\n%s", err, out, client.Output())
	}
	st := srv.settings().Settings
	roots := st.Roots
	st.Roots = append(slices.Clone(roots), pkitest.Issue(t, "P2S root 2", true, nil).Certificate)
	st.Routes = append(slices.Clone(st.Routes), netip.MustParsePrefix("192.168.10.0/24"))
	st.DNS = []netip.Addr{netip.MustParseAddr("10.1.0.54")}
	if !srv.Update(st) {
		t.Fatal("Update refused a change of roots, routes and DNS servers")
	}
	if out, err := laptop.Try("ping", "-c", "3", "-W", "2", "10.1.0.4"); err != nil {
		t.Fatalf("ping through OpenVPN after the Update: %v\n%s\nclient:\n%s", err, out, client.Output())
	}
	if client.Wait(0) || len(srv.Clients()) != 1 {
		t.Fatalf("the client did not stay: listed %+v\n%s", srv.Clients(), client.Output())
	}
	st.Roots = []*x509.Certificate{st.Roots[1]}
	srv.Update(st)
	if !client.Wait(10 * time.Second) {
		t.Errorf("OpenVPN still runs with the root of its certificate removed:\n%s", client.Output())
	}
}
