package server

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

// upgradeFixture is the data of the vnetgw of commit 8050529 (2026-11-30,
// the last before the records carried their format), made by
// scripts/compat-fixture.sh: state.db.gz, its state (bbolt, compacted),
// metrics-history, the tunnels' samples it saved as it stopped, and get/,
// what its API answered for every resource, each type's list of the
// subscription, each host's effective routes and each site's device script.
const upgradeFixture = "testdata/compat-8050529"

// upgradeVolatile are the fields whose values the old vnetgw's answers
// held for that moment alone: they follow the tunnels and the VNets'
// routers while serve runs, not the records.
var upgradeVolatile = map[string]string{
	"properties.connectionStatus":        "the tunnel's state when asked",
	"properties.connectionStatusReason":  "why the tunnel was in that state",
	"properties.egressBytesTransferred":  "the tunnel's counter",
	"properties.ingressBytesTransferred": "the tunnel's counter",
	"properties.tunnelConnectionStatus":  "each tunnel's state and counters when asked",
	"properties.packetCounters":          "the VNet router's counters, from the start of serve",
}

// upgradeChange is a field that a vnetgw since 8050529 answers otherwise
// for the same record: was is the old value as JSON, "" for a field the
// old answers did not have.
type upgradeChange struct{ path, was, why string }

// upgradeChanged are the fields whose answers changed on purpose since
// 8050529, each with the commit that changed it. A field that appears or
// changes with no entry here is a record the upgrade did not keep.
var upgradeChanged = []upgradeChange{
	{"properties.useLocalAzureIpAddress", "", "56dad01: a connection shows it false when not set, as ARM does"},
	{"properties.enablePrivateIpAddress", "", "56dad01: a gateway shows it false when not set"},
	{"properties.enableBgpRouteTranslationForNat", "", "56dad01: a gateway shows it false when not set"},
	{"properties.expressRouteGatewayBypass", "", "655049a: a connection shows it false, the one value taken"},
	{"properties.enablePrivateLinkFastPath", "", "655049a: a connection shows it false, the one value taken"},
	{"properties.enableAcceleratedNetworking", "", "3851b2a: a network interface shows it false when not set"},
	{"properties.allowRemoteVnetTraffic", "", "a3ade0d: a gateway shows it false when not set"},
	{"properties.allowVirtualWanTraffic", "", "a3ade0d: a gateway shows it false when not set"},
	{"properties.vpnClientConfiguration.vpnClientRootCertificates.id", "", "2825410: a gateway's certificates show their ids, as Azure's GET does"},
	{"properties.vpnClientConfiguration.vpnClientRootCertificates.etag", "", "2825410: and their etags, the gateway's"},
	{"properties.vpnClientConfiguration.vpnClientRevokedCertificates.id", "", "2825410: likewise"},
	{"properties.vpnClientConfiguration.vpnClientRevokedCertificates.etag", "", "2825410: likewise"},
	{"properties.bgpSettings.bgpPeeringAddresses.tunnelIpAddresses", "", "2825410: each BGP peering entry shows its instance's public address"},
	{"properties.sku.capacity", "", "23895c3: a gateway given no capacity shows 0, as Azure's does; renderGateway shows it for a gateway written before too"},
	{"properties.ipsecPolicies", "null", "f49e1a5: a connection without custom policies shows [], as Azure does"},
	{"properties.trafficSelectorPolicies", "null", "f49e1a5: likewise"},
	{"effectiveRoute.disableBgpRoutePropagation", "", "58049fe: each effective route says whether its table propagates the gateways' routes, as Azure's do"},
}

// changed says whether the field at path, old before (absent: ok false),
// is one of upgradeChanged.
func changed(path string, old any, ok bool) bool {
	for _, c := range upgradeChanged {
		if c.path != path {
			continue
		}
		if c.was == "" && !ok || c.was != "" && ok && brief(old) == c.was {
			return true
		}
	}
	return false
}

