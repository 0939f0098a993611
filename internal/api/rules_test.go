package api

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// ruleCase is one request against a freshly built region: the status and
// ARM error code it must get, and optionally more checks.
type ruleCase struct {
	name   string
	req    func(e *env) (method, path string, body any)
	status int
	code   string
	check  func(t *testing.T, e *env, r resp)
}

func runCases(t *testing.T, cases []ruleCase, opts ...envOptions) {
	t.Helper()
	runCasesWith(t, false, cases, opts...)
}

// runParallelCases is runCases with the cases run in parallel, for cases
// that each build a large region.
func runParallelCases(t *testing.T, cases []ruleCase, opts ...envOptions) {
	t.Helper()
	runCasesWith(t, true, cases, opts...)
}

func runCasesWith(t *testing.T, parallel bool, cases []ruleCase, opts ...envOptions) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			e := newEnv(t, opts...)
			m, p, b := c.req(e)
			r := e.do(m, p, b)
			if r.status != c.status || r.code() != c.code {
				t.Fatalf("%s %s: got %d %q, want %d %q\n%s", m, p, r.status, r.code(), c.status, c.code, r.body)
			}
			if c.check != nil {
				c.check(t, e, r)
			}
		})
	}
}

const loc = "westeurope"

func TestR23GatewaySubnet(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "gateway in a subnet not named GatewaySubnet is refused", status: 400, code: "InvalidGatewaySubnetName",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "publicIPAddresses", "pip2"), publicIP(loc, "Dynamic"))
				return "PUT", netPath(subA, "rg", "virtualNetworkGateways", "gw2"), gateway(loc, s.defaultSubnet, netPath(subA, "rg", "publicIPAddresses", "pip2"), "RouteBased", "VpnGw1")
			}},
		{name: "a subnet named gatewaysubnet in another case is refused", status: 400, code: "InvalidGatewaySubnetName",
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.0.0.0/16"}, subnet("gatewaysubnet", "10.0.1.0/27"))
			}},
		{name: "GatewaySubnet smaller than /29 is refused", status: 400, code: "GatewaySubnetTooSmall",
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.0.0.0/16"}, subnet("GatewaySubnet", "10.0.1.0/30"))
			}},
		{name: "GatewaySubnet of /29 is accepted with a warning", status: 201,
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.0.0.0/16"}, subnet("GatewaySubnet", "10.0.1.0/29"))
			},
			check: func(t *testing.T, _ *env, r resp) {
				if w := r.header.Get("Warning"); !strings.Contains(w, "/28") {
					t.Fatalf("Warning header = %q, want the /28 recommendation", w)
				}
			}},
		{name: "GatewaySubnet of /28 is accepted without a warning", status: 201,
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v") + "", vnet(loc, []string{"10.0.0.0/16"}, subnet("GatewaySubnet", "10.0.1.0/28"))
			},
			check: func(t *testing.T, _ *env, r resp) {
				if w := r.header.Get("Warning"); w != "" {
					t.Fatalf("unexpected warning %q", w)
				}
			}},
		{name: "GatewaySubnet as a child resource gets the same check", status: 400, code: "GatewaySubnetTooSmall",
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				e.must("PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.0.0.0/16"}))
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v") + "/subnets/GatewaySubnet", obj{"properties": obj{"addressPrefix": "10.0.0.0/30"}}
			}},
		{name: "a network interface in the GatewaySubnet is refused", status: 400, code: "NetworkInterfaceInGatewaySubnet",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg", "networkInterfaces", "n"), nic(loc, s.gwSubnet, "")
			}},
	})
}

func TestR20PublicIPAllocatedWithTheGateway(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	v := netPath(subA, "rg", "virtualNetworks", "v")
	e.must("PUT", v, vnet(loc, []string{"10.0.0.0/16"}, subnet("GatewaySubnet", "10.0.255.0/27")))
	pip := netPath(subA, "rg", "publicIPAddresses", "pip")
	if r := e.must("PUT", pip, publicIP(loc, "Dynamic")); r.str("properties.ipAddress") != "" {
		t.Fatalf("a Dynamic public IP has an address before its gateway exists: %s", r.body)
	}
	gw := netPath(subA, "rg", "virtualNetworkGateways", "gw")
	e.must("PUT", gw, gateway(loc, v+"/subnets/GatewaySubnet", pip, "RouteBased", "VpnGw1"))
	first := e.must("GET", pip, nil).str("properties.ipAddress")
	a, err := netip.ParseAddr(first)
	if err != nil || !netip.MustParsePrefix("127.10.0.0/24").Contains(a) {
		t.Fatalf("gateway's address %q is not from the pool", first)
	}
	if r := e.do("DELETE", pip, nil); r.status != 409 || r.code() != "PublicIPAddressInUse" {
		t.Fatalf("deleting a public IP in use: %d %s", r.status, r.body)
	}
	e.must("DELETE", gw, nil)
	if got := e.must("GET", pip, nil).str("properties.ipAddress"); got != "" {
		t.Fatalf("the address %s was not released with the gateway", got)
	}
	e.must("PUT", gw, gateway(loc, v+"/subnets/GatewaySubnet", pip, "RouteBased", "VpnGw1"))
	second := e.must("GET", pip, nil).str("properties.ipAddress")
	if second == "" || second == first {
		t.Fatalf("the gateway created again got %q, want an address other than %s", second, first)
	}
}

func TestR20PublicIPRules(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "a public IP used by one gateway cannot serve a second", status: 409, code: "PublicIPAddressInUse",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg2", "virtualNetworkGateways", "gw3"), gateway(loc, b.gwSubnet, a.pip, "RouteBased", "VpnGw1")
			}},
		{name: "a Static public IP gets its address at once", status: 201,
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				return "PUT", netPath(subA, "rg", "publicIPAddresses", "p"), publicIP(loc, "Static")
			},
			check: func(t *testing.T, _ *env, r resp) {
				if r.str("properties.ipAddress") == "" {
					t.Fatalf("no address: %s", r.body)
				}
			}},
		{name: "the pool running out is a clear conflict", status: 409, code: "PublicIPAddressPoolExhausted",
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				for i := range 6 {
					e.must("PUT", netPath(subA, "rg", "publicIPAddresses", fmt.Sprint("p", i)), publicIP(loc, "Static"))
				}
				return "PUT", netPath(subA, "rg", "publicIPAddresses", "one-too-many"), publicIP(loc, "Static")
			}},
		{name: "a PUT that leaves out the SKU and method keeps them, and the address", status: 200,
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				p := netPath(subA, "rg", "publicIPAddresses", "p")
				e.must("PUT", p, obj{"location": loc, "sku": obj{"name": "Standard"}})
				return "PUT", p, obj{"location": loc, "tags": obj{"env": "prod"}}
			},
			check: func(t *testing.T, e *env, r resp) {
				was := e.must("GET", netPath(subA, "rg", "publicIPAddresses", "p"), nil)
				if r.str("sku.name") != "Standard" || r.str("properties.publicIPAllocationMethod") != "Static" || r.str("properties.ipAddress") == "" ||
					was.str("properties.ipAddress") != r.str("properties.ipAddress") {
					t.Fatalf("after a PUT without sku: %s", r.body)
				}
			}},
		{name: "a Standard public IP cannot go back to Basic", status: 400, code: "PublicIPAddressSkuCannotBeDowngraded",
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				p := netPath(subA, "rg", "publicIPAddresses", "p")
				e.must("PUT", p, obj{"location": loc, "sku": obj{"name": "Standard"}})
				return "PUT", p, obj{"location": loc, "sku": obj{"name": "Basic"}, "properties": obj{"publicIPAllocationMethod": "Static"}}
			}},
		{name: "a public IP in use is not upgraded to Standard", status: 409, code: "PublicIPAddressInUse",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", a.pip, obj{"location": loc, "sku": obj{"name": "Standard"}}
			}},
	}, envOptions{pool: "127.10.0.0/29"}) // six usable addresses
}

// TestPublicIPIdleTimeout: a public IP's idleTimeoutInMinutes is from 4 to
// 30 and 4 when left out, as Azure's is; a value outside is refused, not
// stored.
func TestPublicIPIdleTimeout(t *testing.T) {
	withIdle := func(idle any) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			e.must("PUT", rgPath(subA, "rg"), group(loc))
			return "PUT", netPath(subA, "rg", "publicIPAddresses", "p"), obj{"location": loc, "properties": obj{"idleTimeoutInMinutes": idle}}
		}
	}
	idleIs := func(want float64) func(t *testing.T, e *env, r resp) {
		return func(t *testing.T, e *env, r resp) {
			if got := e.must("GET", netPath(subA, "rg", "publicIPAddresses", "p"), nil).field("properties.idleTimeoutInMinutes"); got != want {
				t.Fatalf("idleTimeoutInMinutes = %v, want %v", got, want)
			}
		}
	}
	refused := func(t *testing.T, e *env, r resp) {
		if !strings.Contains(r.str("error.message"), "between 4 and 30") || r.str("error.target") != "properties.idleTimeoutInMinutes" {
			t.Fatalf("the refusal does not say what is allowed: %s", r.body)
		}
		if g := e.do("GET", netPath(subA, "rg", "publicIPAddresses", "p"), nil); g.status != 404 {
			t.Fatalf("a refused public IP was stored: %d %s", g.status, g.body)
		}
	}
	runCases(t, []ruleCase{
		{name: "left out is 4", status: 201, req: func(e *env) (string, string, any) {
			e.must("PUT", rgPath(subA, "rg"), group(loc))
			return "PUT", netPath(subA, "rg", "publicIPAddresses", "p"), publicIP(loc, "Dynamic")
		}, check: idleIs(4)},
		{name: "4 is taken", status: 201, req: withIdle(4), check: idleIs(4)},
		{name: "30 is taken", status: 201, req: withIdle(30), check: idleIs(30)},
		{name: "3 is refused", status: 400, code: "PublicIPIdleTimeoutIsOutOfRange", req: withIdle(3), check: refused},
		{name: "31 is refused", status: 400, code: "PublicIPIdleTimeoutIsOutOfRange", req: withIdle(31), check: refused},
		{name: "0 is refused", status: 400, code: "PublicIPIdleTimeoutIsOutOfRange", req: withIdle(0), check: refused},
		{name: "-1 is refused", status: 400, code: "PublicIPIdleTimeoutIsOutOfRange", req: withIdle(-1), check: refused},
	})
}

