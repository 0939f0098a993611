package ikev1

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// p1Suite is a phase 1 transform: AES-CBC (IKEv1 has no AEAD in phase
// 1), a hash, a DH group and a lifetime.
type p1Suite struct {
	KeyLen int // bytes
	Hash   hashAlg
	Group  v2.DHGroup
	Life   time.Duration
}

func (s p1Suite) String() string {
	return fmt.Sprintf("aes%d-%s-%s", s.KeyLen*8, s.Hash, groupName(s.Group))
}

func groupName(g v2.DHGroup) string {
	switch g {
	case 1:
		return "modp768"
	case 5:
		return "modp1536"
	case v2.DHMODP2048:
		return "modp2048"
	case v2.DHECP256:
		return "ecp256"
	case v2.DHECP384:
		return "ecp384"
	case v2.DHCurve25519:
		return "curve25519"
	case v2.DHInsecureMODP1024:
		return "modp1024"
	case v2.DHInsecureMODP2048S256:
		return "modp2048s256"
	}
	return "group" + strconv.Itoa(int(g))
}

var integToHash = map[v2.IntegID]hashAlg{
	v2.IntegHMACSHA1_96: wire.Hash1, v2.IntegHMACSHA256_128: wire.Hash256,
	v2.IntegHMACSHA384_192: wire.Hash384, v2.IntegHMACSHA512_256: wire.Hash512,
}

var integToAuth = map[v2.IntegID]uint64{
	v2.IntegHMACSHA1_96: wire.AuthHMACSHA1, v2.IntegHMACSHA256_128: wire.AuthHMACSHA256,
	v2.IntegHMACSHA384_192: wire.AuthHMACSHA384, v2.IntegHMACSHA512_256: wire.AuthHMACSHA512,
}

// p1Suites turns IKE proposals (strongSwan's syntax, parsed) into the
// phase 1 transforms vnetgw offers and accepts: every AES-CBC key length
// with every integrity algorithm (as the hash) and every group.
func p1Suites(ps []suite.Proposal, life time.Duration) []p1Suite {
	var out []p1Suite
	for _, p := range ps {
		var keys []int
		var hashes []hashAlg
		var groups []v2.DHGroup
		for _, t := range p.Transforms {
			switch t.Type {
			case v2.TransformENCR:
				if v2.EncrID(t.ID) == v2.EncrAESCBC {
					keys = append(keys, int(t.KeyLen)/8)
				}
			case v2.TransformINTEG:
				if h, ok := integToHash[v2.IntegID(t.ID)]; ok {
					hashes = append(hashes, h)
				}
			case v2.TransformDH:
				groups = append(groups, v2.DHGroup(t.ID))
			}
		}
		for _, k := range keys {
			for _, h := range hashes {
				for _, g := range groups {
					out = append(out, p1Suite{KeyLen: k, Hash: h, Group: g, Life: life})
				}
			}
		}
	}
	return out
}

func (s p1Suite) transform(n uint8) wire.Transform {
	return wire.Transform{Number: n, ID: wire.TransformKeyIKE, Attrs: []wire.Attr{
		{Type: wire.AttrEncryption, Value: wire.EncrAESCBC}, {Type: wire.AttrKeyLength, Value: uint64(s.KeyLen * 8)},
		{Type: wire.AttrHash, Value: uint64(s.Hash)}, {Type: wire.AttrAuthMethod, Value: wire.AuthPSK},
		{Type: wire.AttrGroup, Value: uint64(s.Group)},
		{Type: wire.AttrLifeType, Value: wire.LifeSeconds}, {Type: wire.AttrLifeValue, Value: uint64(s.Life / time.Second)},
	}}
}

// Names of phase 1 attribute values (RFC 2409 Appendix A, RFC 3602 for
// AES) as strongSwan's proposals spell them, for describeP1.
var (
	p1EncrNames = map[uint64]string{1: "des", 2: "idea", 3: "blowfish", 4: "rc5", 5: "3des", 6: "cast", wire.EncrAESCBC: "aes"}
	p1HashNames = map[uint64]string{1: "md5", wire.Hash1: "sha1", 3: "tiger", wire.Hash256: "sha256", wire.Hash384: "sha384", wire.Hash512: "sha512"}
	p1AuthNames = map[uint64]string{2: "DSS signatures", 3: "RSA signatures", 4: "RSA encryption", 5: "revised RSA encryption"}
)

