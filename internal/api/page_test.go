package api

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
)

// sdkToken is a TokenCredential that hands out the test's admin token.
type sdkToken struct{}

func (sdkToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: testToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// sdkOptions points the unchanged Azure SDK at a TLS env.
func (e *env) sdkOptions() *azarm.ClientOptions {
	return &azarm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud: cloud.Configuration{
				ActiveDirectoryAuthorityHost: "https://login.vnetgw.invalid/",
				Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
					cloud.ResourceManager: {Endpoint: e.srv.URL, Audience: "https://management.vnetgw.invalid"},
				},
			},
			Transport: e.srv.Client(),
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		DisableRPRegistration: true,
	}
}

// collect runs an SDK pager to its end and returns the names of every
// item and how many pages there were.
func collect[T any](t *testing.T, p interface {
	More() bool
	NextPage(context.Context) (T, error)
}, names func(T) []*string) ([]string, int) {
	t.Helper()
	var out []string
	pages := 0
	for p.More() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		for _, n := range names(page) {
			out = append(out, *n)
		}
	}
	return out, pages
}

// sameNames fails unless got holds every name of want exactly once.
func sameNames(t *testing.T, what string, got []string, pages, minPages int, want ...string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || pages < minPages {
		t.Errorf("%s: %d pages of %v, want every one of %v once, in at least %d pages", what, pages, got, want, minPages)
	}
}

