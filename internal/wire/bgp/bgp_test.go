package bgp

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// mustAppend is an UPDATE's Append for one that can be encoded.
func mustAppend(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestOpenRoundTrip(t *testing.T) {
	for _, as := range []uint32{65010, 4200000001} {
		o := Open{AS: as, HoldTime: 90, ID: netip.MustParseAddr("10.1.255.30")}
		body := o.Append(nil)
		got, err := ParseOpen(body)
		if err != nil {
			t.Fatal(err)
		}
		want := o
		want.FourOctetAS, want.IPv4Unicast, want.Multiprotocol = true, true, true
		if got != want {
			t.Errorf("AS %d: got %+v, want %+v", as, got, want)
		}
		if as > 0xffff && body[1] != 0x5b || as > 0xffff && body[2] != 0xa0 {
			t.Errorf("a four-octet AS is AS_TRANS (23456) in My Autonomous System: % x", body[1:3])
		}
	}
}

// An OPEN from a speaker without capabilities: a two-octet AS, IPv4
// unicast implied.
func TestOpenWithoutCapabilities(t *testing.T) {
	body := []byte{4, 0xfd, 0xf2, 0, 180, 192, 168, 1, 1, 0}
	o, err := ParseOpen(body)
	if err != nil {
		t.Fatal(err)
	}
	if o.AS != 65010 || o.FourOctetAS || !o.IPv4Unicast || o.HoldTime != 180 || o.ID != netip.MustParseAddr("192.168.1.1") {
		t.Errorf("%+v", o)
	}
}

func TestOpenErrors(t *testing.T) {
	good := Open{AS: 65010, HoldTime: 90, ID: netip.MustParseAddr("192.168.1.1")}.Append(nil)
	mod := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name      string
		body      []byte
		code, sub uint8
	}{
		{"version 3", mod(func(b []byte) []byte { b[0] = 3; return b }), CodeOpen, SubBadVersion},
		{"hold time 2", mod(func(b []byte) []byte { b[4] = 2; return b }), CodeOpen, SubBadHoldTime},
		{"identifier 0", mod(func(b []byte) []byte { copy(b[5:9], []byte{0, 0, 0, 0}); return b }), CodeOpen, SubBadID},
		{"parameters longer than said", mod(func(b []byte) []byte { b[9]++; return b }), CodeOpen, 0},
		{"capability overrun", mod(func(b []byte) []byte { b[13] += 10; return b }), CodeOpen, 0},
		{"short", good[:9], CodeHeader, SubBadLength},
		// RFC 4271 §6.2: a parameter other than capabilities (here 1,
		// authentication, long gone) is refused.
		{"optional parameter 1", mod(func(b []byte) []byte { b[9] += 4; return append(b, 1, 2, 0, 0) }), CodeOpen, SubUnsupportedParam},
		{"AS 0", mod(func(b []byte) []byte { copy(b[len(b)-4:], []byte{0, 0, 0, 0}); return b }), CodeOpen, SubBadPeerAS},
	}
	for _, c := range cases {
		_, err := ParseOpen(c.body)
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code || e.Subcode != c.sub {
			t.Errorf("%s: %v, want notification %d/%d", c.name, err, c.code, c.sub)
		}
		// RFC 4271 §6.2: an unsupported version is answered with ours.
		if c.sub == SubBadVersion && c.code == CodeOpen && !bytes.Equal(e.Data, []byte{0, 4}) {
			t.Errorf("%s: data %x, want 0004", c.name, e.Data)
		}
	}
}

func TestUpdateRoundTrip(t *testing.T) {
	u := Update{
		Withdrawn: pfx("10.98.0.0/16"),
		Origin:    OriginIGP,
		ASPath:    []Segment{{ASNs: []uint32{65515, 4200000001}}, {Set: true, ASNs: []uint32{65001, 65002}}},
		NextHop:   netip.MustParseAddr("10.1.255.30"),
		NLRI:      pfx("10.1.0.0/16", "10.99.0.0/24", "0.0.0.0/0", "192.168.1.1/32"),
	}
	got, err := ParseUpdate(mustAppend(u.Append(nil, true)), true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, u) {
		t.Errorf("got %+v\nwant %+v", got, u)
	}
	// Two-octet peers see AS_TRANS for a four-octet AS in AS_PATH, and
	// the path itself in AS4_PATH (RFC 6793 §4.2.2); parsing merges the
	// two back (§4.2.3).
	two := mustAppend(u.Append(nil, false))
	got, err = ParseUpdate(two, false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.ASPath, u.ASPath) {
		t.Errorf("two-octet path merged: %+v, want %+v", got.ASPath, u.ASPath)
	}
	if !bytes.Contains(two, []byte{0xff, 0xeb, 0x5b, 0xa0}) { // 65515, then AS_TRANS (23456)
		t.Errorf("no AS_TRANS in the two-octet UPDATE: % x", two)
	}
	// A two-octet speaker in between prepended its AS to AS_PATH only:
	// it leads the merged path. An AS4_PATH longer than AS_PATH is
	// ignored.
	if p := mergeAS4([]Segment{{ASNs: []uint32{64999, 65515, ASTrans}}}, []Segment{{ASNs: []uint32{65515, 4200000001}}}); !reflect.DeepEqual(p, []Segment{{ASNs: []uint32{64999}}, {ASNs: []uint32{65515, 4200000001}}}) {
		t.Errorf("merged: %+v", p)
	}
	if p := mergeAS4([]Segment{{ASNs: []uint32{ASTrans}}}, []Segment{{ASNs: []uint32{65515, 4200000001}}}); !reflect.DeepEqual(p, []Segment{{ASNs: []uint32{ASTrans}}}) {
		t.Errorf("a longer AS4_PATH was not ignored: %+v", p)
	}
	if PathLen(u.ASPath) != 3 || !HasAS(u.ASPath, 65002) || HasAS(u.ASPath, 65003) {
		t.Errorf("PathLen %d, HasAS wrong", PathLen(u.ASPath))
	}
	if p := Prepend(u.ASPath, 65515); PathLen(p) != 4 || p[0].ASNs[0] != 65515 || u.ASPath[0].ASNs[0] != 65515 || len(u.ASPath[0].ASNs) != 2 {
		t.Errorf("Prepend: %+v (and the original %+v)", p, u.ASPath)
	}
}