// TestRefusedNotIgnored: settings of Azure's that change what a tunnel
// does and that vnetgw cannot honour are refused, not stored and shown
// back as if they took effect: a connection's useLocalAzureIpAddress (a
// tunnel from the gateway's private address) and tunnelProperties (each
// tunnel's gateway and BGP addresses), a gateway's adminState Disabled
// (its tunnels down) and enablePrivateIpAddress (an address reached over
// ExpressRoute).
func TestRefusedNotIgnored(t *testing.T) {
	conn := func(local any) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			l := e.lng(s, "onprem", "203.0.113.1", "192.168.0.0/16")
			c := s2s(loc, s.gw, l)
			c["properties"].(obj)["useLocalAzureIpAddress"] = local
			return "PUT", netPath(subA, "rg", "connections", "c"), c
		}
	}
	gw := func(state string) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
			g["properties"].(obj)["adminState"] = state
			return "PUT", s.gw, g
		}
	}
	tunnels := func(props any) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			l := e.lng(s, "onprem", "203.0.113.1", "192.168.0.0/16")
			c := s2s(loc, s.gw, l)
			c["properties"].(obj)["tunnelProperties"] = props
			return "PUT", netPath(subA, "rg", "connections", "c"), c
		}
	}
	private := func(on bool) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
			g["properties"].(obj)["enablePrivateIpAddress"] = on
			return "PUT", s.gw, g
		}
	}
	names := func(field string) func(t *testing.T, e *env, r resp) {
		return func(t *testing.T, e *env, r resp) {
			if r.str("error.target") != "properties."+field || !strings.Contains(r.str("error.message"), field) {
				t.Fatalf("the refusal does not name %s: %s", field, r.body)
			}
		}
	}
	runCases(t, []ruleCase{
		{name: "a connection with useLocalAzureIpAddress is refused", status: 400, code: "InvalidParameter", req: conn(true), check: names("useLocalAzureIpAddress")},
		{name: "a connection with useLocalAzureIpAddress false is taken, and shown", status: 201, req: conn(false), check: func(t *testing.T, e *env, r resp) {
			if v := e.must("GET", netPath(subA, "rg", "connections", "c"), nil).field("properties.useLocalAzureIpAddress"); v != false {
				t.Errorf("useLocalAzureIpAddress = %#v, want false", v)
			}
		}},
		{name: "a gateway Disabled is refused", status: 400, code: "InvalidParameter", req: gw("Disabled"), check: func(t *testing.T, e *env, r resp) {
			names("adminState")(t, e, r)
			if st := e.must("GET", netPath(subA, "rg", "virtualNetworkGateways", "gw"), nil).str("properties.adminState"); st != "" {
				t.Fatalf("the refused adminState was stored: %q", st)
			}
		}},
		{name: "a connection with tunnelProperties is refused", status: 400, code: "InvalidParameter", check: names("tunnelProperties"),
			req: tunnels([]obj{{"tunnelIpAddress": "20.1.2.3", "bgpPeeringAddress": "169.254.21.1"}})},
		{name: "a connection with no tunnelProperties is taken", status: 201, req: tunnels([]obj{})},
		{name: "a gateway with enablePrivateIpAddress is refused", status: 400, code: "InvalidParameter", req: private(true), check: func(t *testing.T, e *env, r resp) {
			names("enablePrivateIpAddress")(t, e, r)
			if on := e.must("GET", netPath(subA, "rg", "virtualNetworkGateways", "gw"), nil).field("properties.enablePrivateIpAddress"); on != false {
				t.Fatalf("the refused enablePrivateIpAddress was stored: %v", on)
			}
		}},
		{name: "a gateway with enablePrivateIpAddress false is taken", status: 200, req: private(false)},
		{name: "a gateway Enabled is taken", status: 200, req: gw("enabled"), check: func(t *testing.T, e *env, r resp) {
			if st := r.str("properties.adminState"); st != "Enabled" {
				t.Fatalf("adminState %q, want Enabled", st)
			}
		}},
	})
}

// TestDisableIPSecReplayProtection: a gateway's disableIPSecReplayProtection
// is stored and shown back, false when left out, as Azure's is; the data
// plane turns ESP anti-replay off with it (tunnel's
// TestNoReplayCheckRFC4303Section3_4_3).
func TestDisableIPSecReplayProtection(t *testing.T) {
	gw := func(off any) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
			if off != nil {
				g["properties"].(obj)["disableIPSecReplayProtection"] = off
			}
			return "PUT", s.gw, g
		}
	}
	shown := func(want bool) func(t *testing.T, e *env, r resp) {
		return func(t *testing.T, e *env, r resp) {
			got := e.must("GET", netPath(subA, "rg", "virtualNetworkGateways", "gw"), nil)
			if v, ok := got.field("properties.disableIPSecReplayProtection").(bool); !ok || v != want {
				t.Fatalf("disableIPSecReplayProtection %v, want %v: %s", got.field("properties.disableIPSecReplayProtection"), want, got.body)
			}
		}
	}
	runCases(t, []ruleCase{
		{name: "true is taken and shown", status: 200, req: gw(true), check: shown(true)},
		{name: "false is taken and shown", status: 200, req: gw(false), check: shown(false)},
		{name: "left out is false", status: 200, req: gw(nil), check: shown(false)},
	})
}

// TestGatewaySettingsKeptOrRefused: a gateway's settings of Azure's are not
// dropped. Those that change nothing vnetgw does are kept and shown, as
// ARM shows them (allowRemoteVnetTraffic and allowVirtualWanTraffic false
// when left out, resiliencyModel, an ErGwScale gateway's
// autoScaleConfiguration); those it cannot honour are refused naming the
// field, and the gateway stays as it was: enableDnsForwarding true,
// virtualNetworkGatewayPolicyGroups, autoScaleConfiguration on another SKU,
// Azure AD point-to-site settings (aadTenant alone asks for it) and
// vngClientConnectionConfigurations.
func TestGatewaySettingsKeptOrRefused(t *testing.T) {
	gwPath := netPath(subA, "rg", "virtualNetworkGateways", "gw")
	vpn := func(set obj) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
			maps.Copy(g["properties"].(obj), set)
			return "PUT", s.gw, g
		}
	}
	er := func(sku string, set obj) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			e.must("PUT", rgPath(subA, "rg"), group(loc))
			e.must("PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.1.0.0/16"}, subnet("GatewaySubnet", "10.1.255.0/27")))
			pip := netPath(subA, "rg", "publicIPAddresses", "er-pip")
			e.must("PUT", pip, publicIP(loc, "Dynamic"))
			g := gateway(loc, netPath(subA, "rg", "virtualNetworks", "v")+"/subnets/GatewaySubnet", pip, "", sku)
			g["properties"].(obj)["gatewayType"] = "ExpressRoute"
			maps.Copy(g["properties"].(obj), set)
			return "PUT", gwPath, g
		}
	}
	shown := func(want map[string]any) func(t *testing.T, e *env, r resp) {
		return func(t *testing.T, e *env, r resp) {
			got := e.must("GET", gwPath, nil)
			for f, w := range want {
				if v := got.field("properties." + f); !reflect.DeepEqual(v, w) {
					t.Errorf("%s = %#v, want %#v: %s", f, v, w, got.body)
				}
			}
		}
	}
	refused := func(field string) func(t *testing.T, e *env, r resp) {
		return func(t *testing.T, e *env, r resp) {
			last := field[strings.LastIndex(field, ".")+1:]
			if r.str("error.target") != "properties."+field || !strings.Contains(r.str("error.message"), last) {
				t.Fatalf("the refusal does not name %s: %s", field, r.body)
			}
			if g := e.do("GET", gwPath, nil); g.status == 200 && g.field("properties."+field) != nil {
				t.Fatalf("the refused %s was stored: %s", field, g.body)
			}
		}
	}
	p2s := func(set obj) obj {
		c := obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.16.0.0/24"}}}
		maps.Copy(c, set)
		return obj{"vpnClientConfiguration": c}
	}
	runCases(t, []ruleCase{
		{name: "allowRemoteVnetTraffic, allowVirtualWanTraffic, enablePrivateIpAddress and enableBgpRouteTranslationForNat are shown false when left out", status: 200, req: vpn(nil),
			check: shown(map[string]any{"allowRemoteVnetTraffic": false, "allowVirtualWanTraffic": false, "enablePrivateIpAddress": false, "enableBgpRouteTranslationForNat": false})},
		{name: "allowRemoteVnetTraffic and allowVirtualWanTraffic are kept", status: 200,
			req:   vpn(obj{"allowRemoteVnetTraffic": true, "allowVirtualWanTraffic": true}),
			check: shown(map[string]any{"allowRemoteVnetTraffic": true, "allowVirtualWanTraffic": true})},
		{name: "enableDnsForwarding true is refused", status: 400, code: "InvalidParameter",
			req: vpn(obj{"enableDnsForwarding": true}), check: refused("enableDnsForwarding")},
		{name: "enableDnsForwarding false is taken", status: 200, req: vpn(obj{"enableDnsForwarding": false})},
		{name: "resiliencyModel is kept in its canonical case", status: 201, req: er("ErGw1AZ", obj{"resiliencyModel": "multihomed"}),
			check: shown(map[string]any{"resiliencyModel": "MultiHomed"})},
		{name: "an unknown resiliencyModel is refused", status: 400, code: "InvalidParameter",
			req: vpn(obj{"resiliencyModel": "TripleHomed"}), check: refused("resiliencyModel")},
		{name: "an ErGwScale gateway's autoScaleConfiguration is kept", status: 201,
			req:   er("ErGwScale", obj{"autoScaleConfiguration": obj{"bounds": obj{"min": 2, "max": 5}}}),
			check: shown(map[string]any{"autoScaleConfiguration": map[string]any{"bounds": map[string]any{"min": 2.0, "max": 5.0}}})},
		{name: "autoScaleConfiguration with min above max is refused", status: 400, code: "InvalidParameter",
			req: er("ErGwScale", obj{"autoScaleConfiguration": obj{"bounds": obj{"min": 5, "max": 2}}}), check: refused("autoScaleConfiguration.bounds")},
		{name: "autoScaleConfiguration on a VPN gateway is refused", status: 400, code: "InvalidParameter",
			req: vpn(obj{"autoScaleConfiguration": obj{"bounds": obj{"min": 2, "max": 5}}}), check: refused("autoScaleConfiguration")},
		{name: "virtualNetworkGatewayPolicyGroups are refused", status: 400, code: "InvalidParameter",
			req: vpn(obj{"virtualNetworkGatewayPolicyGroups": []obj{{"name": "g", "properties": obj{"isDefault": true, "priority": 0,
				"policyMembers": []obj{{"name": "m", "attributeType": "CertificateGroupId", "attributeValue": "x"}}}}}}),
			check: refused("virtualNetworkGatewayPolicyGroups")},
		{name: "no virtualNetworkGatewayPolicyGroups is taken", status: 200, req: vpn(obj{"virtualNetworkGatewayPolicyGroups": []obj{}})},
		{name: "aadTenant alone (Azure AD clients) is refused", status: 400, code: "InvalidParameter",
			req:   vpn(p2s(obj{"aadTenant": "https://login.microsoftonline.com/t/", "aadAudience": "41b23e61-6c1e-4545-b367-cd054e0ed4b4", "aadIssuer": "https://sts.windows.net/t/"})),
			check: refused("vpnClientConfiguration.aadTenant")},
		{name: "vngClientConnectionConfigurations are refused", status: 400, code: "InvalidParameter",
			req:   vpn(p2s(obj{"vngClientConnectionConfigurations": []obj{{"name": "c", "properties": obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.17.0.0/24"}}}}}})),
			check: refused("vpnClientConfiguration.vngClientConnectionConfigurations")},
		{name: "a gateway as GET shows it is taken back", status: 200, req: func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			var g obj
			if err := json.Unmarshal(e.must("GET", s.gw, nil).body, &g); err != nil {
				t.Fatal(err)
			}
			return "PUT", s.gw, g
		}},
	})
}

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

func TestR21R38SharedKeys(t *testing.T) {
	build := func(e *env) (site, string) {
		s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
		l := e.lng(s, "onprem", "203.0.113.1", "192.168.0.0/16")
		c := netPath(subA, "rg", "connections", "c")
		e.must("PUT", c, s2s(loc, s.gw, l))
		return s, c
	}
	t.Run("each connection gets its own generated key", func(t *testing.T) {
		e := newEnv(t)
		s, c1 := build(e)
		l2 := e.lng(s, "onprem2", "203.0.113.2", "172.16.0.0/16")
		c2 := netPath(subA, "rg", "connections", "c2")
		e.must("PUT", c2, s2s(loc, s.gw, l2))
		k1, k2 := e.must("GET", c1+"/sharedkey", nil).str("value"), e.must("GET", c2+"/sharedkey", nil).str("value")
		if len(k1) != 32 || !alnum.MatchString(k1) || k1 == k2 {
			t.Fatalf("generated keys %q and %q: want two different 32-character alphanumeric keys", k1, k2)
		}
		if r := e.must("GET", c1, nil); strings.Contains(string(r.body), k1) || r.field("properties.sharedKey") != nil {
			t.Fatalf("GET of the connection shows its key: %s", r.body)
		}
	})
	t.Run("set replaces the key and an update without a key keeps it", func(t *testing.T) {
		e := newEnv(t)
		s, c := build(e)
		e.must("PUT", c+"/sharedkey", obj{"value": "abc123"})
		l := netPath(subA, "rg", "localNetworkGateways", "onprem")
		e.must("PUT", c, s2s(loc, s.gw, l)) // no sharedKey in the body
		if k := e.must("GET", c+"/sharedkey", nil).str("value"); k != "abc123" {
			t.Fatalf("key = %q, want abc123", k)
		}
	})
	t.Run("reset makes a new key of the asked length", func(t *testing.T) {
		e := newEnv(t)
		_, c := build(e)
		old := e.must("GET", c+"/sharedkey", nil).str("value")
		r := e.must("POST", c+"/sharedkey/reset", obj{"keyLength": 64})
		if r.field("keyLength") != float64(64) {
			t.Fatalf("reset answered %s", r.body)
		}
		k := e.must("GET", c+"/sharedkey", nil).str("value")
		if len(k) != 64 || k == old || !alnum.MatchString(k) {
			t.Fatalf("after reset the key is %q (was %q)", k, old)
		}
	})
	bad := func(name, method, suffix string, body any, code string) ruleCase {
		return ruleCase{name: name, status: 400, code: code, req: func(e *env) (string, string, any) {
			_, c := build(e)
			return method, c + suffix, body
		}}
	}
	runCases(t, []ruleCase{
		bad("an empty key is refused", "PUT", "/sharedkey", obj{"value": ""}, "InvalidSharedKey"),
		bad("a key of 129 characters is refused", "PUT", "/sharedkey", obj{"value": strings.Repeat("a", 129)}, "InvalidSharedKey"),
		bad("a key with punctuation is refused", "PUT", "/sharedkey", obj{"value": "not-alnum!"}, "InvalidSharedKey"),
		{name: "a key with a space is refused in the connection body", status: 400, code: "InvalidSharedKey", req: func(e *env) (string, string, any) {
			s, c := build(e)
			body := s2s(loc, s.gw, netPath(subA, "rg", "localNetworkGateways", "onprem"))
			body["properties"].(obj)["sharedKey"] = "a b"
			return "PUT", c, body
		}},
		bad("keyLength 0 is refused", "POST", "/sharedkey/reset", obj{"keyLength": 0}, "InvalidSharedKeyLength"),
		bad("keyLength 129 is refused", "POST", "/sharedkey/reset", obj{"keyLength": 129}, "InvalidSharedKeyLength"),
		{name: "a key of 128 letters and digits is accepted", status: 200, req: func(e *env) (string, string, any) {
			_, c := build(e)
			return "PUT", c + "/sharedkey", obj{"value": strings.Repeat("aZ9", 42) + "xy"}
		}},
		{name: "the key of a missing connection is not found", status: 404, code: "ResourceNotFound", req: func(e *env) (string, string, any) {
			build(e)
			return "GET", netPath(subA, "rg", "connections", "nope") + "/sharedkey", nil
		}},
	})
}

// TestR25DefaultSiteNeedsRouteBased: forced tunneling's default site is
// a route-based gateway's (R25, as Azure has it): a policy-based one
// negotiates its site's ranges alone, so that the VNet's Internet-bound
// traffic that 0.0.0.0/0 sent it was dropped in its tunnel, while the
// effective routes showed it going to the gateway.
func TestR25DefaultSiteNeedsRouteBased(t *testing.T) {
	withDefaultSite := func(e *env, vpnType, sku string) (string, string, any) {
		s := e.site(subA, "rg", loc, "10.1.0.0/16", vpnType, sku)
		body := gateway(loc, s.gwSubnet, s.pip, vpnType, sku)
		body["properties"].(obj)["gatewayDefaultSite"] = obj{"id": e.lng(s, "l", "203.0.113.9", "192.168.0.0/16")}
		return "PUT", s.gw, body
	}
	runCases(t, []ruleCase{
		{name: "a default site on a policy-based gateway is refused", status: 400, code: "InvalidGatewayDefaultSite",
			req: func(e *env) (string, string, any) { return withDefaultSite(e, "PolicyBased", "Basic") }},
		{name: "a default site on a route-based gateway is taken", status: 200,
			req: func(e *env) (string, string, any) { return withDefaultSite(e, "RouteBased", "VpnGw1") }},
	})
}

func TestR15PointToSite(t *testing.T) {
	p2s := func(e *env, vpnType string) (string, string, any) {
		sku := "VpnGw1"
		if vpnType == "PolicyBased" {
			sku = "Basic"
		}
		s := e.site(subA, "rg", loc, "10.1.0.0/16", vpnType, sku)
		body := gateway(loc, s.gwSubnet, s.pip, vpnType, sku)
		body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientProtocols": []string{"SSTP"}}
		return "PUT", s.gw, body
	}
	runCases(t, []ruleCase{
		{name: "point-to-site on a policy-based gateway is refused", status: 400, code: "PointToSiteNotSupportedOnPolicyBasedGateway",
			req: func(e *env) (string, string, any) { return p2s(e, "PolicyBased") }},
		{name: "point-to-site on a route-based gateway is accepted (R33 with site-to-site)", status: 200,
			req: func(e *env) (string, string, any) {
				m, p, b := p2s(e, "RouteBased")
				s := site{sub: subA, rg: "rg", loc: loc, gw: p}
				e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, e.lng(s, "l", "203.0.113.9", "192.168.0.0/16")))
				return m, p, b
			}},
		{name: "the Basic SKU refuses IKEv2 point-to-site (R32)", status: 400, code: "VpnClientProtocolNotSupportedBySku",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "Basic")
				body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "Basic")
				body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientProtocols": []string{"IkeV2"}}
				return "PUT", s.gw, body
			}},
		{name: "Radius authentication without a RADIUS server is refused", status: 400, code: "InvalidParameter",
			req: func(e *env) (string, string, any) {
				m, p, b := p2s(e, "RouteBased")
				b.(obj)["properties"].(obj)["vpnClientConfiguration"].(obj)["vpnAuthenticationTypes"] = []string{"Certificate", "Radius"}
				return m, p, b
			}},
		{name: "Azure AD authentication of clients is refused by name, not ignored", status: 400, code: "InvalidParameter",
			req: func(e *env) (string, string, any) {
				m, p, b := p2s(e, "RouteBased")
				b.(obj)["properties"].(obj)["vpnClientConfiguration"].(obj)["vpnAuthenticationTypes"] = []string{"AAD"}
				return m, p, b
			}},
		{name: "more than 20 root certificates are refused (R12)", status: 400, code: "TooManyVpnClientRootCertificates",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				var roots []obj
				for i := range 21 {
					roots = append(roots, obj{"name": fmt.Sprint("root", i), "properties": obj{"publicCertData": testRootCert}})
				}
				body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
				body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientRootCertificates": roots}
				return "PUT", s.gw, body
			}},
		{name: "a root certificate that is not a certificate is refused (R12)", status: 400, code: "InvalidVpnClientRootCertificate",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
				body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}},
					"vpnClientRootCertificates": []obj{{"name": "root", "properties": obj{"publicCertData": "bm90IGEgY2VydA=="}}}}
				return "PUT", s.gw, body
			}},
		{name: "twenty valid root certificates are accepted (R12)", status: 200,
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				var roots []obj
				for i := range 20 {
					roots = append(roots, obj{"name": fmt.Sprint("root", i), "properties": obj{"publicCertData": testRootCert}})
				}
				body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
				body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientRootCertificates": roots}
				return "PUT", s.gw, body
			}},
	})
}