// TestListPagesWithAzureSDK: a list answers a page and a nextLink (ARM's
// resource provider contract: server side paging with $skipToken), which the
// SDK's pagers follow as they are; every item comes once, in pages, for
// lists of a resource group, of a subscription and of a parent resource,
// and the resource groups' $top sizes the pages.
func TestListPagesWithAzureSDK(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 3, tls: true})
	var vnets, all []string
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	e.must("PUT", rgPath(subA, "other"), group("westeurope"))
	for i := range 8 {
		name := fmt.Sprintf("Vnet-%d", i)
		e.must("PUT", netPath(subA, "rg", "virtualNetworks", name), vnet("westeurope", []string{fmt.Sprintf("10.%d.0.0/16", i)}))
		vnets = append(vnets, name)
	}
	all = append(all, vnets...)
	for i := range 2 {
		name := fmt.Sprintf("elsewhere%d", i)
		e.must("PUT", netPath(subA, "other", "virtualNetworks", name), vnet("westeurope", []string{fmt.Sprintf("10.%d.0.0/16", 50+i)}))
		all = append(all, name)
	}
	var subnets, subnetNames []string
	for i := range 7 {
		subnetNames = append(subnetNames, fmt.Sprintf("S%d", i))
	}
	var subnetBodies []obj
	for i, n := range subnetNames {
		subnetBodies = append(subnetBodies, subnet(n, fmt.Sprintf("10.60.%d.0/24", i)))
	}
	e.must("PUT", netPath(subA, "other", "virtualNetworks", "many"), vnet("westeurope", []string{"10.60.0.0/16"}, subnetBodies...))
	subnets = subnetNames
	all = append(all, "many")
	var routes []obj
	var routeNames []string
	for i := range 5 {
		routeNames = append(routeNames, fmt.Sprintf("r%d", i))
		routes = append(routes, obj{"name": routeNames[i], "properties": obj{"addressPrefix": fmt.Sprintf("192.168.%d.0/24", i), "nextHopType": "None"}})
	}
	e.must("PUT", netPath(subA, "other", "routeTables", "t"), obj{"location": "westeurope", "properties": obj{"routes": routes}})
	s := e.site(subA, "gw", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw2")
	all = append(all, "vnet")
	var rules []obj
	var ruleNames []string
	for i := range 4 {
		ruleNames = append(ruleNames, fmt.Sprintf("nat%d", i))
		rules = append(rules, natRule(ruleNames[i], "Static", "IngressSnat", fmt.Sprintf("10.%d.0.0/24", 100+i), fmt.Sprintf("172.%d.0.0/24", 100+i)))
	}
	e.must("PUT", s.gw, e.withNatRules(s, rules...))

	net, err := armnetwork.NewClientFactory(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	vnetNames := func(p armnetwork.VirtualNetworksClientListResponse) (out []*string) {
		for _, v := range p.Value {
			out = append(out, v.Name)
		}
		return out
	}
	got, pages := collect(t, net.NewVirtualNetworksClient().NewListPager("rg", nil), vnetNames)
	sameNames(t, "virtual networks of rg", got, pages, 3, vnets...)
	got, pages = collect(t, net.NewVirtualNetworksClient().NewListAllPager(nil), func(p armnetwork.VirtualNetworksClientListAllResponse) (out []*string) {
		for _, v := range p.Value {
			out = append(out, v.Name)
		}
		return out
	})
	sameNames(t, "virtual networks of the subscription", got, pages, 4, all...)
	got, pages = collect(t, net.NewSubnetsClient().NewListPager("other", "many", nil), func(p armnetwork.SubnetsClientListResponse) (out []*string) {
		for _, v := range p.Value {
			out = append(out, v.Name)
		}
		return out
	})
	sameNames(t, "subnets", got, pages, 3, subnets...)
	got, pages = collect(t, net.NewRoutesClient().NewListPager("other", "t", nil), func(p armnetwork.RoutesClientListResponse) (out []*string) {
		for _, v := range p.Value {
			out = append(out, v.Name)
		}
		return out
	})
	sameNames(t, "routes", got, pages, 2, routeNames...)
	got, pages = collect(t, net.NewVirtualNetworkGatewayNatRulesClient().NewListByVirtualNetworkGatewayPager("gw", "gw", nil),
		func(p armnetwork.VirtualNetworkGatewayNatRulesClientListByVirtualNetworkGatewayResponse) (out []*string) {
			for _, v := range p.Value {
				out = append(out, v.Name)
			}
			return out
		})
	sameNames(t, "NAT rules", got, pages, 2, ruleNames...)

	groups, err := armresources.NewResourceGroupsClient(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, pages = collect(t, groups.NewListPager(&armresources.ResourceGroupsClientListOptions{Top: to.Ptr[int32](1)}), func(p armresources.ResourceGroupsClientListResponse) (out []*string) {
		for _, v := range p.Value {
			out = append(out, v.Name)
		}
		return out
	})
	sameNames(t, "resource groups, $top=1", got, pages, 3, "rg", "other", "gw")
}

// TestListPageGoesOnAfterItsLastItem: the $skipToken names the last item
// given, not how many were, so that what is written between two pages
// neither repeats an item nor skips one that stayed; only what changed
// around the cursor may come or go.
func TestListPageGoesOnAfterItsLastItem(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 2})
	list := rgPath(subA, "rg") + "/providers/Microsoft.Network/publicIPAddresses"
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	for _, n := range []string{"a", "c", "e", "g"} {
		e.must("PUT", netPath(subA, "rg", "publicIPAddresses", n), publicIP("westeurope", "Static"))
	}
	var l arm.List[arm.PublicIPAddress]
	first := e.must("GET", list, nil)
	if err := json.Unmarshal(first.body, &l); err != nil {
		t.Fatal(err)
	}
	names := func() (out []string) {
		for _, p := range l.Value {
			out = append(out, p.Name)
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"a", "c"}) || l.NextLink == "" {
		t.Fatalf("first page: %v, nextLink %q; want a, c and a nextLink", got, l.NextLink)
	}
	next := l.NextLink
	e.must("PUT", netPath(subA, "rg", "publicIPAddresses", "b"), publicIP("westeurope", "Static"))
	e.must("DELETE", netPath(subA, "rg", "publicIPAddresses", "e"), nil)
	e.must("PUT", netPath(subA, "rg", "publicIPAddresses", "f"), publicIP("westeurope", "Static"))
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	if u.Query().Get("api-version") != "2024-05-01" {
		t.Errorf("nextLink %s does not keep the api-version", next)
	}
	second := e.raw("GET", u.EscapedPath(), "?"+u.RawQuery, testToken, nil)
	l = arm.List[arm.PublicIPAddress]{}
	if err := json.Unmarshal(second.body, &l); err != nil || second.status != 200 {
		t.Fatalf("second page: %d %s", second.status, second.body)
	}
	if got := names(); !slices.Equal(got, []string{"f", "g"}) || l.NextLink != "" {
		t.Errorf("second page after writes: %v, nextLink %q; want f, g and no nextLink", got, l.NextLink)
	}
}

