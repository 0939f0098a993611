package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// call is one request of a burst.
type call struct {
	method, path string
	body         any
}

// burst sends calls all at once, each from its own goroutine, released
// together, call i to nodes[i%len(nodes)], and returns their answers in
// the order of calls (status 0 with the error as body when a request
// could not be made).
func burst(nodes []*env, calls []call) []resp {
	out := make([]resp, len(calls))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range calls {
		e := nodes[i%len(nodes)]
		wg.Go(func() {
			b, err := json.Marshal(c.body)
			if c.body == nil {
				b = nil
			}
			var req *http.Request
			if err == nil {
				req, err = http.NewRequest(c.method, e.srv.URL+c.path+"?api-version=2024-05-01", bytes.NewReader(b))
			}
			if err != nil {
				out[i] = resp{body: []byte(err.Error())}
				return
			}
			req.Header.Set("Authorization", "Bearer "+testToken)
			<-start
			res, err := e.srv.Client().Do(req)
			if err != nil {
				out[i] = resp{body: []byte(err.Error())}
				return
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			out[i] = resp{status: res.StatusCode, header: res.Header, body: body}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// TestConcurrentWritesKeepRules fires many writes at once through the API
// and checks that the rules checked at a write hold for what the store
// holds after: each write is decided and committed alone (region.update:
// one writer at a time, and a commit conditional on the fence it decided
// under), so that of writes that may not all be made, those made are as
// if one after the other and the others are refused with the rule's code.
// Each case's setup is made one request at a time; then its burst, at
// once; then what each answered and what the store holds is checked. The
// cases run on one node with a bbolt file, and on two nodes of one
// region on etcd, the burst's requests sent to each in turn, where the
// fence alone keeps the nodes' writes apart.
func TestConcurrentWritesKeepRules(t *testing.T) {
	const n = 20
	conn := func(s site, name string) string { return netPath(s.sub, s.rg, "connections", name) }
	// sites makes n local network gateways, site i at 203.0.113.i with
	// the prefix prefix(i), and a connection of s's gateway to each.
	sites := func(e *env, s site, prefix func(i int) []string) []call {
		var calls []call
		for i := range n {
			lng := e.lng(s, fmt.Sprintf("lng%d", i), fmt.Sprintf("203.0.113.%d", i+1), prefix(i)...)
			calls = append(calls, call{"PUT", conn(s, fmt.Sprintf("c%d", i)), s2s(loc, s.gw, lng)})
		}
		return calls
	}
	ed := etcdtest.Start(t)
	backends := []struct {
		name string
		// open starts the nodes of a region, the first to be set up
		// through, and returns them with their store.
		open func(t *testing.T) ([]*env, store.Store)
	}{
		{"bbolt", func(t *testing.T) ([]*env, store.Store) {
			st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return []*env{newEnv(t, envOptions{store: st})}, st
		}},
		{"etcd two nodes", func(t *testing.T) ([]*env, store.Store) {
			prefix := "/" + t.Name() + "/"
			var nodes []*env
			for range 2 {
				nodes = append(nodes, newEnv(t, envOptions{store: etcd.New(ed.Client(t), prefix, etcd.Options{})}))
			}
			st := etcd.New(ed.Client(t), prefix, etcd.Options{})
			t.Cleanup(func() { st.Close() })
			return nodes, st
		}},
	}
	for _, c := range []struct {
		name string
		// setup makes what the burst needs, one request at a time, and
		// returns the burst.
		setup func(e *env) []call
		// refused is the error code of each request of the burst that is
		// refused, by its index ("": none may be).
		refused func(i int) string
		// check checks the answers of the burst and the resources the
		// store holds after it, by lower-cased id.
		check func(t *testing.T, answers []resp, held map[string]obj)
	}{
		{
			name: "R34 one connection between a gateway and a site",
			setup: func(e *env) []call {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				lng := e.lng(s, "lng", "203.0.113.1", "192.168.0.0/24")
				var calls []call
				for i := range n {
					calls = append(calls, call{"PUT", conn(s, fmt.Sprintf("c%d", i)), s2s(loc, s.gw, lng)})
				}
				return calls
			},
			refused: func(int) string { return "DuplicateConnection" },
			check:   connectionsMade(1),
		},
		{
			name: "R34 one connection to a device's address",
			setup: func(e *env) []call {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				var calls []call
				for i := range n {
					lng := e.lng(s, fmt.Sprintf("lng%d", i), "203.0.113.1", fmt.Sprintf("192.168.%d.0/24", i))
					calls = append(calls, call{"PUT", conn(s, fmt.Sprintf("c%d", i)), s2s(loc, s.gw, lng)})
				}
				return calls
			},
			refused: func(int) string { return "DuplicateConnection" },
			check:   connectionsMade(1),
		},
		{
			name: "R32 a Basic route-based gateway holds 10 tunnels",
			setup: func(e *env) []call {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "Basic")
				return sites(e, s, func(i int) []string { return []string{fmt.Sprintf("192.168.%d.0/24", i)} })
			},
			refused: func(int) string { return "TunnelLimitExceeded" },
			check:   connectionsMade(10),
		},
		{
			name: "R28 R32 a policy-based gateway holds one site-to-site connection",
			setup: func(e *env) []call {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "PolicyBased", "Basic")
				return sites(e, s, func(i int) []string { return []string{fmt.Sprintf("192.168.%d.0/24", i)} })
			},
			refused: func(int) string { return "MultiSiteRequiresRouteBasedGateway" },
			check:   connectionsMade(1),
		},
		{
			name: "R35 one of sites whose address spaces overlap",
			setup: func(e *env) []call {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				return sites(e, s, func(i int) []string { return []string{fmt.Sprintf("192.168.%d.0/24", i), "172.16.0.0/16"} })
			},
			refused: func(int) string { return "AddressSpaceOverlap" },
			check:   connectionsMade(1),
		},
		{
			// The VNet takes the sites' space while they are connected:
			// it is made only if no connection was.
			name: "R35 the VNet's new address space and connections to sites in it",
			setup: func(e *env) []call {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				calls := sites(e, s, func(i int) []string { return []string{fmt.Sprintf("10.2.%d.0/24", i)} })
				return append(calls, call{"PUT", s.vnet, vnet(loc, []string{"10.1.0.0/16", "10.2.0.0/16"},
					subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27"))})
			},
			refused: func(int) string { return "AddressSpaceOverlap" },
			check: func(t *testing.T, answers []resp, held map[string]obj) {
				if made(answers[n]) {
					wantMade(t, answers[:n], 0, 0)
				} else {
					wantMade(t, answers[:n], n, n)
				}
			},
		},
		{
			// A site takes another's space: it is changed only if that
			// other was not connected.
			name: "R35 a connected site's new address space and connections to sites in it",
			setup: func(e *env) []call {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				e.must("PUT", conn(s, "c"), s2s(loc, s.gw, e.lng(s, "lng", "198.51.100.1", "192.168.255.0/24")))
				calls := sites(e, s, func(i int) []string { return []string{fmt.Sprintf("192.168.%d.0/24", i)} })
				return append(calls, call{"PUT", netPath(s.sub, s.rg, "localNetworkGateways", "lng"),
					localGateway(loc, "198.51.100.1", "192.168.0.0/16")})
			},
			refused: func(int) string { return "AddressSpaceOverlap" },
			check: func(t *testing.T, answers []resp, held map[string]obj) {
				if made(answers[n]) {
					wantMade(t, answers[:n], 0, 0)
				} else {
					wantMade(t, answers[:n], n, n)
				}
			},
		},
		{
			// Made before the delete, a connection refuses it; after it,
			// it finds no gateway.
			name: "a gateway deleted while connections to it are made",
			setup: func(e *env) []call {
				s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
				calls := sites(e, s, func(i int) []string { return []string{fmt.Sprintf("192.168.%d.0/24", i)} })
				return append(calls, call{"DELETE", s.gw, nil})
			},
			refused: func(i int) string {
				if i == n {
					return "InUseVirtualNetworkGatewayCannotBeDeleted"
				}
				return "InvalidResourceReference"
			},
			check: func(t *testing.T, answers []resp, held map[string]obj) {
				if made(answers[n]) {
					wantMade(t, answers[:n], 0, 0)
				} else {
					wantMade(t, answers[:n], 1, n)
				}
			},
		},
		{
			// Of a VNet, a public IP and the gateway that takes them, either
			// the gateway is made, and the others are refused as in use, or
			// it is refused.
			name: "a VNet and a public IP deleted while a gateway takes them",
			setup: func(e *env) []call {
				var calls []call
				for i := range n / 2 {
					rg := fmt.Sprintf("rg%d", i)
					v, pip := netPath(subA, rg, "virtualNetworks", "vnet"), netPath(subA, rg, "publicIPAddresses", "pip")
					e.must("PUT", rgPath(subA, rg), group(loc))
					e.must("PUT", v, vnet(loc, []string{"10.1.0.0/16"}, subnet("GatewaySubnet", "10.1.255.0/27")))
					e.must("PUT", pip, publicIP(loc, "Dynamic"))
					calls = append(calls,
						call{"PUT", netPath(subA, rg, "virtualNetworkGateways", "gw"), gateway(loc, v+"/subnets/GatewaySubnet", pip, "RouteBased", "VpnGw1")},
						call{"DELETE", v, nil}, call{"DELETE", pip, nil})
				}
				return calls
			},
			refused: func(i int) string {
				return [...]string{"InvalidResourceReference", "InUseVirtualNetworkCannotBeDeleted", "PublicIPAddressInUse"}[i%3]
			},
			check: func(t *testing.T, answers []resp, held map[string]obj) {
				for i := 0; i < len(answers); i += 3 {
					if gw, v, pip := made(answers[i]), made(answers[i+1]), made(answers[i+2]); gw == (v || pip) {
						t.Errorf("rg%d: gateway made %v, its VNet deleted %v, its public IP deleted %v", i/3, gw, v, pip)
					}
				}
			},
		},
	} {
		for _, b := range backends {
			t.Run(c.name+"/"+b.name, func(t *testing.T) {
				nodes, st := b.open(t)
				calls := c.setup(nodes[0])
				answers := burst(nodes, calls)
				for i, a := range answers {
					if !made(a) && (a.status != http.StatusBadRequest && a.status != http.StatusConflict || a.code() != c.refused(i)) {
						t.Errorf("%s %s: %d %s, want success or %s", calls[i].method, calls[i].path, a.status, a.body, c.refused(i))
					}
				}
				kvs, _, err := st.List(context.Background(), "res/")
				if err != nil {
					t.Fatal(err)
				}
				held := map[string]obj{}
				for _, kv := range kvs {
					var doc obj
					if err := json.Unmarshal(kv.Value, &doc); err != nil {
						t.Fatalf("%s: %v", kv.Key, err)
					}
					held[strings.TrimPrefix(kv.Key, "res/")] = doc
				}
				wantReferenced(t, held)
				c.check(t, answers, held)
			})
		}
	}
}

// made reports whether a write succeeded.
func made(r resp) bool { return r.status >= 200 && r.status < 300 }

// connectionsMade checks that k of the answers are successes and that
// the store holds k connections.
func connectionsMade(k int) func(t *testing.T, answers []resp, held map[string]obj) {
	return func(t *testing.T, answers []resp, held map[string]obj) {
		wantMade(t, answers, k, k)
		wantHeld(t, held, "/connections/", k)
	}
}

// wantMade checks that between least and most of answers are successes.
func wantMade(t *testing.T, answers []resp, least, most int) {
	t.Helper()
	k := 0
	for _, a := range answers {
		if made(a) {
			k++
		}
	}
	if k < least || k > most {
		t.Errorf("%d of %d writes made, want %d to %d", k, len(answers), least, most)
	}
}

// wantHeld checks that the store holds n resources whose ids have part.
func wantHeld(t *testing.T, held map[string]obj, part string, n int) {
	t.Helper()
	k := 0
	for id := range held {
		if strings.Contains(id, part) {
			k++
		}
	}
	if k != n {
		t.Errorf("the store holds %d resources with %s in their ids, want %d", k, part, n)
	}
}

// wantReferenced checks that every resource the store holds refers only
// to resources it holds: a connection to its gateways and site, a gateway
// to its subnet's VNet and its public IPs.
func wantReferenced(t *testing.T, held map[string]obj) {
	t.Helper()
	for id, doc := range held {
		props, _ := doc["properties"].(map[string]any)
		var refs []string
		for _, f := range []string{"virtualNetworkGateway1", "virtualNetworkGateway2", "localNetworkGateway2"} {
			if ref, ok := props[f].(map[string]any); ok {
				refs = append(refs, ref["id"].(string))
			}
		}
		cfgs, _ := props["ipConfigurations"].([]any)
		for _, c := range cfgs {
			p, _ := c.(map[string]any)["properties"].(map[string]any)
			if s, ok := p["subnet"].(map[string]any); ok && strings.Contains(id, "/virtualnetworkgateways/") {
				sid := s["id"].(string)
				refs = append(refs, sid[:strings.LastIndex(strings.ToLower(sid), "/subnets/")])
			}
			if pip, ok := p["publicIPAddress"].(map[string]any); ok {
				refs = append(refs, pip["id"].(string))
			}
		}
		for _, ref := range refs {
			if held[strings.ToLower(ref)] == nil {
				t.Errorf("the store holds %s, which refers to %s, which it does not hold", id, ref)
			}
		}
	}
}