// maxDescribed bounds the peer's transforms a refusal names.
const maxDescribed = 8

// describeP1 names the phase 1 transforms of a peer's proposal, as
// strongSwan's proposals read (aes128-sha1-modp1024, 3des-md5-modp1024),
// with an authentication method other than a pre-shared key named
// after one: what the peer offered, for the reason a refusal gives.
func describeP1(ts []wire.Transform) string {
	name := func(names map[uint64]string, kind string, v uint64, ok bool) string {
		if n, known := names[v]; known {
			return n
		}
		if !ok {
			return "no-" + kind
		}
		return kind + strconv.FormatUint(v, 10)
	}
	var out []string
	for i, t := range ts {
		if i == maxDescribed {
			out = append(out, fmt.Sprintf("%d more", len(ts)-i))
			break
		}
		enc, okE := t.Attr(wire.AttrEncryption)
		h, okH := t.Attr(wire.AttrHash)
		g, okG := t.Attr(wire.AttrGroup)
		auth, _ := t.Attr(wire.AttrAuthMethod)
		d := name(p1EncrNames, "encr", enc, okE)
		if kl, ok := t.Attr(wire.AttrKeyLength); ok {
			d += strconv.FormatUint(kl, 10)
		}
		d += "-" + name(p1HashNames, "hash", h, okH) + "-"
		if okG && g <= math.MaxUint16 {
			d += groupName(v2.DHGroup(g))
		} else {
			d += "no-group"
		}
		if auth != wire.AuthPSK {
			d += " (" + name(p1AuthNames, "auth", auth, true) + ")"
		}
		out = append(out, d)
	}
	return strings.Join(out, ", ")
}

// Names of phase 2 ESP transform IDs (RFC 2407 §4.4.4, RFC 4106) and
// authentication algorithms (RFC 2407 §4.5) as strongSwan's proposals
// spell them, for describeP2. An AES transform's key length follows its
// name.
var (
	p2EncrNames = map[uint8]string{2: "des", 3: "3des", 6: "cast", 7: "blowfish", 11: "null", wire.ESPAESCBC: "aes", wire.ESPAESGCM16: "aes"}
	p2AuthNames = map[uint64]string{1: "md5", wire.AuthHMACSHA1: "sha1", wire.AuthHMACSHA256: "sha256", wire.AuthHMACSHA384: "sha384", wire.AuthHMACSHA512: "sha512"}
)

// describeP2 names the transforms of a peer's ESP proposal as
// describeP1 does phase 1's (aes128-sha1-modp2048, aes256gcm16), with a
// mode other than tunnel mode named after one: what the peer offered,
// for the reason a refusal gives.
func describeP2(ts []wire.Transform) string {
	var out []string
	for i, t := range ts {
		if i == maxDescribed {
			out = append(out, fmt.Sprintf("%d more", len(ts)-i))
			break
		}
		d, ok := p2EncrNames[t.ID]
		if !ok {
			d = "encr" + strconv.Itoa(int(t.ID))
		}
		if kl, ok := t.Attr(wire.AttrESPKeyLen); ok {
			d += strconv.FormatUint(kl, 10)
		}
		if t.ID == wire.ESPAESGCM16 {
			d += "gcm16"
		}
		if a, ok := t.Attr(wire.AttrAuthAlg); ok {
			if n, known := p2AuthNames[a]; known {
				d += "-" + n
			} else {
				d += "-auth" + strconv.FormatUint(a, 10)
			}
		}
		if g, ok := t.Attr(wire.AttrPFSGroup); ok && g <= math.MaxUint16 {
			d += "-" + groupName(v2.DHGroup(g))
		}
		if m, ok := t.Attr(wire.AttrEncapMode); ok && m != wire.EncapTunnel && m != wire.EncapUDPTunnel && m != encapUDPTunnelDraft {
			d += " (mode " + strconv.FormatUint(m, 10) + ", not tunnel)"
		}
		out = append(out, d)
	}
	return strings.Join(out, ", ")
}

