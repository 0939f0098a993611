package dataplane

import (
	"testing"

	"github.com/vnetgw/vnetgw/internal/insights"
)

// TestTallyGoesOn: a tunnel's counters that start again from zero (its
// instance restarted) go on from what they had reached, each on its
// own; counters that only grow are taken as they are.
func TestTallyGoesOn(t *testing.T) {
	var tl tally
	steps := []struct{ raw, want counts }{
		{counts{ingress: 100, egress: 50, drops: insights.Drops{NAT: 2}}, counts{ingress: 100, egress: 50, drops: insights.Drops{NAT: 2}}},
		{counts{ingress: 150, egress: 60, drops: insights.Drops{NAT: 2}}, counts{ingress: 150, egress: 60, drops: insights.Drops{NAT: 2}}},
		// Started again: what it carries now comes on top.
		{counts{ingress: 10, egress: 70}, counts{ingress: 160, egress: 130, drops: insights.Drops{NAT: 2}}},
		{counts{ingress: 20, egress: 80, drops: insights.Drops{NAT: 1}}, counts{ingress: 170, egress: 140, drops: insights.Drops{NAT: 3}}},
	}
	for i, s := range steps {
		if got := tl.of(s.raw); got != s.want {
			t.Errorf("step %d: %+v, want %+v", i, got, s.want)
		}
	}
}
