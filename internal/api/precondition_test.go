package api

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
)

// TestConditionalWrites: a write with If-Match or If-None-Match (RFC 9110
// §13.1) happens only while the resource is as the client last read it:
// a read-modify-write of two clients does not undo the other's, it fails
// with 412 PreconditionFailed and the resource keeps the other's write.
func TestConditionalWrites(t *testing.T) {
	e := newEnv(t)
	e.must(http.MethodPut, rgPath(subA, "rg"), group("westeurope"))
	path := netPath(subA, "rg", "virtualNetworks", "hub")
	ifMatch := func(etag string) http.Header { return http.Header{"If-Match": {etag}} }
	ifNoneMatch := http.Header{"If-None-Match": {"*"}}
	precondition := func(what string, r resp) {
		t.Helper()
		if r.status != http.StatusPreconditionFailed || r.code() != "PreconditionFailed" {
			t.Errorf("%s: %d %s, want 412 PreconditionFailed", what, r.status, r.body)
		}
	}
	space := func() string {
		t.Helper()
		return e.must(http.MethodGet, path, nil).str("properties.addressSpace.addressPrefixes.0")
	}

	if r := e.doHeader(http.MethodPut, path, vnet("westeurope", []string{"10.1.0.0/16"}), ifMatch("*")); r.status != http.StatusPreconditionFailed {
		t.Errorf("If-Match: * created a VNet that was not there: %d %s", r.status, r.body)
	}
	if r := e.doHeader(http.MethodPut, path, vnet("westeurope", []string{"10.1.0.0/16"}, subnet("web", "10.1.1.0/24")), ifNoneMatch); r.status != http.StatusCreated {
		t.Fatalf("If-None-Match: * create: %d %s", r.status, r.body)
	}
	precondition("If-None-Match: * of an existing VNet", e.doHeader(http.MethodPut, path, vnet("westeurope", []string{"10.9.0.0/16"}), ifNoneMatch))
	if got := space(); got != "10.1.0.0/16" {
		t.Errorf("the refused create changed the VNet: %s", got)
	}

	// Two clients read the VNet; the first writes, the second's write
	// with the etag it read fails.
	read := e.must(http.MethodGet, path, nil).str("etag")
	first := e.doHeader(http.MethodPut, path, vnet("westeurope", []string{"10.2.0.0/16"}, subnet("web", "10.2.1.0/24")), ifMatch(read))
	if first.status != http.StatusOK || first.str("etag") == read {
		t.Fatalf("If-Match with the current etag: %d, etag %q (was %q) %s", first.status, first.str("etag"), read, first.body)
	}
	precondition("If-Match with a stale etag", e.doHeader(http.MethodPut, path, vnet("westeurope", []string{"10.3.0.0/16"}), ifMatch(read)))
	if got := space(); got != "10.2.0.0/16" {
		t.Errorf("the stale write changed the VNet: %s, want the first client's 10.2.0.0/16", got)
	}
	// Any of a list, and the tag without W/, match.
	now := first.str("etag")
	if r := e.doHeader(http.MethodPatch, path, obj{"tags": obj{"env": "prod"}}, ifMatch(read+`, "`+now[len(`W/"`):])); r.status != http.StatusOK {
		t.Errorf("If-Match with a list holding the current etag: %d %s", r.status, r.body)
	}
	precondition("tags with a stale etag", e.doHeader(http.MethodPatch, path, obj{"tags": obj{"env": "dev"}}, ifMatch(now)))

	// A subnet by its own etag.
	sub := path + "/subnets/web"
	subEtag := e.must(http.MethodGet, sub, nil).str("etag")
	precondition("a subnet with its VNet's etag", e.doHeader(http.MethodPut, sub, subnet("web", "10.2.2.0/24"), ifMatch(now)))
	if r := e.doHeader(http.MethodPut, sub, subnet("web", "10.2.2.0/24"), ifMatch(subEtag)); r.status != http.StatusOK {
		t.Errorf("a subnet with its etag: %d %s", r.status, r.body)
	}

	// Deletes.
	precondition("delete with a stale etag", e.doHeader(http.MethodDelete, path, nil, ifMatch(read)))
	e.must(http.MethodGet, path, nil)
	current := e.must(http.MethodGet, path, nil).str("etag")
	if r := e.doHeader(http.MethodDelete, path, nil, ifMatch(current)); r.status != http.StatusOK {
		t.Errorf("delete with the current etag: %d %s", r.status, r.body)
	}
	precondition("If-Match: * delete of what is gone", e.doHeader(http.MethodDelete, path, nil, ifMatch("*")))
	// A resource group has no etag: only * matches it.
	precondition("If-Match: W/ of a resource group", e.doHeader(http.MethodPut, rgPath(subA, "rg"), group("westeurope"), ifMatch("W/")))
	if r := e.doHeader(http.MethodPut, rgPath(subA, "rg"), group("westeurope"), ifMatch("*")); r.status != http.StatusOK {
		t.Errorf("If-Match: * of a resource group: %d %s", r.status, r.body)
	}
}