// TestR10IKEv2ClientConfiguration: IKEv2 clients need their part of the
// client pool (half of it with SSTP) to be a /30 or larger; their custom
// IPsec/IKE policy (vpnClientIpsecPolicies) is one at most, checked as a
// connection's is, and kept.
func TestR10IKEv2ClientConfiguration(t *testing.T) {
	policy := obj{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "GCMAES256", "ipsecIntegrity": "GCMAES256",
		"ikeEncryption": "GCMAES256", "ikeIntegrity": "SHA384", "dhGroup": "ECP384", "pfsGroup": "None"}
	put := func(e *env, cfg obj) (string, string, any) {
		s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
		body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
		body["properties"].(obj)["vpnClientConfiguration"] = cfg
		return "PUT", s.gw, body
	}
	pool := func(p string) obj { return obj{"addressPrefixes": []string{p}} }
	runCases(t, []ruleCase{
		{name: "a /30 pool split between SSTP and IKEv2 is refused", status: 400, code: "InvalidParameter",
			req: func(e *env) (string, string, any) {
				return put(e, obj{"vpnClientAddressPool": pool("172.31.0.0/30"), "vpnClientProtocols": []string{"SSTP", "IkeV2"}})
			}},
		{name: "a /30 pool for IKEv2 alone is accepted", status: 200,
			req: func(e *env) (string, string, any) {
				return put(e, obj{"vpnClientAddressPool": pool("172.31.0.0/30"), "vpnClientProtocols": []string{"IkeV2"}})
			}},
		{name: "two custom policies are refused", status: 400, code: "InvalidIpsecPolicy",
			req: func(e *env) (string, string, any) {
				return put(e, obj{"vpnClientAddressPool": pool("172.31.0.0/24"), "vpnClientProtocols": []string{"IkeV2"}, "vpnClientIpsecPolicies": []obj{policy, policy}})
			}},
		{name: "a policy with a group vnetgw does not implement is refused at its field", status: 400, code: "InvalidIpsecPolicy",
			req: func(e *env) (string, string, any) {
				bad := obj{}
				for k, v := range policy {
					bad[k] = v
				}
				bad["dhGroup"] = "DHGroup1"
				return put(e, obj{"vpnClientAddressPool": pool("172.31.0.0/24"), "vpnClientProtocols": []string{"IkeV2"}, "vpnClientIpsecPolicies": []obj{bad}})
			},
			check: func(t *testing.T, e *env, r resp) {
				if got := r.str("error.target"); got != "properties.vpnClientConfiguration.vpnClientIpsecPolicies[0].dhGroup" {
					t.Errorf("target %q", got)
				}
			}},
		{name: "a policy with a lifetime over Azure's 172799 s is refused at its field", status: 400, code: "InvalidIpsecPolicy",
			req: func(e *env) (string, string, any) {
				long := maps.Clone(policy)
				long["saLifeTimeSeconds"] = 172800
				return put(e, obj{"vpnClientAddressPool": pool("172.31.0.0/24"), "vpnClientProtocols": []string{"IkeV2"}, "vpnClientIpsecPolicies": []obj{long}})
			},
			check: func(t *testing.T, e *env, r resp) {
				if got := r.str("error.target"); got != "properties.vpnClientConfiguration.vpnClientIpsecPolicies[0].saLifeTimeSeconds" {
					t.Errorf("target %q", got)
				}
			}},
		{name: "a custom policy is kept", status: 200,
			req: func(e *env) (string, string, any) {
				return put(e, obj{"vpnClientAddressPool": pool("172.31.0.0/24"), "vpnClientProtocols": []string{"IkeV2"}, "vpnClientIpsecPolicies": []obj{policy}})
			},
			check: func(t *testing.T, e *env, r resp) {
				if got := r.str("properties.vpnClientConfiguration.vpnClientIpsecPolicies.0.ikeIntegrity"); got != "SHA384" {
					t.Errorf("vpnClientIpsecPolicies not kept: %s", r.body)
				}
			}},
	})
}

func TestR28R29RouteBasedForMultiSiteAndVnet2Vnet(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "VNet-to-VNet from route-based to policy-based is refused", status: 400, code: "Vnet2VnetRequiresRouteBasedGateways",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "PolicyBased", "Basic")
				return "PUT", netPath(subA, "rg", "connections", "c"), v2v(loc, a.gw, b.gw)
			}},
		{name: "VNet-to-VNet from policy-based to route-based is refused", status: 400, code: "Vnet2VnetRequiresRouteBasedGateways",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "PolicyBased", "Basic")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg", "connections", "c"), v2v(loc, a.gw, b.gw)
			}},
		{name: "a second site on a policy-based gateway is refused", status: 409, code: "MultiSiteRequiresRouteBasedGateway",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "PolicyBased", "Basic")
				e.must("PUT", netPath(subA, "rg", "connections", "c1"), s2s(loc, a.gw, e.lng(a, "l1", "203.0.113.1", "192.168.1.0/24")))
				return "PUT", netPath(subA, "rg", "connections", "c2"), s2s(loc, a.gw, e.lng(a, "l2", "203.0.113.2", "192.168.2.0/24"))
			}},
		{name: "a route-based gateway connects three sites (R3)", status: 201,
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c1"), s2s(loc, a.gw, e.lng(a, "l1", "203.0.113.1", "192.168.1.0/24")))
				e.must("PUT", netPath(subA, "rg", "connections", "c2"), s2s(loc, a.gw, e.lng(a, "l2", "203.0.113.2", "192.168.2.0/24")))
				return "PUT", netPath(subA, "rg", "connections", "c3"), s2s(loc, a.gw, e.lng(a, "l3", "203.0.113.3", "192.168.3.0/24"))
			},
			check: func(t *testing.T, e *env, _ resp) {
				r := e.must("GET", rgPath(subA, "rg")+"/providers/Microsoft.Network/connections", nil)
				if n := len(r.field("value").([]any)); n != 3 {
					t.Fatalf("%d connections listed, want 3", n)
				}
			}},
	})
}