// upgradeScriptAdded are the lines (less their indent) that a site's
// device script gained on purpose since 8050529, each with the commit that
// added it; any other line that appears, changes or goes is a record the
// upgrade did not keep.
var upgradeScriptAdded = map[string]string{
	"# Its name, which the gateway takes too: behind a NAT, the device": "348064a: a site known by name names itself by it",
	"# could not name the address the name resolves to.":                "348064a: likewise",
	"id = branch.compat.test":                                           "348064a: the fqdn site's identity, in its connection",
	"id-device = branch.compat.test":                                    "348064a: and in its secret",
}

// scriptLessAdded is script without the lines of upgradeScriptAdded.
func scriptLessAdded(script string) string {
	var b strings.Builder
	for l := range strings.Lines(script) {
		if _, ok := upgradeScriptAdded[strings.TrimSpace(l)]; !ok {
			b.WriteString(l)
		}
	}
	return b.String()
}

// upgradeKeys are the shared keys the fixture's connections were given.
var upgradeKeys = map[string]string{
	"hub-to-bgp": "CompatKey1", "hub-to-fqdn": "CompatKey2", "hub-to-nat": "CompatKey3",
	"hub-to-spoke": "CompatV2V", "spoke-to-hub": "CompatV2V", "legacy-to-site": "CompatKey4", "spoke-to-site": "CompatKey6",
}

