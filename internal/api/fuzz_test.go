package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// fuzzEnv is a region with one of everything, so that fuzzed bodies that
// reference existing resources get past the reference checks.
type fuzzEnv struct {
	*env
	site site
	// p2s is a site whose gateway serves point-to-site clients, for the
	// operations that need one.
	p2s  site
	lng  string
	conn string
	// shorten writes the ids of the resources above, and testRootCert,
	// as short names (<gw>, <cert>, ...), expand writes them back.
	shorten, expand *strings.Replacer
}

// newFuzzEnv's bbolt file is not synced: a body taken is a write, which
// waited for an fsync of a millisecond or more, some 30 times the time
// of a body refused.
func newFuzzEnv(f *testing.F) *fuzzEnv {
	e := newEnv(f, envOptions{noSync: true})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	l := e.lng(s, "onprem", "203.0.113.1", "192.168.0.0/16")
	c := netPath(subA, "rg", "connections", "c")
	e.must("PUT", c, s2s(loc, s.gw, l))
	gw2 := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1").gw
	e.must("PUT", netPath(subA, "rg", "routeTables", "rt"), obj{"location": loc})
	fe := &fuzzEnv{env: e, site: s, p2s: e.p2sSite("rg3"), lng: l, conn: c}
	// Longest first: strings.Replacer tries its strings in the order
	// given, and the VNet's id begins its subnets'.
	var short, long []string
	for _, r := range [][2]string{{"<cert>", testRootCert}, {"<gwSubnet>", s.gwSubnet}, {"<subnet>", s.defaultSubnet},
		{"<gw>", s.gw}, {"<gw2>", gw2}, {"<lng>", l}, {"<pip>", s.pip}, {"<conn>", c}, {"<vnet>", s.vnet}} {
		short, long = append(short, r[1], r[0]), append(long, r[0], r[1])
	}
	fe.shorten, fe.expand = strings.NewReplacer(short...), strings.NewReplacer(long...)
	return fe
}

// serve sends one request straight to the handler.
func (e *fuzzEnv) serve(t *testing.T, method, path string, body []byte) {
	h := e.srv.Config.Handler
	version := "2024-05-01"
	if !strings.Contains(path, "/providers/") {
		version = "2021-04-01"
	}
	req := httptest.NewRequest(method, path+"?api-version="+version, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s answered %d for body %q: %s", method, path, rec.Code, body, rec.Body)
	}
	if !json.Valid(rec.Body.Bytes()) && rec.Body.Len() > 0 {
		t.Fatalf("answer is not JSON: %q", rec.Body)
	}
	if rec.Code >= 400 {
		var env struct {
			Error *struct{ Code, Message string }
		}
		if json.Unmarshal(rec.Body.Bytes(), &env) != nil || env.Error == nil || env.Error.Code == "" {
			t.Fatalf("%d without an ARM error envelope: %q", rec.Code, rec.Body)
		}
	}
}

// maxFuzzBody bounds the fuzzed bytes fuzzBody sends as a body (before
// fuzzEnv.expand). The fuzzer minimizes each input that finds new
// coverage with some n²/2 cuts of its n bytes, each a request and a read
// back (some 90 µs for a body refused, 0.5 ms for one taken) and some
// 180 µs of the fuzzer's own, and fuzzes nothing meanwhile: a mutant of
// FuzzGatewayBody's seed with a root certificate, 1,380 bytes, kept it
// minimizing for all of a 25 s run. One of 500 bytes still takes up to
// some 20 s. A seed is over the bound, so that the return of such bodies
// is no new coverage, which the fuzzer would minimize with cuts that all
// fail.
const maxFuzzBody = 512