// p1FromTransform reads a phase 1 transform; ok is false for one vnetgw
// does not implement (another cipher, authentication or group).
func p1FromTransform(t wire.Transform) (s p1Suite, ok bool) {
	if t.ID != wire.TransformKeyIKE {
		return s, false
	}
	enc, _ := t.Attr(wire.AttrEncryption)
	auth, _ := t.Attr(wire.AttrAuthMethod)
	h, _ := t.Attr(wire.AttrHash)
	g, _ := t.Attr(wire.AttrGroup)
	kl, _ := t.Attr(wire.AttrKeyLength)
	if enc != wire.EncrAESCBC || auth != wire.AuthPSK || h > math.MaxUint32 || hashAlg(h).new() == nil || (kl != 128 && kl != 192 && kl != 256) || g > math.MaxUint16 {
		return s, false
	}
	s = p1Suite{KeyLen: int(kl) / 8, Hash: hashAlg(h), Group: v2.DHGroup(g), Life: 8 * time.Hour}
	// RFC 2409 Appendix A: a life duration is of the life type before it
	// (kilobytes, which vnetgw does not count for phase 1, may come first).
	lifeType := uint64(0)
	for _, a := range t.Attrs {
		switch a.Type {
		case wire.AttrLifeType:
			lifeType = a.Value
		case wire.AttrLifeValue:
			if lifeType == wire.LifeSeconds && a.Value > 0 {
				s.Life = seconds(a.Value)
			}
		}
	}
	switch s.Group {
	case v2.DHMODP2048, v2.DHECP256, v2.DHECP384, v2.DHCurve25519, v2.DHInsecureMODP1024, v2.DHInsecureMODP2048S256:
		return s, true
	}
	return s, false
}

// matches tells whether the peer's transform is one of ours (lifetimes
// aside: the peer's is taken, RFC 2409 §4).
func (s p1Suite) matches(o p1Suite) bool {
	return s.KeyLen == o.KeyLen && s.Hash == o.Hash && s.Group == o.Group
}

// p2Suite is a phase 2 (ESP) transform.
type p2Suite struct {
	Encr   v2.EncrID // AES-CBC or AES-GCM-16
	KeyLen int       // bits
	Integ  v2.IntegID
	PFS    v2.DHGroup
	Life   time.Duration
	// LifeKB is the lifetime in kilobytes; 0 means none.
	LifeKB uint64
}

func (s p2Suite) String() string {
	var b strings.Builder
	if s.Encr == v2.EncrAESGCM16 {
		fmt.Fprintf(&b, "aes%dgcm16", s.KeyLen)
	} else {
		fmt.Fprintf(&b, "aes%d", s.KeyLen)
	}
	for h, i := range map[hashAlg]v2.IntegID{wire.Hash1: v2.IntegHMACSHA1_96, wire.Hash256: v2.IntegHMACSHA256_128, wire.Hash384: v2.IntegHMACSHA384_192, wire.Hash512: v2.IntegHMACSHA512_256} {
		if i == s.Integ {
			b.WriteString("-" + h.String())
		}
	}
	if s.PFS != v2.DHNone {
		b.WriteString("-" + groupName(s.PFS))
	}
	return b.String()
}

// keyLens returns the bytes of encryption key (with GCM's salt) and of
// integrity key.
func (s p2Suite) keyLens() (enc, integ int) {
	enc = s.KeyLen / 8
	if s.Encr == v2.EncrAESGCM16 {
		enc += 4 // RFC 4106 §8.1
	}
	switch s.Integ {
	case v2.IntegHMACSHA1_96:
		integ = 20
	case v2.IntegHMACSHA256_128:
		integ = 32
	case v2.IntegHMACSHA384_192:
		integ = 48
	case v2.IntegHMACSHA512_256:
		integ = 64
	}
	return enc, integ
}