// A withdrawal alone has no path attributes, and needs none.
func TestUpdateWithdrawOnly(t *testing.T) {
	body := mustAppend(Update{Withdrawn: pfx("10.99.0.0/24")}.Append(nil, true))
	u, err := ParseUpdate(body, true)
	if err != nil || len(u.Withdrawn) != 1 || len(u.NLRI) != 0 {
		t.Fatalf("%+v %v", u, err)
	}
	if len(body) != 2+4+2 {
		t.Errorf("withdraw-only UPDATE of %d bytes: % x", len(body), body)
	}
}

func TestUpdateErrors(t *testing.T) {
	base := Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}}, NextHop: netip.MustParseAddr("192.168.1.1"), NLRI: pfx("10.99.0.0/24")}
	good := mustAppend(base.Append(nil, true))
	// Attributes start at offset 4: ORIGIN (4 bytes), AS_PATH (3+6), NEXT_HOP (3+4).
	mod := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name     string
		body     []byte
		sub      uint8
		withdraw bool // RFC 7606: the routes are withdrawn, the session stays
		// data is the NOTIFICATION's data RFC 4271 §6.3 names: the
		// erroneous attribute (type, length and value), or the missing
		// one's type code.
		data []byte
	}{
		{"origin 3", mod(func(b []byte) []byte { b[7] = 3; return b }), SubBadOrigin, true, []byte{flagTransitive, attrOrigin, 1, 3}},
		{"origin optional", mod(func(b []byte) []byte { b[4] = flagOptional | flagTransitive; return b }), SubAttrFlags, true, []byte{flagOptional | flagTransitive, attrOrigin, 1, 0}},
		{"AS_PATH segment type 5", mod(func(b []byte) []byte { b[11] = 5; return b }), SubBadASPath, true, nil},
		{"next hop 0.0.0.0", mod(func(b []byte) []byte { copy(b[20:24], []byte{0, 0, 0, 0}); return b }), SubBadNextHop, true, []byte{flagTransitive, attrNextHop, 4, 0, 0, 0, 0}},
		{"next hop of 5 bytes", mod(func(b []byte) []byte {
			b = append(b[:24:24], append([]byte{9}, b[24:]...)...)
			b[19]++
			b[3]++
			return b
		}), SubAttrLength, true, []byte{flagTransitive, attrNextHop, 5, 192, 168, 1, 1, 9}},
		// RFC 7606 §3 (c): MED is optional non-transitive.
		{"MED transitive", mod(func(b []byte) []byte {
			b = append(b[:24:24], append([]byte{flagOptional | flagTransitive, attrMED, 4, 0, 0, 0, 5}, b[24:]...)...)
			b[3] += 7
			return b
		}), SubAttrFlags, true, []byte{flagOptional | flagTransitive, attrMED, 4, 0, 0, 0, 5}},
		{"MED well-known", mod(func(b []byte) []byte {
			b = append(b[:24:24], append([]byte{flagTransitive, attrMED, 4, 0, 0, 0, 5}, b[24:]...)...)
			b[3] += 7
			return b
		}), SubAttrFlags, true, []byte{flagTransitive, attrMED, 4, 0, 0, 0, 5}},
		{"MED of 3 bytes", mod(func(b []byte) []byte {
			b = append(b[:24:24], append([]byte{flagOptional, attrMED, 3, 0, 0, 5}, b[24:]...)...)
			b[3] += 6
			return b
		}), SubAttrLength, true, []byte{flagOptional, attrMED, 3, 0, 0, 5}},
		{"prefix of 33 bits", mod(func(b []byte) []byte { b[24] = 33; return b }), SubBadNetwork, false, nil},
		{"no next hop", mod(func(b []byte) []byte {
			b = append(b[:17:17], b[24:]...)
			b[3] -= 7
			return b
		}), SubMissingAttr, true, []byte{attrNextHop}},
		{"unknown well-known", mod(func(b []byte) []byte { b[5] = 99; return b }), SubUnknownWellKnown, false, []byte{flagTransitive, 99, 1, 0}},
		{"attributes overrun", mod(func(b []byte) []byte { b[3] = 200; return b }), SubMalformedList, false, nil},
		{"MP_REACH_NLRI transitive", mod(func(b []byte) []byte {
			b = append(b[:24:24], append([]byte{flagTransitive, attrMPReach, 0}, b[24:]...)...)
			b[3] += 3
			return b
		}), SubAttrFlags, false, []byte{flagTransitive, attrMPReach, 0}},
		{"MP_REACH_NLRI of 2 bytes", mod(func(b []byte) []byte {
			b = append(b[:24:24], append([]byte{flagOptional, attrMPReach, 2, 0, 1}, b[24:]...)...)
			b[3] += 5
			return b
		}), SubOptAttr, false, []byte{flagOptional, attrMPReach, 2, 0, 1}},
		// RFC 7606 §4: an attribute's length against the list's, the NLRI
		// found by the list's.
		{"NEXT_HOP overruns the list", mod(func(b []byte) []byte { b[19] = 9; return b }), SubAttrLength, true, []byte{flagTransitive, attrNextHop, 9, 192, 168, 1, 1}},
		{"2 bytes left for a header", mod(func(b []byte) []byte {
			b = append(b[:24:24], append([]byte{flagOptional, 99}, b[24:]...)...)
			b[3] += 2
			return b
		}), SubMalformedList, true, nil},
		{"extended header cut", mod(func(b []byte) []byte {
			b = append(b[:24:24], append([]byte{flagOptional | flagExtLength, 99, 0}, b[24:]...)...)
			b[3] += 3
			return b
		}), SubMalformedList, true, nil},
	}
	for _, c := range cases {
		u, err := ParseUpdate(c.body, true)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeUpdate || e.Subcode != c.sub || e.Withdraw != c.withdraw {
			t.Errorf("%s: %v (withdraw %v), want notification 3/%d, withdraw %v", c.name, err, e != nil && e.Withdraw, c.sub, c.withdraw)
		} else if !bytes.Equal(e.Data, c.data) {
			t.Errorf("%s: data % x, want % x", c.name, e.Data, c.data)
		}
		if c.withdraw && !slices.Equal(u.NLRI, base.NLRI) {
			t.Errorf("%s: the routes to withdraw are %v", c.name, u.NLRI)
		}
	}
	// RFC 7606 §3 (g): an attribute again is discarded; the first stands.
	twice := mod(func(b []byte) []byte {
		b = append(b[:8:8], append([]byte{flagTransitive, attrOrigin, 1, OriginIncomplete}, b[8:]...)...)
		b[3] += 4
		return b
	})
	if u, err := ParseUpdate(twice, true); err != nil || u.Origin != OriginIGP || len(u.NLRI) != 1 {
		t.Errorf("ORIGIN twice: %+v, %v", u, err)
	}
	// Without routes, a length conflict may hide an MP_UNREACH_NLRI: the
	// session ends.
	if _, err := ParseUpdate(mod(func(b []byte) []byte { b[19] = 9; return b[:len(b)-4] }), true); isWithdraw(err) || err == nil {
		t.Errorf("an attribute overrunning the list without NLRI: %v", err)
	}
	// Without routes, a malformed attribute withdraws nothing: no error.
	if _, err := ParseUpdate(mod(func(b []byte) []byte { b[7] = 3; return b[:len(b)-4] }), true); err != nil {
		t.Errorf("a bad ORIGIN without NLRI: %v", err)
	}
}