// manySites connects n sites to gateway s.gw.
func manySites(e *env, s site, n int) {
	for i := range n {
		l := e.lng(s, fmt.Sprint("l", i), fmt.Sprintf("203.0.113.%d", i+1), fmt.Sprintf("192.168.%d.0/24", i))
		e.must("PUT", netPath(s.sub, s.rg, "connections", fmt.Sprint("c", i)), s2s(s.loc, s.gw, l))
	}
}

func TestR32TunnelLimits(t *testing.T) {
	limit := func(sku string, n int) ruleCase {
		return ruleCase{name: fmt.Sprintf("%s holds %d tunnels and not one more", sku, n), status: 409, code: "TunnelLimitExceeded",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", sku)
				manySites(e, s, n)
				return "PUT", netPath(subA, "rg", "connections", "extra"), s2s(loc, s.gw, e.lng(s, "extra", "198.51.100.1", "172.16.0.0/24"))
			}}
	}
	// resize makes a gateway of SKU from and PUTs it again with to.
	resize := func(from, to string) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", from)
			return "PUT", s.gw, gateway(loc, s.gwSubnet, s.pip, "RouteBased", to)
		}
	}
	runParallelCases(t, []ruleCase{
		limit("Basic", 10),
		limit("Standard", 10),
		limit("HighPerformance", 30),
		limit("VpnGw1", 30),
		limit("VpnGw2", 30),
		limit("VpnGw3", 30),
		limit("VpnGw4", 100),
		limit("VpnGw5", 100),
		limit("VpnGw1AZ", 30),
		limit("VpnGw2AZ", 30),
		limit("VpnGw3AZ", 30),
		limit("VpnGw4AZ", 100),
		limit("VpnGw5AZ", 100),
		{name: "a gateway cannot shrink to a SKU its tunnels do not fit", status: 409, code: "TunnelLimitExceeded",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "HighPerformance")
				manySites(e, s, 11)
				return "PUT", s.gw, gateway(loc, s.gwSubnet, s.pip, "RouteBased", "Standard")
			}},
		{name: "a gateway is resized within its SKU family", status: 200, req: resize("VpnGw1AZ", "VpnGw3AZ")},
		{name: "a gateway is not resized to another SKU family", status: 400, code: "GatewaySkuCannotBeResized", req: resize("VpnGw1", "VpnGw1AZ")},
		{name: "a Basic gateway is not resized", status: 400, code: "GatewaySkuCannotBeResized", req: resize("Basic", "Standard")},
		{name: "a gateway PUT without a SKU keeps the gateway's", status: 200,
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "HighPerformance")
				g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "")
				delete(g["properties"].(obj), "sku")
				return "PUT", s.gw, g
			},
			check: func(t *testing.T, _ *env, r resp) {
				if r.str("properties.sku.name") != "HighPerformance" {
					t.Fatalf("after a PUT without sku: %s", r.body)
				}
			}},
		{name: "an unknown SKU is refused", status: 400, code: "InvalidGatewaySku",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", s.gw, gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw9")
			}},
	})
}

func TestR34OneTunnelPerSite(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "a second connection from a gateway to the same site is refused", status: 409, code: "DuplicateConnection",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				l := e.lng(s, "l", "203.0.113.1", "192.168.0.0/16")
				e.must("PUT", netPath(subA, "rg", "connections", "c1"), s2s(loc, s.gw, l))
				return "PUT", netPath(subA, "rg", "connections", "c2"), s2s(loc, s.gw, l)
			}},
		{name: "a second VNet-to-VNet connection to the same gateway is refused", status: 409, code: "DuplicateConnection",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c1"), v2v(loc, a.gw, b.gw))
				return "PUT", netPath(subA, "rg", "connections", "c2"), v2v(loc, a.gw, b.gw)
			}},
		{name: "a second site on the same device address is refused", status: 409, code: "DuplicateConnection",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c1"), s2s(loc, s.gw, e.lng(s, "l1", "203.0.113.1", "192.168.0.0/16")))
				return "PUT", netPath(subA, "rg", "connections", "c2"), s2s(loc, s.gw, e.lng(s, "l2", "203.0.113.1", "172.16.0.0/16"))
			}},
		{name: "a second site on the same device name is refused", status: 409, code: "DuplicateConnection",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				byName := func(name, fqdn, prefix string) string {
					p := netPath(subA, "rg", "localNetworkGateways", name)
					e.must("PUT", p, obj{"location": loc, "properties": obj{"fqdn": fqdn, "localNetworkAddressSpace": obj{"addressPrefixes": []string{prefix}}}})
					return p
				}
				e.must("PUT", netPath(subA, "rg", "connections", "c1"), s2s(loc, s.gw, byName("l1", "branch.example.com", "192.168.0.0/16")))
				return "PUT", netPath(subA, "rg", "connections", "c2"), s2s(loc, s.gw, byName("l2", "Branch.Example.com", "172.16.0.0/16"))
			}},
		// A VNet-to-VNet connection's tunnels go to the public addresses
		// of its remote gateway: a site at one of them is that device
		// again, and the data plane keeps one tunnel per address (the
		// other connection, whichever sorts first, is left down).
		{name: "a site at the device of a gateway connected VNet-to-VNet is refused", status: 409, code: "DuplicateConnection",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "v2v"), v2v(loc, a.gw, b.gw))
				ip := e.must("GET", b.pip, nil).str("properties.ipAddress")
				return "PUT", netPath(subA, "rg", "connections", "a"), s2s(loc, a.gw, e.lng(a, "l", ip, "192.168.0.0/16"))
			}},
		{name: "a VNet-to-VNet connection to the gateway a connected site is at is refused", status: 409, code: "DuplicateConnection",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				ip := e.must("GET", b.pip, nil).str("properties.ipAddress")
				e.must("PUT", netPath(subA, "rg", "connections", "s2s"), s2s(loc, a.gw, e.lng(a, "l", ip, "192.168.0.0/16")))
				return "PUT", netPath(subA, "rg", "connections", "v2v"), v2v(loc, a.gw, b.gw)
			}},
		{name: "a site whose device moves onto a gateway connected VNet-to-VNet is refused", status: 409, code: "DuplicateConnection",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "v2v"), v2v(loc, a.gw, b.gw))
				e.must("PUT", netPath(subA, "rg", "connections", "s2s"), s2s(loc, a.gw, e.lng(a, "l", "203.0.113.1", "192.168.0.0/16")))
				ip := e.must("GET", b.pip, nil).str("properties.ipAddress")
				return "PUT", netPath(subA, "rg", "localNetworkGateways", "l"), localGateway(loc, ip, "192.168.0.0/16")
			}},
		{name: "VNet-to-VNet connections to two gateways are fine", status: 201,
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				c := e.site(subA, "rg3", loc, "10.3.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c1"), v2v(loc, a.gw, b.gw))
				return "PUT", netPath(subA, "rg", "connections", "c2"), v2v(loc, a.gw, c.gw)
			}},
		{name: "updating the one connection is fine", status: 200,
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				l := e.lng(s, "l", "203.0.113.1", "192.168.0.0/16")
				e.must("PUT", netPath(subA, "rg", "connections", "c1"), s2s(loc, s.gw, l))
				return "PUT", netPath(subA, "rg", "connections", "c1"), s2s(loc, s.gw, l)
			}},
	})
}

// TestIPsecPolicy covers custom IPsec/IKE policies: what Azure accepts and
// vnetgw implements, and what it refuses with InvalidIpsecPolicy.
func TestIPsecPolicy(t *testing.T) {
	policy := func(change func(obj)) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			c := s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16"))
			pol := obj{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "GCMAES256",
				"ipsecIntegrity": "GCMAES256", "ikeEncryption": "AES256", "ikeIntegrity": "SHA256", "dhGroup": "DHGroup14", "pfsGroup": "None"}
			change(pol)
			c["properties"].(obj)["ipsecPolicies"] = []obj{pol}
			return "PUT", netPath(subA, "rg", "connections", "c"), c
		}
	}
	set := func(kv ...any) func(obj) {
		return func(p obj) {
			for i := 0; i < len(kv); i += 2 {
				p[kv[i].(string)] = kv[i+1]
			}
		}
	}
	runCases(t, []ruleCase{
		{name: "a GCM policy is accepted", status: 201, req: policy(set())},
		{name: "IKE GCM with a SHA-384 PRF is accepted", status: 201, req: policy(set("ikeEncryption", "GCMAES256", "ikeIntegrity", "SHA384", "dhGroup", "ECP384", "pfsGroup", "ECP384"))},
		{name: "CBC with HMAC is accepted", status: 201, req: policy(set("ipsecEncryption", "AES256", "ipsecIntegrity", "SHA256", "pfsGroup", "PFS2048")),
			check: func(t *testing.T, _ *env, r resp) {
				if w := r.header.Get("Warning"); w != "" {
					t.Errorf("Warning %q for strong groups", w)
				}
			}},
		{name: "group 2 is accepted with a warning that it is weak", status: 201, req: policy(set("dhGroup", "DHGroup2")),
			check: func(t *testing.T, _ *env, r resp) {
				if w := r.header.Get("Warning"); !strings.Contains(w, "DHGroup2") || !strings.Contains(w, "weak") {
					t.Errorf("Warning %q, want DHGroup2 called weak", w)
				}
			}},
		{name: "IPsec GCM with another integrity is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("ipsecIntegrity", "SHA256"))},
		{name: "IKE integrity GCM without GCM encryption is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("ikeIntegrity", "GCMAES256"))},
		{name: "DES is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("ikeEncryption", "DES3"))},
		{name: "MD5 is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("ipsecEncryption", "AES128", "ipsecIntegrity", "MD5"))},
		{name: "no encryption is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("ipsecEncryption", "None", "ipsecIntegrity", "SHA256"))},
		{name: "no Diffie-Hellman group for IKE is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("dhGroup", "None"))},
		{name: "DH group 1 is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("dhGroup", "DHGroup1"))},
		{name: "a lifetime under 300 s is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("saLifeTimeSeconds", 299))},
		{name: "a lifetime of 172799 s, Azure's longest, is accepted", status: 201, req: policy(set("saLifeTimeSeconds", 172799))},
		{name: "a lifetime over 172799 s is refused, naming the bounds", status: 400, code: "InvalidIpsecPolicy", req: policy(set("saLifeTimeSeconds", 172800)),
			check: func(t *testing.T, _ *env, r resp) {
				if b := string(r.body); !strings.Contains(b, "properties.ipsecPolicies[0].saLifeTimeSeconds") || !strings.Contains(b, "between 300 and 172799") {
					t.Errorf("error %s, want the field and its bounds named", b)
				}
			}},
		{name: "a lifetime of 68 years is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("saLifeTimeSeconds", math.MaxInt32))},
		{name: "a missing algorithm is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(func(p obj) { delete(p, "dhGroup") })},
		{name: "an unknown algorithm is refused", status: 400, code: "InvalidIpsecPolicy", req: policy(set("ikeEncryption", "ROT13"))},
	})
}

func TestR35NoOverlappingAddressSpaces(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "a site overlapping the VNet cannot be connected (R43)", status: 409, code: "AddressSpaceOverlap",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "10.1.128.0/17"))
			}},
		{name: "two overlapping sites cannot both be connected", status: 409, code: "AddressSpaceOverlap",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c1"), s2s(loc, s.gw, e.lng(s, "l1", "203.0.113.1", "192.168.0.0/16")))
				return "PUT", netPath(subA, "rg", "connections", "c2"), s2s(loc, s.gw, e.lng(s, "l2", "203.0.113.2", "192.168.7.0/24"))
			}},
		{name: "overlapping VNets cannot be connected VNet-to-VNet", status: 409, code: "AddressSpaceOverlap",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg", "connections", "c"), v2v(loc, a.gw, b.gw)
			}},
		{name: "a connected site cannot change its ranges to overlap the VNet", status: 409, code: "AddressSpaceOverlap",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				l := e.lng(s, "l", "203.0.113.1", "192.168.0.0/16")
				e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, l))
				return "PUT", l, localGateway(loc, "203.0.113.1", "192.168.0.0/16", "10.1.5.0/24")
			}},
		{name: "a connected VNet cannot grow into a site's ranges", status: 409, code: "AddressSpaceOverlap",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16")))
				return "PUT", s.vnet, vnet(loc, []string{"10.1.0.0/16", "192.168.4.0/24"}, subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27"))
			}},
		{name: "a VNet cannot grow into the VNet it is connected to", status: 409, code: "AddressSpaceOverlap",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg2", "connections", "c"), v2v(loc, b.gw, a.gw))
				return "PUT", a.vnet, vnet(loc, []string{"10.1.0.0/16", "10.2.128.0/17"}, subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27"))
			}},
		{name: "a connected VNet cannot grow into a site of the gateway it is connected to", status: 409, code: "AddressSpaceOverlap",
			req: func(e *env) (string, string, any) {
				// Only a's connection joins b's VNet to a's site: the
				// update of b's VNet is checked at a's gateway.
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "site"), s2s(loc, a.gw, e.lng(a, "l", "203.0.113.1", "192.168.0.0/16")))
				e.must("PUT", netPath(subA, "rg", "connections", "ab"), v2v(loc, a.gw, b.gw))
				return "PUT", b.vnet, vnet(loc, []string{"10.2.0.0/16", "192.168.9.0/24"}, subnet("default", "10.2.0.0/24"), subnet("GatewaySubnet", "10.2.255.0/27"))
			}},
		{name: "a client pool overlapping a connected site is refused (R16)", status: 409, code: "AddressSpaceOverlap",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16")))
				body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
				body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"192.168.200.0/24"}}}
				return "PUT", s.gw, body
			}},
		{name: "VNet-to-VNet in both directions does not count as an overlap", status: 201,
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "ab"), v2v(loc, a.gw, b.gw))
				return "PUT", netPath(subA, "rg2", "connections", "ba"), v2v(loc, b.gw, a.gw)
			}},
	})
}