// TestListSkipTokenRefused: a $skipToken that is not one the list gave
// (garbage, made up, another list's) is a 400 ARM error, not a page of
// something else.
func TestListSkipTokenRefused(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 1})
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	e.must("PUT", rgPath(subA, "other"), group("westeurope"))
	for _, rg := range []string{"rg", "other"} {
		for _, n := range []string{"v1", "v2"} {
			e.must("PUT", netPath(subA, rg, "virtualNetworks", n), vnet("westeurope", []string{"10.1.0.0/16"}))
		}
	}
	e.must("PUT", netPath(subA, "rg", "publicIPAddresses", "p"), publicIP("westeurope", "Static"))
	ours := func(key string) string { return base64.RawURLEncoding.EncodeToString([]byte("v1:" + key)) }
	vnets := rgPath(subA, "rg") + "/providers/Microsoft.Network/virtualNetworks"
	for _, c := range []struct{ name, token string }{
		{"not base64", "%%%"},
		{"not ours", base64.RawURLEncoding.EncodeToString([]byte(strings.ToLower(netPath(subA, "rg", "virtualNetworks", "v1"))))},
		{"another group's", ours(strings.ToLower(netPath(subA, "other", "virtualNetworks", "v1")))},
		{"another kind's", ours(strings.ToLower(netPath(subA, "rg", "publicIPAddresses", "p")))},
		{"another subscription's", ours(strings.ToLower(netPath(subB, "rg", "virtualNetworks", "v1")))},
		{"not a key", ours(netPath(subA, "rg", "virtualNetworks", "V1"))},
		{"a subnet's", ours(strings.ToLower(netPath(subA, "rg", "virtualNetworks", "v1") + "/subnets/s"))},
	} {
		r := e.raw("GET", vnets, "?api-version=2024-05-01&%24skipToken="+url.QueryEscape(c.token), testToken, nil)
		if r.status != http.StatusBadRequest || r.code() != arm.CodeInvalidParameter || r.str("error.target") != "$skipToken" {
			t.Errorf("%s: %d %s, want 400 InvalidParameter of $skipToken", c.name, r.status, r.body)
		}
	}
	// One the list gave goes on.
	r := e.must("GET", vnets, nil)
	u, _ := url.Parse(r.str("nextLink"))
	if r2 := e.raw("GET", u.EscapedPath(), "?"+u.RawQuery, testToken, nil); r2.status != 200 || r2.str("value.0.name") != "v2" {
		t.Errorf("the list's own nextLink: %d %s", r2.status, r2.body)
	}
	if r := e.raw("GET", "/subscriptions/"+subA+"/resourcegroups", "?api-version=2021-04-01&%24top=0", testToken, nil); r.status != 400 || r.str("error.target") != "$top" {
		t.Errorf("$top=0: %d %s", r.status, r.body)
	}
}

