package region

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

// TestFormat: a region marks the store it opens with its Format, keeps
// the resources of a store made before the mark, and refuses a store of
// a later format (or one it cannot read) without writing to it, rather
// than skip records it cannot read and later write over them.
func TestFormat(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A store of the first vnetgw: resources, no format.
	group, err := arm.ParseID("/subscriptions/s/resourceGroups/rg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Txn(ctx, nil, []store.Op{store.Put(prefixResource+group.Key(), []byte(`{"location":"westeurope"}`))}); err != nil {
		t.Fatal(err)
	}
	open := func() error {
		pool, _ := ParsePool("127.10.0.0/24")
		reg, err := Open(ctx, Config{Store: st, PublicIPPool: pool})
		if err == nil {
			defer reg.Close()
			if _, err := reg.Get(group); err != nil {
				t.Errorf("the group stored before the format was: %v", err)
			}
		}
		return err
	}
	if err := open(); err != nil {
		t.Fatalf("a store without a format: %v", err)
	}
	if kv, err := st.Get(ctx, keyFormat); err != nil || string(kv.Value) != "1" {
		t.Fatalf("format after the first open: %q, %v; want 1", kv.Value, err)
	}
	if err := open(); err != nil {
		t.Fatalf("a store of this format: %v", err)
	}

	for _, tt := range []struct{ format, want string }{
		{"2", "records are of format 2, written by a later vnetgw"},
		{"one", `"one"`},
		{"0", `"0"`},
	} {
		rev, err := st.Txn(ctx, nil, []store.Op{store.Put(keyFormat, []byte(tt.format))})
		if err != nil {
			t.Fatal(err)
		}
		err = open()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("a store of format %q opened: %v; want an error saying %q", tt.format, err, tt.want)
		}
		if now, _ := st.Revision(ctx); now != rev {
			t.Errorf("refusing a store of format %q wrote to it: revision %d, was %d", tt.format, now, rev)
		}
	}
}
