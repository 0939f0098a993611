package cli

import (
	"reflect"
	"testing"
)

// TestHashOrders: the keys of each multi-select hash of a query, in the
// order it names them, quoted ones unquoted; what is in a value (a
// slice's colon, a string, a function's arguments) is no key.
func TestHashOrders(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want [][]string
	}{
		{"name", nil},
		{"[].{state: properties.provisioningState, name: name}", [][]string{{"state", "name"}}},
		{`{"Address space": a[0:2], b: 'x:y', c: {z: q, y: ` + "`{\"k\": 1}`" + `}}`, [][]string{{"Address space", "b", "c"}, {"z", "y"}}},
		{"{a: join(',', [x, y]), b: c}", [][]string{{"a", "b"}}},
		{`{"unclosed`, [][]string{nil}},
	} {
		if got := hashOrders(tc.expr); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("hashOrders(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// FuzzHashOrders: no query, however malformed, makes hashOrders panic.
func FuzzHashOrders(f *testing.F) {
	for _, s := range []string{"[].{a: b, \"c d\": e}", "{a: {b: c}}", `{"`, "`", "{a:'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) { hashOrders(expr) })
}
