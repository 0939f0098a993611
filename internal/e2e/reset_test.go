package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestResetOneActiveActiveInstance: a reset of an active-active gateway
// with a gatewayVip (az's vnet-gateway reset --gateway-vip) sets up anew
// the tunnels of the instance of that public address only; the other
// instance's IKE SA stays; without one, the primary instance's (Azure's
// VirtualNetworkGateways_Reset). A gatewayVip that is no address of the
// gateway is refused, naming it.
func TestResetOneActiveActiveInstance(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir, "--public-ip-pool", "127.154.0.0/24", "--ike-port", "25540", "--natt-port", "25541", "--sstp-port", "25446")
	run := mustCLI(t, dir)
	run("group", "create", "-n", "rs", "-l", "westeurope")
	run("vnet", "create", "-g", "rs", "-n", "aa", "--address-prefixes", "10.61.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.61.255.0/27")
	run("vnet", "create", "-g", "rs", "-n", "b", "--address-prefixes", "10.62.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.62.255.0/27")
	run("public-ip", "create", "-g", "rs", "-n", "aa-1")
	run("public-ip", "create", "-g", "rs", "-n", "aa-2")
	run("public-ip", "create", "-g", "rs", "-n", "b-ip")
	run("vnet-gateway", "create", "-g", "rs", "-n", "aa-gw", "--vnet", "aa", "--public-ip-addresses", "aa-1,aa-2", "--sku", "VpnGw2")
	run("vnet-gateway", "create", "-g", "rs", "-n", "b-gw", "--vnet", "b", "--public-ip-addresses", "b-ip", "--sku", "VpnGw2")
	run("vpn-connection", "create", "-g", "rs", "-n", "aa-to-b", "--vnet-gateway1", "aa-gw", "--vnet-gateway2", "b-gw", "--shared-key", "ResetOne1")
	run("vpn-connection", "create", "-g", "rs", "-n", "b-to-aa", "--vnet-gateway1", "b-gw", "--vnet-gateway2", "aa-gw", "--shared-key", "ResetOne1")
	addr := func(name string) string {
		m := regexp.MustCompile(`"ipAddress": "([0-9.]+)"`).FindStringSubmatch(run("public-ip", "show", "-g", "rs", "-n", name))
		if m == nil {
			t.Fatalf("public IP %s has no address", name)
		}
		return m[1]
	}
	first, second := addr("aa-1"), addr("aa-2")

	// spis returns the IKE SPIs of aa-to-b's SAs by the instance's address.
	spis := func() map[string][]string {
		var sas []struct {
			LocalEndpoint string `json:"localEndpoint"`
			InitiatorSPI  string `json:"initiatorSpi"`
		}
		if out := run("vpn-connection", "list-ike-sas", "-g", "rs", "-n", "aa-to-b"); json.Unmarshal([]byte(out), &sas) != nil {
			t.Fatalf("list-ike-sas:\n%s", out)
		}
		out := map[string][]string{}
		for _, sa := range sas {
			host := sa.LocalEndpoint
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			out[host] = append(out[host], sa.InitiatorSPI)
		}
		return out
	}
	var before map[string][]string
	waitTill(t, 60*time.Second, "an IKE SA at both instances", func() bool {
		before = spis()
		return len(before[first]) > 0 && len(before[second]) > 0
	})

	id := regexp.MustCompile(`"id": "([^"]*/virtualNetworkGateways/aa-gw)"`).FindStringSubmatch(run("vnet-gateway", "show", "-g", "rs", "-n", "aa-gw"))[1]
	var gw json.RawMessage
	if _, err := s.client().Do(context.Background(), http.MethodPost, id+"/reset?gatewayVip="+first, nil, &gw); err != nil {
		t.Fatalf("reset with gatewayVip %s: %v", first, err)
	}
	waitTill(t, 60*time.Second, "a new IKE SA at the instance reset", func() bool {
		now := spis()[first]
		return len(now) > 0 && !slices.ContainsFunc(now, func(spi string) bool { return slices.Contains(before[first], spi) })
	})
	if now := spis()[second]; !slices.ContainsFunc(now, func(spi string) bool { return slices.Contains(before[second], spi) }) {
		t.Fatalf("the other instance's IKE SA was reset too: SPIs %v, before %v", now, before[second])
	}

	// Without a gatewayVip, the primary instance (aa-1's) is reset, as in
	// Azure; the other keeps its IKE SA.
	waitTill(t, 60*time.Second, "an IKE SA at both instances", func() bool {
		before = spis()
		return len(before[first]) > 0 && len(before[second]) > 0
	})
	run("vnet-gateway", "reset", "-g", "rs", "-n", "aa-gw")
	waitTill(t, 60*time.Second, "a new IKE SA at the primary instance", func() bool {
		now := spis()[first]
		return len(now) > 0 && !slices.ContainsFunc(now, func(spi string) bool { return slices.Contains(before[first], spi) })
	})
	if now := spis()[second]; !slices.ContainsFunc(now, func(spi string) bool { return slices.Contains(before[second], spi) }) {
		t.Fatalf("a reset without a gatewayVip reset the second instance too: SPIs %v, before %v", now, before[second])
	}

	for _, vip := range []string{"127.154.9.9", "nonsense"} {
		out, err := cli(t, dir, "vnet-gateway", "reset", "-g", "rs", "-n", "aa-gw", "--gateway-vip", vip)
		if err == nil || !strings.Contains(out, "InvalidParameter") || !strings.Contains(out, vip) {
			t.Fatalf("reset --gateway-vip %s: want InvalidParameter naming it, got err=%v\n%s", vip, err, out)
		}
	}
	if out := run("vnet-gateway", "reset", "-g", "rs", "-n", "aa-gw", "--gateway-vip", second, "-o", "table"); !strings.Contains(out, "aa-gw") {
		t.Fatalf("vnet-gateway reset --gateway-vip:\n%s", out)
	}
}

// waitTill polls cond until it holds, failing the test after d.
func waitTill(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
	}
}
