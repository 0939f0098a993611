package eaptls

import (
	"bytes"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestReassemblyBoundedByLength: the peer's fragments make a message of
// at most the length its first fragment announced with the L flag (RFC
// 5216 §2.1.5), which is at most 64 KiB: an announcement of more, or a
// fragment past it, ends the conversation at once, before it is
// acknowledged. A message announced rightly, or not at all, is whole.
func TestReassemblyBoundedByLength(t *testing.T) {
	frag := func(flags uint8, total uint32, n int) ppp.TLSData {
		return ppp.TLSData{Flags: flags, MessageLength: total, Data: bytes.Repeat([]byte{byte(n)}, n)}
	}
	const ml, m = ppp.FlagMore | ppp.FlagLength, ppp.FlagMore
	for _, tc := range []struct {
		name  string
		frags []ppp.TLSData
		want  int // the message's length; -1: refused at the last fragment
	}{
		{"1 MiB announced", []ppp.TLSData{frag(ml, 1<<20, 100)}, -1},
		{"past the announced length", []ppp.TLSData{frag(ml, 10, 8), frag(m, 0, 8)}, -1},
		{"past it at the last", []ppp.TLSData{frag(ml, 10, 8), frag(0, 0, 3)}, -1},
		{"as announced", []ppp.TLSData{frag(ml, 16, 8), frag(0, 0, 8)}, 16},
		{"L on each", []ppp.TLSData{frag(ml, 16, 8), frag(ppp.FlagLength, 16, 8)}, 16},
		{"none announced", []ppp.TLSData{frag(m, 0, 8), frag(0, 0, 8)}, 16},
		{"one of 64 KiB", []ppp.TLSData{frag(ml, 64<<10, 1<<15), frag(0, 0, 1<<15)}, 64 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Conversation
			// A message before, announced shorter, bounds nothing after.
			if msg, more, err := c.Input(frag(ppp.FlagLength, 4, 4)); err != nil || more || len(msg) != 4 {
				t.Fatalf("a message of 4 bytes before: %d bytes, more %v, %v", len(msg), more, err)
			}
			for i, f := range tc.frags {
				msg, more, err := c.Input(f)
				last := i == len(tc.frags)-1
				switch {
				case !last && (err != nil || !more):
					t.Fatalf("fragment %d: more %v, %v", i, more, err)
				case last && tc.want < 0 && err == nil:
					t.Fatalf("fragment %d taken: %d bytes, more %v", i, len(msg), more)
				case last && tc.want >= 0 && (err != nil || more || len(msg) != tc.want):
					t.Fatalf("the message: %d bytes, more %v, %v; want %d", len(msg), more, err, tc.want)
				}
			}
		})
	}
}