// TestNextLinkHost: the nextLink names the host the client came by when
// that is one of the API's own names, and never a Host header of
// another's choosing, to which the SDK would send its bearer token.
func TestNextLinkHost(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 1})
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	e.must("PUT", rgPath(subA, "other"), group("westeurope"))
	_, port, _ := strings.Cut(strings.TrimPrefix(e.srv.URL, "http://"), ":")
	for _, c := range []struct{ host, want string }{
		{"localhost:" + port, "http://localhost:" + port + "/subscriptions/"},
		{"127.0.0.1:" + port, "http://127.0.0.1:" + port + "/subscriptions/"},
		{"[::1]:" + port, "http://[::1]:" + port + "/subscriptions/"},
		{"LOCALHOST", "http://LOCALHOST/subscriptions/"},
		{"attacker.example", "/subscriptions/"},
		{"attacker.example:" + port, "/subscriptions/"},
		{"127.0.0.2:" + port, "/subscriptions/"},
	} {
		req, err := http.NewRequest("GET", e.srv.URL+"/subscriptions/"+subA+"/resourcegroups?api-version=2021-04-01", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = c.host
		req.Header.Set("Authorization", "Bearer "+testToken)
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var l arm.List[arm.ResourceGroup]
		err = json.NewDecoder(res.Body).Decode(&l)
		res.Body.Close()
		if err != nil || !strings.HasPrefix(l.NextLink, c.want) {
			t.Errorf("Host %s: nextLink %q, want it to start with %s", c.host, l.NextLink, c.want)
		}
	}
}

// TestClientListFollowsPages: vnetgw's own client (the CLI's) lists every
// page, following nextLink on its own endpoint.
func TestClientListFollowsPages(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 2})
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	var want []string
	for i := range 5 {
		want = append(want, fmt.Sprintf("p%d", i))
		e.must("PUT", netPath(subA, "rg", "publicIPAddresses", want[i]), publicIP("westeurope", "Static"))
	}
	c, err := client.New(client.Config{Endpoint: e.srv.URL, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := client.List[arm.PublicIPAddress](context.Background(), c, rgPath(subA, "rg")+"/providers/Microsoft.Network/publicIPAddresses")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Name)
	}
	sameNames(t, "client.List", got, 1, 1, want...)
}

// TestResourceGroupFilter: the resource groups' list takes ARM's $filter
// by tag (tagName eq 'N', and tagValue eq 'V'; tag names in any case, as
// ARM compares them), also across pages, and refuses another filter with
// 400 InvalidFilterInQueryString, as ARM does. The filter was ignored: a
// script listing the groups of a tag, to delete them say, got every group.
func TestResourceGroupFilter(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 1, tls: true})
	for name, tags := range map[string]obj{"a": {"env": "prod"}, "b": {"env": "test"}, "c": {"Env": "prod"}, "d": {}, "e": {"env": "it's"}} {
		e.must("PUT", rgPath(subA, name), obj{"location": "westeurope", "tags": tags})
	}
	groups, err := armresources.NewResourceGroupsClient(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{"tagName eq 'env'", []string{"a", "b", "c", "e"}},
		{"tagName eq 'env' and tagValue eq 'prod'", []string{"a", "c"}},
		{"tagname eq 'ENV' and tagvalue eq 'it''s'", []string{"e"}},
		{"tagName eq 'nope'", nil},
	} {
		got, pages := collect(t, groups.NewListPager(&armresources.ResourceGroupsClientListOptions{Filter: to.Ptr(c.filter)}), func(p armresources.ResourceGroupsClientListResponse) (out []*string) {
			for _, v := range p.Value {
				out = append(out, v.Name)
			}
			return out
		})
		sameNames(t, c.filter, got, pages, len(c.want), c.want...)
	}
	for _, f := range []string{"name eq 'a'", "tagValue eq 'prod'", "tagName eq 'env' or tagName eq 'x'", "tagName eq env", "tagName eq 'env' and tagValue eq 'prod' and tagName eq 'x'"} {
		r := e.raw("GET", "/subscriptions/"+subA+"/resourcegroups", "?api-version=2021-04-01&%24filter="+url.QueryEscape(f), testToken, nil)
		if r.status != http.StatusBadRequest || r.code() != "InvalidFilterInQueryString" {
			t.Errorf("$filter=%s: %d %s, want 400 InvalidFilterInQueryString", f, r.status, r.body)
		}
	}
}

