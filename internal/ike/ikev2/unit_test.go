package ikev2

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

func ts(t wire.TSType, proto uint8, sp, ep uint16, start, end string) wire.TrafficSelector {
	return wire.TrafficSelector{Type: t, IPProtocol: proto, StartPort: sp, EndPort: ep,
		StartAddr: netip.MustParseAddr(start), EndAddr: netip.MustParseAddr(end)}
}

// TestNarrow covers the responder's narrowing of traffic selectors (RFC
// 7296 §2.9).
func TestNarrow(t *testing.T) {
	pfx := netip.MustParsePrefix
	v4 := wire.TSIPv4AddrRange
	tests := []struct {
		name   string
		ours   []netip.Prefix
		theirs []wire.TrafficSelector
		want   []netip.Prefix
	}{
		{"2.9 any narrowed to ours", []netip.Prefix{pfx("10.1.0.0/16")},
			[]wire.TrafficSelector{ts(v4, 0, 0, 65535, "0.0.0.0", "255.255.255.255")}, []netip.Prefix{pfx("10.1.0.0/16")}},
		{"2.9 theirs within ours kept", []netip.Prefix{pfx("0.0.0.0/0")},
			[]wire.TrafficSelector{ts(v4, 0, 0, 65535, "10.2.0.0", "10.2.255.255")}, []netip.Prefix{pfx("10.2.0.0/16")}},
		{"2.9 disjoint gives nothing", []netip.Prefix{pfx("10.1.0.0/16")},
			[]wire.TrafficSelector{ts(v4, 0, 0, 65535, "10.2.0.0", "10.2.255.255")}, nil},
		{"2.9 unaligned range cut into prefixes", []netip.Prefix{pfx("10.0.0.0/8")},
			[]wire.TrafficSelector{ts(v4, 0, 0, 65535, "10.0.0.1", "10.0.0.6")},
			[]netip.Prefix{pfx("10.0.0.1/32"), pfx("10.0.0.2/31"), pfx("10.0.0.4/31"), pfx("10.0.0.6/32")}},
		{"3.13.1 IPv6 against IPv4 gives nothing", []netip.Prefix{pfx("10.0.0.0/8")},
			[]wire.TrafficSelector{ts(wire.TSIPv6AddrRange, 0, 0, 65535, "::", "ffff::")}, nil},
		{"3.13.1 IPv6 narrowed", []netip.Prefix{pfx("2001:db8::/32")},
			[]wire.TrafficSelector{ts(wire.TSIPv6AddrRange, 0, 0, 65535, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
			[]netip.Prefix{pfx("2001:db8::/32")}},
		{"3.13.1 unknown type skipped", []netip.Prefix{pfx("0.0.0.0/0")},
			[]wire.TrafficSelector{{Type: 13, Data: []byte{1, 2}}}, nil},
		{"3.13.1 reversed range skipped", []netip.Prefix{pfx("0.0.0.0/0")},
			[]wire.TrafficSelector{ts(v4, 0, 0, 65535, "10.0.0.9", "10.0.0.1")}, nil},
		{"RFC 4301 5.2 a protocol or ports are not agreed", []netip.Prefix{pfx("0.0.0.0/0")},
			[]wire.TrafficSelector{ts(v4, 6, 0, 65535, "10.0.0.0", "10.0.0.255"), ts(v4, 0, 443, 443, "10.0.1.0", "10.0.1.255")}, nil},
		{"2.9 the triggering packet first, then the range", []netip.Prefix{pfx("10.0.0.0/8")},
			[]wire.TrafficSelector{ts(v4, 6, 8080, 8080, "10.1.0.5", "10.1.0.5"), ts(v4, 0, 0, 65535, "10.1.0.0", "10.1.255.255")},
			[]netip.Prefix{pfx("10.1.0.0/16")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := prefixes(narrow(tc.ours, tc.theirs)); !slices.Equal(got, tc.want) {
				t.Errorf("narrow = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWithin covers the initiator's check that the responder only narrowed
// (RFC 7296 §2.9).
func TestWithin(t *testing.T) {
	proposed := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	v4 := wire.TSIPv4AddrRange
	for _, tc := range []struct {
		name   string
		chosen []wire.TrafficSelector
		ok     bool
	}{
		{"2.9 narrower", []wire.TrafficSelector{ts(v4, 0, 0, 65535, "10.1.0.0", "10.1.255.255")}, true},
		{"2.9 same", []wire.TrafficSelector{ts(v4, 0, 0, 65535, "10.0.0.0", "10.255.255.255")}, true},
		{"RFC 4301 5.2 one port, not enforced, refused", []wire.TrafficSelector{ts(v4, 6, 443, 443, "10.0.0.1", "10.0.0.1")}, false},
		{"2.9 wider", []wire.TrafficSelector{ts(v4, 0, 0, 65535, "0.0.0.0", "255.255.255.255")}, false},
		{"2.9 elsewhere", []wire.TrafficSelector{ts(v4, 0, 0, 65535, "192.168.0.0", "192.168.0.255")}, false},
		{"2.9 none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := within(tc.chosen, proposed); ok != tc.ok {
				t.Errorf("within = %v, want %v", ok, tc.ok)
			}
		})
	}
}

// TestCookieJar covers the stateless cookies of RFC 7296 §2.6: a cookie is
// bound to the nonce, address and SPI, and outlives one rotation of the
// secret but not two.
func TestCookieJar(t *testing.T) {
	var j cookieJar
	now := time.Now()
	ni := bytes.Repeat([]byte{1}, 32)
	ip := netip.MustParseAddr("192.0.2.7")
	c := j.make(now, ni, ip, 42)
	if len(c) != cookieLen || len(c) > 64 {
		t.Fatalf("cookie of %d octets", len(c))
	}
	for _, tc := range []struct {
		name   string
		at     time.Time
		cookie []byte
		ni     []byte
		ip     netip.Addr
		spi    uint64
		ok     bool
	}{
		{"2.6 valid", now, c, ni, ip, 42, true},
		{"2.6 other SPI", now, c, ni, ip, 43, false},
		{"2.6 other nonce", now, c, bytes.Repeat([]byte{2}, 32), ip, 42, false},
		{"2.6 other address", now, c, ni, netip.MustParseAddr("192.0.2.8"), 42, false},
		{"2.6 truncated", now, c[:10], ni, ip, 42, false},
		{"2.6 after one rotation", now.Add(cookieRotation + time.Second), c, ni, ip, 42, true},
		{"2.6 after two rotations", now.Add(2*cookieRotation + 2*time.Second), c, ni, ip, 42, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := j.check(tc.at, tc.cookie, tc.ni, tc.ip, tc.spi); got != tc.ok {
				t.Errorf("check = %v, want %v", got, tc.ok)
			}
		})
	}
}

// TestCookieJarUnsetSecret: before the secret first rotates there is no
// previous one, and a cookie that claims it (version 0, whose secret was
// never drawn: zeros) is refused. It was taken, so that anyone could make
// cookies the responder accepts for the first rotation period, and flood
// it past its cookie defence (RFC 7296 §2.6).
func TestCookieJarUnsetSecret(t *testing.T) {
	var j cookieJar
	now := time.Now()
	ni := bytes.Repeat([]byte{1}, 32)
	ip := netip.MustParseAddr("192.0.2.7")
	j.make(now, ni, ip, 42) // the jar is in use
	m := hmac.New(sha256.New, make([]byte, 32))
	m.Write(ni)
	ip16 := ip.As16()
	m.Write(ip16[:])
	m.Write(binary.BigEndian.AppendUint64(nil, 42))
	forged := m.Sum(binary.BigEndian.AppendUint32(nil, 0))
	if j.check(now, forged, ni, ip, 42) {
		t.Error("a cookie made with the unset secret of version 0 was taken")
	}
}

// TestNATHash covers the NAT detection data of RFC 7296 §2.23: SHA-1 over
// SPIs, address and port; any of them changes it.
func TestNATHash(t *testing.T) {
	ap := netip.MustParseAddrPort("192.0.2.1:500")
	h := natHash(1, 2, ap)
	if len(h) != 20 {
		t.Fatalf("hash of %d octets", len(h))
	}
	for _, other := range [][]byte{natHash(1, 3, ap), natHash(1, 2, netip.MustParseAddrPort("192.0.2.1:4500")),
		natHash(1, 2, netip.MustParseAddrPort("192.0.2.2:500"))} {
		if bytes.Equal(h, other) {
			t.Errorf("hash does not depend on every input")
		}
	}
}

// TestValidate covers the checks of a peer configuration.
func TestValidate(t *testing.T) {
	good := basePeer("p", addrA, addrB)
	for _, tc := range []struct {
		name string
		adj  func(*PeerConfig)
		want string
	}{
		{"valid", func(*PeerConfig) {}, ""},
		{"no name", func(p *PeerConfig) { p.Name = "" }, "no name"},
		{"no remote", func(p *PeerConfig) { p.Remote = netip.AddrPort{} }, "addresses are required"},
		{"mixed families", func(p *PeerConfig) { p.Remote = netip.MustParseAddrPort("[2001:db8::1]:500") }, "families"},
		{"no key", func(p *PeerConfig) { p.PSK = nil }, "pre-shared key"},
		{"ESP proposal for IKE", func(p *PeerConfig) { p.IKEProposals = mustProposals(t, wire.ProtocolESP, "aes128-sha1") }, "is for ESP"},
		{"empty child", func(p *PeerConfig) { p.Children = []ChildConfig{{}} }, "selectors"},
		{"margin beyond lifetime", func(p *PeerConfig) { p.ChildLifetime, p.RekeyMargin = time.Minute, time.Hour }, "leave nothing"},
		{"tiny fragments", func(p *PeerConfig) { p.FragmentSize = 40 }, "fragment size"},
		{"soft above hard", func(p *PeerConfig) { p.ChildLimits = esp.Limits{SoftBytes: 10, HardBytes: 5} }, "soft child limits"},
		{"bad identity", func(p *PeerConfig) { p.LocalID = Identity{Type: wire.IDIPv4Addr, Data: []byte{1}} }, "local identity"},
		{"2.4 retransmissions up to the cap", func(p *PeerConfig) { p.RetransmitTimeout, p.RetransmitTries = MaxRetransmitTimeout, 20 }, ""},
		{"2.4 first retransmission beyond the cap", func(p *PeerConfig) { p.RetransmitTimeout = MaxRetransmitTimeout + time.Second }, "retransmission"},
		{"too many retransmissions", func(p *PeerConfig) { p.RetransmitTries = 21 }, "retransmission"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.adj(&p)
			err := p.withDefaults().validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("validate = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// TestDefaults checks the documented defaults, Azure's lifetimes among
// them.
func TestDefaults(t *testing.T) {
	p := PeerConfig{Name: "p", Local: netip.MustParseAddrPort("192.0.2.1:0"), Remote: netip.MustParseAddrPort("192.0.2.2:0"), PSK: PSK("k")}.withDefaults()
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	if p.Local.Port() != 500 || p.Remote.Port() != 500 || p.IKELifetime != 28800*time.Second || p.ChildLifetime != 27000*time.Second ||
		p.ChildLimits.HardBytes != 102400000*1024 || len(p.Children) != 1 || !p.LocalID.Equal(IPIdentity(p.Local.Addr())) {
		t.Errorf("defaults: %+v", p)
	}
}

// TestIdentity covers the identities of RFC 7296 §3.5.
func TestIdentity(t *testing.T) {
	for _, tc := range []struct {
		id   Identity
		typ  wire.IDType
		want string
	}{
		{IPIdentity(netip.MustParseAddr("192.0.2.1")), wire.IDIPv4Addr, "192.0.2.1"},
		{IPIdentity(netip.MustParseAddr("::ffff:192.0.2.1")), wire.IDIPv4Addr, "192.0.2.1"},
		{IPIdentity(netip.MustParseAddr("2001:db8::1")), wire.IDIPv6Addr, "2001:db8::1"},
		{FQDNIdentity("gw.example.com"), wire.IDFQDN, "gw.example.com"},
		{Identity{Type: wire.IDKeyID, Data: []byte{0xca, 0xfe}}, wire.IDKeyID, "@#cafe"},
	} {
		if tc.id.Type != tc.typ || tc.id.String() != tc.want || tc.id.check() != nil {
			t.Errorf("%v: type %v, check %v", tc.id, tc.id.Type, tc.id.check())
		}
	}
}

// TestPSKRedacted checks that a pre-shared key never prints.
func TestPSKRedacted(t *testing.T) {
	psk := PSK("top-secret-key")
	p := basePeer("p", addrA, addrB)
	p.PSK = psk
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "psk", psk, "peer", p)
	for _, s := range []string{fmt.Sprint(psk), fmt.Sprintf("%x %q %v %+v %#v %s", psk, psk, psk, p, p, psk), logged.String()} {
		if strings.Contains(s, "top-secret") || strings.Contains(s, fmt.Sprintf("%x", []byte(psk))) {
			t.Errorf("key printed: %s", s)
		}
	}
}

// TestMalformed covers garbage, truncated messages and unknown SPIs: all
// dropped and counted (RFC 7296 §2.21), nothing answered.
func TestMalformed(t *testing.T) {
	n, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	sent := len(n.datagrams())
	from := netip.AddrPortFrom(addrA, 500)
	to := netip.AddrPortFrom(addrB, 500)
	valid := n.datagrams()[0].data // the IKE_SA_INIT request
	for i := range len(valid) {
		b.m.HandlePacket(to, from, valid[:i])
	}
	b.m.HandlePacket(to, from, []byte{0xff})
	b.m.HandlePacket(to, from, bytes.Repeat([]byte{0x20}, 100))
	unknown := bytes.Clone(valid)
	unknown[18] = byte(wire.Informational)
	unknown[8] = 1 // some SPIr
	b.m.HandlePacket(to, from, unknown)
	st := b.m.Stats()
	keepalives := uint64(1)
	if valid[0] == 0xff {
		keepalives++ // the SPI's first byte alone (1 in 256) is a NAT-keepalive too
	}
	if st.Malformed < uint64(len(valid)) || st.Keepalives != keepalives || st.UnknownSPI != 1 {
		t.Errorf("stats %+v", st)
	}
	time.Sleep(50 * time.Millisecond)
	if got := len(n.datagrams()); got != sent {
		t.Errorf("%d datagrams answered garbage", got-sent)
	}
	if len(b.established()) != 1 {
		t.Errorf("the IKE SA suffered: %+v", b.status())
	}
}

// TestUnsupportedCriticalPayload covers RFC 7296 §2.5: an IKE_SA_INIT
// request with an unknown payload whose critical bit is set is answered
// with UNSUPPORTED_CRITICAL_PAYLOAD naming the type.
func TestUnsupportedCriticalPayload(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	pb := basePeer("to-a", addrB, addrA)
	pb.Mode = ModeResponderOnly
	b := newNode(t, n, "b", addrB, Config{}, pb)
	var got []*wire.Notify
	msg := wire.Message{
		Header: wire.Header{SPIi: 7, MajorVersion: 2, Exchange: wire.IKESAInit, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{
			&wire.Nonce{Data: bytes.Repeat([]byte{1}, 32)},
			&wire.Unknown{Generic: wire.Generic{Critical: true}, PayloadType: 200, Body: []byte{1, 2, 3}},
		},
	}
	raw, err := msg.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	b.m.HandlePacket(netip.AddrPortFrom(addrB, 500), netip.AddrPortFrom(addrA, 500), raw)
	waitFor(t, time.Second, "the answer", func() bool {
		got = got[:0]
		for _, d := range n.datagrams() {
			if m, err := wire.ParseMessage(d.data); err == nil && m.Header.SPIi == 7 && m.Header.Flags&wire.FlagResponse != 0 {
				if nt, ok := m.Payloads[0].(*wire.Notify); ok {
					got = append(got, nt)
				}
			}
		}
		return len(got) == 1
	})
	if got[0].NotifyType != wire.UnsupportedCriticalPayload || !bytes.Equal(got[0].Data, []byte{200}) {
		t.Errorf("answered %v %x", got[0].NotifyType, got[0].Data)
	}
}

// TestUnsupportedCriticalPayloadEncrypted covers RFC 7296 §2.5 inside an
// established IKE SA: an INFORMATIONAL request whose SK payload holds an
// unknown critical payload is answered with UNSUPPORTED_CRITICAL_PAYLOAD,
// and the IKE SA stays.
func TestUnsupportedCriticalPayloadEncrypted(t *testing.T) {
	_, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	got := make(chan []wire.Payload, 1)
	a.onLoop(func(c *conn) {
		c.established().request(wire.Informational, "a message with an unknown critical payload", []wire.Payload{
			&wire.Unknown{Generic: wire.Generic{Critical: true}, PayloadType: 201, Body: []byte{9, 9}},
		}, func(ps []wire.Payload) { got <- ps })
	})
	var ps []wire.Payload
	select {
	case ps = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no response")
	}
	if len(ps) != 1 {
		t.Fatalf("response %v", ps)
	}
	if nt, ok := ps[0].(*wire.Notify); !ok || nt.NotifyType != wire.UnsupportedCriticalPayload || !bytes.Equal(nt.Data, []byte{201}) {
		t.Fatalf("response %#v", ps[0])
	}
	if len(a.established()) != 1 || len(b.established()) != 1 {
		t.Errorf("the IKE SA suffered: %+v / %+v", a.status(), b.status())
	}
}

// TestWeakGroups: groups 2 and 24 are taken only when a proposal names
// them, and then called weak.
func TestWeakGroups(t *testing.T) {
	p := basePeer("p", addrA, addrB)
	if g := p.withDefaults().weakGroups(); len(g) != 0 {
		t.Errorf("the default proposals hold weak groups %v", g)
	}
	p.IKEProposals = mustProposals(t, wire.ProtocolIKE, "aes256-sha256-modp1024")
	p.ESPProposals = mustProposals(t, wire.ProtocolESP, "aes256-sha256-modp2048s256", "aes256gcm16-modp1024")
	if g := p.weakGroups(); !slices.Equal(g, []wire.DHGroup{wire.DHInsecureMODP1024, wire.DHInsecureMODP2048S256}) {
		t.Errorf("weak groups %v, want groups 2 and 24", g)
	}
}

// TestMessageIDsDoNotWrap covers RFC 7296 §2.2: an IKE SA whose message IDs
// are used up sends no request with a wrapped ID; it is closed.
func TestMessageIDsDoNotWrap(t *testing.T) {
	n, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	sent := len(n.datagrams())
	a.onLoop(func(c *conn) {
		sa := c.established()
		sa.nextID = math.MaxUint32
		sa.enqueue(task{kind: taskDPD})
		sa.kick()
	})
	waitFor(t, 5*time.Second, "the IKE SA to close", func() bool {
		for _, sa := range a.status().IKESAs {
			if sa.SPIi == b.established()[0].SPIi && sa.State == "established" {
				return false
			}
		}
		return true
	})
	for _, d := range n.datagrams()[sent:] {
		if m, _, err := wire.ParseHeader(d.data); err == nil && d.from.Addr() == addrA && m.MessageID == 0 && m.Exchange == wire.Informational {
			t.Errorf("a request with a wrapped message ID was sent")
		}
	}
}

// TestLastAddr checks the highest address of prefixes of every kind of
// length, against setting the host bits one by one.
func TestLastAddr(t *testing.T) {
	slow := func(p netip.Prefix) netip.Addr {
		b := p.Addr().AsSlice()
		for i := p.Bits(); i < len(b)*8; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		a, _ := netip.AddrFromSlice(b)
		return a
	}
	for _, s := range []string{"0.0.0.0/0", "10.0.0.0/7", "10.1.0.0/16", "192.0.2.77/32", "128.0.0.0/1",
		"::/0", "fd00::/7", "2001:db8::/63", "2001:db8::/64", "2001:db8::8000:0:0:0/65", "2001:db8::1/128"} {
		p := netip.MustParsePrefix(s).Masked()
		if got, want := lastAddr(p), slow(p); got != want {
			t.Errorf("lastAddr(%v) = %v, want %v", p, got, want)
		}
	}
}

// TestChooseIgnoresKeyExchangesInIKEAuth: a child proposal in IKE_AUTH
// may carry key exchange transforms, D-H (RFC 7296 §1.2) and RFC 9370's
// additional ones (types 6 to 12), which no exchange there uses: they are
// ignored. In CREATE_CHILD_SA an additional key exchange is a type this
// package does not do, and the proposal is not taken (RFC 7296 §3.3.6).
func TestChooseIgnoresKeyExchangesInIKEAuth(t *testing.T) {
	aes256 := wire.Transform{Type: wire.TransformENCR, ID: 20, Attributes: []wire.Attribute{{Type: 14, Value: 256}}} // AES-GCM-16, 256 bits
	theirs := &wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtocolESP, SPI: []byte{1, 2, 3, 4}, Transforms: []wire.Transform{
		aes256, {Type: wire.TransformDH, ID: 19}, {Type: 6, ID: 35}, {Type: wire.TransformESN, ID: 0},
	}}}}
	ours := suite.DefaultProposals(wire.ProtocolESP)
	if _, _, _, ok := choose(ours, theirs, wire.ProtocolESP, 4, true); !ok {
		t.Error("IKE_AUTH: a child proposal with an additional key exchange was refused")
	}
	if _, _, _, ok := choose(ours, theirs, wire.ProtocolESP, 4, false); ok {
		t.Error("CREATE_CHILD_SA: a child proposal with an additional key exchange (type 6) was taken")
	}
}

// TestRedundantIsOurs: of two colliding rekeys (RFC 7296 §2.8.1, §2.8.2)
// exactly one side finds its own SA redundant, the one whose exchange has
// the lowest of the four nonces, and the two sides agree also when the
// lowest nonces are equal (a peer that sends a nonce of ours back), where
// both kept their own SA and deleted the other's.
func TestRedundantIsOurs(t *testing.T) {
	n := func(b ...byte) []byte { return bytes.Repeat(b, 16) }
	for _, tc := range []struct {
		name string
		// a and b are the nonces of the exchanges of the IKE SA's
		// initiator and responder.
		a, b [2][]byte
		// aRedundant: the initiator's SA is the redundant one.
		aRedundant bool
	}{
		{"lowest is the initiator's request", [2][]byte{n(1), n(5)}, [2][]byte{n(3), n(4)}, true},
		{"lowest is the response to the initiator", [2][]byte{n(5), n(1)}, [2][]byte{n(3), n(4)}, true},
		{"lowest is in the responder's exchange", [2][]byte{n(2), n(5)}, [2][]byte{n(4), n(1)}, false},
		{"octet by octet", [2][]byte{{0x01, 0xff}, n(9)}, [2][]byte{{0x02, 0x00}, n(9)}, true},
		{"a nonce that ends first is lower", [2][]byte{n(1), n(9)}, [2][]byte{append(n(1), 0), n(9)}, true},
		{"lowest equal, the next decides", [2][]byte{n(1), n(5)}, [2][]byte{n(1), n(4)}, false},
		{"lowest equal across, the next decides", [2][]byte{n(1), n(3)}, [2][]byte{n(6), n(1)}, true},
		{"all equal, the initiator's stays", [2][]byte{n(1), n(2)}, [2][]byte{n(2), n(1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			atA, atB := redundantIsOurs(tc.a, tc.b, true), redundantIsOurs(tc.b, tc.a, false)
			if atA == atB {
				t.Fatalf("each side finds its own SA redundant=%v: they keep or delete both", atA)
			}
			if atA != tc.aRedundant {
				t.Errorf("the initiator's SA redundant: %v, want %v", atA, tc.aRedundant)
			}
		})
	}
}

// The wait a status reason names is rounded for a person: a DPD timeout
// of 315 s gave retransmission waits that summed to "33.749999997s".
func TestReadableWait(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{33749999997 * time.Nanosecond, "34s"},
		{7500 * time.Millisecond, "7.5s"},
		{3749999997 * time.Nanosecond, "3.7s"},
		{350 * time.Millisecond, "350ms"},
		{110 * time.Minute, "1h50m0s"},
	} {
		if got := readable(c.d).String(); got != c.want {
			t.Errorf("%v: %s, want %s", c.d, got, c.want)
		}
	}
}

// TestGiveUpAfter: the time a request is retransmitted before the peer is
// declared dead, which the status reason names and a replaced SA waits
// for, follows the waits tick has, doubling up to MaxRetransmitTimeout.
func TestGiveUpAfter(t *testing.T) {
	for _, c := range []struct {
		timeout time.Duration
		tries   int
		want    time.Duration
	}{
		{500 * time.Millisecond, 0, 500 * time.Millisecond},
		{500 * time.Millisecond, 3, 7500 * time.Millisecond}, // 0.5 + 1 + 2 + 4
		{20 * time.Minute, 3, 110 * time.Minute},             // 20 + 30 + 30 + 30
		{MaxRetransmitTimeout, 20, 21 * MaxRetransmitTimeout},
	} {
		sa := &ikeSA{c: &conn{cfg: PeerConfig{RetransmitTimeout: c.timeout, RetransmitTries: c.tries}}}
		if got := sa.giveUpAfter(); got != c.want {
			t.Errorf("timeout %v, %d tries: gives up after %v, want %v", c.timeout, c.tries, got, c.want)
		}
	}
}