// TestR41OneSiteOneBGPAddress: two sites of one gateway's BGP
// connections do not share a BGP peering address, as Azure's documentation
// of several devices at one site asks ("each local network gateway ...
// must have a unique BGP peer IP address"): the gateway's speaker has one
// session per address, and the second site's would never come up. A
// site's address moved onto another connected one's is refused too.
func TestR41OneSiteOneBGPAddress(t *testing.T) {
	// bgpSites gives gateway gw BGP and a BGP connection c1 to site l1,
	// whose speaker is at 192.168.0.1, and returns a site l2 whose speaker
	// is at addr.
	bgpSites := func(e *env, addr string) (s site, l2 string) {
		s = e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
		g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
		g["properties"].(obj)["enableBgp"] = true
		g["properties"].(obj)["bgpSettings"] = obj{"asn": 65020}
		e.must("PUT", s.gw, g)
		lng := func(name, ip, bgpAddr string) string {
			l := localGateway(loc, ip)
			l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": bgpAddr}
			p := netPath(subA, "rg", "localNetworkGateways", name)
			e.must("PUT", p, l)
			return p
		}
		c := s2s(loc, s.gw, lng("l1", "203.0.113.1", "192.168.0.1"))
		c["properties"].(obj)["enableBgp"] = true
		e.must("PUT", netPath(subA, "rg", "connections", "c1"), c)
		return s, lng("l2", "203.0.113.2", addr)
	}
	second := func(addr string, enableBGP bool) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s, l2 := bgpSites(e, addr)
			c := s2s(loc, s.gw, l2)
			c["properties"].(obj)["enableBgp"] = enableBGP
			return "PUT", netPath(subA, "rg", "connections", "c2"), c
		}
	}
	names := func(t *testing.T, _ *env, r resp) {
		if m := r.str("error.message"); !strings.Contains(m, "192.168.0.1") || !strings.Contains(m, "c1") {
			t.Errorf("message %q names neither the address nor the connection that has it", m)
		}
	}
	// v2vAndSite connects gateway a (AS 65020) VNet-to-VNet with BGP to
	// gateway b (AS 65030) and makes a site whose speaker is at b's BGP
	// peering address: the first connection named has the session (the
	// BGP speaker keeps one per address), so a site connection named
	// before the VNet-to-VNet one took that one's.
	v2vAndSite := func(e *env, siteFirst bool) (string, string, any) {
		bgpGateway := func(s site, asn int) {
			g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
			g["properties"].(obj)["enableBgp"] = true
			g["properties"].(obj)["bgpSettings"] = obj{"asn": asn}
			e.must("PUT", s.gw, g)
		}
		a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
		b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
		bgpGateway(a, 65020)
		bgpGateway(b, 65030)
		l := localGateway(loc, "203.0.113.1", "192.168.0.0/16")
		l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": e.must("GET", b.gw, nil).str("properties.bgpSettings.bgpPeeringAddress")}
		lp := netPath(subA, "rg", "localNetworkGateways", "l")
		e.must("PUT", lp, l)
		vc, sc := v2v(loc, a.gw, b.gw), s2s(loc, a.gw, lp)
		vc["properties"].(obj)["enableBgp"], sc["properties"].(obj)["enableBgp"] = true, true
		if siteFirst {
			e.must("PUT", netPath(subA, "rg", "connections", "s2s"), sc)
			return "PUT", netPath(subA, "rg", "connections", "v2v"), vc
		}
		e.must("PUT", netPath(subA, "rg", "connections", "v2v"), vc)
		return "PUT", netPath(subA, "rg", "connections", "a"), sc
	}
	runCases(t, []ruleCase{
		{name: "a BGP site at the BGP peering address of a gateway connected VNet-to-VNet with BGP is refused", status: 409, code: "DuplicateConnection",
			req: func(e *env) (string, string, any) { return v2vAndSite(e, false) }},
		{name: "a BGP VNet-to-VNet connection to a gateway at a BGP site's peering address is refused", status: 409, code: "DuplicateConnection",
			req: func(e *env) (string, string, any) { return v2vAndSite(e, true) }},
	})
	runCases(t, []ruleCase{
		{name: "a second BGP site at the first's BGP peering address is refused", status: 409, code: "DuplicateConnection", req: second("192.168.0.1", true), check: names},
		{name: "a second BGP site at another BGP peering address is created", status: 201, req: second("192.168.0.2", true)},
		{name: "a second site at the address without BGP on its connection is created", status: 201, req: second("192.168.0.1", false)},
		{name: "a connected site moved onto another's BGP peering address is refused", status: 409, code: "DuplicateConnection", check: names,
			req: func(e *env) (string, string, any) {
				s, l2 := bgpSites(e, "192.168.0.2")
				c := s2s(loc, s.gw, l2)
				c["properties"].(obj)["enableBgp"] = true
				e.must("PUT", netPath(subA, "rg", "connections", "c2"), c)
				l := localGateway(loc, "203.0.113.2")
				l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": "192.168.0.1"}
				return "PUT", l2, l
			}},
	})
}

// TestR41SiteBGPAddressNotTheVNets: a BGP site's peering address is not
// in the address space of the gateway's VNet, nor one of the gateway's own
// BGP addresses (Azure: the on-premises BGP peer address "MUST NOT be the
// same as ... the VNet address space of the VPN Gateway"); the gateway's
// own address copied into the local network gateway is the usual slip.
// The VNet would route the address to the site, the speaker's own too,
// and no BGP session of the gateway would come up.
func TestR41SiteBGPAddressNotTheVNets(t *testing.T) {
	// bgpSite gives gateway gw BGP (AS 65020, custom APIPA address
	// 169.254.21.2) and a site l whose speaker is at addr, and returns the
	// connection to it, with BGP when enableBGP.
	bgpSite := func(e *env, addr string, enableBGP bool) (site, obj) {
		s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
		g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
		g["properties"].(obj)["enableBgp"] = true
		g["properties"].(obj)["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddresses": []obj{{"ipconfigurationId": s.gw + "/ipConfigurations/ipconfig1", "customBgpIpAddresses": []string{"169.254.21.2"}}}}
		e.must("PUT", s.gw, g)
		l := localGateway(loc, "203.0.113.1")
		l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": addr}
		e.must("PUT", netPath(subA, "rg", "localNetworkGateways", "l"), l)
		c := s2s(loc, s.gw, netPath(subA, "rg", "localNetworkGateways", "l"))
		c["properties"].(obj)["enableBgp"] = enableBGP
		return s, c
	}
	connect := func(addr string, enableBGP bool) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			_, c := bgpSite(e, addr, enableBGP)
			return "PUT", netPath(subA, "rg", "connections", "c"), c
		}
	}
	names := func(addr string) func(t *testing.T, _ *env, r resp) {
		return func(t *testing.T, _ *env, r resp) {
			if m := r.str("error.message"); !strings.Contains(m, addr) {
				t.Errorf("message %q does not name the address %s", m, addr)
			}
		}
	}
	runCases(t, []ruleCase{
		{name: "the gateway's own BGP peering address as the site's is refused", status: 400, code: "InvalidBgpPeeringAddress", req: connect("10.1.255.4", true), check: names("10.1.255.4")},
		{name: "an address of the VNet as the site's is refused", status: 400, code: "InvalidBgpPeeringAddress", req: connect("10.1.0.50", true), check: names("10.1.0.50")},
		{name: "the gateway's custom APIPA address as the site's is refused", status: 400, code: "InvalidBgpPeeringAddress", req: connect("169.254.21.2", true), check: names("169.254.21.2")},
		{name: "an APIPA address of the site's own is created", status: 201, req: connect("169.254.21.1", true)},
		{name: "an address of the VNet on a connection without BGP is created", status: 201, req: connect("10.1.0.50", false)},
		{name: "the VNet grown over a BGP site's address is refused", status: 400, code: "InvalidBgpPeeringAddress", check: names("10.2.0.1"),
			req: func(e *env) (string, string, any) {
				s, c := bgpSite(e, "10.2.0.1", true)
				e.must("PUT", netPath(subA, "rg", "connections", "c"), c)
				return "PUT", s.vnet, vnet(loc, []string{"10.1.0.0/16", "10.2.0.0/16"}, subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27"))
			}},
	})
}

