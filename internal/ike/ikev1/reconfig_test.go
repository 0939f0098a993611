package ikev1

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestReconfigRefusesAmbiguousPeers: a configuration the IKEv2 daemon
// refuses is refused here too, whole, with an error that names the peer
// and why, and the peers configured before stay as they were: two peers
// at one remote address (a Main Mode from it would go to either of them,
// as a map's order fell), a name given twice, or a peer that Reconfig
// of ikev2 does not take (no key, no address, addresses of two families,
// an identity it cannot send).
func TestReconfigRefusesAmbiguousPeers(t *testing.T) {
	other := netip.MustParseAddrPort("192.0.2.3:500")
	peer := func(name string, remote netip.AddrPort) ikev2.PeerConfig {
		return fuzzPeer(name, fuzzLocal, remote, ikev2.ModeResponderOnly)
	}
	for _, c := range []struct {
		name  string
		peers func() []ikev2.PeerConfig
		want  []string // in the error, "" for none
	}{
		{"distinct", func() []ikev2.PeerConfig { return []ikev2.PeerConfig{peer("a", fuzzRemote), peer("b", other)} }, nil},
		{"one remote twice", func() []ikev2.PeerConfig { return []ikev2.PeerConfig{peer("a", fuzzRemote), peer("b", fuzzRemote)} },
			[]string{`peer "b"`, "192.0.2.2", `peer "a"`}},
		{"one remote twice, another port", func() []ikev2.PeerConfig {
			return []ikev2.PeerConfig{peer("a", fuzzRemote), peer("b", netip.AddrPortFrom(fuzzRemote.Addr(), 4500))}
		}, []string{`peer "b"`, "192.0.2.2", `peer "a"`}},
		{"one name twice", func() []ikev2.PeerConfig { return []ikev2.PeerConfig{peer("a", fuzzRemote), peer("a", other)} },
			[]string{`peer "a"`, "twice"}},
		{"no key", func() []ikev2.PeerConfig {
			p := peer("a", fuzzRemote)
			p.PSK = nil
			return []ikev2.PeerConfig{p}
		}, []string{`peer "a"`, "pre-shared key"}},
		{"no remote address", func() []ikev2.PeerConfig { return []ikev2.PeerConfig{peer("a", netip.AddrPort{})} },
			[]string{`peer "a"`, "address"}},
		{"two families", func() []ikev2.PeerConfig {
			return []ikev2.PeerConfig{peer("a", netip.MustParseAddrPort("[2001:db8::2]:500"))}
		},
			[]string{`peer "a"`, "families"}},
		{"an empty name as identity", func() []ikev2.PeerConfig {
			p := peer("a", fuzzRemote)
			p.LocalID = ikev2.Identity{Type: v2.IDFQDN}
			return []ikev2.PeerConfig{p}
		}, []string{`peer "a"`, "local identity"}},
		{"no name", func() []ikev2.PeerConfig { return []ikev2.PeerConfig{peer("", fuzzRemote)} }, []string{"no name"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			m := New(Config{Transport: rec, Dataplane: rec})
			defer m.Close()
			before := peer("before", netip.MustParseAddrPort("192.0.2.9:500"))
			if err := m.Reconfig([]ikev2.PeerConfig{before}); err != nil {
				t.Fatal(err)
			}
			err := m.Reconfig(c.peers())
			if c.want == nil {
				if err != nil {
					t.Fatalf("Reconfig: %v", err)
				}
				if got := slices.Sorted(slices.Values(m.Peers())); !slices.Equal(got, []string{"a", "b"}) {
					t.Errorf("peers %v, want [a b]", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("Reconfig took it: peers %v", m.Peers())
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Reconfig: %q, want it to name %q", err, w)
				}
			}
			if got := m.Peers(); !slices.Equal(got, []string{"before"}) {
				t.Errorf("after a refused configuration, peers %v, want those before it", got)
			}
		})
	}
}