// TestNextLinkHostRaw: a Host header that names one of the API's hosts but
// smuggles another in (user info, a path: net/http refuses those) or has
// a port that is none is not taken for the nextLink, which was no URL the
// SDK could follow ("http://localhost:x/..."); as a client library cleans
// such a Host before sending it, these go over a bare connection.
func TestNextLinkHostRaw(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 1})
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	e.must("PUT", rgPath(subA, "other"), group("westeurope"))
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	for _, host := range []string{"localhost:1@attacker.example", "127.0.0.1:1@attacker.example:80", "localhost:1#@attacker.example", "localhost:1/x", "localhost:x", "localhost:0", "localhost:99999"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /subscriptions/%s/resourcegroups?api-version=2021-04-01 HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", subA, host, testToken)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		var l arm.List[arm.ResourceGroup]
		json.NewDecoder(res.Body).Decode(&l)
		res.Body.Close()
		conn.Close()
		if res.StatusCode == http.StatusOK && (strings.Contains(l.NextLink, "attacker") || !strings.HasPrefix(l.NextLink, "/subscriptions/")) {
			t.Errorf("Host %s: nextLink %q, want a path (the API has no endpoint here)", host, l.NextLink)
		}
	}
}

// TestSubListsPageWithAzureSDK: a VNet's usages (one a subnet, thousands
// in a large VNet) and a gateway's connections page as the other lists do,
// and the SDK's pagers get every item once; both were one answer of them
// all. A $skipToken of another list's is refused.
func TestSubListsPageWithAzureSDK(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 3, tls: true})
	s := e.site(subA, "rg", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw2")
	subnets := []obj{subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27")}
	want := []string{"default", "GatewaySubnet"}
	for i := range 6 {
		name := fmt.Sprintf("s%d", i)
		subnets = append(subnets, subnet(name, fmt.Sprintf("10.1.%d.0/24", 10+i)))
		want = append(want, name)
	}
	e.must("PUT", s.vnet, vnet("westeurope", []string{"10.1.0.0/16"}, subnets...))
	var conns []string
	for i := range 7 {
		name := fmt.Sprintf("c%d", i)
		l := e.lng(s, "site"+name, fmt.Sprintf("203.0.113.%d", 10+i), fmt.Sprintf("192.168.%d.0/24", i))
		e.must("PUT", netPath(subA, "rg", "connections", name), s2s("westeurope", s.gw, l))
		conns = append(conns, name)
	}

	net, err := armnetwork.NewClientFactory(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, pages := collect(t, net.NewVirtualNetworksClient().NewListUsagePager("rg", "vnet", nil), func(p armnetwork.VirtualNetworksClientListUsageResponse) (out []*string) {
		for _, u := range p.Value {
			id := *u.ID
			out = append(out, to.Ptr(id[strings.LastIndex(id, "/")+1:]))
		}
		return out
	})
	sameNames(t, "usages", got, pages, 3, want...)
	got, pages = collect(t, net.NewVirtualNetworkGatewaysClient().NewListConnectionsPager("rg", "gw", nil), func(p armnetwork.VirtualNetworkGatewaysClientListConnectionsResponse) (out []*string) {
		for _, c := range p.Value {
			out = append(out, c.Name)
		}
		return out
	})
	sameNames(t, "the gateway's connections", got, pages, 3, conns...)

	ours := func(key string) string { return base64.RawURLEncoding.EncodeToString([]byte("v1:" + key)) }
	for _, c := range []struct{ path, token string }{
		{s.vnet + "/usages", ours(strings.ToLower(netPath(subA, "rg", "virtualNetworks", "other") + "/subnets/default"))},
		{s.vnet + "/usages", ours(strings.ToLower(netPath(subA, "rg", "connections", "c1")))},
		{s.gw + "/connections", ours(strings.ToLower(s.vnet + "/subnets/default"))},
	} {
		r := e.raw("GET", c.path, "?api-version=2024-05-01&%24skipToken="+url.QueryEscape(c.token), testToken, nil)
		if r.status != http.StatusBadRequest || r.str("error.target") != "$skipToken" {
			t.Errorf("%s with another list's $skipToken: %d %s, want 400 InvalidParameter of $skipToken", c.path, r.status, r.code())
		}
	}
}
