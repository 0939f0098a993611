package bolt

import (
	"reflect"
	"testing"

	"github.com/vnetgw/vnetgw/internal/store"
)

// FuzzDecodeEvents reads history records as a database file that was
// damaged, or written by another version, may hold them: decodeEvents
// never panics, every event it returns is a put or a delete of the
// record's revision under the prefix, and what it returns encodes to
// bytes that decode to the same events.
func FuzzDecodeEvents(f *testing.F) {
	f.Add(encodeEvents([]store.Event{
		{Type: store.EventPut, KV: store.KeyValue{Key: "/subscriptions/s/a", Value: []byte(`{"location":"westeurope"}`), CreateRevision: 3}},
		{Type: store.EventDelete, KV: store.KeyValue{Key: "/subscriptions/s/b", CreateRevision: 1}},
	}), "/subscriptions/")
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "")
	f.Add([]byte{3, 0, 0, 0}, "")
	f.Fuzz(func(t *testing.T, b []byte, prefix string) {
		const rev = 7
		evs, err := decodeEvents(b, rev, prefix)
		if err != nil {
			return
		}
		for _, e := range evs {
			if e.Type != store.EventPut && e.Type != store.EventDelete || e.KV.ModRevision != rev || len(e.KV.Key) < len(prefix) || e.KV.Key[:len(prefix)] != prefix {
				t.Fatalf("decoded %+v from % x", e, b)
			}
		}
		again, err := decodeEvents(encodeEvents(evs), rev, prefix)
		if err != nil || len(evs) > 0 && !reflect.DeepEqual(again, evs) {
			t.Fatalf("events %+v encode to events %+v, %v", evs, again, err)
		}
	})
}