func TestReadMessage(t *testing.T) {
	var buf [MaxLen]byte
	msg := mustAppend(AppendMessage(nil, TypeKeepalive, nil))
	typ, body, err := ReadMessage(bytes.NewReader(msg), &buf)
	if err != nil || typ != TypeKeepalive || len(body) != 0 {
		t.Fatalf("%v %v %v", typ, body, err)
	}
	// RFC 4271 §6.1: a length or type error's data is the field.
	bad := []struct {
		name string
		msg  []byte
		sub  uint8
		data []byte
	}{
		{"marker", append([]byte{0}, msg[1:]...), SubNotSynced, nil},
		{"length 5000", append(bytes.Clone(msg[:16]), 0x13, 0x88, 4), SubBadLength, []byte{0x13, 0x88}},
		{"keepalive of 20", append(append(bytes.Clone(msg[:16]), 0, 20, 4), 0), SubBadLength, []byte{0, 20}},
		{"type 9", append(bytes.Clone(msg[:16]), 0, 19, 9), SubBadType, []byte{9}},
		{"short OPEN", append(bytes.Clone(msg[:16]), 0, 20, 1, 4), SubBadLength, []byte{0, 20}},
	}
	for _, c := range bad {
		_, _, err := ReadMessage(bytes.NewReader(c.msg), &buf)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeHeader || e.Subcode != c.sub || !bytes.Equal(e.Data, c.data) {
			t.Errorf("%s: %v (data %x), want notification 1/%d with data %x", c.name, err, e.Data, c.sub, c.data)
		}
	}
	n := Notification{Code: CodeCease, Subcode: SubAdminShutdown, Data: []byte("\x03bye")}
	got, err := ParseNotification(n.Append(nil))
	if err != nil || got.Code != CodeCease || string(got.Data) != "\x03bye" || got.String() != `cease, subcode 2 (administrative shutdown), shutdown communication "bye"` {
		t.Errorf("%+v %v", got, err)
	}
}