// fuzzBody fuzzes the body of one request; seeds are valid bodies. The
// fuzzed bytes name fuzzEnv's resources and root certificate short
// (fuzzEnv.shorten), and are sent with those names expanded, so that
// the fuzzer does not spend its bytes and cuts on ids of 100 bytes and
// more; bytes without the names are sent as they are.
func fuzzBody(f *testing.F, method string, path func(*fuzzEnv) string, seeds func(*fuzzEnv) []any) {
	e := newFuzzEnv(f)
	for _, s := range seeds(e) {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		if b = []byte(e.shorten.Replace(string(b))); len(b) > maxFuzzBody {
			f.Fatalf("a seed of %d bytes, over maxFuzzBody: %s", len(b), b)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"location":null,"properties":[]}`))
	f.Add([]byte(`{"properties":{"addressSpace":{"addressPrefixes":["::/0"]}}}`))
	f.Add(make([]byte, maxFuzzBody+1))
	p := path(e)
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		e.serve(t, method, p, []byte(e.expand.Replace(string(body))))
		e.serve(t, "GET", p, nil) // whatever was stored reads back
	})
}

func FuzzResourceGroupBody(f *testing.F) {
	fuzzBody(f, "PUT", func(*fuzzEnv) string { return rgPath(subA, "fuzzed") },
		func(*fuzzEnv) []any { return []any{group(loc), obj{"location": "West Europe", "tags": obj{"a": "b"}}} })
}

func FuzzVirtualNetworkBody(f *testing.F) {
	fuzzBody(f, "PUT", func(*fuzzEnv) string { return netPath(subA, "rg", "virtualNetworks", "vnet") },
		func(*fuzzEnv) []any {
			return []any{
				vnet(loc, []string{"10.1.0.0/16"}, subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27")),
				vnet(loc, []string{"10.9.0.0/16", "fd00::/48"}, subnet("GatewaySubnet", "10.9.0.0/29")),
			}
		})
}

func FuzzSubnetBody(f *testing.F) {
	fuzzBody(f, "PUT", func(*fuzzEnv) string { return netPath(subA, "rg", "virtualNetworks", "vnet") + "/subnets/extra" },
		func(*fuzzEnv) []any {
			return []any{obj{"properties": obj{"addressPrefix": "10.1.7.0/24"}}, obj{"properties": obj{"addressPrefixes": []string{"10.1.8.0/24", "10.1.9.0/24"}}}}
		})
}

func FuzzPublicIPBody(f *testing.F) {
	fuzzBody(f, "PUT", func(*fuzzEnv) string { return netPath(subA, "rg", "publicIPAddresses", "pip-f") },
		func(*fuzzEnv) []any {
			return []any{publicIP(loc, "Dynamic"), obj{"location": loc, "sku": obj{"name": "Standard"}, "properties": obj{"publicIPAllocationMethod": "Static"}}}
		})
}

func FuzzGatewayBody(f *testing.F) {
	fuzzBody(f, "PUT", func(e *fuzzEnv) string { return e.site.gw },
		func(e *fuzzEnv) []any {
			g := gateway(loc, e.site.gwSubnet, e.site.pip, "RouteBased", "VpnGw2")
			g["properties"].(obj)["enableBgp"] = true
			g["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": "10.1.255.20"}
			g["properties"].(obj)["gatewayDefaultSite"] = obj{"id": e.lng}
			p := gateway(loc, e.site.gwSubnet, e.site.pip, "RouteBased", "VpnGw2")
			p["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}},
				"vpnClientProtocols": []string{"SSTP"}, "vpnClientRootCertificates": []obj{{"name": "root", "properties": obj{"publicCertData": testRootCert}}}}
			n := gateway(loc, e.site.gwSubnet, e.site.pip, "RouteBased", "VpnGw2")
			n["properties"].(obj)["natRules"] = []obj{natRule("site", "Static", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24")}
			return []any{gateway(loc, e.site.gwSubnet, e.site.pip, "RouteBased", "VpnGw1"), g, p, n}
		})
}

func FuzzLocalGatewayBody(f *testing.F) {
	fuzzBody(f, "PUT", func(e *fuzzEnv) string { return e.lng },
		func(*fuzzEnv) []any {
			l := localGateway(loc, "203.0.113.1", "192.168.0.0/16")
			l["properties"].(obj)["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddress": "192.168.0.1"}
			return []any{localGateway(loc, "203.0.113.1", "192.168.0.0/16"), l, obj{"location": loc, "properties": obj{"fqdn": "vpn.example.com"}}}
		})
}

func FuzzConnectionBody(f *testing.F) {
	fuzzBody(f, "PUT", func(e *fuzzEnv) string { return e.conn },
		func(e *fuzzEnv) []any {
			c := s2s(loc, e.site.gw, e.lng)
			c["properties"].(obj)["sharedKey"] = "abc123"
			c["properties"].(obj)["usePolicyBasedTrafficSelectors"] = true
			c["properties"].(obj)["ipsecPolicies"] = []obj{{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "GCMAES256",
				"ipsecIntegrity": "GCMAES256", "ikeEncryption": "AES256", "ikeIntegrity": "SHA256", "dhGroup": "ECP256", "pfsGroup": "ECP256"}}
			// The rule the NAT seed names, on a SKU that has NAT: without
			// it, the seed is refused.
			g := e.withNatRules(e.site, natRule("site", "Static", "IngressSnat", "192.168.0.0/16", "172.31.0.0/16"))
			g["properties"].(obj)["sku"] = obj{"name": "VpnGw2", "tier": "VpnGw2"}
			e.must("PUT", e.site.gw, g)
			n := s2s(loc, e.site.gw, e.lng)
			n["properties"].(obj)["ingressNatRules"] = []obj{{"id": e.site.gw + "/natRules/site"}}
			return []any{s2s(loc, e.site.gw, e.lng), c, v2v(loc, e.site.gw, netPath(subA, "rg2", "virtualNetworkGateways", "gw")), n}
		})
}

func FuzzNetworkInterfaceBody(f *testing.F) {
	fuzzBody(f, "PUT", func(*fuzzEnv) string { return netPath(subA, "rg", "networkInterfaces", "nic") },
		func(e *fuzzEnv) []any {
			n := nic(loc, e.site.defaultSubnet, "10.1.0.77")
			n["properties"].(obj)["attachment"] = obj{"kind": "tun", "netns": "ns1"}
			return []any{nic(loc, e.site.defaultSubnet, ""), n}
		})
}

func FuzzSharedKeyBody(f *testing.F) {
	fuzzBody(f, "PUT", func(e *fuzzEnv) string { return e.conn + "/sharedkey" },
		func(*fuzzEnv) []any { return []any{obj{"value": "abc123"}} })
}

func FuzzResetSharedKeyBody(f *testing.F) {
	fuzzBody(f, "POST", func(e *fuzzEnv) string { return e.conn + "/sharedkey/reset" },
		func(*fuzzEnv) []any { return []any{obj{"keyLength": 32}} })
}

func FuzzRouteTableBody(f *testing.F) {
	fuzzBody(f, "PUT", func(*fuzzEnv) string { return netPath(subA, "rg", "routeTables", "rt") },
		func(*fuzzEnv) []any {
			return []any{obj{"location": loc, "properties": obj{"routes": []obj{
				{"name": "nva", "properties": obj{"addressPrefix": "10.9.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.1.0.10"}},
				{"name": "drop", "properties": obj{"addressPrefix": "::/0", "nextHopType": "None"}}}}}}
		})
}

func FuzzRouteBody(f *testing.F) {
	fuzzBody(f, "PUT", func(*fuzzEnv) string { return netPath(subA, "rg", "routeTables", "rt") + "/routes/fuzzed" },
		func(*fuzzEnv) []any {
			return []any{obj{"properties": obj{"addressPrefix": "10.9.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.1.0.10"}},
				obj{"properties": obj{"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualNetworkGateway"}}}
		})
}

func FuzzDeviceScriptBody(f *testing.F) {
	fuzzBody(f, "POST", func(e *fuzzEnv) string { return e.conn + "/vpndeviceconfigurationscript" },
		func(*fuzzEnv) []any {
			return []any{obj{"vendor": "strongSwan", "deviceFamily": "swanctl", "firmwareVersion": "5.9"}, obj{"vendor": "Cisco"}}
		})
}

func FuzzDisconnectVPNConnectionsBody(f *testing.F) {
	fuzzBody(f, "POST", func(e *fuzzEnv) string { return e.site.gw + "/disconnectVirtualNetworkGatewayVpnConnections" },
		func(*fuzzEnv) []any {
			return []any{obj{"vpnConnectionIds": []string{"SSTP_172.16.201.2", "IKEv2_7e1cfe59"}}, obj{"vpnConnectionIds": []string{}}}
		})
}

func FuzzTagsBody(f *testing.F) {
	fuzzBody(f, "PATCH", func(e *fuzzEnv) string { return e.site.vnet },
		func(*fuzzEnv) []any { return []any{obj{"tags": obj{"env": "test"}}} })
}

// FuzzRequestPath fuzzes the routing of paths.
func FuzzRequestPath(f *testing.F) {
	e := newFuzzEnv(f)
	for _, p := range []string{e.conn, e.conn + "/sharedkey/reset", e.conn + "/vpndeviceconfigurationscript", e.site.gw + "/supportedvpndevices",
		e.conn + "/getikesas", e.conn + "/resetconnection", e.site.gw + "/reset", e.site.gw + "/connections",
		e.site.vnet + "/usages", e.site.vnet + "/CheckIPAddressAvailability", e.site.gw + "/natRules", e.site.gw + "/natRules/x", netPath(subA, "rg", "routeTables", "rt"), netPath(subA, "rg", "routeTables", "rt") + "/routes/x",
		"/subscriptions/" + subA + "/providers/Microsoft.Network/locations/westeurope/operationResults/x", e.site.vnet + "/subnets/default", rgPath(subA, "rg"),
		"/subscriptions/" + subA + "/providers/Microsoft.Network/connections", "/subscriptions/x/resourcegroups"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?# \t\r\n") {
			return
		}
		if _, err := http.NewRequest("GET", "http://x"+path, nil); err != nil {
			return
		}
		e.serve(t, "GET", path, nil)
	})
}

// FuzzVPNClientPackageBody fuzzes the body of generatevpnclientpackage
// of a gateway that has a point-to-site configuration, so that the body
// is read further than the refusal of one that has none.
func FuzzVPNClientPackageBody(f *testing.F) {
	fuzzBody(f, "POST", func(e *fuzzEnv) string { return e.p2s.gw + "/generatevpnclientpackage" },
		func(*fuzzEnv) []any {
			return []any{obj{"processorArchitecture": "Amd64", "authenticationMethod": "EAPTLS"}, obj{"authenticationMethod": "EAPMSCHAPv2"}}
		})
}

// FuzzVPNClientIPsecParametersBody fuzzes the custom IPsec/IKE policy of a
// gateway's point-to-site clients (setvpnclientipsecparameters).
func FuzzVPNClientIPsecParametersBody(f *testing.F) {
	fuzzBody(f, "POST", func(e *fuzzEnv) string { return e.p2s.gw + "/setvpnclientipsecparameters" },
		func(*fuzzEnv) []any {
			return []any{
				obj{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "GCMAES256", "ipsecIntegrity": "GCMAES256",
					"ikeEncryption": "AES256", "ikeIntegrity": "SHA384", "dhGroup": "ECP384", "pfsGroup": "ECP384"},
				obj{"saLifeTimeSeconds": 28800, "saDataSizeKilobytes": 1024, "ipsecEncryption": "AES256", "ipsecIntegrity": "SHA256",
					"ikeEncryption": "GCMAES128", "ikeIntegrity": "GCMAES128", "dhGroup": "DHGroup14", "pfsGroup": "None"},
			}
		})
}

// FuzzClusterMoveBody fuzzes the body of moveVirtualNetwork, against a
// node of a real cluster.
func FuzzClusterMoveBody(f *testing.F) {
	e, _ := newClusterEnv(f)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	fe := &fuzzEnv{env: e, site: s}
	for _, seed := range []string{`{"virtualNetworkId":"` + s.vnet + `","node":"gw1"}`, `{"virtualNetworkId":"` + s.vnet + `","node":"gw2"}`, `{"node":1}`, `{}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fe.serve(t, "POST", "/providers/Vnetgw.Cluster/moveVirtualNetwork", body)
		fe.serve(t, "GET", nodesPath, nil)
	})
}

