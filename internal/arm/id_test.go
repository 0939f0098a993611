package arm

import (
	"strings"
	"testing"
)

// Ids as clients write them parse to their parts, with ARM's spelling of
// the provider and the types; the rest is refused with a reason.
func TestParseID(t *testing.T) {
	id, err := ParseID("/subscriptions/s/resourcegroups/G/providers/microsoft.network/VIRTUALNETWORKS/v/subnets/default/")
	if err != nil {
		t.Fatal(err)
	}
	if want := "/subscriptions/s/resourceGroups/G/providers/Microsoft.Network/virtualNetworks/v/subnets/default"; id.String() != want {
		t.Errorf("String %q, want %q", id.String(), want)
	}
	if id.Type() != TypeSubnet || id.Name() != "default" || id.Parent().Type() != TypeVirtualNetwork || id.Parent().Parent().Type() != TypeResourceGroup {
		t.Errorf("type %s, name %s, parents %s, %s", id.Type(), id.Name(), id.Parent().Type(), id.Parent().Parent().Type())
	}
	for _, bad := range []string{
		"", "subscriptions/s", "/subscriptions", "/subscriptions//resourceGroups/g", "/tenants/t",
		"/subscriptions/s/resourceGroups", "/subscriptions/s/groups/g",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets",
	} {
		if _, err := ParseID(bad); err == nil || !strings.Contains(err.Error(), "invalid resource id") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzParseID: an id in a request's path or body never panics the parser;
// one it takes formats to an id that parses to the same resource.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"/subscriptions/s",
		"/subscriptions/s/resourceGroups/g",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/connections/c/sharedkey",
		"/subscriptions/s/resourcegroups/g/providers/microsoft.network/virtualNetworks/v/subnets/s/",
		"//", "/subscriptions/s/resourceGroups/g/providers/x/y/z/w",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		again, err := ParseID(id.String())
		if err != nil {
			t.Fatalf("%q parsed to %q, which does not parse: %v", s, id.String(), err)
		}
		if again.String() != id.String() {
			t.Fatalf("%q parsed to %q, then to %q", s, id.String(), again.String())
		}
		if len(id.Types) != len(id.Names) {
			t.Fatalf("%q: %d types, %d names", s, len(id.Types), len(id.Names))
		}
		if p := id.Parent(); id.ResourceGroup != "" && len(p.String()) >= len(id.String()) {
			t.Fatalf("%q: parent %q", s, p.String())
		}
	})
}