// TestUpgradeKeepsRecords: a user who upgrades vnetgw keeps the data
// directory, and today's serve reads every record that the vnetgw of
// 8050529 wrote, unchanged in meaning. Opened with today's code, no record
// is skipped as unreadable nor the metrics history set aside; every
// resource and list, each host's effective routes and each site's device
// script answer what the old API answered (less upgradeVolatile and
// upgradeChanged); the store is marked as of format 1; a PUT of each
// resource as the old API answered it succeeds and changes nothing; new
// resources take no address the old ones hold; a new connection is made
// beside the old ones; and the VNet-to-VNet pair comes up.
func TestUpgradeKeepsRecords(t *testing.T) {
	// The fixture's state has no format: it is of the vnetgw before them.
	// (A copy of it is read, so that serve opens the file as it was.)
	peek := filepath.Join(t.TempDir(), datadir.State)
	gunzipFile(t, filepath.Join(upgradeFixture, "state.db.gz"), peek)
	if f := formatOf(t, peek); f != "" {
		t.Fatalf("the fixture's state is marked as of format %q; it should be of a vnetgw before the mark", f)
	}
	dir := t.TempDir()
	gunzipFile(t, filepath.Join(upgradeFixture, "state.db.gz"), filepath.Join(dir, datadir.State))
	history, err := os.ReadFile(filepath.Join(upgradeFixture, datadir.MetricsHistory))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, datadir.MetricsHistory), history, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logbuf.Buffer{}
	s, err := New(context.Background(), Config{
		DataDir: dir, Listen: "127.224.0.1:0", PublicIPPool: "127.224.1.0/24",
		// serve's flags of scripts/compat-fixture.sh: the device scripts
		// name the ports.
		IKEPort: 24500, NATTPort: 24501, SSTPPort: 24443, DNSServer: "127.224.0.53:53",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	ctx := context.Background()
	c := dirClient(t, dir)

	files, err := filepath.Glob(filepath.Join(upgradeFixture, "get", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no answers of the old API in %s: %v", upgradeFixture, err)
	}
	scripts, err := filepath.Glob(filepath.Join(upgradeFixture, "get", "vpndeviceconfigurationscript-*.conf"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no device scripts of the old API in %s: %v", upgradeFixture, err)
	}
	var resources []map[string]any // the old answers of the single GETs
	before := map[string]any{}     // today's answers to them, by id
	for _, f := range files {
		var old map[string]any
		readJSON(t, f, &old)
		name := filepath.Base(f)
		switch {
		case strings.HasPrefix(name, "list-"):
			path := "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Network/" + strings.TrimSuffix(strings.TrimPrefix(name, "list-"), ".json")
			compareList(t, ctx, c, name, path, old)
		case strings.HasPrefix(name, "effectiveRouteTable-"):
			compareRoutes(t, ctx, c, name, old)
		case name == "resourcegroups.json":
			compareList(t, ctx, c, name, "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups", old)
		default:
			id, _ := old["id"].(string)
			var now map[string]any
			if _, err := c.Do(ctx, http.MethodGet, escape(id), nil, &now); err != nil {
				t.Errorf("%s: GET %s: %v", name, id, err)
				continue
			}
			compareJSON(t, id, "", old, now, false)
			resources = append(resources, old)
			before[id] = now
		}
	}

	// Each site's device is told the same: what the gateway proposes,
	// the ranges, the addresses and the key, as the records say.
	for _, f := range scripts {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		old := string(b)
		// Its first line names the connection: "...connection RG-NAME:".
		first, _, _ := strings.Cut(old, "\n")
		conn, ok := upgradeScriptConn(first, resources)
		if !ok {
			t.Errorf("%s: no connection of the fixture is named in %q", f, first)
			continue
		}
		var now string
		if _, err := c.Do(ctx, http.MethodPost, escape(conn)+"/vpndeviceconfigurationscript", map[string]string{"vendor": "strongSwan", "deviceFamily": "swanctl", "firmwareVersion": "5.9"}, &now); err != nil {
			t.Errorf("device script of %s: %v", conn, err)
			continue
		}
		if now = scriptLessAdded(now + "\n"); now != old {
			t.Errorf("device script of %s: today's differs from 8050529's:\n%s", conn, lineDiff(old, now))
		}
	}

	// The old answers PUT back: resource groups first, then what others
	// name (route tables, public addresses, networks, sites, gateways)
	// before what names them.
	order := []string{"resourceGroups", "routeTables", "publicIPAddresses", "virtualNetworks", "localNetworkGateways", "virtualNetworkGateways", "connections", "networkInterfaces"}
	rank := func(r map[string]any) int {
		id, _ := r["id"].(string)
		if strings.Count(id, "/") == 4 { // /subscriptions/{s}/resourceGroups/{g}
			return 0
		}
		for i, t := range order {
			if strings.Contains(id, "/"+t+"/") {
				return i
			}
		}
		return len(order)
	}
	sort.SliceStable(resources, func(i, j int) bool { return rank(resources[i]) < rank(resources[j]) })
	for _, old := range resources {
		id := old["id"].(string)
		res, err := c.Do(ctx, http.MethodPut, escape(id), old, nil)
		if err != nil {
			t.Errorf("PUT %s as the old API answered it: %v", id, err)
			continue
		}
		if res.Status != http.StatusOK {
			t.Errorf("PUT %s as the old API answered it: status %d, want 200 (it exists)", id, res.Status)
		}
		var now map[string]any
		if _, err := c.Do(ctx, http.MethodGet, escape(id), nil, &now); err != nil {
			t.Errorf("GET %s after PUT: %v", id, err)
			continue
		}
		// A PUT writes a new version, with a new etag, as it does of a
		// resource created today; nothing else changes.
		compareJSON(t, id+" after a PUT of itself", "", before[id], now, true)
	}
	// The shared keys, which no GET shows and the PUTs did not give, are
	// those the old vnetgw was given.
	for _, old := range resources {
		id := old["id"].(string)
		if old["type"] != "Microsoft.Network/connections" {
			continue
		}
		var key struct{ Value string }
		if _, err := c.Do(ctx, http.MethodGet, escape(id)+"/sharedkey", nil, &key); err != nil || key.Value != upgradeKeys[old["name"].(string)] {
			t.Errorf("shared key of %s: %q, %v; want %q", id, key.Value, err, upgradeKeys[old["name"].(string)])
		}
	}

	// New resources beside the old ones take no address the old ones
	// hold: a public IP (meta/publicip), a host in a subnet with hosts.
	const rg = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-hub/providers/Microsoft.Network/"
	taken := map[string]string{}
	for _, r := range resources {
		p, _ := r["properties"].(map[string]any)
		if a, _ := p["ipAddress"].(string); a != "" {
			taken[a] = r["name"].(string)
		}
		ics, _ := p["ipConfigurations"].([]any)
		for _, ic := range ics {
			if a, _ := ic.(map[string]any)["properties"].(map[string]any)["privateIPAddress"].(string); a != "" {
				taken[a] = r["name"].(string)
			}
		}
	}
	var pip struct{ Properties struct{ IPAddress string } }
	if _, err := c.Do(ctx, http.MethodPut, rg+"publicIPAddresses/new-ip", map[string]any{"location": "westeurope", "sku": map[string]string{"name": "Standard"},
		"properties": map[string]any{"publicIPAllocationMethod": "Static"}}, &pip); err != nil {
		t.Errorf("a new public IP: %v", err)
	} else if by, ok := taken[pip.Properties.IPAddress]; ok || pip.Properties.IPAddress == "" {
		t.Errorf("a new public IP got %q, which %s holds", pip.Properties.IPAddress, by)
	}
	var nic struct {
		Properties struct {
			IPConfigurations []struct {
				Properties struct{ PrivateIPAddress string }
			}
		}
	}
	if _, err := c.Do(ctx, http.MethodPut, rg+"networkInterfaces/new-host", map[string]any{"location": "westeurope", "properties": map[string]any{
		"ipConfigurations": []any{map[string]any{"name": "ipconfig1", "properties": map[string]any{"subnet": map[string]string{"id": rg + "virtualNetworks/hub/subnets/default"}}}}}}, &nic); err != nil {
		t.Errorf("a new host: %v", err)
	} else if len(nic.Properties.IPConfigurations) != 1 {
		t.Errorf("a new host: %d IP configurations", len(nic.Properties.IPConfigurations))
	} else if a := nic.Properties.IPConfigurations[0].Properties.PrivateIPAddress; taken[a] != "" || a == "" {
		t.Errorf("a new host got %q, which %s holds", a, taken[a])
	}

	// A new connection beside the old ones, on the active-active hub
	// gateway that already has four.
	site := map[string]any{"location": "westeurope", "properties": map[string]any{
		"gatewayIpAddress": "127.224.2.50", "localNetworkAddressSpace": map[string]any{"addressPrefixes": []string{"192.168.50.0/24"}}}}
	if _, err := c.Do(ctx, http.MethodPut, rg+"localNetworkGateways/branch-new", site, nil); err != nil {
		t.Fatalf("a new site: %v", err)
	}
	conn := map[string]any{"location": "westeurope", "properties": map[string]any{
		"connectionType":         "IPsec",
		"virtualNetworkGateway1": map[string]any{"id": rg + "virtualNetworkGateways/hub-gw"},
		"localNetworkGateway2":   map[string]any{"id": rg + "localNetworkGateways/branch-new"},
		"sharedKey":              "CompatKey5"}}
	var made map[string]any
	res, err := c.Do(ctx, http.MethodPut, rg+"connections/hub-to-new", conn, &made)
	if err != nil {
		t.Fatalf("a new connection beside the old ones: %v", err)
	}
	if p, _ := made["properties"].(map[string]any); res.Status != http.StatusCreated || p["provisioningState"] != "Succeeded" {
		t.Errorf("a new connection: status %d, provisioningState %v; want 201, Succeeded", res.Status, p["provisioningState"])
	}
	var list struct{ Value []struct{ Name string } }
	if _, err := c.Do(ctx, http.MethodGet, "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Network/connections", nil, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range list.Value {
		names = append(names, v.Name)
	}
	slices.Sort(names)
	if want := []string{"hub-to-bgp", "hub-to-fqdn", "hub-to-nat", "hub-to-new", "hub-to-spoke", "legacy-to-site", "spoke-to-hub", "spoke-to-site"}; !slices.Equal(names, want) {
		t.Errorf("connections %v, want %v", names, want)
	}

	// The VNet-to-VNet pair, both ends in this serve, comes up on the old
	// records (keys, addresses, gateways): it did under 8050529. The
	// deadline is for a loaded machine; it takes a second or two.
	for _, id := range []string{rg + "connections/hub-to-spoke", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-spoke/providers/Microsoft.Network/connections/spoke-to-hub"} {
		var conn struct {
			Properties struct{ ConnectionStatus, ConnectionStatusReason string }
		}
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if _, err := c.Do(ctx, http.MethodGet, id, nil, &conn); err != nil {
				t.Fatal(err)
			}
			if conn.Properties.ConnectionStatus == "Connected" {
				break
			}
		}
		if conn.Properties.ConnectionStatus != "Connected" {
			t.Errorf("%s: %s (%s), want Connected", id, conn.Properties.ConnectionStatus, conn.Properties.ConnectionStatusReason)
		}
	}

	stop()
	if strings.Contains(logs.String(), "unreadable") {
		t.Errorf("today's serve skipped records of 8050529:\n%s", grepLines(logs.String(), "unreadable"))
	}
	// The tunnels' samples of 8050529 are read, not set aside (their
	// age past the retention is another matter).
	if !strings.Contains(logs.String(), "metrics history read") {
		t.Errorf("the metrics history of 8050529 was not read:\n%s", grepLines(logs.String(), "metrics history"))
	}
	if f := formatOf(t, filepath.Join(dir, datadir.State)); f != "1" {
		t.Errorf("meta/format after the upgrade: %q; want 1", f)
	}
}

// formatOf reads meta/format of the bbolt state at path ("" without one).
func formatOf(t *testing.T, path string) string {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kv, err := st.Get(context.Background(), "meta/format")
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(kv.Value)
}

// upgradeScriptConn finds the connection that the first line of a device
// script names ("... of vnetgw connection RG-NAME:") among resources.
func upgradeScriptConn(first string, resources []map[string]any) (string, bool) {
	for _, r := range resources {
		id, _ := r["id"].(string)
		if r["type"] != "Microsoft.Network/connections" {
			continue
		}
		rg := strings.Split(id, "/")[4]
		if strings.HasSuffix(first, " connection "+rg+"-"+r["name"].(string)+":") {
			return id, true
		}
	}
	return "", false
}

// lineDiff names the lines of a that b lacks (-) and those b adds (+).
func lineDiff(a, b string) string {
	in := func(s string) map[string]int {
		m := map[string]int{}
		for l := range strings.Lines(s) {
			m[l]++
		}
		return m
	}
	ia, ib := in(a), in(b)
	var out []string
	for l := range strings.Lines(a) {
		if ib[l] > 0 {
			ib[l]--
		} else {
			out = append(out, "- "+l)
		}
	}
	ib = in(b)
	for l := range strings.Lines(b) {
		if ia[l] > 0 {
			ia[l]--
		} else {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "")
}

// compareList compares each element of a list the old API answered with
// the element of the same id that today's answers, and names those that
// one list has and the other not.
func compareList(t *testing.T, ctx context.Context, c *client.Client, name, path string, old map[string]any) {
	t.Helper()
	var now map[string]any
	if _, err := c.Do(ctx, http.MethodGet, path, nil, &now); err != nil {
		t.Errorf("%s: GET %s: %v", name, path, err)
		return
	}
	byID := func(list map[string]any) map[string]any {
		m := map[string]any{}
		vs, _ := list["value"].([]any)
		for _, v := range vs {
			id, _ := v.(map[string]any)["id"].(string)
			m[strings.ToLower(id)] = v
		}
		return m
	}
	olds, nows := byID(old), byID(now)
	for id, o := range olds {
		n, ok := nows[id]
		if !ok {
			t.Errorf("%s: %s is gone from the list", name, id)
			continue
		}
		compareJSON(t, name+" "+id, "", o, n, false)
	}
	for id := range nows {
		if _, ok := olds[id]; !ok {
			t.Errorf("%s: %s is new in the list", name, id)
		}
	}
}

// compareRoutes compares the effective routes of a network interface
// that the old vnetgw gave with today's (old is its answer, with the
// interface's id beside): each old route is there, in any order, less
// the fields upgradeChanged names as added (effectiveRoute.*); a route
// today's adds may only be a gateway's, as the routes a gateway learned
// over BGP come and go with its sessions.
func compareRoutes(t *testing.T, ctx context.Context, c *client.Client, name string, old map[string]any) {
	t.Helper()
	olds, _ := old["value"].([]any)
	id, _ := old["id"].(string) // the script's, beside the answer
	if len(olds) == 0 || id == "" {
		t.Fatalf("%s: no routes, or no id of their interface", name)
	}
	var now map[string]any
	if _, err := c.Do(ctx, http.MethodPost, escape(id)+"/effectiveRouteTable", nil, &now); err != nil {
		t.Errorf("%s: POST %s/effectiveRouteTable: %v", name, id, err)
		return
	}
	left := map[string]int{}
	for _, r := range olds {
		left[brief(r)]++
	}
	nows, _ := now["value"].([]any)
	for _, r := range nows {
		m := maps.Clone(r.(map[string]any))
		for k := range m {
			if changed("effectiveRoute."+k, nil, false) {
				delete(m, k)
			}
		}
		switch k := brief(m); {
		case left[k] > 0:
			left[k]--
		case m["source"] != "VirtualNetworkGateway":
			t.Errorf("%s: route %s is new", name, k)
		}
	}
	for k, n := range left {
		if n > 0 {
			t.Errorf("%s: route %s is gone", name, k)
		}
	}
}

// compareJSON reports each field whose value today's answer changed, that
// it lost or that it added, less upgradeVolatile. Comparing with the old
// answer (afterPut false), upgradeChanged may differ; comparing two of
// today's answers, before and after a PUT (afterPut true), only the etags.
// path names the field as those do: array elements leave no index.
func compareJSON(t *testing.T, what, path string, old, now any, afterPut bool) {
	t.Helper()
	if _, ok := upgradeVolatile[path]; ok || !afterPut && changed(path, old, true) {
		return
	}
	if afterPut && (path == "etag" || strings.HasSuffix(path, ".etag")) {
		return
	}
	switch o := old.(type) {
	case map[string]any:
		n, ok := now.(map[string]any)
		if !ok {
			t.Errorf("%s: %s was an object, is %s", what, path, brief(now))
			return
		}
		for k, ov := range o {
			p := strings.TrimPrefix(path+"."+k, ".")
			_, volatile := upgradeVolatile[p]
			if nv, ok := n[k]; ok {
				compareJSON(t, what, p, ov, nv, afterPut)
			} else if !volatile {
				t.Errorf("%s: %s was %s, is gone", what, p, brief(ov))
			}
		}
		for k, nv := range n {
			p := strings.TrimPrefix(path+"."+k, ".")
			if _, ok := o[k]; ok || !afterPut && changed(p, nil, false) {
				continue
			}
			if _, ok := upgradeVolatile[p]; !ok {
				t.Errorf("%s: %s is new: %s", what, p, brief(nv))
			}
		}
	case []any:
		n, ok := now.([]any)
		if !ok || len(n) != len(o) {
			t.Errorf("%s: %s was %s, is %s", what, path, brief(old), brief(now))
			return
		}
		for i := range o {
			compareJSON(t, what, path, o[i], n[i], afterPut)
		}
	default:
		if brief(old) != brief(now) {
			t.Errorf("%s: %s was %s, is %s", what, path, brief(old), brief(now))
		}
	}
}

func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

func escape(id string) string {
	segs := strings.Split(id, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func grepLines(s, word string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func gunzipFile(t *testing.T, from, to string) {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