// TestShutdownCommunicationRFC9003: a Cease, Administrative Shutdown or
// Reset, shows the operator's message it carries (RFC 9003 §2: a length
// octet, then UTF-8), quoted with its control characters escaped; one
// whose length disagrees or that is not UTF-8 is shown as hex, never as
// text (§2, §4).
func TestShutdownCommunicationRFC9003(t *testing.T) {
	long := strings.Repeat("ü", 127) + "x" // 255 octets
	for _, c := range []struct {
		name string
		n    Notification
		want string
	}{
		{"shutdown", Notification{CodeCease, SubAdminShutdown, append([]byte{13}, "maintenance 5"...)}, `cease, subcode 2 (administrative shutdown), shutdown communication "maintenance 5"`},
		{"reset", Notification{CodeCease, SubAdminReset, append([]byte{7}, "Grüße"...)}, `cease, subcode 4 (administrative reset), shutdown communication "Grüße"`},
		{"control characters", Notification{CodeCease, SubAdminShutdown, append([]byte{11}, "a\nlevel=ERR"...)}, `cease, subcode 2 (administrative shutdown), shutdown communication "a\nlevel=ERR"`},
		{"255 octets", Notification{CodeCease, SubAdminShutdown, append([]byte{255}, long...)}, `cease, subcode 2 (administrative shutdown), shutdown communication "` + long + `"`},
		{"empty", Notification{CodeCease, SubAdminShutdown, []byte{0}}, "cease, subcode 2 (administrative shutdown)"},
		{"none", Notification{CodeCease, SubAdminShutdown, nil}, "cease, subcode 2 (administrative shutdown)"},
		{"length too long", Notification{CodeCease, SubAdminShutdown, append([]byte{9}, "bye"...)}, "cease, subcode 2 (administrative shutdown), a malformed shutdown communication: 09 62 79 65"},
		{"length too short", Notification{CodeCease, SubAdminReset, append([]byte{1}, "bye"...)}, "cease, subcode 4 (administrative reset), a malformed shutdown communication: 01 62 79 65"},
		{"not UTF-8", Notification{CodeCease, SubAdminShutdown, []byte{2, 0xc0, 0x80}}, "cease, subcode 2 (administrative shutdown), a malformed shutdown communication: 02 c0 80"},
		{"hex bounded", Notification{CodeCease, SubAdminShutdown, bytes.Repeat([]byte{1}, 1000)}, "cease, subcode 2 (administrative shutdown), a malformed shutdown communication: " + strings.TrimSpace(strings.Repeat("01 ", 256))},
		{"other subcode", Notification{CodeCease, SubDeconfigured, append([]byte{3}, "bye"...)}, "cease, subcode 3 (peer de-configured), data 03 62 79 65"},
		{"other code", Notification{CodeOpen, SubAdminShutdown, append([]byte{3}, "bye"...)}, "OPEN message error, subcode 2 (bad peer AS), data 03 62 79 65"},
	} {
		if got := c.n.String(); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestUpdateMultiprotocol: IPv4 unicast routes carried in MP_REACH_NLRI
// (with its next hop) and MP_UNREACH_NLRI (RFC 4760) are read as if they
// were in the UPDATE's own fields; other families are ignored; a
// malformed one, or one twice, ends the session (RFC 7606 §7.11, §3 (g)).
func TestUpdateMultiprotocol(t *testing.T) {
	attr := func(code byte, val ...byte) []byte { return append([]byte{0x80, code, byte(len(val))}, val...) }
	update := func(nlri []byte, attrs ...[]byte) []byte {
		var a []byte
		for _, x := range attrs {
			a = append(a, x...)
		}
		b := append([]byte{0, 0, byte(len(a) >> 8), byte(len(a))}, a...)
		return append(b, nlri...)
	}
	origin := []byte{0x40, 1, 1, 0}
	path := []byte{0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea} // AS_SEQUENCE 65002
	reach := attr(14, 0, 1, 1, 4, 192, 0, 2, 9, 0, 16, 10, 52)
	unreach := attr(15, 0, 1, 1, 24, 10, 53, 1)

	u, err := ParseUpdate(update(nil, origin, path, reach, unreach), true)
	if err != nil || !slices.Equal(u.NLRI, pfx("10.52.0.0/16")) || u.NextHop != netip.MustParseAddr("192.0.2.9") || !slices.Equal(u.Withdrawn, pfx("10.53.1.0/24")) {
		t.Errorf("MP_REACH and MP_UNREACH: %+v %v", u, err)
	}
	// RFC 4760 §3: with routes in MP_REACH_NLRI alone, NEXT_HOP is
	// ignored: a malformed one (0.0.0.0, or of 3 bytes) withdrew them.
	for name, nh := range map[string][]byte{"0.0.0.0": {0x40, 3, 4, 0, 0, 0, 0}, "of 3 bytes": {0x40, 3, 3, 10, 0, 0}} {
		u, err := ParseUpdate(update(nil, origin, path, nh, reach), true)
		if err != nil || !slices.Equal(u.NLRI, pfx("10.52.0.0/16")) || u.NextHop != netip.MustParseAddr("192.0.2.9") {
			t.Errorf("MP_REACH beside a NEXT_HOP %s: %+v %v, want its route through 192.0.2.9", name, u, err)
		}
	}
	// With routes in the NLRI field too, they depend on it: withdrawn.
	if _, err := ParseUpdate(update([]byte{8, 11}, origin, path, []byte{0x40, 3, 4, 0, 0, 0, 0}, reach), true); !isWithdraw(err) {
		t.Errorf("NLRI and MP_REACH beside a NEXT_HOP 0.0.0.0: %v, want the routes withdrawn", err)
	}
	// Without ORIGIN the routes are withdrawn, as those of the NLRI field.
	if _, err := ParseUpdate(update(nil, path, reach), true); !isWithdraw(err) {
		t.Errorf("MP_REACH without ORIGIN: %v", err)
	}
	// IPv6 (AFI 2) was never offered: ignored, the UPDATE is empty.
	if u, err := ParseUpdate(update(nil, attr(15, 0, 2, 1, 32, 0x20, 0x01, 0x0d, 0xb8)), true); err != nil || len(u.Withdrawn)+len(u.NLRI) != 0 {
		t.Errorf("MP_UNREACH of IPv6: %+v %v", u, err)
	}
	for name, body := range map[string][]byte{
		"MP_UNREACH cut short":       update(nil, attr(15, 0, 1)),
		"MP_UNREACH prefix overruns": update(nil, attr(15, 0, 1, 1, 24, 10)),
		"MP_REACH next hop of 16":    update(nil, origin, path, attr(14, 0, 1, 1, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0)),
		"MP_REACH next hop overruns": update(nil, origin, path, attr(14, 0, 1, 1, 4, 192, 0)),
		"MP_REACH next hop 0.0.0.0":  update(nil, origin, path, attr(14, 0, 1, 1, 4, 0, 0, 0, 0, 0, 8, 10)),
		"MP_UNREACH twice":           update(nil, unreach, unreach),
		"MP_REACH transitive flags":  update(nil, origin, path, append([]byte{0xc0}, reach[1:]...)),
	} {
		if _, err := ParseUpdate(body, true); err == nil || isWithdraw(err) {
			t.Errorf("%s: %v, want the session to end", name, err)
		}
	}
}

func isWithdraw(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Withdraw
}

// TestUpdateASZero: AS 0 in a path withdraws the UPDATE's routes (RFC
// 7607 §2).
func TestUpdateASZero(t *testing.T) {
	body := mustAppend(Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65002, 0}}}, NextHop: netip.MustParseAddr("192.0.2.1"), NLRI: pfx("10.1.0.0/16")}.Append(nil, true))
	if _, err := ParseUpdate(body, true); !isWithdraw(err) {
		t.Errorf("AS 0 in the path: %v", err)
	}
}