func TestR41BGP(t *testing.T) {
	lngASN := func(asn int64, status int, code string) ruleCase {
		return ruleCase{name: fmt.Sprintf("local site ASN %d", asn), status: status, code: code,
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				body := localGateway(loc, "203.0.113.1", "192.168.0.0/16")
				body["properties"].(obj)["bgpSettings"] = obj{"asn": asn, "bgpPeeringAddress": "192.168.0.1"}
				return "PUT", netPath(subA, "rg", "localNetworkGateways", "l"), body
			}}
	}
	gwBGP := func(name string, bgp obj, status int, code string, check func(*testing.T, *env, resp)) ruleCase {
		return ruleCase{name: name, status: status, code: code, check: check,
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
				body["properties"].(obj)["enableBgp"] = true
				body["properties"].(obj)["bgpSettings"] = bgp
				return "PUT", s.gw, body
			}}
	}
	bgpConn := func(name string, siteASN int64, status int, code string) ruleCase {
		return ruleCase{name: name, status: status, code: code,
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
				body["properties"].(obj)["enableBgp"] = true
				body["properties"].(obj)["bgpSettings"] = obj{"asn": 65020}
				e.must("PUT", s.gw, body)
				l := localGateway(loc, "203.0.113.1")
				l["properties"].(obj)["bgpSettings"] = obj{"asn": siteASN, "bgpPeeringAddress": "192.168.0.1"}
				e.must("PUT", netPath(subA, "rg", "localNetworkGateways", "l"), l)
				c := s2s(loc, s.gw, netPath(subA, "rg", "localNetworkGateways", "l"))
				c["properties"].(obj)["enableBgp"] = true
				return "PUT", netPath(subA, "rg", "connections", "c"), c
			}}
	}
	runCases(t, []ruleCase{
		bgpConn("a BGP connection between two ends of one ASN is refused (external BGP only)", 65020, 400, "InvalidParameter"),
		bgpConn("a BGP connection to a site of its own ASN, with no ranges but its speaker, is created", 65010, 201, ""),
		lngASN(65515, 400, "ReservedBgpAsn"),
		lngASN(65517, 400, "ReservedBgpAsn"),
		lngASN(65520, 400, "ReservedBgpAsn"),
		lngASN(8074, 400, "ReservedBgpAsn"),
		lngASN(8075, 400, "ReservedBgpAsn"),
		lngASN(12076, 400, "ReservedBgpAsn"),
		lngASN(23456, 400, "ReservedBgpAsn"),
		lngASN(64496, 400, "ReservedBgpAsn"),
		lngASN(65535, 400, "ReservedBgpAsn"),
		lngASN(65551, 400, "ReservedBgpAsn"),
		lngASN(4294967295, 400, "ReservedBgpAsn"),
		lngASN(0, 400, "InvalidBgpAsn"),
		{name: "a local site's BGP settings without an ASN are refused, saying so", status: 400, code: "InvalidBgpAsn",
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				body := localGateway(loc, "203.0.113.1", "192.168.0.0/16")
				body["properties"].(obj)["bgpSettings"] = obj{"bgpPeeringAddress": "192.168.0.1"}
				return "PUT", netPath(subA, "rg", "localNetworkGateways", "l"), body
			},
			check: func(t *testing.T, _ *env, r resp) {
				if m := r.str("error.message"); !strings.Contains(m, "no ASN") || strings.Contains(m, "out of range") {
					t.Errorf("message %q: want it to say the ASN is missing", m)
				}
			}},
		lngASN(65010, 201, ""),
		lngASN(64512, 201, ""),
		lngASN(4200000000, 201, ""),
		gwBGP("gateway ASN 65520 is refused", obj{"asn": 65520}, 400, "ReservedBgpAsn", nil),
		gwBGP("gateway keeps the default ASN 65515 and peers from the GatewaySubnet", obj{}, 200, "",
			func(t *testing.T, _ *env, r resp) {
				if r.field("properties.bgpSettings.asn") != float64(65515) {
					t.Fatalf("asn = %v", r.field("properties.bgpSettings.asn"))
				}
				a, err := netip.ParseAddr(r.str("properties.bgpSettings.bgpPeeringAddress"))
				if err != nil || !netip.MustParsePrefix("10.1.255.0/27").Contains(a) {
					t.Fatalf("peering address %v is not in the GatewaySubnet", r.field("properties.bgpSettings.bgpPeeringAddress"))
				}
			}),
		gwBGP("a custom APIPA BGP address outside 169.254.21.0-169.254.22.255 is refused",
			obj{"bgpPeeringAddresses": []obj{{"ipconfigurationId": netPath(subA, "rg", "virtualNetworkGateways", "gw") + "/ipConfigurations/ipconfig1", "customBgpIpAddresses": []string{"169.254.20.1"}}}},
			400, "InvalidParameter", nil),
		gwBGP("a custom APIPA BGP address is kept with its IP configuration",
			obj{"bgpPeeringAddresses": []obj{{"ipconfigurationId": netPath(subA, "rg", "virtualNetworkGateways", "gw") + "/ipConfigurations/ipconfig1", "customBgpIpAddresses": []string{"169.254.22.5"}}}},
			200, "", func(t *testing.T, _ *env, r resp) {
				if got := r.str("properties.bgpSettings.bgpPeeringAddresses.0.customBgpIpAddresses.0"); got != "169.254.22.5" {
					t.Fatalf("custom BGP address = %q", got)
				}
			}),
		// A second entry for one IP configuration replaced the first, and
		// entries beyond the gateway's IP configurations were dropped:
		// the user's custom APIPA addresses lost, with a 200.
		gwBGP("two bgpPeeringAddresses entries for one IP configuration are refused, not one dropped",
			obj{"bgpPeeringAddresses": []obj{
				{"ipconfigurationId": netPath(subA, "rg", "virtualNetworkGateways", "gw") + "/ipConfigurations/ipconfig1", "customBgpIpAddresses": []string{"169.254.21.2"}},
				{"ipconfigurationId": "ipconfig1", "customBgpIpAddresses": []string{"169.254.22.5"}}}},
			400, "InvalidParameter", func(t *testing.T, _ *env, r resp) {
				if m := r.str("error.message"); !strings.Contains(m, "bgpPeeringAddresses[1]") || !strings.Contains(m, "ipconfig1") {
					t.Fatalf("message %q: want it to name entry [1] and ipconfig1", m)
				}
			}),
		gwBGP("more bgpPeeringAddresses entries than IP configurations are refused, not dropped",
			obj{"bgpPeeringAddresses": []obj{
				{"ipconfigurationId": "ipconfig1", "customBgpIpAddresses": []string{"169.254.21.2"}},
				{"ipconfigurationId": "ipconfig1", "customBgpIpAddresses": []string{"169.254.21.2"}},
				{"ipconfigurationId": "ipconfig1", "customBgpIpAddresses": []string{"169.254.22.5"}}}},
			400, "InvalidParameter", func(t *testing.T, _ *env, r resp) {
				if m := r.str("error.message"); !strings.Contains(m, "bgpPeeringAddresses[1]") || !strings.Contains(m, "ipconfig1") {
					t.Fatalf("message %q: want it to name entry [1] and ipconfig1", m)
				}
			}),
		gwBGP("a peering address outside the GatewaySubnet is refused", obj{"asn": 65010, "bgpPeeringAddress": "10.1.0.10"}, 400, "InvalidBgpPeeringAddress", nil),
		gwBGP("a peering address inside the GatewaySubnet is kept", obj{"asn": 65010, "bgpPeeringAddress": "10.1.255.20"}, 200, "",
			func(t *testing.T, _ *env, r resp) {
				if got := r.str("properties.bgpSettings.bgpPeeringAddress"); got != "10.1.255.20" {
					t.Fatalf("peering address = %s", got)
				}
			}),
		{name: "BGP on a connection needs BGP at the site", status: 400, code: "InvalidParameter",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				body := s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16"))
				body["properties"].(obj)["enableBgp"] = true
				return "PUT", netPath(subA, "rg", "connections", "c"), body
			}},
	})
}

func TestWellFormedInput(t *testing.T) {
	withRG := func(e *env) { e.must("PUT", rgPath(subA, "rg"), group(loc)) }
	runCases(t, []ruleCase{
		{name: "an invalid CIDR is refused", status: 400, code: "InvalidAddressPrefix",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.0.0.0/33"})
			}},
		{name: "a prefix with host bits set is refused", status: 400, code: "InvalidAddressPrefix",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.0.0.1/16"})
			}},
		{name: "a DNS server that is no IP address is refused", status: 400, code: "InvalidParameter",
			req: func(e *env) (string, string, any) {
				withRG(e)
				v := vnet(loc, []string{"10.0.0.0/16"})
				v["properties"].(obj)["dhcpOptions"] = obj{"dnsServers": []string{"10.0.0.53", "dns.example"}}
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), v
			},
			check: func(t *testing.T, e *env, r resp) {
				if got := r.str("error.target"); got != "properties.dhcpOptions.dnsServers[1]" {
					t.Errorf("target %q", got)
				}
			}},
		{name: "a subnet outside its VNet is refused", status: 400, code: "NetcfgSubnetRangeOutsideVnet",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.0.0.0/16"}, subnet("a", "10.9.0.0/24"))
			}},
		{name: "overlapping subnets are refused", status: 400, code: "NetcfgSubnetRangesOverlap",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.0.0.0/16"}, subnet("a", "10.0.0.0/24"), subnet("b", "10.0.0.128/25"))
			},
			check: func(t *testing.T, _ *env, r resp) {
				// The message names the subnet b overlaps, so that the
				// user of a VNet of many subnets knows which.
				if got := r.str("error.message"); !strings.Contains(got, "10.0.0.0/24 of subnet a") {
					t.Errorf("message %q does not name subnet a", got)
				}
			}},
		{name: "a reference to a missing site is refused", status: 400, code: "InvalidResourceReference",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, netPath(subA, "rg", "localNetworkGateways", "ghost"))
			}},
		{name: "a reference that is not an id is refused", status: 400, code: "LinkedInvalidPropertyId",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, "not-an-id")
			}},
		{name: "a resource in a missing group is refused", status: 404, code: "ResourceGroupNotFound",
			req: func(*env) (string, string, any) {
				return "PUT", netPath(subA, "nogroup", "virtualNetworks", "v"), vnet(loc, []string{"10.0.0.0/16"})
			}},
		{name: "deleting a missing group is not found", status: 404, code: "ResourceGroupNotFound",
			req: func(*env) (string, string, any) { return "DELETE", rgPath(subA, "nogroup"), nil }},
		{name: "a missing resource is not found", status: 404, code: "ResourceNotFound",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "GET", netPath(subA, "rg", "virtualNetworks", "v"), nil
			}},
		{name: "a VNet with a gateway cannot be deleted", status: 409, code: "InUseVirtualNetworkCannotBeDeleted",
			req: func(e *env) (string, string, any) {
				return "DELETE", e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1").vnet, nil
			}},
		{name: "a gateway with connections cannot be deleted", status: 409, code: "InUseVirtualNetworkGatewayCannotBeDeleted",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16")))
				return "DELETE", s.gw, nil
			}},
		{name: "the remote gateway of a VNet-to-VNet connection cannot be deleted", status: 409, code: "InUseVirtualNetworkGatewayCannotBeDeleted",
			req: func(e *env) (string, string, any) {
				a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c"), v2v(loc, a.gw, b.gw))
				return "DELETE", b.gw, nil
			}},
		{name: "a site in use cannot be deleted", status: 409, code: "InUseLocalNetworkGatewayCannotBeDeleted",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				l := e.lng(s, "l", "203.0.113.1", "192.168.0.0/16")
				e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, l))
				return "DELETE", l, nil
			}},
		{name: "a subnet in use cannot be deleted", status: 409, code: "InUseSubnetCannotBeDeleted",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "networkInterfaces", "n"), nic(loc, s.defaultSubnet, ""))
				return "DELETE", s.defaultSubnet, nil
			}},
		{name: "a subnet in use keeps its prefix", status: 409, code: "InUseSubnetCannotBeUpdated",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "networkInterfaces", "n"), nic(loc, s.defaultSubnet, ""))
				return "PUT", s.defaultSubnet, subnet("default", "10.1.0.0/23")
			}},
		{name: "a gateway's vpnType cannot change in place", status: 400, code: "VpnTypeCannotBeChanged",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", s.gw, gateway(loc, s.gwSubnet, s.pip, "PolicyBased", "VpnGw1")
			}},
		{name: "a location is required", status: 400, code: "LocationRequired",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet("", []string{"10.0.0.0/16"})
			}},
		{name: "an invalid name is refused", status: 400, code: "InvalidResourceName",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "-bad-"), vnet(loc, []string{"10.0.0.0/16"})
			}},
		{name: "malformed JSON is refused", status: 400, code: "InvalidRequestFormat",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), `{"location": "westeurope",`
			}},
		{name: "a field of the wrong type is refused", status: 400, code: "InvalidRequestFormat",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), `{"location": 7}`
			},
			check: func(t *testing.T, _ *env, r resp) {
				if m := r.str("error.message"); !strings.Contains(m, "property location must be a string, not number") {
					t.Errorf("the refusal says %q, want it to name the property and the JSON kinds", m)
				}
			}},
		{name: "a body of the wrong type is refused, in JSON's words", status: 400, code: "InvalidRequestFormat",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), `[]`
			},
			check: func(t *testing.T, _ *env, r resp) {
				if m := r.str("error.message"); !strings.Contains(m, "the body must be an object, not array") || strings.Contains(m, "arm.") {
					t.Errorf("the refusal says %q, want it to say the body must be an object, without Go's type names", m)
				}
			}},
		{name: "an empty body is refused", status: 400, code: "InvalidRequestContent",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), ""
			}},
		{name: "unknown fields are ignored", status: 201,
			req: func(e *env) (string, string, any) {
				withRG(e)
				b := vnet(loc, []string{"10.0.0.0/16"})
				b["properties"].(obj)["somethingNew"] = obj{"x": 1}
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), b
			}},
		{name: "an unknown resource type is not found", status: 404, code: "InvalidResourceType",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "GET", netPath(subA, "rg", "loadBalancers", "x"), nil
			}},
		{name: "a method that does not apply is refused", status: 405, code: "MethodNotAllowed",
			req: func(e *env) (string, string, any) {
				withRG(e)
				return "POST", netPath(subA, "rg", "virtualNetworks", "v"), "{}"
			}},
		{name: "a static private address in use is refused", status: 409, code: "PrivateIPAddressInUse",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "networkInterfaces", "n1"), nic(loc, s.defaultSubnet, "10.1.0.10"))
				return "PUT", netPath(subA, "rg", "networkInterfaces", "n2"), nic(loc, s.defaultSubnet, "10.1.0.10")
			}},
		{name: "a reserved private address is refused", status: 400, code: "PrivateIPAddressIsReserved",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg", "networkInterfaces", "n"), nic(loc, s.defaultSubnet, "10.1.0.1")
			}},
		{name: "a private address outside the subnet is refused", status: 400, code: "PrivateIPAddressNotInSubnet",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg", "networkInterfaces", "n"), nic(loc, s.defaultSubnet, "10.1.7.7")
			}},
		{name: "dynamic private addresses are the next free ones (R42)", status: 201,
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "networkInterfaces", "n1"), nic(loc, s.defaultSubnet, ""))
				return "PUT", netPath(subA, "rg", "networkInterfaces", "n2"), nic(loc, s.defaultSubnet, "")
			},
			check: func(t *testing.T, _ *env, r resp) {
				if got := r.str("properties.ipConfigurations.0.properties.privateIPAddress"); got != "10.1.0.5" {
					t.Fatalf("second interface got %s, want 10.1.0.5 (10.1.0.0-3 are reserved, .4 is taken)", got)
				}
			}},
		{name: "a resource group whose resource is used from outside is not deleted", status: 409, code: "ResourceGroupDeletionBlocked",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", rgPath(subA, "other"), group(loc))
				l := netPath(subA, "other", "localNetworkGateways", "l")
				e.must("PUT", l, localGateway(loc, "203.0.113.1", "192.168.0.0/16"))
				e.must("PUT", netPath(subA, "other", "connections", "c"), s2s(loc, s.gw, l))
				return "DELETE", rgPath(subA, "rg"), nil
			},
			check: func(t *testing.T, e *env, _ resp) {
				e.must("GET", netPath(subA, "rg", "virtualNetworks", "vnet"), nil) // nothing was deleted
			}},
		{name: "deleting a resource group deletes what is in it", status: 200,
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16")))
				e.must("PUT", netPath(subA, "rg", "networkInterfaces", "n"), nic(loc, s.defaultSubnet, ""))
				return "DELETE", rgPath(subA, "rg"), nil
			},
			check: func(t *testing.T, e *env, _ resp) {
				r := e.do("GET", "/subscriptions/"+subA+"/providers/Microsoft.Network/virtualNetworks", nil)
				if n := len(r.field("value").([]any)); n != 0 {
					t.Fatalf("%d virtual networks left after deleting their group", n)
				}
			}},
	})
}

