package cli

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// An unknown -o is refused before the command runs: the resource is not
// written (it was, and then the command failed).
func TestUnknownOutputFormatWritesNothing(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	code, out, errOut := vnetgw(t, "vnet", "create", "-g", "rg", "-n", "v", "-o", "xml")
	if code == 0 || !strings.Contains(errOut, `--output/-o "xml"`) {
		t.Errorf("-o xml: exit %d, want an error that names it:\n%s%s", code, out, errOut)
	}
	if code, _, errOut := vnetgw(t, "vnet", "show", "-g", "rg", "-n", "v"); code == 0 || !strings.Contains(errOut, "NotFound") {
		t.Errorf("vnet create -o xml created the network (show: exit %d %s)", code, errOut)
	}
}

// A mistyped subcommand is an error that suggests the right one (cobra
// printed the group's help and exited 0, so that a script went on); a
// group alone still prints its help.
func TestMistypedSubcommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet-gateway", "creat"}, `unknown command "creat" for "vnetgw vnet-gateway": did you mean create?`},
		{[]string{"vnet-gateway", "vpn-client", "generat"}, `did you mean generate?`},
		{[]string{"vnett"}, `unknown command "vnett" for "vnetgw"`},
		// With flags after it, the word is the error, not the flags
		// (it was "unknown shorthand flag: 'g' in -g").
		{[]string{"vnet-gateway", "root-cert", "list", "-g", "rg", "--gateway-name", "gw"}, `unknown command "list" for "vnetgw vnet-gateway root-cert"`},
		{[]string{"vnet-gateway", "creat", "-g", "rg", "-n", "gw"}, `unknown command "creat" for "vnetgw vnet-gateway": did you mean create?`},
		{[]string{"vnet", "--bogus"}, `unknown flag: --bogus`},
		// Help for a command that does not exist: cobra printed the
		// help of the group above the word and exited 0.
		{[]string{"vnett", "--help"}, `unknown command "vnett" for "vnetgw"`},
		{[]string{"vnet-gateway", "creat", "-h"}, `unknown command "creat" for "vnetgw vnet-gateway": did you mean create?`},
		{[]string{"help", "vnett"}, `unknown command "vnett" for "vnetgw"`},
		{[]string{"help", "vnet-gateway", "creat"}, `unknown command "creat" for "vnetgw vnet-gateway": did you mean create?`},
	} {
		code, out, errOut := vnetgw(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("vnetgw %s: exit %d, want an error with %q:\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
	for _, args := range [][]string{{"vnet-gateway"}, {"vnet-gateway", "--help"}, {"help", "vnet-gateway"}, {"-o", "table", "vnet-gateway", "-h"}} {
		if code, out, _ := vnetgw(t, args...); code != 0 || !strings.Contains(out, "Available Commands") {
			t.Errorf("vnetgw %s: exit %d, want its help:\n%s", strings.Join(args, " "), code, out)
		}
	}
	if code, out, _ := vnetgw(t, "vnet-gateway", "create", "--help"); code != 0 || !strings.Contains(out, "--gateway-type") {
		t.Errorf("vnetgw vnet-gateway create --help: exit %d, want its help:\n%s", code, out)
	}
}

// group show and group delete without --name say it is required (they
// asked the API about the subscription, which answered InvalidResourceType).
func TestGroupNameRequired(t *testing.T) {
	startRegion(t)
	for _, verb := range []string{"show", "delete"} {
		code, out, errOut := vnetgw(t, "group", verb)
		if code == 0 || !strings.Contains(errOut, "--name/-n is required") {
			t.Errorf("group %s without -n: exit %d, want --name/-n is required:\n%s%s", verb, code, out, errOut)
		}
	}
}

// A command whose resource is named by another flag than -n says which
// flag is missing: it said "--name/-n is required" with -n given (root-cert
// create without --gateway-name, subnet list without --vnet-name), and
// "--vnet: --name/-n is required"; subnet create without -n was sent to
// the subnets collection and answered MethodNotAllowed.
func TestMissingFlagIsNamed(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "--address-prefixes", "10.1.3.0/24"}, "--name/-n is required"},
		{[]string{"vnet", "subnet", "create", "-g", "rg", "-n", "s", "--address-prefixes", "10.1.3.0/24"}, "--vnet-name is required"},
		{[]string{"vnet", "subnet", "list", "-g", "rg"}, "--vnet-name is required"},
		{[]string{"nic", "create", "-g", "rg", "-n", "web", "--subnet", "default"}, "--vnet-name is required"},
		{[]string{"vnet-gateway", "create", "-g", "rg", "-n", "gw"}, "--vnet is required"},
		{[]string{"vpn-connection", "create", "-g", "rg", "-n", "c", "--local-gateway2", "branch"}, "--vnet-gateway1 is required"},
		{[]string{"vnet-gateway", "root-cert", "delete", "-g", "rg", "-n", "root"}, "--gateway-name is required"},
		{[]string{"vnet-gateway", "nat-rule", "list", "-g", "rg"}, "--gateway-name is required"},
		{[]string{"vpn-connection", "shared-key", "show", "-g", "rg"}, "--connection-name is required"},
		{[]string{"vpn-connection", "ipsec-policy", "list", "-g", "rg"}, "--connection-name is required"},
		{[]string{"route-table", "route", "list", "-g", "rg"}, "--route-table-name is required"},
	} {
		code, out, errOut := vnetgw(t, tc.args...)
		if code == 0 || strings.TrimSpace(errOut) != "error: "+tc.want {
			t.Errorf("vnetgw %s: exit %d, want error: %s\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
}

// A command refuses the global flags it does not use, and its help leaves
// them out: demo's help listed --data-dir, -o and --subscription, which it
// ignored (its region has a temporary data directory of its own), and
// serve took -o table without a word.
func TestGlobalFlagsACommandDoesNotUse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dev", "gateway", "--data-dir", t.TempDir(), "--config", "gw.json"}, "error: --data-dir: vnetgw dev gateway does not use it"},
		{[]string{"dev", "gateway", "--subscription", "x", "--config", "gw.json"}, "error: --subscription: vnetgw dev gateway does not use it"},
		{[]string{"serve", "-o", "table", "--data-dir", t.TempDir(), "--metrics-interval", "0s"}, "error: --output/-o: vnetgw serve does not use it"},
		{[]string{"metrics", "--subscription", "x", "--data-dir", t.TempDir()}, "error: --subscription: vnetgw metrics does not use it"},
		// A node is the region's, and monitor's --resource a full id: they
		// took --subscription and ignored it.
		{[]string{"cluster", "node", "list", "--subscription", "x", "--data-dir", t.TempDir()}, "error: --subscription: vnetgw cluster node list does not use it"},
		{[]string{"cluster", "node", "drain", "-n", "gw1", "--subscription", "x", "--data-dir", t.TempDir()}, "error: --subscription: vnetgw cluster node drain does not use it"},
		{[]string{"cluster", "rebalance", "--subscription", "x", "--data-dir", t.TempDir()}, "error: --subscription: vnetgw cluster rebalance does not use it"},
		{[]string{"monitor", "metrics", "list", "--resource", "/subscriptions/x/resourceGroups/g/providers/Microsoft.Network/connections/c", "--subscription", "y", "--data-dir", t.TempDir()},
			"error: --subscription: vnetgw monitor metrics list does not use it"},
	} {
		code, out, errOut := vnetgw(t, tc.args...)
		if code == 0 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("vnetgw %s: exit %d, want %s\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
	for _, tc := range []struct {
		args       []string
		with, none []string
	}{
		{[]string{"demo", "--help"}, nil, []string{"--data-dir", "--output", "--subscription", "Global Flags"}},
		{[]string{"dev", "gateway", "--help"}, nil, []string{"--data-dir", "--output", "--subscription"}},
		{[]string{"serve", "--help"}, []string{"--data-dir"}, []string{"--output", "--subscription"}},
		{[]string{"vnet", "list", "--help"}, []string{"--data-dir", "--output", "--subscription"}, nil},
		{[]string{"cluster", "node", "list", "--help"}, []string{"--data-dir", "--output"}, []string{"--subscription"}},
		{[]string{"cluster", "move-vnet", "--help"}, []string{"--data-dir", "--output", "--subscription"}, nil},
		{[]string{"monitor", "metrics", "list", "--help"}, []string{"--data-dir", "--output"}, []string{"--subscription"}},
	} {
		code, out, errOut := vnetgw(t, tc.args...)
		if code != 0 {
			t.Fatalf("vnetgw %s: exit %d\n%s", strings.Join(tc.args, " "), code, errOut)
		}
		for _, w := range tc.with {
			if !strings.Contains(out, w) {
				t.Errorf("vnetgw %s does not list %s:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
		for _, w := range tc.none {
			if strings.Contains(out, w) {
				t.Errorf("vnetgw %s lists %s:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
}

// A flag of several values takes them space-separated, as az does and
// Azure's walk-throughs write them ("--local-address-prefixes 10.0.0.0/24
// 20.0.0.0/24"): the second was refused as an unknown command. A word
// after a flag of one value is still refused.
func TestSpaceSeparatedLists(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "local-gateway", "create", "--gateway-ip-address", "127.0.0.50", "--name", "Site1", "--resource-group", "rg",
		"--local-address-prefixes", "10.0.0.0/24", "20.0.0.0/24", "-o", "table")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "10.2.0.0/16", "--dns-servers", "10.1.0.53", "10.1.0.54", "--subnet-name", "s")
	var l arm.LocalNetworkGateway
	mustJSON(t, &l, "local-gateway", "show", "-g", "rg", "-n", "Site1")
	if sp := l.Properties.LocalNetworkAddressSpace; sp == nil || !slices.Equal(sp.AddressPrefixes, []string{"10.0.0.0/24", "20.0.0.0/24"}) {
		t.Errorf("Site1's ranges %+v, want 10.0.0.0/24 and 20.0.0.0/24", sp)
	}
	var v arm.VirtualNetwork
	mustJSON(t, &v, "vnet", "show", "-g", "rg", "-n", "hub")
	if got := v.Properties.AddressSpace.AddressPrefixes; !slices.Equal(got, []string{"10.1.0.0/16", "10.2.0.0/16"}) ||
		v.Properties.DHCPOptions == nil || !slices.Equal(v.Properties.DHCPOptions.DNSServers, []string{"10.1.0.53", "10.1.0.54"}) {
		t.Errorf("hub: %v %+v, want 10.1.0.0/16,10.2.0.0/16 with DNS servers 10.1.0.53,10.1.0.54", got, v.Properties.DHCPOptions)
	}
	code, out, errOut := vnetgw(t, "vnet", "show", "-g", "rg", "-n", "hub", "extra")
	if code == 0 || !strings.Contains(errOut, `unknown command "extra"`) {
		t.Errorf("vnet show -n hub extra: exit %d, want the word refused\n%s%s", code, out, errOut)
	}
}

// TestListsOneALine: a flag of several values takes them one a line in
// one word, as a script passes what it read, quoted (--ids "$(vnetgw
// vnet list -g rg | jq -r '.[].id')", which az takes line by line,
// --local-address-prefixes "$(cat ranges.txt)"): pflag read the word as
// CSV and took its first line alone, so that the delete deleted the first
// network and left the others, and the site had its first range alone,
// each exiting 0.
func TestListsOneALine(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	var ids []string
	for i, name := range []string{"a", "b", "c"} {
		var v arm.VirtualNetwork
		mustJSON(t, &v, "vnet", "create", "-g", "rg", "-n", name, "--address-prefixes", fmt.Sprintf("10.%d.0.0/16", i+1))
		ids = append(ids, v.ID)
	}
	lines := strings.Join(ids, "\n") + "\n"
	var shown []arm.VirtualNetwork
	mustJSON(t, &shown, "vnet", "show", "--ids", lines)
	if len(shown) != 3 {
		t.Errorf("vnet show --ids of three, one a line: %d shown (%v), want 3", len(shown), shown)
	}
	must(t, "vnet", "delete", "--ids", strings.ReplaceAll(lines, "\n", "\r\n"))
	var left []arm.VirtualNetwork
	if mustJSON(t, &left, "vnet", "list", "-g", "rg"); len(left) != 0 {
		t.Errorf("after vnet delete --ids of three, one a line: %d VNets left (%v), want none", len(left), left)
	}

	ranges := []string{"10.101.0.0/24", "10.101.1.0/24", "10.101.2.0/24", "10.101.3.0/24"}
	must(t, "local-gateway", "create", "-g", "rg", "-n", "site", "--gateway-ip-address", "127.0.0.50",
		"--local-address-prefixes", strings.Join(ranges[:2], "\n"), ranges[2]+"\n"+ranges[3])
	var l arm.LocalNetworkGateway
	mustJSON(t, &l, "local-gateway", "show", "-g", "rg", "-n", "site")
	if sp := l.Properties.LocalNetworkAddressSpace; sp == nil || !slices.Equal(sp.AddressPrefixes, ranges) {
		t.Errorf("site's ranges %+v, want %v", sp, ranges)
	}
	must(t, "local-gateway", "update", "-g", "rg", "-n", "site", "--local-address-prefixes="+strings.Join(ranges[1:], "\n"))
	mustJSON(t, &l, "local-gateway", "show", "-g", "rg", "-n", "site")
	if sp := l.Properties.LocalNetworkAddressSpace; sp == nil || !slices.Equal(sp.AddressPrefixes, ranges[1:]) {
		t.Errorf("after --local-address-prefixes=, site's ranges %+v, want %v", sp, ranges[1:])
	}
}

// A show command whose resource does not exist exits 3, as az's do, so
// that a script tells "not there" from a failure; so does any other the
// API answers 404 (TestNotFoundExitsThree); other errors exit 1 (every
// error exited 1).
func TestShowMissingExitCode(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"vnet", "show", "-g", "rg", "-n", "nope"}, 3},
		{[]string{"group", "show", "-n", "nope"}, 3},
		{[]string{"vnet", "subnet", "show", "-g", "rg", "--vnet-name", "hub", "-n", "nope"}, 3},
		{[]string{"vnet-gateway", "show", "-g", "nope", "-n", "gw"}, 3},
		{[]string{"vnet", "show", "-g", "rg"}, 2},                         // no --name
		{[]string{"vnet", "delete", "-g", "nope", "-n", "hub"}, 3},        // a 404, as az
		{[]string{"vnet", "create", "-g", "rg", "-n", "x", "--bogus"}, 2}, // an unknown flag, as az's parser exits
	} {
		if code, out, errOut := vnetgw(t, tc.args...); code != tc.want {
			t.Errorf("vnetgw %s: exit %d, want %d\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
}

// A flag's help says what it does: serve --sstp-port is OpenVPN's port
// too, nat-rule add --internal-mappings the VNet's addresses in an
// EgressSnat rule, and monitor metrics list's --interval defaults to serve's
// --metrics-interval when it is longer than PT1M, its --filter takes
// Protocol, a gateway has more metrics than the tunnels' six, and
// public-ip's --idle-timeout is 4 minutes when left out, as the API makes
// it; the help said SSTP only, the site's space only, PT1M, no Protocol,
// six and "none".
func TestHelpSaysWhatFlagsDo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--help"}, "(SSTP over HTTPS, and OpenVPN)"},
		{[]string{"vnet-gateway", "nat-rule", "add", "--help"}, "the site's (IngressSnat) or the VNet's (EgressSnat)"},
		{[]string{"monitor", "metrics", "list", "--help"}, "(default: PT1M, or that when it is longer)"},
		{[]string{"monitor", "metrics", "list", "--help"}, `"Protocol eq '*'" P2SConnectionCount by protocol`},
		{[]string{"monitor", "metrics", "list", "--help"}, "MmsaCount, QmsaCount"},
		// With --filter the API answers 10 series by default, as Azure
		// does; the CLI had no way to ask for more, or for the smallest.
		{[]string{"monitor", "metrics", "list", "--help"}, "--top int       the most series of a metric split by --filter (the API's default: 10)"},
		{[]string{"monitor", "metrics", "list", "--help"}, `--orderby string which series come first: "sum desc"`},
		{[]string{"public-ip", "create", "--help"}, "(default: what it has; 4 for a new one)"},
		{[]string{"public-ip", "update", "--help"}, "(default: what it has; 4 for a new one)"},
		{[]string{"serve", "--help"}, "where the links it gives (a list's nextLink, a 202's Location) send a client that came by another name, and a name on its certificate"},
		// The samples survive a restart (--metrics-save); the help said
		// they started again with the node.
		{[]string{"monitor", "metrics", "list", "--help"}, "writes them to its data directory every --metrics-save and when it stops: a restart keeps them"},
		// The API refuses a gateway without BGP; the help did not say so.
		{[]string{"vnet-gateway", "list-learned-routes", "--help"}, "without it the API refuses with BgpNotEnabled"},
		{[]string{"vnet-gateway", "list-bgp-peer-status", "--help"}, "without it the API refuses with BgpNotEnabled"},
	} {
		// The help is wrapped to the width of a terminal: words count, not lines.
		if out := must(t, tc.args...); !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(tc.want), " ")) {
			t.Errorf("vnetgw %s does not say %q:\n%s", strings.Join(tc.args, " "), tc.want, out)
		}
	}
}

// A duration flag of 0 or less is refused before anything starts: serve
// took --policy-idle-timeout 0 and --fqdn-refresh 0 and used 5 minutes and
// a minute instead without a word (a user who meant "never" got 5
// minutes), and dev gateway --status-interval 0 panicked in
// time.NewTicker once its gateway was up. (--metrics-interval 0s, which
// serve refuses after them, keeps a serve that took them from starting.)
func TestDurationFlagsNotPositive(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--data-dir", t.TempDir(), "--policy-idle-timeout", "0s", "--metrics-interval", "0s"}, "error: --policy-idle-timeout must be at least 1s (got 0s)"},
		{[]string{"serve", "--data-dir", t.TempDir(), "--fqdn-refresh", "-1m", "--metrics-interval", "0s"}, "error: --fqdn-refresh must be at least 1s (got -1m0s)"},
		{[]string{"dev", "gateway", "--config", filepath.Join(t.TempDir(), "none.json"), "--status-interval", "0s"}, "error: --status-interval must be positive (got 0s)"},
	} {
		code, out, errOut := vnetgw(t, tc.args...)
		if code != 2 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("vnetgw %s: exit %d, want %s\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
}

// serve refuses the flags of a node of a region on etcd without --etcd:
// it took them and ignored them, so that a node meant to join a region
// and started without --etcd ran a region of its own without a word.
func TestServeEtcdFlagsWithoutEtcd(t *testing.T) {
	for _, flag := range []string{"--etcd-prefix=/r1/", "--etcd-ca=ca.pem", "--etcd-cert=c.pem", "--etcd-key=k.pem", "--node-name=gw1", "--node-ttl=2s", "--node-settle=0s"} {
		// --metrics-interval 0s keeps a serve that took it from starting.
		args := []string{"serve", "--data-dir", t.TempDir(), flag, "--metrics-interval", "0s"}
		name, _, _ := strings.Cut(flag, "=")
		want := "error: " + name + ": only with --etcd (a region on several nodes)"
		code, out, errOut := vnetgw(t, args...)
		if code != 2 || strings.TrimSpace(errOut) != want {
			t.Errorf("vnetgw %s: exit %d, want %s\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
	}
}

// monitor metrics list --resource takes the id of a gateway or a
// connection: a name, an id without its first slash or of another type
// is refused, saying what it takes and where to find it. The first two
// made a URL that did not parse ("invalid port \":7443gw\" after host").
func TestMonitorResourceIsAGatewayOrConnectionID(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	var gw, conn struct{ ID string }
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	mustJSON(t, &conn, "vpn-connection", "show", "-g", "rg", "-n", "conn")
	for _, id := range []string{gw.ID, conn.ID} {
		var out struct{ Value []any }
		mustJSON(t, &out, "monitor", "metrics", "list", "--resource", id)
		if len(out.Value) == 0 {
			t.Errorf("metrics of %s: none; want the first metric", id)
		}
	}
	for _, bad := range []string{"gw", strings.TrimPrefix(gw.ID, "/"), strings.Replace(gw.ID, "virtualNetworkGateways/gw", "virtualNetworks/hub", 1)} {
		code, out, errOut := vnetgw(t, "monitor", "metrics", "list", "--resource", bad)
		if want := fmt.Sprintf("error: --resource %q: the id of a virtual network gateway or a connection", bad); code != 2 || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "vnet-gateway show") {
			t.Errorf("--resource %s: exit %d, %s%s; want exit 2, %s ... vnet-gateway show", bad, code, out, errOut, want)
		}
	}
}

// TestMonitorTimespanAsAz: monitor metrics list's window is az's: with
// --start-time alone it is --offset (1h) from there, not up to now, and
// with --end-time alone --offset before it; --offset takes az's ##d##h##m
// (it was an unknown flag). A script that asked for the hour from 10:00
// got the metrics from 10:00 to now, summed over all of it with
// --interval FULL.
func TestMonitorTimespanAsAz(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	var gw struct{ ID string }
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	start := time.Now().UTC().Add(-5 * time.Hour).Truncate(time.Minute)
	at := func(d time.Duration) string { return start.Add(d).Format(time.RFC3339) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--start-time", at(0)}, at(0) + "/" + at(time.Hour)},
		{[]string{"--start-time", at(0), "--offset", "2h30m"}, at(0) + "/" + at(150*time.Minute)},
		{[]string{"--end-time", at(2 * time.Hour), "--offset", "1d"}, at(-22*time.Hour) + "/" + at(2*time.Hour)},
		{[]string{"--end-time", at(2 * time.Hour)}, at(time.Hour) + "/" + at(2*time.Hour)},
		{[]string{"--start-time", at(0), "--end-time", at(3 * time.Hour), "--offset", "1h"}, at(0) + "/" + at(3*time.Hour)},
		// As az's: without a zone, UTC; another zone, or none, or a
		// space for the T (it was refused, RFC 3339 alone).
		{[]string{"--start-time", start.Format("2006-01-02T15:04")}, at(0) + "/" + at(time.Hour)},
		{[]string{"--start-time", start.Format("2006-01-02 15:04:05")}, at(0) + "/" + at(time.Hour)},
		{[]string{"--start-time", start.In(time.FixedZone("", 3600)).Format("2006-01-02T15:04:05-07:00")}, at(0) + "/" + at(time.Hour)},
		{[]string{"--end-time", start.Format("2006-01-02")}, start.Truncate(24*time.Hour).Add(-time.Hour).Format(time.RFC3339) + "/" + start.Truncate(24*time.Hour).Format(time.RFC3339)},
	} {
		var out struct{ Timespan string }
		mustJSON(t, &out, append([]string{"monitor", "metrics", "list", "--resource", gw.ID, "--interval", "FULL"}, tc.args...)...)
		if out.Timespan != tc.want {
			t.Errorf("monitor metrics list %s: timespan %s, want %s", strings.Join(tc.args, " "), out.Timespan, tc.want)
		}
	}
	if code, out, errOut := vnetgw(t, "monitor", "metrics", "list", "--resource", gw.ID, "--offset", "soon"); code != 2 || !strings.Contains(errOut, `--offset "soon"`) {
		t.Errorf("--offset soon: exit %d, %s%s; want exit 2 naming --offset", code, out, errOut)
	}
	if code, out, errOut := vnetgw(t, "monitor", "metrics", "list", "--resource", gw.ID, "--start-time", "10:00"); code != 1 || !strings.Contains(errOut, `--start-time "10:00": not a time`) {
		t.Errorf("--start-time 10:00: exit %d, %s%s; want exit 1 naming --start-time", code, out, errOut)
	}
}

// A flag's value that does not parse as a number is named with what is
// wrong in the user's words: pflag said `invalid argument "70000" for
// "--ike-port" flag: strconv.ParseUint: parsing "70000": value out of
// range`.
func TestFlagValueThatDoesNotParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vpn-connection", "create", "-g", "rg", "-n", "c", "--vnet-gateway1", "gw", "--routing-weight", "abc"}, `error: --routing-weight "abc": not a whole number`},
		{[]string{"serve", "--data-dir", t.TempDir(), "--ike-port", "70000"}, `error: --ike-port "70000": out of range: from 0 to 65535`},
		{[]string{"serve", "--data-dir", t.TempDir(), "--natt-port", "-1"}, `error: --natt-port "-1": out of range: from 0 to 65535`},
		{[]string{"vnet-gateway", "update", "-g", "rg", "-n", "gw", "--peer-weight", "3000000000"}, `error: --peer-weight "3000000000": out of range: from -2147483648 to 2147483647`},
	} {
		code, out, errOut := vnetgw(t, tc.args...)
		if code == 0 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("vnetgw %s: exit %d, want %s\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
}