// TestUpdateLocalPrefDiscarded: every peer of vnetgw's is an external one,
// whose LOCAL_PREF is discarded (RFC 4271 §5.1.5), a malformed one too
// (RFC 7606 §7.5): its routes stand.
func TestUpdateLocalPrefDiscarded(t *testing.T) {
	base := Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}}, NextHop: netip.MustParseAddr("192.168.1.1"), NLRI: pfx("10.99.0.0/24")}
	for _, c := range []struct {
		name string
		attr []byte
	}{
		{"well-formed", []byte{flagTransitive, attrLocPref, 4, 0, 0, 0, 100}},
		{"of 2 bytes", []byte{flagTransitive, attrLocPref, 2, 0, 100}},
		{"optional", []byte{flagOptional | flagTransitive, attrLocPref, 4, 0, 0, 0, 100}},
	} {
		b := mustAppend(base.Append(nil, true))
		// The attributes end where the NLRI's 4 bytes begin.
		at := len(b) - 4
		b = append(b[:at:at], append(c.attr, b[at:]...)...)
		b[3] += byte(len(c.attr))
		if u, err := ParseUpdate(b, true); err != nil || !slices.Equal(u.NLRI, base.NLRI) {
			t.Errorf("LOCAL_PREF %s: %+v, %v", c.name, u, err)
		}
	}
}

// TestUpdateMEDRFC4271Section5_1_4: an UPDATE's MULTI_EXIT_DISC is
// taken, for route selection (§9.1.2.2 (c)); Append never writes one: a
// MED received from a neighbouring AS MUST NOT go to another, and every
// peer is external.
func TestUpdateMEDRFC4271Section5_1_4(t *testing.T) {
	base := Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}}, NextHop: netip.MustParseAddr("192.168.1.1"), NLRI: pfx("10.99.0.0/24")}
	b := mustAppend(base.Append(nil, true))
	at := len(b) - 4 // the attributes end where the NLRI's 4 bytes begin
	med := []byte{flagOptional, attrMED, 4, 0, 1, 0, 2}
	b = slices.Concat(b[:at], med, b[at:])
	b[3] += byte(len(med))
	u, err := ParseUpdate(b, true)
	if err != nil || u.MED != 0x10002 {
		t.Fatalf("MED 65538: %+v, %v", u, err)
	}
	if again := mustAppend(u.Append(nil, true)); bytes.Contains(again, med[:3]) {
		t.Errorf("the MED written again: % x", again)
	}
}

// TestUpdateAppendRefusesWhatItCannotCarry: what an UPDATE cannot carry
// is an error, not a panic nor bytes that say something else: a NEXT_HOP
// that is no IPv4 address (RFC 4271 §4.3; netip's As4 panicked on one),
// a prefix that is not IPv4 (it was left out without a word), an AS_PATH
// segment of no AS or of more than 255 (its count is a byte). b comes
// back as it was.
func TestUpdateAppendRefusesWhatItCannotCarry(t *testing.T) {
	path := []Segment{{ASNs: []uint32{65010}}}
	nh := netip.MustParseAddr("192.168.1.1")
	for _, c := range []struct {
		name string
		u    Update
	}{
		{"IPv6 next hop", Update{Origin: OriginIGP, ASPath: path, NextHop: netip.MustParseAddr("fd00::1"), NLRI: pfx("10.1.0.0/16")}},
		{"IPv4-mapped next hop", Update{Origin: OriginIGP, ASPath: path, NextHop: netip.MustParseAddr("::ffff:192.168.1.1"), NLRI: pfx("10.1.0.0/16")}},
		{"no next hop", Update{Origin: OriginIGP, ASPath: path, NLRI: pfx("10.1.0.0/16")}},
		{"IPv6 prefix", Update{Origin: OriginIGP, ASPath: path, NextHop: nh, NLRI: pfx("10.1.0.0/16", "fd00::/64")}},
		{"IPv6 withdrawal", Update{Withdrawn: pfx("fd00::/64")}},
		{"invalid prefix", Update{Withdrawn: []netip.Prefix{{}}}},
		{"empty segment", Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}, {Set: true}}, NextHop: nh, NLRI: pfx("10.1.0.0/16")}},
		{"segment of 256 ASes", Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: make([]uint32, 256)}}, NextHop: nh, NLRI: pfx("10.1.0.0/16")}},
	} {
		for _, four := range []bool{true, false} {
			b, err := c.u.Append([]byte{1, 2, 3}, four)
			if err == nil || !bytes.Equal(b, []byte{1, 2, 3}) {
				t.Errorf("%s (four-octet %t): % x, %v; want an error and b as it was", c.name, four, b, err)
			}
		}
	}
	// A withdrawal alone needs no next hop.
	if _, err := (Update{Withdrawn: pfx("10.1.0.0/16")}).Append(nil, true); err != nil {
		t.Errorf("a withdrawal: %v", err)
	}
}

// TestUpdateAppendAllocs: an UPDATE, with AS4_PATH for a two-octet peer,
// is encoded into a buffer with room without allocating, whatever its
// path's length (the path was built in a buffer of its own, which for a
// transit path of ten ASes was allocated on every call).
func TestUpdateAppendAllocs(t *testing.T) {
	u := Update{Withdrawn: pfx("10.98.0.0/16"), Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65515, 4200000001, 65003, 65004, 65005, 65006, 65007, 65008, 65009, 65010}}},
		NextHop: netip.MustParseAddr("10.1.255.30"), NLRI: pfx("10.1.0.0/16", "10.99.0.0/24")}
	buf := make([]byte, 0, MaxLen)
	for _, four := range []bool{true, false} {
		if n := testing.AllocsPerRun(100, func() { u.Append(buf, four) }); n != 0 {
			t.Errorf("four-octet %t: %v allocations per Append", four, n)
		}
	}
}

// TestAppendMessageLength: a message is at most 4,096 bytes (RFC 4271
// §4.1). AppendMessage writes one of that length, and refuses a longer
// one with b as it was: the length was written as 16 bits of whatever the
// body made, a longer message going out with a length the peer refuses
// (at 65,536 bytes, 0), and the bytes after it read as the next message.
func TestAppendMessageLength(t *testing.T) {
	for _, c := range []struct {
		name string
		body int
		ok   bool
	}{
		{"4,096 bytes", MaxLen - HeaderLen, true},
		{"4,097 bytes", MaxLen - HeaderLen + 1, false},
		{"65,536 bytes", 1<<16 - HeaderLen, false},
	} {
		b, err := AppendMessage([]byte{1, 2, 3}, TypeUpdate, make([]byte, c.body))
		if !c.ok {
			if err == nil || !bytes.Equal(b, []byte{1, 2, 3}) {
				t.Errorf("%s: % x..., %v; want an error and b as it was", c.name, b[:min(len(b), 24)], err)
			}
			continue
		}
		var buf [MaxLen]byte
		if typ, body, err := ReadMessage(bytes.NewReader(b[3:]), &buf); err != nil || typ != TypeUpdate || len(body) != c.body {
			t.Errorf("%s: read back as %s of %d bytes, %v", c.name, typ, len(body), err)
		}
	}
}

