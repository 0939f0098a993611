package dataplane

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestGatewayConnection covers how a connection becomes a tunnel: any-to-any
// selectors on a route-based gateway (R19), a child SA per prefix pair on a
// policy-based one (R18) or with usePolicyBasedTrafficSelectors.
func TestGatewayConnection(t *testing.T) {
	base := Connection{ID: "c", Remote: netip.MustParseAddr("198.51.100.1"), PSK: Secret("k"),
		LocalPrefixes: prefixes("10.1.0.0/16", "10.3.0.0/16"), RemotePrefixes: prefixes("192.168.1.0/24", "192.168.2.0/24"),
		Routes: prefixes("192.168.1.0/24", "192.168.2.0/24")}
	tests := []struct {
		name        string
		policyGW    bool
		selectors   bool
		children    int
		policyBased bool
	}{
		{"route-based: any-to-any (R19)", false, false, 0, false},
		{"policy-based gateway: a child SA per pair (R18)", true, false, 4, true},
		{"usePolicyBasedTrafficSelectors on a route-based gateway", false, true, 4, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			c.PolicySelectors = tc.selectors
			gc, err := gatewayConnection(Gateway{PolicyBased: tc.policyGW}, c)
			if err != nil {
				t.Fatal(err)
			}
			if len(gc.Peer.Children) != tc.children || gc.PolicyBased != tc.policyBased {
				t.Fatalf("children %d, policy-based %v; want %d, %v", len(gc.Peer.Children), gc.PolicyBased, tc.children, tc.policyBased)
			}
		})
	}
	t.Run("trafficSelectorPolicies replace the address spaces", func(t *testing.T) {
		c := base
		c.PolicySelectors = true
		c.Selectors = []SelectorPolicy{{Local: prefixes("10.1.0.0/24"), Remote: prefixes("192.168.1.0/25", "192.168.2.0/25")}, {Local: prefixes("10.3.3.0/24"), Remote: prefixes("192.168.2.128/25")}}
		gc, err := gatewayConnection(Gateway{}, c)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ch := range gc.Peer.Children {
			got = append(got, fmt.Sprint(ch.LocalTS, ch.RemoteTS))
		}
		want := []string{"[10.1.0.0/24] [192.168.1.0/25]", "[10.1.0.0/24] [192.168.2.0/25]", "[10.3.3.0/24] [192.168.2.128/25]"}
		if !slices.Equal(got, want) || !gc.PolicyBased {
			t.Fatalf("children %v (policy-based %v), want %v", got, gc.PolicyBased, want)
		}
		c.PolicySelectors = false
		if gc, _ := gatewayConnection(Gateway{}, c); len(gc.Peer.Children) != 0 {
			t.Fatalf("a route-based connection without usePolicyBasedTrafficSelectors has children %v", gc.Peer.Children)
		}
	})
	t.Run("disableIPSecReplayProtection turns anti-replay off", func(t *testing.T) {
		for _, off := range []bool{false, true} {
			if gc, _ := gatewayConnection(Gateway{NoReplayCheck: off}, base); gc.Peer.NoReplayCheck != off {
				t.Fatalf("gateway NoReplayCheck %v, peer's %v", off, gc.Peer.NoReplayCheck)
			}
		}
	})
	t.Run("saDataSizeKilobytes sets the child SAs' byte lifetime, 0 none", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			kb     uint64
			noByte bool
			want   esp.Limits
		}{
			{"no custom policy: the IKE daemons' default", 0, false, esp.Limits{}},
			{"2048 KB, rekeyed at 90 %", 2048, false, esp.Limits{SoftBytes: 2048 * 1024 * 9 / 10, HardBytes: 2048 * 1024}},
			{"0: none", 0, true, esp.Limits{HardBytes: ikev2.NoChildByteLimit}},
		} {
			c := base
			c.ChildLifetimeKB, c.NoChildByteLimit = tc.kb, tc.noByte
			if gc, _ := gatewayConnection(Gateway{}, c); gc.Peer.ChildLimits != tc.want {
				t.Errorf("%s: child limits %+v, want %+v", tc.name, gc.Peer.ChildLimits, tc.want)
			}
		}
	})
	t.Run("dpdTimeoutSeconds bounds the liveness checks", func(t *testing.T) {
		c := base
		c.DPDTimeout = 45 * time.Second
		gc, _ := gatewayConnection(Gateway{}, c)
		p := gc.Peer
		total := p.DPDInterval + p.RetransmitTimeout*time.Duration(1<<(p.RetransmitTries+1)-1)
		if total > c.DPDTimeout*5/4 || total < c.DPDTimeout*3/4 {
			t.Fatalf("a silent peer is declared dead after %v, want about %v", total, c.DPDTimeout)
		}
	})
	t.Run("connectionMode decides who initiates", func(t *testing.T) {
		for mode, want := range map[string]ikev2.ConnectionMode{"Default": ikev2.ModeDefault, "": ikev2.ModeDefault,
			"InitiatorOnly": ikev2.ModeInitiatorOnly, "ResponderOnly": ikev2.ModeResponderOnly} {
			c := base
			c.Mode = mode
			if gc, _ := gatewayConnection(Gateway{}, c); gc.Peer.Mode != want {
				t.Errorf("connectionMode %q: %v, want %v", mode, gc.Peer.Mode, want)
			}
		}
	})
	t.Run("a proposal vnetgw does not implement is reported", func(t *testing.T) {
		c := base
		c.IKEProposals = []string{"3des-md5-modp768"}
		if _, err := gatewayConnection(Gateway{}, c); err == nil || !strings.Contains(err.Error(), "3des") {
			t.Fatalf("err = %v", err)
		}
	})
}