func TestR1R2CrossSubscriptionAndRegion(t *testing.T) {
	e := newEnv(t)
	a := e.site(subA, "rg-we", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	b := e.site(subB, "rg-us", "eastus", "10.2.0.0/16", "RouteBased", "VpnGw1")
	r := e.do("PUT", netPath(subA, "rg-we", "connections", "we-to-us"), v2v("westeurope", a.gw, b.gw))
	if r.status != 201 {
		t.Fatalf("VNet-to-VNet across subscriptions and regions: %d %s", r.status, r.body)
	}
	r = e.do("PUT", netPath(subB, "rg-us", "connections", "us-to-we"), v2v("eastus", b.gw, a.gw))
	if r.status != 201 {
		t.Fatalf("and back: %d %s", r.status, r.body)
	}
	// References compare case-insensitively, as ARM ids do.
	r = e.do("GET", strings.ToUpper(netPath(subA, "rg-we", "connections", "we-to-us")), nil)
	if r.status != 200 || !strings.EqualFold(r.str("properties.virtualNetworkGateway2.id"), b.gw) {
		t.Fatalf("GET by upper-cased id: %d %s", r.status, r.body)
	}
}

func TestR6R40ExpressRouteCoexists(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "an ExpressRoute gateway joins a VPN gateway in the GatewaySubnet", status: 201,
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16")))
				er := netPath(subA, "rg", "publicIPAddresses", "er-pip")
				e.must("PUT", er, publicIP(loc, "Dynamic"))
				body := gateway(loc, s.gwSubnet, er, "", "Standard")
				body["properties"].(obj)["gatewayType"] = "ExpressRoute"
				return "PUT", netPath(subA, "rg", "virtualNetworkGateways", "er"), body
			}},
		{name: "a second VPN gateway in one VNet is refused", status: 409, code: "GatewaySubnetAlreadyHasGateway",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				p := netPath(subA, "rg", "publicIPAddresses", "p2")
				e.must("PUT", p, publicIP(loc, "Dynamic"))
				return "PUT", netPath(subA, "rg", "virtualNetworkGateways", "gw2"), gateway(loc, s.gwSubnet, p, "RouteBased", "VpnGw1")
			}},
		{name: "IKEv1 connections are created (R4)", status: 201,
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				body := s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16"))
				body["properties"].(obj)["connectionProtocol"] = "ikev1"
				return "PUT", netPath(subA, "rg", "connections", "c"), body
			},
			check: func(t *testing.T, _ *env, r resp) {
				if got := r.str("properties.connectionProtocol"); got != "IKEv1" {
					t.Fatalf("connectionProtocol %q, want IKEv1", got)
				}
			}},
		{name: "IKEv1 with an AES-GCM IKE cipher is refused: IKEv1 has none in phase 1", status: 400, code: "InvalidIpsecPolicy",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				body := s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16"))
				body["properties"].(obj)["connectionProtocol"] = "IKEv1"
				body["properties"].(obj)["ipsecPolicies"] = []obj{{"saLifeTimeSeconds": 27000, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "GCMAES256",
					"ipsecIntegrity": "GCMAES256", "ikeEncryption": "GCMAES256", "ikeIntegrity": "SHA256", "dhGroup": "DHGroup14", "pfsGroup": "None"}}
				return "PUT", netPath(subA, "rg", "connections", "c"), body
			}},
		{name: "IKEv1 with an AES-GCM IKE cipher spelt in lower case is refused too", status: 400, code: "InvalidIpsecPolicy",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				body := s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16"))
				body["properties"].(obj)["connectionProtocol"] = "IKEv1"
				body["properties"].(obj)["ipsecPolicies"] = []obj{{"saLifeTimeSeconds": 27000, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "GCMAES256",
					"ipsecIntegrity": "GCMAES256", "ikeEncryption": "gcmaes256", "ikeIntegrity": "SHA256", "dhGroup": "DHGroup14", "pfsGroup": "None"}}
				return "PUT", netPath(subA, "rg", "connections", "c"), body
			}},
		{name: "ExpressRoute connections are refused clearly (R4: modelled, not implemented)", status: 400, code: "UnsupportedConnectionType",
			req: func(e *env) (string, string, any) {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return "PUT", netPath(subA, "rg", "connections", "c"), obj{"location": loc, "properties": obj{"connectionType": "ExpressRoute", "virtualNetworkGateway1": obj{"id": s.gw}}}
			}},
	})
}

func TestR27AuthenticationAndAPIVersion(t *testing.T) {
	e := newEnv(t)
	path := rgPath(subA, "rg")
	cases := []struct {
		name, query, token string
		status             int
		code               string
	}{
		{"no token", "?api-version=2021-04-01", "", 401, "AuthenticationFailed"},
		{"a wrong token", "?api-version=2021-04-01", "test-tokem", 401, "AuthenticationFailed"},
		{"a token that is a prefix", "?api-version=2021-04-01", "test", 401, "AuthenticationFailed"},
		{"no api-version", "", testToken, 400, "MissingApiVersionParameter"},
		{"a malformed api-version", "?api-version=latest", testToken, 400, "InvalidApiVersionParameter"},
		{"the right token", "?api-version=2021-04-01", testToken, 404, "ResourceGroupNotFound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.raw("GET", path, c.query, c.token, nil)
			if r.status != c.status || r.code() != c.code {
				t.Fatalf("got %d %q, want %d %q", r.status, r.code(), c.status, c.code)
			}
		})
	}
	// Without one, the answer names the versions to give, as a wrong one's
	// does: it said only that one is required, and a user with curl
	// had to guess one.
	t.Run("no api-version names those served", func(t *testing.T) {
		for _, c := range []struct{ path, want string }{
			{path, "Microsoft.Resources supports 2019-10-01 and later"},
			{netPath(subA, "rg", "virtualNetworks", "v"), "Microsoft.Network supports 2024-05-01 and later"},
		} {
			r := e.raw("GET", c.path, "", testToken, nil)
			if msg := r.str("error.message"); r.code() != "MissingApiVersionParameter" || !strings.Contains(msg, c.want) {
				t.Errorf("GET %s: %d %s, want MissingApiVersionParameter saying %q", c.path, r.status, r.body, c.want)
			}
		}
	})
	// A path that names no type served (the root, a type mistyped) says
	// which are: the root was "/ has an invalid segment", a mistyped type
	// "no resource type is served" alone.
	t.Run("an unknown path names the types served", func(t *testing.T) {
		for _, p := range []string{"/", "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetwork/v"} {
			r := e.raw("GET", p, "?api-version=2024-05-01", testToken, nil)
			want := "/providers/Microsoft.Network/, connections, localNetworkGateways, networkInterfaces, publicIPAddresses, routeTables, virtualNetworkGateways, virtualNetworks"
			if msg := r.str("error.message"); r.status != 404 || r.code() != "InvalidResourceType" || !strings.Contains(msg, want) {
				t.Errorf("GET %s: %d %s, want 404 InvalidResourceType naming %q", p, r.status, r.body, want)
			}
		}
	})
	t.Run("an old network api-version", func(t *testing.T) {
		r := e.raw("GET", netPath(subA, "rg", "virtualNetworks", "v"), "?api-version=2018-01-01", testToken, nil)
		if r.status != 400 || r.code() != "InvalidApiVersionParameter" {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("a body over 4 MiB", func(t *testing.T) {
		e.must("PUT", path, group(loc))
		big := `{"location":"westeurope","tags":{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}}`
		r := e.do("PUT", netPath(subA, "rg", "virtualNetworks", "v"), big)
		if r.status != 413 || r.code() != "RequestEntityTooLarge" {
			t.Fatalf("got %d %s", r.status, r.code())
		}
	})
}

// TestR27BearerScheme: the authentication scheme is case-insensitive
// (RFC 7235 section 2.1), so "bearer" and "BEARER" are Bearer; the token is
// not.
func TestR27BearerScheme(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, header string
		status       int
		code         string
	}{
		{"Bearer", "Bearer " + testToken, 404, "ResourceGroupNotFound"},
		{"bearer in lower case", "bearer " + testToken, 404, "ResourceGroupNotFound"},
		{"BEARER in upper case", "BEARER " + testToken, 404, "ResourceGroupNotFound"},
		{"several spaces after the scheme", "Bearer   " + testToken, 404, "ResourceGroupNotFound"},
		{"the token in another case", "Bearer " + strings.ToUpper(testToken), 401, "AuthenticationFailed"},
		{"another scheme", "Basic " + testToken, 401, "AuthenticationFailed"},
		{"a scheme without a token", "Bearer", 401, "AuthenticationFailed"},
		{"no space after the scheme", "Bearer" + testToken, 401, "AuthenticationFailed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", e.srv.URL+rgPath(subA, "rg")+"?api-version=2021-04-01", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", c.header)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			r := resp{status: res.StatusCode, body: b}
			if r.status != c.status || r.code() != c.code {
				t.Fatalf("Authorization %q: got %d %q, want %d %q", c.header, r.status, r.code(), c.status, c.code)
			}
		})
	}
}