// TestAppendMessageAllocs: a message is appended to a buffer with room
// for it without allocating.
func TestAppendMessageAllocs(t *testing.T) {
	body := mustAppend(Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}}, NextHop: netip.MustParseAddr("10.1.255.30"), NLRI: pfx("10.1.0.0/16")}.Append(nil, true))
	buf := make([]byte, 0, MaxLen)
	if n := testing.AllocsPerRun(100, func() { AppendMessage(buf, TypeUpdate, body) }); n != 0 {
		t.Errorf("%v allocations per AppendMessage", n)
	}
}

// TestUpdateAppendMessage: Update.AppendMessage writes the message
// AppendMessage makes of Append's body, without allocating in a buffer
// with room; what Append refuses, or a message longer than MaxLen, is an
// error with b as it was.
func TestUpdateAppendMessage(t *testing.T) {
	u := Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010, 4200000001}}}, NextHop: netip.MustParseAddr("10.1.255.30"), NLRI: pfx("10.1.0.0/16", "10.99.0.0/24")}
	buf := make([]byte, 0, MaxLen)
	for _, four := range []bool{true, false} {
		got, err := u.AppendMessage([]byte{1, 2, 3}, four)
		want := mustAppend(AppendMessage([]byte{1, 2, 3}, TypeUpdate, mustAppend(u.Append(nil, four))))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("four-octet %t: % x, %v; want % x", four, got, err, want)
		}
		if n := testing.AllocsPerRun(100, func() { u.AppendMessage(buf, four) }); n != 0 {
			t.Errorf("four-octet %t: %v allocations per AppendMessage", four, n)
		}
	}
	var many []netip.Prefix // 1,000 prefixes of 5 bytes: 5,000 bytes of NLRI
	for i := range 1000 {
		many = append(many, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 32))
	}
	for _, c := range []struct {
		name string
		u    Update
	}{
		{"IPv6 next hop", Update{Origin: OriginIGP, ASPath: u.ASPath, NextHop: netip.MustParseAddr("fd00::1"), NLRI: u.NLRI}},
		{"more than 4,096 bytes", Update{Origin: OriginIGP, ASPath: u.ASPath, NextHop: u.NextHop, NLRI: many}},
	} {
		if b, err := c.u.AppendMessage([]byte{1, 2, 3}, true); err == nil || !bytes.Equal(b, []byte{1, 2, 3}) {
			t.Errorf("%s: % x..., %v; want an error and b as it was", c.name, b[:min(len(b), 24)], err)
		}
	}
}

// TestNotificationNamesRFC4271Section4_5: a NOTIFICATION is shown with
// its subcode's name (RFC 4271 §4.5 and the RFCs that add subcodes), so
// that what a peer refused reads in words, and its data in hex (64
// bytes at most); one of a subcode unknown keeps its number alone.
func TestNotificationNamesRFC4271Section4_5(t *testing.T) {
	for _, c := range []struct {
		n    Notification
		want string
	}{
		{Notification{Code: CodeHeader, Subcode: SubBadLength}, "message header error, subcode 2 (bad message length)"},
		{Notification{Code: CodeOpen, Subcode: SubBadPeerAS}, "OPEN message error, subcode 2 (bad peer AS)"},
		{Notification{Code: CodeOpen, Subcode: SubUnsupportedCap, Data: IPv4UnicastCapability()}, "OPEN message error, subcode 7 (unsupported capability), data 01 04 00 01 00 01"},
		{Notification{Code: CodeUpdate, Subcode: SubBadASPath}, "UPDATE message error, subcode 11 (malformed AS_PATH)"},
		{Notification{Code: CodeHoldExpired}, "hold timer expired, subcode 0"},
		{Notification{Code: CodeFSM, Subcode: 2}, "finite state machine error, subcode 2 (unexpected message in OpenConfirm)"},
		{Notification{Code: CodeCease, Subcode: SubCollision}, "cease, subcode 7 (connection collision resolution)"},
		{Notification{Code: CodeCease, Subcode: SubMaxPrefixes, Data: []byte{0, 1, 1, 0, 0, 0x0f, 0xa0}}, "cease, subcode 1 (maximum number of prefixes reached), data 00 01 01 00 00 0f a0"},
		{Notification{Code: CodeUpdate, Subcode: SubAttrLength, Data: bytes.Repeat([]byte{7}, 100)}, "UPDATE message error, subcode 5 (attribute length error), data " + strings.TrimSpace(strings.Repeat("07 ", 64)) + " ... (100 bytes)"},
		{Notification{Code: CodeOpen, Subcode: 99}, "OPEN message error, subcode 99"},
		{Notification{Code: 9, Subcode: 1}, "error code 9, subcode 1"},
	} {
		if got := c.n.String(); got != c.want {
			t.Errorf("%d/%d: %q, want %q", c.n.Code, c.n.Subcode, got, c.want)
		}
	}
}

