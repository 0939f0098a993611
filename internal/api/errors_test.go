package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
)

// The store's errors that say nothing was written, ErrClosed (the node
// stops) and ErrUnavailable (etcd or the disk full), map to 503
// ServiceUnavailable in the ARM envelope, with a Retry-After: a client
// tries again, as it may, the change not having been made. They were a
// 500 InternalServerError, which says to look in vnetgw's log.
func TestStoreErrorsAreServiceUnavailable(t *testing.T) {
	for _, err := range []error{
		store.ErrClosed,
		fmt.Errorf("read the state: %w", store.ErrClosed),
		fmt.Errorf("%w: etcdserver: mvcc: database space exceeded", store.ErrUnavailable),
	} {
		ae, status := toARM(err)
		if status != http.StatusServiceUnavailable || ae.Code != "ServiceUnavailable" || !strings.Contains(ae.Message, "nothing was changed") {
			t.Errorf("toARM(%v) = %d %v, want 503 ServiceUnavailable saying nothing was changed", err, status, ae)
		}
	}
	// Over HTTP: a region that has closed (serve stopping) answers a
	// write so, a POST too.
	var reg *region.Region
	e := newEnv(t, envOptions{reg: &reg})
	rg := "/subscriptions/" + subA + "/resourcegroups/rg"
	e.must("PUT", rg, obj{"location": loc})
	if err := reg.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PUT", rg + "2", obj{"location": loc}},
		{"POST", rg + "/providers/Microsoft.Network/connections/c/sharedkey/reset", obj{"keyLength": 32}},
	} {
		r := e.do(c.method, c.path, c.body)
		if r.status != http.StatusServiceUnavailable || r.code() != "ServiceUnavailable" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s on a closed region: %d Retry-After %q %s, want 503 ServiceUnavailable with a Retry-After", c.method, c.path, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
}
