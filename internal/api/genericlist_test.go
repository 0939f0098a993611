package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
)

// TestResourcesListWithAzureSDK: Microsoft.Resources' lists of every type
// ("Resources - List By Resource Group", "Resources - List"), which
// az resource list and armresources' pagers ask, hold every top-level
// resource of a group or of the subscription once, whatever its type, with
// its id, name, type, location and tags, in pages the SDK follows; not the
// subnets and routes inside them. $filter keeps a type or a name, $top
// sizes the pages, and a group that does not exist is 404
// ResourceGroupNotFound.
func TestResourcesListWithAzureSDK(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 3, tls: true, pool: "127.208.0.0/24"})
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	e.must("PUT", rgPath(subA, "other"), group("westeurope"))
	var inRG []string
	for i := range 5 {
		name := fmt.Sprintf("Vnet-%d", i)
		e.must("PUT", netPath(subA, "rg", "virtualNetworks", name), vnet("westeurope", []string{fmt.Sprintf("10.%d.0.0/16", i)}, subnet("default", fmt.Sprintf("10.%d.0.0/24", i))))
		inRG = append(inRG, name)
	}
	e.must("PUT", netPath(subA, "rg", "publicIPAddresses", "pip"), obj{"location": "westeurope", "tags": obj{"env": "prod"},
		"sku": obj{"name": "Standard"}, "properties": obj{"publicIPAllocationMethod": "Static"}})
	e.must("PUT", netPath(subA, "rg", "localNetworkGateways", "site"), localGateway("westeurope", "127.208.1.1", "192.168.0.0/16"))
	e.must("PUT", netPath(subA, "rg", "routeTables", "t"), obj{"location": "westeurope",
		"properties": obj{"routes": []obj{{"name": "r0", "properties": obj{"addressPrefix": "192.168.0.0/24", "nextHopType": "None"}}}}})
	inRG = append(inRG, "pip", "site", "t")
	all := slices.Clone(inRG)
	for i := range 2 {
		name := fmt.Sprintf("o%d", i)
		e.must("PUT", netPath(subA, "other", "virtualNetworks", name), vnet("westeurope", []string{fmt.Sprintf("10.%d.0.0/16", 50+i)}))
		all = append(all, name)
	}
	// Another subscription's are none of this one's.
	e.must("PUT", rgPath(subB, "rg"), group("westeurope"))
	e.must("PUT", netPath(subB, "rg", "virtualNetworks", "theirs"), vnet("westeurope", []string{"10.99.0.0/16"}))

	c, err := armresources.NewClient(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	byGroup := func(rg string, o *armresources.ClientListByResourceGroupOptions) ([]*armresources.GenericResourceExpanded, int, error) {
		var out []*armresources.GenericResourceExpanded
		pages := 0
		for p := c.NewListByResourceGroupPager(rg, o); p.More(); {
			page, err := p.NextPage(context.Background())
			if err != nil {
				return nil, pages, err
			}
			pages++
			out = append(out, page.Value...)
		}
		return out, pages, nil
	}
	namesOf := func(rs []*armresources.GenericResourceExpanded) (out []string) {
		for _, r := range rs {
			out = append(out, *r.Name)
		}
		return out
	}

	res, pages, err := byGroup("rg", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The order is the ids', stable from one page to the next.
	var ids []string
	for _, r := range res {
		ids = append(ids, strings.ToLower(*r.ID))
	}
	if !slices.IsSorted(ids) {
		t.Errorf("resources of rg come in the order %v, not their ids'", ids)
	}
	sameNames(t, "resources of rg", namesOf(res), pages, 3, inRG...)
	for _, r := range res {
		if *r.Name != "pip" {
			continue
		}
		if *r.Type != "Microsoft.Network/publicIPAddresses" || *r.Location != "westeurope" || r.Tags["env"] == nil || *r.Tags["env"] != "prod" ||
			r.SKU == nil || *r.SKU.Name != "Standard" || !strings.HasSuffix(*r.ID, "/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/pip") {
			t.Errorf("the public IP address is listed as %+v", *r)
		}
	}

	got, pages := collect(t, c.NewListPager(nil), func(p armresources.ClientListResponse) (out []*string) {
		for _, v := range p.Value {
			out = append(out, v.Name)
		}
		return out
	})
	sameNames(t, "resources of the subscription", got, pages, 4, all...)

	for _, f := range []struct {
		filter string
		want   []string
	}{
		{"resourceType eq 'Microsoft.Network/publicIPAddresses'", []string{"pip"}},
		{"resourcetype eq 'microsoft.network/virtualnetworks' and name eq 'VNET-3'", []string{"Vnet-3"}},
		{"name eq 'site' and location eq 'WestEurope'", []string{"site"}},
		{"tagName eq 'env' and tagValue eq 'prod'", []string{"pip"}},
		{"name eq 'o0'", nil},
	} {
		res, pages, err := byGroup("rg", &armresources.ClientListByResourceGroupOptions{Filter: to.Ptr(f.filter)})
		if err != nil {
			t.Fatalf("$filter=%s: %v", f.filter, err)
		}
		sameNames(t, f.filter, namesOf(res), pages, 1, f.want...)
	}
	got, pages = collect(t, c.NewListPager(&armresources.ClientListOptions{Filter: to.Ptr("resourceType eq 'Microsoft.Network/virtualNetworks' and name eq 'o1'")}),
		func(p armresources.ClientListResponse) (out []*string) {
			for _, v := range p.Value {
				out = append(out, v.Name)
			}
			return out
		})
	sameNames(t, "the subscription's o1", got, pages, 1, "o1")

	res, pages, err = byGroup("rg", &armresources.ClientListByResourceGroupOptions{Top: to.Ptr[int32](2)})
	if err != nil {
		t.Fatal(err)
	}
	sameNames(t, "resources of rg, $top=2", namesOf(res), pages, 4, inRG...)

	_, _, err = byGroup("nope", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound || re.ErrorCode != "ResourceGroupNotFound" {
		t.Errorf("resources of a group that does not exist: %v, want 404 ResourceGroupNotFound", err)
	}
}

// TestResourcesListFilterRefused: a $filter the lists of every type do not
// take is refused with 400 and what they take, not ignored (which would
// list everything as if it matched).
func TestResourcesListFilterRefused(t *testing.T) {
	e := newEnv(t, envOptions{pool: "127.208.0.0/24"})
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	for _, f := range []string{"provisioningState eq 'Succeeded'", "name eq 'a' or name eq 'b'", "name eq 'a' and", "name eq a",
		"substringof('a', name)", "tagName eq 'env' and name eq 'a'", "name ne 'a'"} {
		for _, p := range []string{rgPath(subA, "rg") + "/resources", "/subscriptions/" + subA + "/resources"} {
			r := e.raw("GET", p, "?api-version=2021-04-01&%24filter="+url.QueryEscape(f), testToken, nil)
			if r.status != http.StatusBadRequest || r.code() != "InvalidFilterInQueryString" || !strings.Contains(r.str("error.message"), "resourceType eq") {
				t.Errorf("%s $filter=%s: %d %s, want 400 InvalidFilterInQueryString", p, f, r.status, r.body)
			}
		}
	}
	r := e.raw("GET", rgPath(subA, "rg")+"/resources", "?api-version=2021-04-01&%24top=0", testToken, nil)
	if r.status != http.StatusBadRequest {
		t.Errorf("$top=0: %d %s, want 400", r.status, r.body)
	}
	// Microsoft.Resources' api-version, not Microsoft.Network's.
	if r := e.raw("GET", rgPath(subA, "rg")+"/resources", "?api-version=2019-01-01", testToken, nil); r.code() != "InvalidApiVersionParameter" {
		t.Errorf("an old api-version: %d %s", r.status, r.body)
	}
}

// FuzzResourceFilter: any $filter is either refused with
// InvalidFilterInQueryString or read, and a name quoted as OData quotes it
// keeps that name, whatever it holds.
func FuzzResourceFilter(f *testing.F) {
	for _, s := range []string{"resourceType eq 'Microsoft.Network/virtualNetworks' and name eq 'a'", "name eq 'it''s'",
		"location eq 'westeurope'", "tagName eq 'env'", "name eq 'a' and", "name eq 'a' or name eq 'b'", ""} {
		f.Add(s, "it's")
	}
	f.Fuzz(func(t *testing.T, filter, name string) {
		where, err := resourceFilter(filter)
		var ae *arm.Error
		if err != nil && (!errors.As(err, &ae) || ae.Code != arm.CodeInvalidFilter) {
			t.Fatalf("%q: %v", filter, err)
		}
		if where != nil {
			where("Microsoft.Network/virtualNetworks", name, "westeurope")
		}
		q := "name eq '" + strings.ReplaceAll(name, "'", "''") + "'"
		where, err = resourceFilter(q)
		if err != nil || where == nil {
			return // a name with a line break is refused, as the pattern is of one line
		}
		if !where("Microsoft.Network/virtualNetworks", name, "") || where("Microsoft.Network/virtualNetworks", name+"x", "") {
			t.Fatalf("%s does not keep exactly %q", q, name)
		}
	})
}

// TestClientListKeepsFilterAcrossPages: vnetgw's own client (the CLI's)
// asks the page after with the list's $filter still on; without it the
// later pages held what the filter left out.
func TestClientListKeepsFilterAcrossPages(t *testing.T) {
	e := newEnv(t, envOptions{pageSize: 2, pool: "127.208.0.0/24"})
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	// Route tables come before the VNets in the list's order (that of the
	// ids), so that the pages after the route tables' would be the VNets'.
	var want []string
	for i := range 5 {
		want = append(want, fmt.Sprintf("t%d", i))
		e.must("PUT", netPath(subA, "rg", "routeTables", want[i]), obj{"location": "westeurope"})
		e.must("PUT", netPath(subA, "rg", "virtualNetworks", fmt.Sprintf("v%d", i)), vnet("westeurope", []string{fmt.Sprintf("10.%d.0.0/16", i)}))
	}
	c, err := client.New(client.Config{Endpoint: e.srv.URL, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := client.List[arm.GenericResource](context.Background(), c,
		rgPath(subA, "rg")+"/resources?"+url.Values{"$filter": {"resourceType eq 'Microsoft.Network/routeTables'"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Name)
	}
	sameNames(t, "client.List with $filter", got, 1, 1, want...)
}