// TestUpdateTransitiveRFC4271Section9: the unrecognised optional
// transitive attributes of an UPDATE with routes (COMMUNITIES, one of
// extended length, one of a type not assigned) are kept, whole, their
// Partial bit set, in ascending order of type whatever the order they
// came in; optional non-transitive ones and AS4_AGGREGATOR are not.
// Append writes them back among its own in ascending order of type
// (RFC 4271 §5), around AS4_PATH for a two-octet peer.
func TestUpdateTransitiveRFC4271Section9(t *testing.T) {
	base := Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010, 4200000001}}}, NextHop: netip.MustParseAddr("192.168.1.1"), NLRI: pfx("10.99.0.0/24")}
	large := append([]byte{0xd0, 32, 0, 12}, make([]byte, 12)...) // LARGE_COMMUNITY, extended length
	attrs := slices.Concat(
		[]byte{0xc0, 200, 1, 7}, // unassigned, optional transitive
		large,
		[]byte{0x80, 99, 1, 9}, // optional non-transitive: dropped
		[]byte{0xc0, 18, 8, 0, 0, 0xfd, 0xea, 192, 0, 2, 1}, // AS4_AGGREGATOR: dropped
		[]byte{0xc0, 8, 4, 0xfd, 0xea, 0, 1},                // COMMUNITIES
	)
	b := mustAppend(base.Append(nil, true))
	at := len(b) - 4 // the attributes end where the NLRI's 4 bytes begin
	b = slices.Concat(b[:at], attrs, b[at:])
	b[3] += byte(len(attrs))
	u, err := ParseUpdate(b, true)
	if err != nil {
		t.Fatal(err)
	}
	want := string(slices.Concat([]byte{0xe0, 8, 4, 0xfd, 0xea, 0, 1}, append([]byte{0xf0}, large[1:]...), []byte{0xe0, 200, 1, 7}))
	if u.Transitive != want {
		t.Fatalf("Transitive % x, want % x", u.Transitive, want)
	}
	for _, four := range []bool{true, false} {
		body := mustAppend(u.Append(nil, four))
		var types []byte
		for a := body[4 : len(body)-4]; len(a) > 0; {
			types = append(types, a[1])
			n := 3 + int(a[2])
			if a[0]&flagExtLength != 0 {
				n = 4 + int(a[2])<<8 + int(a[3])
			}
			a = a[n:]
		}
		wantTypes := []byte{1, 2, 3, 8, 32, 200}
		if !four {
			wantTypes = []byte{1, 2, 3, 8, 17, 32, 200}
		}
		if !bytes.Equal(types, wantTypes) {
			t.Errorf("four-octet %t: attributes of types %v, want %v", four, types, wantTypes)
		}
		if again, err := ParseUpdate(body, four); err != nil || again.Transitive != want || PathLen(again.ASPath) != 2 {
			t.Errorf("four-octet %t: re-parsed as %+v, %v", four, again, err)
		}
	}
	// A withdrawal carries no attributes.
	w := mustAppend(Update{Withdrawn: pfx("10.99.0.0/24")}.Append(nil, true))
	w = slices.Concat(w[:len(w)-2], []byte{0, 7, 0xc0, 8, 4, 0xfd, 0xea, 0, 1})
	if u, err := ParseUpdate(w, true); err != nil || u.Transitive != "" {
		t.Errorf("a withdrawal with COMMUNITIES: %+v, %v", u, err)
	}
}

// TestUpdateAtomicAggregateRFC4271Section5_1_6: ATOMIC_AGGREGATE is kept
// to be passed on with the routes (it SHOULD NOT be removed), before the
// attributes of higher types; a malformed one (a length, optional or
// non-transitive flags: RFC 7606 §3 (c)) is discarded, its routes stand
// (RFC 7606 §7.6).
func TestUpdateAtomicAggregateRFC4271Section5_1_6(t *testing.T) {
	base := Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}}, NextHop: netip.MustParseAddr("192.168.1.1"), NLRI: pfx("10.99.0.0/24")}
	for _, c := range []struct {
		name  string
		attrs []byte
		want  string
	}{
		{"well-formed", []byte{0xc0, 8, 4, 0xfd, 0xea, 0, 1, 0x40, 6, 0}, "\x40\x06\x00\xe0\x08\x04\xfd\xea\x00\x01"},
		{"of 1 byte", []byte{0x40, 6, 1, 0}, ""},
		{"optional", []byte{0xc0, 6, 0}, ""},
		{"not transitive", []byte{0x00, 6, 0}, ""},
		{"of 1 byte in an extended length", []byte{0x50, 6, 0, 1, 0}, ""},
	} {
		b := mustAppend(base.Append(nil, true))
		at := len(b) - 4 // the attributes end where the NLRI's 4 bytes begin
		b = slices.Concat(b[:at], c.attrs, b[at:])
		b[3] += byte(len(c.attrs))
		u, err := ParseUpdate(b, true)
		if err != nil || u.Transitive != c.want || !slices.Equal(u.NLRI, base.NLRI) {
			t.Errorf("%s: %+v, %v; want Transitive % x", c.name, u, err, c.want)
		}
	}
}