func FuzzStartPacketCaptureBody(f *testing.F) {
	fuzzBody(f, "POST", func(e *fuzzEnv) string { return e.site.gw + "/startPacketCapture" },
		func(*fuzzEnv) []any {
			return []any{obj{"filterData": `{"TracingFlags":11,"MaxPacketBufferSize":120,"MaxFileSize":500,"Filters":[{"SourceSubnets":["10.19.0.4/32"],"Protocol":[6]}]}`}, obj{}}
		})
}

func FuzzStopPacketCaptureBody(f *testing.F) {
	fuzzBody(f, "POST", func(e *fuzzEnv) string { return e.site.gw + "/stopPacketCapture" },
		func(*fuzzEnv) []any {
			return []any{obj{"sasUrl": "https://acct.blob.core.windows.net/c?sv=x&sig=y"}, obj{}}
		})
}

func FuzzNatRuleBody(f *testing.F) {
	fuzzBody(f, "PUT", func(e *fuzzEnv) string { return e.site.gw + "/natRules/fuzzed" },
		func(*fuzzEnv) []any {
			return []any{natRule("fuzzed", "Static", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24"), natRule("fuzzed", "Static", "EgressSnat", "10.1.0.0/24", "100.65.0.0/24")}
		})
}

// FuzzListQuery fuzzes the query and the Host header of the lists that
// page ($skipToken, the resource groups' $top and $filter by tag) and
// follows the nextLink each answer gives: no 5xx, an ARM error on a 4xx;
// a nextLink is a URL the API's own (a path here, as the API has no
// endpoint, or a loopback host with a port that is one), which answers the
// page after, whose items all come after the ones of the page before.
func FuzzListQuery(f *testing.F) {
	e := &fuzzEnv{env: newEnv(f, envOptions{pageSize: 1})}
	e.site = e.env.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	e.must("PUT", e.site.vnet+"/subnets/third", subnet("third", "10.1.3.0/24"))
	e.must("PUT", rgPath(subA, "tagged"), obj{"location": loc, "tags": obj{"Env": "it's", "team": "net"}})
	e.must("PUT", rgPath(subA, "other"), obj{"location": loc, "tags": obj{"env": "prod"}})
	e.must("PUT", netPath(subA, "other", "virtualNetworks", "v2"), vnet(loc, []string{"10.2.0.0/16"}))
	lists := []string{"/subscriptions/" + subA + "/resourcegroups", rgPath(subA, "rg") + "/providers/Microsoft.Network/virtualNetworks",
		"/subscriptions/" + subA + "/providers/Microsoft.Network/virtualNetworks", e.site.vnet + "/subnets"}
	for i, q := range []string{"", "$top=1", "$top=0", "$filter=tagName eq 'env'", "$filter=tagname+eq+'ENV'+and+tagValue+eq+'it''s'",
		"$filter=name eq 'x'", "$skipToken=" + skipToken(strings.ToLower(rgPath(subA, "other"))), "$skiptoken=" + skipToken("x"), "$skipToken=%ZZ",
		"$skipToken=" + skipToken(strings.ToLower(e.site.vnet+"/subnets/default")) + "&$skipToken=x"} {
		for j, host := range []string{"", "localhost", "127.0.0.1:8443", "[::1]:1", "attacker.example", "localhost:x", "LOCALHOST:443"} {
			f.Add(byte(i+j), q, host)
		}
	}
	f.Fuzz(func(t *testing.T, list byte, query, host string) {
		path := lists[int(list)%len(lists)]
		version := "2024-05-01"
		if !strings.Contains(path, "/providers/") {
			version = "2021-04-01"
		}
		if strings.ContainsAny(query, "# \t\r\n") || !httpguts.ValidHostHeader(host) {
			return // no client sends it, net/http refuses it
		}
		uri := path + "?" + query + "&api-version=" + version
		if _, err := url.ParseRequestURI(uri); err != nil {
			return
		}
		var last string // the id of the last item of the page before
		for range 8 {
			req := httptest.NewRequest("GET", uri, nil)
			req.Host = host
			req.Header.Set("Authorization", "Bearer "+testToken)
			rec := httptest.NewRecorder()
			e.srv.Config.Handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				if last != "" || rec.Code >= 500 || rec.Code < 400 {
					t.Fatalf("GET %s (Host %q) answered %d: %s", uri, host, rec.Code, rec.Body)
				}
				var env struct {
					Error *struct{ Code, Message string }
				}
				if json.Unmarshal(rec.Body.Bytes(), &env) != nil || env.Error == nil || env.Error.Code == "" {
					t.Fatalf("%d without an ARM error envelope: %q", rec.Code, rec.Body)
				}
				return
			}
			var page struct {
				Value    []struct{ ID string }
				NextLink string
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				t.Fatalf("GET %s: %v", uri, err)
			}
			for _, it := range page.Value {
				if last != "" && strings.ToLower(it.ID) <= last {
					t.Fatalf("GET %s: %s after %s", uri, it.ID, last)
				}
				last = strings.ToLower(it.ID)
			}
			if page.NextLink == "" {
				return
			}
			u, err := url.Parse(page.NextLink)
			if err != nil || u.User != nil || u.Fragment != "" || (u.Host != "" && (!loopbackHost(u.Hostname()) || u.Scheme != "http")) {
				t.Fatalf("Host %q: nextLink %q is no URL of the API's", host, page.NextLink)
			}
			if p := u.Port(); p != "" {
				if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
					t.Fatalf("Host %q: nextLink %q has a port that is none", host, page.NextLink)
				}
			}
			if len(page.Value) == 0 {
				t.Fatalf("GET %s: an empty page with a nextLink", uri)
			}
			uri = u.RequestURI()
		}
	})
}
