package ikev1

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

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

// TestPrefixChangeKeepsISAKMPSA: a policy-based connection whose remote
// prefixes change (10.2.0.0/24 replaced by 10.2.2.0/24) keeps its ISAKMP
// SA and the child SA of the pair that stays (10.2.1.0/24): the child of
// the pair gone is deleted at both ends, and a quick mode makes the new
// pair's. A change while a quick mode is under way sets the tunnel up
// again.
func TestPrefixChangeKeepsISAKMPSA(t *testing.T) {
	var pi, pr ikev2.PeerConfig
	mi, mr, ri, rr := twoManagers(t, func(i, r *ikev2.PeerConfig) {
		manyPairs(2)(i, r)
		pi, pr = *i, *r
	})
	// live lists the selectors of r's children still in its data path,
	// the local ones or the remote ones.
	live := func(r *recorder, local bool) []netip.Prefix {
		r.mu.Lock()
		defer r.mu.Unlock()
		var out []netip.Prefix
		for _, c := range r.children {
			if slices.Contains(r.removed, c.In.SPI) || slices.Contains(r.drained, c.In.SPI) {
				continue
			}
			if local {
				out = append(out, c.LocalTS...)
			} else {
				out = append(out, c.RemoteTS...)
			}
		}
		slices.SortFunc(out, netip.Prefix.Compare)
		return out
	}
	pump := func(what string, until func() bool) {
		t.Helper()
		if carry(mi, mr, ri, rr, 30*time.Second, until, nil); !until() {
			t.Fatalf("no %s after 30 s: initiator's %v, responder's %v", what, live(ri, false), live(rr, true))
		}
	}
	remote := []netip.Prefix{netip.MustParsePrefix("10.2.0.0/24"), netip.MustParsePrefix("10.2.1.0/24")}
	pump("two pairs", func() bool { return slices.Equal(live(ri, false), remote) && slices.Equal(live(rr, true), remote) })
	st := mi.Status()[0]
	isakmp := st.IKESAs[0].SPIi
	var kept uint32
	for _, c := range st.IKESAs[0].Children {
		if c.RemoteTS[0] == remote[1] {
			kept = c.InSPI
		}
	}

	remote = []netip.Prefix{remote[1], netip.MustParsePrefix("10.2.2.0/24")}
	pr.Children = []ikev2.ChildConfig{{LocalTS: remote, RemoteTS: pr.Children[0].RemoteTS}}
	pi.Children = []ikev2.ChildConfig{{LocalTS: pi.Children[0].LocalTS, RemoteTS: remote}}
	mustReconfig(t, mr, pr)
	mustReconfig(t, mi, pi)
	pump("pairs of 10.2.1.0/24 and 10.2.2.0/24", func() bool {
		return slices.Equal(live(ri, false), remote) && slices.Equal(live(rr, true), remote)
	})
	st = mi.Status()[0]
	if len(st.IKESAs) != 1 || st.IKESAs[0].SPIi != isakmp {
		t.Errorf("ISAKMP SAs %+v, want the first, %016x, kept", st.IKESAs, isakmp)
	}
	if !slices.ContainsFunc(st.IKESAs[0].Children, func(c ikev2.ChildStatus) bool { return c.InSPI == kept }) {
		t.Errorf("the child SA of 10.2.1.0/24 (%08x) was made again: %+v", kept, st.IKESAs[0].Children)
	}

	// A change while a quick mode of ours is under way (a rekey, here)
	// sets the tunnel up again: the quick mode's pair may be one that goes.
	mi.mu.Lock()
	p := mi.peers[pi.Name]
	p.children[0].rekeyAt = time.Now().Add(-time.Second)
	mi.timers(time.Now())
	quick := slices.ContainsFunc(mi.sasOf(p), func(sa *isakmpSA) bool { return len(sa.qms) > 0 })
	mi.mu.Unlock()
	if !quick {
		t.Fatal("no quick mode under way after a child's rekey time")
	}
	remote = remote[1:]
	pr.Children = []ikev2.ChildConfig{{LocalTS: remote, RemoteTS: pr.Children[0].RemoteTS}}
	pi.Children = []ikev2.ChildConfig{{LocalTS: pi.Children[0].LocalTS, RemoteTS: remote}}
	mustReconfig(t, mr, pr)
	mustReconfig(t, mi, pi)
	pump("new ISAKMP SA with the pair of 10.2.2.0/24", func() bool {
		st := mi.Status()
		return len(st) == 1 && len(st[0].IKESAs) == 1 && st[0].IKESAs[0].SPIi != isakmp && st[0].IKESAs[0].State == "established" &&
			slices.Equal(live(ri, false), remote) && slices.Equal(live(rr, true), remote)
	})
}
