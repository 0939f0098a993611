package api

import "testing"

// TestNullBodyRefused: a body of JSON null is no resource, nor a PATCH,
// and is refused as an empty body is (400 InvalidRequestContent), as a
// body that is an array or a string is. A PATCH of null was answered 200,
// changed nothing the caller asked for and gave the resource a new etag,
// so that the If-Match of every other writer failed; a PUT of null was
// refused as LocationRequired.
func TestNullBodyRefused(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	e.must("PATCH", s.vnet, obj{"tags": obj{"env": "prod"}})
	etag := e.must("GET", s.vnet, nil).str("etag")
	for _, path := range []string{s.vnet, s.pip, rgPath(subA, "rg")} {
		e.expect("PATCH", path, "null", 400, "InvalidRequestContent")
	}
	e.expect("PUT", netPath(subA, "rg", "virtualNetworks", "v2"), "null", 400, "InvalidRequestContent")
	e.expect("PUT", s.vnet+"/subnets/s2", " null ", 400, "InvalidRequestContent")
	if got := e.must("GET", s.vnet, nil); got.str("etag") != etag || got.str("tags.env") != "prod" {
		t.Errorf("after the refused PATCHes the VNet has etag %s and tags %v; want %s and env=prod", got.str("etag"), got.field("tags"), etag)
	}
}
