package region

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

// TestPoolChangedKeepsAddressesAndSaysSo: serve started again with
// another --public-ip-pool keeps the addresses given from the old one
// (a gateway's address does not change under it), and says once, at
// start, which ones lie outside the pool now; new ones come from the new
// pool.
func TestPoolChangedKeepsAddressesAndSaysSo(t *testing.T) {
	ctx, must := context.Background(), mustPut(t)
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	open := func(pool string, log *bytes.Buffer) *Region {
		t.Helper()
		p, err := ParsePool(pool)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := Open(ctx, Config{Store: st, PublicIPPool: p, Logger: slog.New(slog.NewTextHandler(log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	var log bytes.Buffer
	reg := open("127.10.0.0/24", &log)
	const loc = "westeurope"
	must(reg.PutGroup(ctx, arm.ResourceGroupID("s", "rg"), &arm.ResourceGroup{Location: loc}))
	static := &arm.PublicIPAddress{Resource: arm.Resource{Location: loc}}
	static.Properties.PublicIPAllocationMethod = "Static"
	old := arm.NetworkID("s", "rg", "publicIPAddresses", "old")
	must(reg.PutPublicIP(ctx, old, static))
	reg.Close()
	if strings.Contains(log.String(), "outside") {
		t.Fatalf("the first start, with every address in its pool, said:\n%s", log.String())
	}

	log.Reset()
	reg = open("127.20.0.0/24", &log)
	defer reg.Close()
	if !strings.Contains(log.String(), "outside --public-ip-pool") || !strings.Contains(log.String(), "127.10.0.1") || !strings.Contains(log.String(), "publicIPAddresses/old") {
		t.Errorf("started with another pool, the log says:\n%s\nwant a warning naming old and 127.10.0.1", log.String())
	}
	got, err := reg.Get(old)
	if err != nil {
		t.Fatal(err)
	}
	if a := got.(*arm.PublicIPAddress).Properties.IPAddress; a != "127.10.0.1" {
		t.Errorf("the old address after the pool changed: %q, want 127.10.0.1 kept", a)
	}
	fresh := arm.NetworkID("s", "rg", "publicIPAddresses", "new")
	must(reg.PutPublicIP(ctx, fresh, static))
	if got, err := reg.Get(fresh); err != nil || got.(*arm.PublicIPAddress).Properties.IPAddress != "127.20.0.1" {
		t.Errorf("a new address after the pool changed: %v, %v; want 127.20.0.1", got, err)
	}
}