// TestUpdateAggregatorRFC6793: AGGREGATOR (RFC 4271 §5.1.7) is taken and
// written again, in the right place among the attributes passed on; a
// two-octet peer sees AS_TRANS for a four-octet aggregator AS, and the
// AS itself in AS4_AGGREGATOR (RFC 6793 §4.2.2), which parsing puts
// back (§4.2.3). From a two-octet peer, an AGGREGATOR of another AS than
// AS_TRANS with an AS4_AGGREGATOR, an aggregation by a two-octet speaker
// since, has AS4_AGGREGATOR and AS4_PATH ignored (§4.2.3). A malformed one, or one
// of AS 0, is discarded, its routes stand (RFC 7606 §7.7, RFC 7607 §2);
// one with wrong flags withdraws them (RFC 7606 §3 (c)); its Partial
// bit stays (RFC 4271 §5).
func TestUpdateAggregatorRFC6793(t *testing.T) {
	base := Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010, 4200000002}}}, NextHop: netip.MustParseAddr("192.168.1.1"), NLRI: pfx("10.99.0.0/24"),
		Transitive: "\x40\x06\x00\xe0\x08\x04\xfd\xea\x00\x01"} // ATOMIC_AGGREGATE and COMMUNITIES
	aggr := Aggregator{AS: 4200000001, Addr: netip.MustParseAddr("192.0.2.7")}
	u := base
	u.Aggregator = aggr
	four := mustAppend(u.Append(nil, true))
	// ATOMIC_AGGREGATE (6), AGGREGATOR (7), COMMUNITIES (8).
	if want := []byte{0x40, 6, 0, 0xc0, 7, 8, 0xfa, 0x56, 0xea, 0x01, 192, 0, 2, 7, 0xe0, 8}; !bytes.Contains(four, want) {
		t.Errorf("four-octet UPDATE % x, want % x in it", four, want)
	}
	two := mustAppend(u.Append(nil, false))
	for _, want := range [][]byte{{0xc0, 7, 6, 0x5b, 0xa0, 192, 0, 2, 7}, {0xc0, 18, 8, 0xfa, 0x56, 0xea, 0x01, 192, 0, 2, 7}} {
		if !bytes.Contains(two, want) {
			t.Errorf("two-octet UPDATE % x, want % x in it", two, want)
		}
	}
	for _, c := range []struct {
		name string
		body []byte
		four bool
	}{{"four-octet", four, true}, {"two-octet", two, false}} {
		if got, err := ParseUpdate(c.body, c.four); err != nil || !reflect.DeepEqual(got, u) {
			t.Errorf("%s: got %+v, %v\nwant %+v", c.name, got, err, u)
		}
	}

	// A two-octet speaker aggregated it since: its AGGREGATOR stands,
	// the AS4 attributes are left aside.
	b := bytes.Clone(two)
	i := bytes.Index(b, []byte{0xc0, 7, 6})
	b[i+3], b[i+4] = 0xfd, 0xf2 // AS 65010
	got, err := ParseUpdate(b, false)
	if err != nil || got.Aggregator.AS != 65010 || !reflect.DeepEqual(got.ASPath, []Segment{{ASNs: []uint32{65010, ASTrans}}}) {
		t.Errorf("aggregated by AS 65010: %+v, %v", got, err)
	}
	// Without AS4_AGGREGATOR, AS4_PATH is taken as ever.
	j := bytes.Index(b, []byte{0xc0, 18, 8})
	b = slices.Concat(b[:j], b[j+11:])
	b[3] -= 11
	if got, err := ParseUpdate(b, false); err != nil || got.Aggregator.AS != 65010 || !reflect.DeepEqual(got.ASPath, base.ASPath) {
		t.Errorf("aggregated by AS 65010, no AS4_AGGREGATOR: %+v, %v", got, err)
	}

	plain := mustAppend(Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}}, NextHop: netip.MustParseAddr("192.168.1.1"), NLRI: pfx("10.99.0.0/24")}.Append(nil, true))
	for _, c := range []struct {
		name     string
		attr     []byte
		want     Aggregator
		withdraw bool
	}{
		{"of 6 bytes between four-octet speakers", []byte{0xc0, 7, 6, 0xfd, 0xf2, 192, 0, 2, 7}, Aggregator{}, false},
		{"of AS 0", []byte{0xc0, 7, 8, 0, 0, 0, 0, 192, 0, 2, 7}, Aggregator{}, false},
		{"partial", []byte{0xe0, 7, 8, 0, 0, 0xfd, 0xf2, 192, 0, 2, 7}, Aggregator{AS: 65010, Addr: netip.MustParseAddr("192.0.2.7"), Partial: true}, false},
		{"well-known", []byte{0x40, 7, 8, 0, 0, 0xfd, 0xf2, 192, 0, 2, 7}, Aggregator{}, true},
	} {
		at := len(plain) - 4 // the attributes end where the NLRI's 4 bytes begin
		b := slices.Concat(plain[:at], c.attr, plain[at:])
		b[3] += byte(len(c.attr))
		got, err := ParseUpdate(b, true)
		if c.withdraw {
			if !isWithdraw(err) {
				t.Errorf("%s: %v, want its routes withdrawn", c.name, err)
			}
			continue
		}
		if err != nil || got.Aggregator != c.want || !slices.Equal(got.NLRI, pfx("10.99.0.0/24")) {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
		if c.want.Partial && !bytes.Contains(mustAppend(got.Append(nil, true)), c.attr) {
			t.Errorf("%s: written again without its Partial bit", c.name)
		}
	}
}

// TestUpdateLen: Len is the length Append writes, for each encoding: a
// long path in an attribute of extended length, AS4_PATH and
// AS4_AGGREGATOR for a two-octet peer (RFC 6793 §4.2.2), the attributes
// passed on, a withdrawal alone.
func TestUpdateLen(t *testing.T) {
	nh := netip.MustParseAddr("192.168.1.1")
	long := make([]uint32, 200)
	for i := range long {
		long[i] = 4200000000 + uint32(i)
	}
	for _, c := range []struct {
		name string
		u    Update
	}{
		{"withdrawal", Update{Withdrawn: pfx("10.99.0.0/24", "10.0.0.0/8", "0.0.0.0/0")}},
		{"short path", Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}}, NextHop: nh, NLRI: pfx("10.99.0.0/24")}},
		{"set and four-octet ASes", Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010, 4200000002}}, {Set: true, ASNs: []uint32{65001, 4200000001}}}, NextHop: nh,
			NLRI: pfx("10.99.0.0/24", "10.1.0.0/16"), Withdrawn: pfx("10.2.0.0/16")}},
		{"long path", Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: long}, {Set: true, ASNs: long[:100]}}, NextHop: nh, NLRI: pfx("10.99.0.0/24")}},
		{"aggregator and transitive", Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}}, NextHop: nh, NLRI: pfx("10.99.0.0/24"),
			Aggregator: Aggregator{AS: 4200000001, Addr: netip.MustParseAddr("192.0.2.7")}, Transitive: "\x40\x06\x00\xe0\x08\x04\xfd\xea\x00\x01"}},
		{"two-octet aggregator", Update{Origin: OriginIGP, ASPath: []Segment{{ASNs: []uint32{65010}}}, NextHop: nh, NLRI: pfx("10.99.0.0/24"),
			Aggregator: Aggregator{AS: 65001, Addr: netip.MustParseAddr("192.0.2.7")}}},
	} {
		for _, four := range []bool{true, false} {
			if b := mustAppend(c.u.Append(nil, four)); c.u.Len(four) != len(b) {
				t.Errorf("%s, four-octet %t: Len %d, Append wrote %d bytes", c.name, four, c.u.Len(four), len(b))
			}
		}
	}
}