// p2Suites turns ESP proposals into the phase 2 transforms vnetgw offers
// and accepts, with lifetimes life and lifeKB kilobytes (0: none).
func p2Suites(ps []suite.Proposal, life time.Duration, lifeKB uint64) []p2Suite {
	var out []p2Suite
	for _, p := range ps {
		type enc struct {
			id  v2.EncrID
			len int
		}
		var encs []enc
		var integs []v2.IntegID
		groups := []v2.DHGroup{}
		for _, t := range p.Transforms {
			switch t.Type {
			case v2.TransformENCR:
				if id := v2.EncrID(t.ID); id == v2.EncrAESCBC || id == v2.EncrAESGCM16 {
					encs = append(encs, enc{id, int(t.KeyLen)})
				}
			case v2.TransformINTEG:
				if _, ok := integToAuth[v2.IntegID(t.ID)]; ok {
					integs = append(integs, v2.IntegID(t.ID))
				}
			case v2.TransformDH:
				groups = append(groups, v2.DHGroup(t.ID))
			}
		}
		if len(groups) == 0 {
			groups = append(groups, v2.DHNone)
		}
		for _, e := range encs {
			is := integs
			if e.id == v2.EncrAESGCM16 {
				is = []v2.IntegID{v2.IntegNone}
			}
			for _, i := range is {
				for _, g := range groups {
					out = append(out, p2Suite{Encr: e.id, KeyLen: e.len, Integ: i, PFS: g, Life: life, LifeKB: lifeKB})
				}
			}
		}
	}
	return out
}

func (s p2Suite) transform(n uint8, encap bool) wire.Transform {
	mode := uint64(wire.EncapTunnel)
	if encap {
		mode = wire.EncapUDPTunnel
	}
	t := wire.Transform{Number: n, ID: uint8(s.Encr), Attrs: s.lifeAttrs()}
	t.Attrs = append(t.Attrs, wire.Attr{Type: wire.AttrEncapMode, Value: mode}, wire.Attr{Type: wire.AttrESPKeyLen, Value: uint64(s.KeyLen)})
	if a, ok := integToAuth[s.Integ]; ok {
		t.Attrs = append(t.Attrs, wire.Attr{Type: wire.AttrAuthAlg, Value: a})
	}
	if s.PFS != v2.DHNone {
		t.Attrs = append(t.Attrs, wire.Attr{Type: wire.AttrPFSGroup, Value: uint64(s.PFS)})
	}
	return t
}

// lifeAttrs are s's lifetimes as SA attributes: in seconds, and in
// kilobytes when it has one.
func (s p2Suite) lifeAttrs() []wire.Attr {
	attrs := []wire.Attr{{Type: wire.AttrSALifeType, Value: wire.LifeSeconds}, {Type: wire.AttrSALifeValue, Value: uint64(s.Life / time.Second)}}
	if s.LifeKB > 0 {
		// Stated, as the seconds are: a peer that reads none takes no
		// lifetime in kilobytes (RFC 2407 §4.5).
		attrs = append(attrs, wire.Attr{Type: wire.AttrSALifeType, Value: wire.LifeKilobytes}, wire.Attr{Type: wire.AttrSALifeValue, Value: min(s.LifeKB, math.MaxUint32)})
	}
	return attrs
}

// lifetimes reads the SA lifetimes attrs state, 0 for one they do not:
// each life value is of the life type before it (RFC 2407 §4.5).
func lifetimes(attrs []wire.Attr) (life time.Duration, kb uint64) {
	lifeType := uint64(0)
	for _, a := range attrs {
		switch a.Type {
		case wire.AttrSALifeType:
			lifeType = a.Value
		case wire.AttrSALifeValue:
			switch {
			case a.Value == 0:
			case lifeType == wire.LifeSeconds:
				life = seconds(a.Value)
			case lifeType == wire.LifeKilobytes:
				kb = min(a.Value, maxLifeKB)
			}
		}
	}
	return life, kb
}

