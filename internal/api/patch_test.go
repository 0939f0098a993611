package api

import (
	"context"
	"maps"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
)

// TestPatchKeepsWhatItLeavesOut: a PATCH replaces the tags it gives and
// keeps them when it gives none, as ARM documents a resource group's PATCH
// ("if a field is unspecified, the current value is retained") and as a
// JSON merge patch does (RFC 7396 section 2); "tags": null or {} removes them. A
// PATCH without tags (the SDK's ResourceGroupsClient.Update with another
// field) removed every tag.
func TestPatchKeepsWhatItLeavesOut(t *testing.T) {
	e := newEnv(t, envOptions{tls: true})
	s := e.site(subA, "rg", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	tagged := obj{"tags": obj{"env": "prod"}}
	for _, path := range []string{rgPath(subA, "rg"), s.vnet, s.pip, s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")} {
		e.must("PATCH", path, tagged)
		for _, c := range []struct {
			name string
			body any
			want map[string]any
		}{
			{"no tags", obj{}, obj{"env": "prod"}},
			{"another field", obj{"managedBy": "x"}, obj{"env": "prod"}},
			{"new tags", obj{"tags": obj{"team": "net"}}, obj{"team": "net"}},
			{"null", `{"tags": null}`, nil},
			{"again", tagged, obj{"env": "prod"}},
			{"empty", obj{"tags": obj{}}, nil},
		} {
			r := e.must("PATCH", path, c.body)
			got, _ := r.field("tags").(map[string]any)
			shown, _ := e.must("GET", path, nil).field("tags").(map[string]any)
			if !maps.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) || !maps.Equal(shown, got) && !(len(got) == 0 && len(shown) == 0) {
				t.Errorf("%s, PATCH %s: tags %v, then GET %v; want %v", path, c.name, got, shown, c.want)
			}
		}
	}
	// Through the SDK: a group's Update with no tags keeps them; a
	// gateway's UpdateTags replaces them.
	groups, err := armresources.NewResourceGroupsClient(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := groups.Update(ctx, "rg", armresources.ResourceGroupPatchable{Tags: map[string]*string{"env": to.Ptr("prod")}}, nil); err != nil {
		t.Fatal(err)
	}
	g, err := groups.Update(ctx, "rg", armresources.ResourceGroupPatchable{ManagedBy: to.Ptr("x")}, nil)
	if err != nil || g.Tags["env"] == nil || *g.Tags["env"] != "prod" {
		t.Errorf("the SDK's Update of the group without tags: %v, tags %v", err, g.Tags)
	}
	nets, err := armnetwork.NewClientFactory(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	p, err := nets.NewVirtualNetworkGatewaysClient().BeginUpdateTags(ctx, "rg", "gw", armnetwork.TagsObject{Tags: map[string]*string{"a": to.Ptr("b")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := p.PollUntilDone(ctx, nil)
	if err != nil || len(gw.Tags) != 1 || gw.Tags["a"] == nil || *gw.Tags["a"] != "b" {
		t.Errorf("the SDK's UpdateTags of the gateway: %v, tags %v", err, gw.Tags)
	}
}

// TestPatchGroupManagedBy: a resource group's PATCH sets managedBy, as
// ARM's does (ResourceGroupPatchable), keeps it when left out and removes
// it for null; it answered 200 and changed nothing.
func TestPatchGroupManagedBy(t *testing.T) {
	e := newEnv(t, envOptions{tls: true})
	g := rgPath(subA, "rg")
	const by = "/subscriptions/" + subA + "/resourceGroups/owner/providers/Microsoft.Solutions/applications/app"
	e.must("PUT", g, group("westeurope"))
	for _, c := range []struct {
		name string
		body any
		want string
	}{
		{"set", obj{"managedBy": by}, by},
		{"left out", obj{"tags": obj{"a": "b"}}, by},
		{"null", `{"managedBy": null}`, ""},
	} {
		e.must("PATCH", g, c.body)
		if got := e.must("GET", g, nil).str("managedBy"); got != c.want {
			t.Errorf("%s: managedBy %q, want %q", c.name, got, c.want)
		}
	}
	groups, err := armresources.NewResourceGroupsClient(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	r, err := groups.Update(context.Background(), "rg", armresources.ResourceGroupPatchable{ManagedBy: to.Ptr(by)}, nil)
	if err != nil || r.ManagedBy == nil || *r.ManagedBy != by || r.Tags["a"] == nil {
		t.Errorf("the SDK's Update with managedBy: %v, managedBy %v, tags %v", err, r.ManagedBy, r.Tags)
	}
}