// TestGroupDeleteTakesRouteTables: deleting a resource group deletes its
// route tables too: none is there when the group is made again.
func TestGroupDeleteTakesRouteTables(t *testing.T) {
	e := newEnv(t)
	e.must(http.MethodPut, rgPath(subA, "rg"), group("westeurope"))
	path := netPath(subA, "rg", "routeTables", "rt")
	e.must(http.MethodPut, path, obj{"location": "westeurope"})
	e.must(http.MethodDelete, rgPath(subA, "rg"), nil)
	e.must(http.MethodPut, rgPath(subA, "rg"), group("westeurope"))
	if r := e.do(http.MethodGet, path, nil); r.status != http.StatusNotFound {
		t.Errorf("the route table outlived its resource group: %d %s", r.status, r.body)
	}
}

// TestRouteTableTagsEtag: a route table's etag changes with its tags, as
// every resource's does with every write.
func TestRouteTableTagsEtag(t *testing.T) {
	e := newEnv(t)
	e.must(http.MethodPut, rgPath(subA, "rg"), group("westeurope"))
	path := netPath(subA, "rg", "routeTables", "rt")
	before := e.must(http.MethodPut, path, obj{"location": "westeurope"}).str("etag")
	after := e.must(http.MethodPatch, path, obj{"tags": obj{"env": "prod"}}).str("etag")
	if before == "" || after == before {
		t.Errorf("route table etag %q before the tags, %q after", before, after)
	}
}

// TestClientModify: client.Modify's read-modify-write does not undo a
// write that came in between: it reads again and changes that.
func TestClientModify(t *testing.T) {
	e := newEnv(t)
	e.must(http.MethodPut, rgPath(subA, "rg"), group("westeurope"))
	path := netPath(subA, "rg", "routeTables", "rt")
	e.must(http.MethodPut, path, obj{"location": "westeurope"})
	c, err := client.New(client.Config{Endpoint: e.srv.URL, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	id, err := arm.ParseID(path)
	if err != nil {
		t.Fatal(err)
	}
	add := func(name, prefix string) func(*arm.RouteTable) error {
		return func(rt *arm.RouteTable) error {
			rt.Properties.Routes = append(rt.Properties.Routes, arm.Route{Name: name, Properties: arm.RouteProperties{AddressPrefix: prefix, NextHopType: "None"}})
			rt.Properties.Subnets = nil
			return nil
		}
	}
	etag := func(rt *arm.RouteTable) string { return rt.Etag }
	tries := 0
	out, _, err := client.Modify(context.Background(), c, id, etag, func(rt *arm.RouteTable) error {
		if tries++; tries == 1 {
			// Another client writes between our read and our write.
			if _, _, err := client.Modify(context.Background(), c, id, etag, add("theirs", "10.9.0.0/16")); err != nil {
				t.Fatal(err)
			}
		}
		return add("ours", "10.10.0.0/16")(rt)
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range out.Properties.Routes {
		names = append(names, r.Name)
	}
	if tries != 2 || !slices.Equal(names, []string{"theirs", "ours"}) {
		t.Errorf("after %d tries the routes are %v, want theirs and ours", tries, names)
	}
}