func p2FromTransform(t wire.Transform) (s p2Suite, ok bool) {
	// RFC 2407 §4.5: without an SA Life Type, the lifetime is 28800 seconds.
	s = p2Suite{Encr: v2.EncrID(t.ID), Life: rfc2407DefaultLife}
	if s.Encr != v2.EncrAESCBC && s.Encr != v2.EncrAESGCM16 {
		return s, false
	}
	kl, _ := t.Attr(wire.AttrESPKeyLen)
	if kl != 128 && kl != 192 && kl != 256 {
		return s, false
	}
	s.KeyLen = int(kl)
	if a, ok := t.Attr(wire.AttrAuthAlg); ok {
		for i, v := range integToAuth {
			if v == a {
				s.Integ = i
			}
		}
		if s.Integ == v2.IntegNone {
			return s, false
		}
	}
	if (s.Encr == v2.EncrAESGCM16) != (s.Integ == v2.IntegNone) {
		return s, false
	}
	if g, ok := t.Attr(wire.AttrPFSGroup); ok {
		if g > math.MaxUint16 {
			return s, false
		}
		s.PFS = v2.DHGroup(g)
	}
	life, kb := lifetimes(t.Attrs)
	s.Life, s.LifeKB = cmp.Or(life, s.Life), kb
	for _, a := range t.Attrs {
		switch a.Type {
		case wire.AttrEncapMode:
			// Tunnel mode alone (RFC 2407 §4.5, RFC 3947 §5; 61443 is
			// the NAT-T drafts' UDP tunnel), not transport.
			if a.Value != wire.EncapTunnel && a.Value != wire.EncapUDPTunnel && a.Value != encapUDPTunnelDraft {
				return s, false
			}
		case wire.AttrPFSGroup, wire.AttrAuthAlg, wire.AttrESPKeyLen, wire.AttrSALifeType, wire.AttrSALifeValue:
		default:
			// ESN (RFC 4304) and what else vnetgw does not do: a
			// transform it cannot honour is not chosen.
			return s, false
		}
	}
	return s, true
}

// seconds is a Life Duration in seconds. One longer than a Duration
// holds (292 years; a variable attribute may be of any length) is taken
// as the longest: ours, shorter, holds (shorter, and respondMM1).
func seconds(v uint64) time.Duration {
	return time.Duration(min(v, uint64(math.MaxInt64/time.Second))) * time.Second
}

// maxLifeKB is the longest lifetime in kilobytes taken, so that it
// counts in bytes (limits); a longer one is no shorter than ours.
const maxLifeKB = math.MaxUint64 / 1024

// rfc2407DefaultLife is a phase 2 SA's lifetime when its proposal
// names none in seconds (RFC 2407 §4.5).
const rfc2407DefaultLife = 28800 * time.Second

// shorter returns a with the shorter of a's and b's lifetimes, in seconds
// and in kilobytes: each side's holds (a responder may take a shorter one
// than offered, RFC 2407 §4.5.4).
func shorter(a, b p2Suite) p2Suite {
	a.Life = min(a.Life, b.Life)
	if a.LifeKB == 0 || (b.LifeKB != 0 && b.LifeKB < a.LifeKB) {
		a.LifeKB = b.LifeKB
	}
	return a
}

// limits are the byte lifetimes of s's pair: the connection's, or s's
// kilobytes where they are fewer, with the rekey due at 90 % of them.
func (s p2Suite) limits(l esp.Limits) esp.Limits {
	if b := s.LifeKB * 1024; s.LifeKB > 0 && (l.HardBytes == 0 || b < l.HardBytes) {
		l.HardBytes, l.SoftBytes = b, b/10*9
	}
	return l
}

// encapUDPTunnelDraft is the UDP tunnel mode of the NAT-T drafts before
// RFC 3947.
const encapUDPTunnelDraft = 61443

func (s p2Suite) matches(o p2Suite) bool {
	return s.Encr == o.Encr && s.KeyLen == o.KeyLen && s.Integ == o.Integ && s.PFS == o.PFS
}

// espConfig is one direction of the pair.
func (s p2Suite) espConfig(spi uint32, km []byte, limits esp.Limits) esp.Config {
	e, _ := s.keyLens()
	return esp.Config{SPI: spi, Cipher: esp.Cipher(s.Encr), Integrity: esp.Integrity(s.Integ),
		Keys: esp.NewKeys(km[:e], km[e:]), Limits: limits}
}

// pair is one quick mode's traffic: a local and a remote prefix.
type pair struct{ local, remote netip.Prefix }

// String names p's traffic as the status shows it: ours, then the peer's.
func (p pair) String() string { return p.local.String() + " <-> " + p.remote.String() }

// within tells whether p's traffic lies inside o's.
func (p pair) within(o pair) bool {
	in := func(outer, inner netip.Prefix) bool {
		return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
	}
	return in(o.local, p.local) && in(o.remote, p.remote)
}