// A connection chooses one of its gateway's custom APIPA BGP addresses
// per IP configuration; one the gateway lacks, or an IP configuration it
// lacks, is refused by name.
func TestGatewayCustomBgpIPAddresses(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["enableBgp"] = true
	g["properties"].(obj)["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddresses": []obj{{"ipconfigurationId": s.gw + "/ipConfigurations/ipconfig1", "customBgpIpAddresses": []string{"169.254.21.2", "169.254.21.6"}}}}
	e.must("PUT", s.gw, g)
	l := localGateway(loc, "203.0.113.1")
	l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": "169.254.21.1"}
	e.must("PUT", netPath(subA, "rg", "localNetworkGateways", "l"), l)
	conn := func(ipconfig, addr string) obj {
		c := s2s(loc, s.gw, netPath(subA, "rg", "localNetworkGateways", "l"))
		c["properties"].(obj)["enableBgp"] = true
		c["properties"].(obj)["gatewayCustomBgpIpAddresses"] = []obj{{"ipConfigurationId": ipconfig, "customBgpIpAddress": addr}}
		return c
	}
	path := netPath(subA, "rg", "connections", "c")
	for _, c := range []struct{ ipconfig, addr, target string }{
		{"ipconfig1", "169.254.21.9", "properties.gatewayCustomBgpIpAddresses[0].customBgpIpAddress"},
		{"ipconfig2", "169.254.21.2", "properties.gatewayCustomBgpIpAddresses[0].ipConfigurationId"},
	} {
		if r := e.do("PUT", path, conn(c.ipconfig, c.addr)); r.status != 400 || r.str("error.target") != c.target {
			t.Errorf("%s %s: %d %s", c.ipconfig, c.addr, r.status, r.body)
		}
	}
	if r := e.must("PUT", path, conn("ipconfig1", "169.254.21.6")); r.str("properties.gatewayCustomBgpIpAddresses.0.ipConfigurationId") != s.gw+"/ipConfigurations/ipconfig1" {
		t.Errorf("the chosen address's IP configuration by name, kept as its id: %s", r.body)
	}

	// Two addresses for one instance (by name, then by id): its session
	// goes from one, so the second is refused, not silently the one used.
	twice := conn("ipconfig1", "169.254.21.2")
	twice["properties"].(obj)["gatewayCustomBgpIpAddresses"] = []obj{{"ipConfigurationId": "ipconfig1", "customBgpIpAddress": "169.254.21.2"},
		{"ipConfigurationId": s.gw + "/ipConfigurations/ipconfig1", "customBgpIpAddress": "169.254.21.6"}}
	if r := e.do("PUT", path, twice); r.status != 400 || r.code() != "InvalidParameter" || r.str("error.target") != "properties.gatewayCustomBgpIpAddresses[1].ipConfigurationId" {
		t.Errorf("two addresses for ipconfig1: %d %s; want 400 at the second", r.status, r.body)
	}
	if r := e.must("GET", path, nil); r.str("properties.gatewayCustomBgpIpAddresses.0.customBgpIpAddress") != "169.254.21.6" {
		t.Errorf("after the refused PUT: %s; want the connection as it was", r.body)
	}

	// VNet to VNet, the instances peer from their default addresses:
	// a custom one chosen is refused, not ignored.
	b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
	v := v2v(loc, s.gw, b.gw)
	v["properties"].(obj)["gatewayCustomBgpIpAddresses"] = []obj{{"ipConfigurationId": "ipconfig1", "customBgpIpAddress": "169.254.21.2"}}
	if r := e.do("PUT", netPath(subA, "rg", "connections", "v"), v); r.status != 400 || r.code() != "InvalidParameter" || r.str("error.target") != "properties.gatewayCustomBgpIpAddresses" {
		t.Errorf("a VNet-to-VNet connection with a custom BGP address: %d %s; want 400 InvalidParameter", r.status, r.body)
	}
}

// TestR22PreSharedKeysOnly: a connection that asks for certificate
// authentication (Azure's authenticationType Certificate with
// certificateAuthentication) is refused, not given a tunnel with a
// pre-shared key; PSK, in any case, or none is taken and shown as PSK.
func TestR22PreSharedKeysOnly(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	l := e.lng(s, "onprem", "203.0.113.1", "192.168.0.0/16")
	c := netPath(subA, "rg", "connections", "c")
	for _, tc := range []struct {
		set    func(p obj)
		target string
	}{
		{func(p obj) { p["authenticationType"] = "Certificate" }, "authenticationType"},
		{func(p obj) {
			p["certificateAuthentication"] = obj{"outboundAuthCertificate": "https://vault.example/certs/gw", "inboundAuthCertificateSubjectName": "site"}
		}, "certificateAuthentication"},
	} {
		body := s2s(loc, s.gw, l)
		tc.set(body["properties"].(obj))
		if r := e.do("PUT", c, body); r.status != 400 || r.code() != "InvalidParameter" || !strings.Contains(string(r.body), tc.target) || !strings.Contains(string(r.body), "R22") {
			t.Errorf("%s: %d %s", tc.target, r.status, r.body)
		}
	}
	body := s2s(loc, s.gw, l)
	body["properties"].(obj)["authenticationType"] = "psk"
	if got := e.must("PUT", c, body).str("properties.authenticationType"); got != "PSK" {
		t.Errorf("authenticationType psk shown as %q, want PSK", got)
	}
}

// TestR18PrefixPairLimit: a connection that negotiates prefix pairs, a
// child SA each (a policy-based gateway, usePolicyBasedTrafficSelectors,
// trafficSelectorPolicies, IKEv1), negotiates at most
// rules.MaxPrefixPairs of them; a route-based IKEv2 connection's
// any-to-any selectors are one child whatever the ranges. A change of the
// site or the VNet that would take a connection past the limit is refused
// too. Every VNet range with every site range made up to a million pairs
// (two lists of 1,000), each a quick mode or a CREATE_CHILD_SA. Only
// ranges of one IP version make a pair.
func TestR18PrefixPairLimit(t *testing.T) {
	ranges := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("172.%d.%d.0/24", 16+i/256, i%256))
		}
		return out
	}
	pol := obj{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "GCMAES256",
		"ipsecIntegrity": "GCMAES256", "ikeEncryption": "AES256", "ikeIntegrity": "SHA256", "dhGroup": "DHGroup14", "pfsGroup": "None"}
	conn := func(vpnType, sku string, sitePrefixes int, set func(p obj)) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", vpnType, sku)
			c := s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", ranges(sitePrefixes)...))
			if set != nil {
				set(c["properties"].(obj))
			}
			return "PUT", netPath(subA, "rg", "connections", "c"), c
		}
	}
	const code = "TrafficSelectorPairLimitExceeded"
	runCases(t, []ruleCase{
		{name: "a policy-based gateway takes 256 pairs", status: 201, req: conn("PolicyBased", "Basic", 256, nil)},
		{name: "a policy-based gateway refuses 257 pairs", status: 400, code: code, req: conn("PolicyBased", "Basic", 257, nil),
			check: func(t *testing.T, _ *env, r resp) {
				if !strings.Contains(string(r.body), "257 prefix pairs") || !strings.Contains(string(r.body), "R18") {
					t.Errorf("the refusal does not say how many pairs, and why: %s", r.body)
				}
			}},
		{name: "a route-based IKEv2 connection has any-to-any selectors", status: 201, req: conn("RouteBased", "VpnGw1", 1000, nil)},
		{name: "usePolicyBasedTrafficSelectors refuses 257 pairs", status: 400, code: code,
			req: conn("RouteBased", "VpnGw1", 257, func(p obj) { p["usePolicyBasedTrafficSelectors"], p["ipsecPolicies"] = true, []obj{pol} })},
		{name: "an IKEv1 connection refuses 257 pairs", status: 400, code: code,
			req: conn("RouteBased", "VpnGw1", 257, func(p obj) { p["connectionProtocol"] = "IKEv1" })},
		{name: "trafficSelectorPolicies count each policy's pairs", status: 400, code: code,
			req: conn("PolicyBased", "Basic", 1, func(p obj) {
				p["trafficSelectorPolicies"] = []obj{
					{"localAddressRanges": []string{"10.1.0.0/24"}, "remoteAddressRanges": ranges(200)},
					{"localAddressRanges": []string{"10.1.1.0/24"}, "remoteAddressRanges": ranges(57)}}
			})},
		{name: "an IPv4 range with an IPv6 one is no pair", status: 201,
			req: conn("PolicyBased", "Basic", 1, func(p obj) {
				remote := ranges(128)
				for i := range 128 {
					remote = append(remote, fmt.Sprintf("fd00:2:%x::/64", i))
				}
				// 128 IPv4 pairs and 128 IPv6 ones, not 512.
				p["trafficSelectorPolicies"] = []obj{{"localAddressRanges": []string{"10.1.0.0/24", "fd00:1::/64"}, "remoteAddressRanges": remote}}
			})},
		{name: "a site that grows past the limit under a policy-based connection is refused", status: 400, code: code,
			req: func(e *env) (string, string, any) {
				m, p, b := conn("PolicyBased", "Basic", 256, nil)(e)
				e.must(m, p, b)
				return "PUT", netPath(subA, "rg", "localNetworkGateways", "l"), localGateway(loc, "203.0.113.1", ranges(257)...)
			}},
		{name: "a VNet that grows past the limit under a policy-based connection is refused", status: 400, code: code,
			req: func(e *env) (string, string, any) {
				m, p, b := conn("PolicyBased", "Basic", 129, nil)(e)
				e.must(m, p, b)
				return "PUT", netPath(subA, "rg", "virtualNetworks", "vnet"),
					vnet(loc, []string{"10.1.0.0/16", "10.2.0.0/16"}, subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27"))
			}},
	})
}

// TestBGPPeerWeight: a site's or a gateway's bgpSettings.peerWeight
// other than 0 is refused at its field, as the gateway would not weigh
// the routes it learns by it; 0, which Azure shows, is taken.
func TestBGPPeerWeight(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	site := func(weight int) obj {
		l := localGateway(loc, "203.0.113.1")
		l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": "192.168.0.1", "peerWeight": weight}
		return l
	}
	gw := func(weight int) obj {
		g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
		g["properties"].(obj)["enableBgp"] = true
		g["properties"].(obj)["bgpSettings"] = obj{"asn": 65020, "peerWeight": weight}
		return g
	}
	l := netPath(subA, "rg", "localNetworkGateways", "l")
	for _, c := range []struct {
		name string
		path string
		body obj
	}{
		{"a site's peerWeight 10", l, site(10)},
		{"a site's peerWeight 101", l, site(101)},
		{"a gateway's peerWeight 10", s.gw, gw(10)},
	} {
		if r := e.do("PUT", c.path, c.body); r.status != 400 || r.code() != "InvalidParameter" || r.str("error.target") != "properties.bgpSettings.peerWeight" {
			t.Errorf("%s: %d %s; want 400 InvalidParameter at properties.bgpSettings.peerWeight", c.name, r.status, r.body)
		}
	}
	e.must("PUT", l, site(0))
	e.must("PUT", s.gw, gw(0))
}

// TestExpressRouteConnectionSettings: an ExpressRoute connection's
// settings given to a tunnel (an authorizationKey,
// expressRouteGatewayBypass or enablePrivateLinkFastPath true) are
// refused at their field, not dropped; the flags false, as Azure shows
// them and Terraform sends them, are taken and shown.
func TestExpressRouteConnectionSettings(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	l := e.lng(s, "onprem", "203.0.113.1", "192.168.0.0/16")
	c := netPath(subA, "rg", "connections", "c")
	for field, v := range map[string]any{"authorizationKey": "e5a1b8f0-0c4d-4c2a-9b1e-3f8d2c7a6b10", "expressRouteGatewayBypass": true, "enablePrivateLinkFastPath": true} {
		body := s2s(loc, s.gw, l)
		body["properties"].(obj)[field] = v
		r := e.do("PUT", c, body)
		if r.status != 400 || r.code() != "InvalidParameter" || r.str("error.target") != "properties."+field {
			t.Errorf("%s %v: %d %s; want 400 InvalidParameter at properties.%s", field, v, r.status, r.body, field)
		}
		if strings.Contains(string(r.body), "e5a1b8f0") {
			t.Errorf("the error quotes the authorization key: %s", r.body)
		}
	}
	body := s2s(loc, s.gw, l)
	body["properties"].(obj)["expressRouteGatewayBypass"] = false
	body["properties"].(obj)["enablePrivateLinkFastPath"] = false
	e.must("PUT", c, body)
	r := e.must("GET", c, nil)
	for _, f := range []string{"expressRouteGatewayBypass", "enablePrivateLinkFastPath"} {
		if v, ok := r.field("properties." + f).(bool); !ok || v {
			t.Errorf("GET shows %s as %v; want false", f, r.field("properties."+f))
		}
	}
}
