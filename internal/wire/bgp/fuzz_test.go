package bgp

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"unicode"
)

// FuzzReadMessage feeds arbitrary bytes to the reader and the body
// parsers: no panic, and what parses re-encodes to what parses the same.
func FuzzReadMessage(f *testing.F) {
	f.Add(mustAppend(AppendMessage(nil, TypeOpen, Open{AS: 65010, HoldTime: 9, ID: netip.MustParseAddr("192.168.1.1")}.Append(nil))))
	f.Add(mustAppend(AppendMessage(nil, TypeUpdate, mustAppend(Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010, 65020}}},
		NextHop: netip.MustParseAddr("192.168.1.1"), NLRI: pfx("10.99.0.0/24", "192.168.1.0/24")}.Append(nil, true)))))
	f.Add(mustAppend(AppendMessage(nil, TypeUpdate, mustAppend(Update{Withdrawn: pfx("10.99.0.0/24")}.Append(nil, false)))))
	f.Add(mustAppend(AppendMessage(nil, TypeNotification, Notification{Code: 6, Subcode: 2}.Append(nil))))
	f.Add(mustAppend(AppendMessage(nil, TypeNotification, Notification{Code: 6, Subcode: 4, Data: []byte("\x05a\nb\x1bc")}.Append(nil))))
	f.Add(mustAppend(AppendMessage(nil, TypeKeepalive, nil)))
	// MP_REACH_NLRI and MP_UNREACH_NLRI of IPv4 unicast, with ORIGIN and
	// AS_PATH.
	f.Add(mustAppend(AppendMessage(nil, TypeUpdate, []byte{0, 0, 0, 35, 0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea,
		0x80, 14, 10, 0, 1, 1, 4, 192, 0, 2, 9, 0, 16, 10, 52, 0x80, 15, 6, 0, 1, 1, 16, 10, 53})))
	// NEXT_HOP of 9 bytes where 4 are: the list overrun (RFC 7606 §4).
	f.Add(mustAppend(AppendMessage(nil, TypeUpdate, []byte{0, 0, 0, 20, 0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea,
		0x40, 3, 9, 192, 0, 2, 9, 24, 10, 99, 0})))
	// COMMUNITIES and an unassigned optional transitive attribute, out
	// of order, passed on (RFC 4271 §9).
	f.Add(mustAppend(AppendMessage(nil, TypeUpdate, []byte{0, 0, 0, 31, 0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea,
		0xc0, 200, 1, 7, 0x40, 3, 4, 192, 0, 2, 9, 0xc0, 8, 4, 0xfd, 0xea, 0, 1, 24, 10, 99, 0})))
	// AGGREGATOR of a four-octet AS to a two-octet peer: AS_TRANS, and
	// AS4_AGGREGATOR (RFC 6793 §4.2.2).
	f.Add(mustAppend(AppendMessage(nil, TypeUpdate, mustAppend(Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010, 4200000001}}},
		NextHop: netip.MustParseAddr("192.168.1.1"), NLRI: pfx("10.99.0.0/24"), Aggregator: Aggregator{AS: 4200000001, Addr: netip.MustParseAddr("192.0.2.7")}}.Append(nil, false)))))
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf [MaxLen]byte
		typ, body, err := ReadMessage(bytes.NewReader(data), &buf)
		if err != nil {
			return
		}
		switch typ {
		case TypeOpen:
			o, err := ParseOpen(body)
			if err != nil {
				return
			}
			again, err := ParseOpen(o.Append(nil))
			if err != nil || again.AS != o.AS || again.HoldTime != o.HoldTime || again.ID != o.ID {
				t.Fatalf("OPEN %+v re-parsed as %+v, %v", o, again, err)
			}
		case TypeUpdate:
			for _, four := range []bool{true, false} {
				u, err := ParseUpdate(body, four)
				if err != nil {
					continue
				}
				if len(u.NLRI) > MaxPrefixesPerUpdate || len(u.Withdrawn) > MaxPrefixesPerUpdate*2 {
					continue // more than Append is given to write
				}
				body, err := u.Append(nil, four)
				if err != nil {
					t.Fatalf("UPDATE %+v parsed and cannot be encoded: %v", u, err)
				}
				for _, to := range []bool{true, false} {
					if b, err := u.Append(nil, to); err != nil || u.Len(to) != len(b) {
						t.Fatalf("UPDATE %+v: Len %d, Append wrote %d bytes (four-octet %t), %v", u, u.Len(to), len(b), to, err)
					}
				}
				again, err := ParseUpdate(body, four)
				if err != nil || len(again.NLRI) != len(u.NLRI) || len(again.Withdrawn) != len(u.Withdrawn) ||
					(len(u.NLRI) > 0 && (PathLen(again.ASPath) != PathLen(u.ASPath) || again.NextHop != u.NextHop || again.Transitive != u.Transitive || again.Aggregator != u.Aggregator)) {
					t.Fatalf("UPDATE %+v re-parsed as %+v, %v", u, again, err)
				}
			}
		case TypeNotification:
			n, err := ParseNotification(body)
			if err == nil && !bytes.Equal(n.Append(nil), body) {
				t.Fatalf("NOTIFICATION re-encoded differently")
			}
			// What a peer sends is logged with no control character of its own.
			if s := n.String(); strings.ContainsFunc(s, unicode.IsControl) {
				t.Fatalf("NOTIFICATION shown with a control character: %q", s)
			}
		}
	})
}
