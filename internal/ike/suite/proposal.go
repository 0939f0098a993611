package suite

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Suite is a negotiated set of transforms: one of each type, as chosen by
// the responder from a proposal (RFC 7296 §2.7).
type Suite struct {
	Protocol Protocol
	Encr     EncrID
	KeyLen   int     // encryption key length in bits
	PRF      PRFID   // IKE SAs only; zero for ESP
	Integ    IntegID // IntegNone with an AEAD algorithm
	// DH is the key exchange group: for an IKE SA the group of its KE
	// payloads, for a child SA the PFS group or DHNone.
	DH  DHGroup
	ESN bool // ESP only: extended sequence numbers
}

// encrKeyLen returns the encryption key length in octets, including the
// 4-octet salt of AES-GCM (RFC 5282 §7, RFC 4106 §8.1).
func (s Suite) encrKeyLen() int {
	if s.Encr.AEAD() {
		return s.KeyLen/8 + gcmSaltLen
	}
	return s.KeyLen / 8
}

// check reports whether s is a complete, supported suite for protocol p.
func (s Suite) check(p Protocol) error {
	if s.Protocol != p {
		return fmt.Errorf("suite for %v, want %v", s.Protocol, p)
	}
	if !s.Encr.validKeyLen(s.KeyLen) {
		return fmt.Errorf("%v with %d-bit key: %w", s.Encr, s.KeyLen, ErrUnsupported)
	}
	// RFC 5282 §8: an AEAD algorithm comes without an integrity algorithm.
	if s.Encr.AEAD() != (s.Integ == IntegNone) {
		return fmt.Errorf("%v with integrity %v", s.Encr, s.Integ)
	}
	if s.Integ != IntegNone && s.Integ.hash() == nil {
		return fmt.Errorf("%v: %w", s.Integ, ErrUnsupported)
	}
	if s.DH != DHNone && s.DH.PublicKeyLen() == 0 {
		return fmt.Errorf("%v: %w", s.DH, ErrUnsupported)
	}
	switch p {
	case ProtocolIKE:
		if s.PRF.hash() == nil {
			return fmt.Errorf("%v: %w", s.PRF, ErrUnsupported)
		}
		if s.DH == DHNone {
			return errors.New("IKE suite without a Diffie-Hellman group")
		}
		if s.ESN {
			return errors.New("IKE suite with extended sequence numbers")
		}
	case ProtocolESP:
		if s.PRF != 0 {
			return fmt.Errorf("ESP suite with %v", s.PRF)
		}
	default:
		return fmt.Errorf("%v: %w", p, ErrUnsupported)
	}
	return nil
}

// Transforms returns the transforms of s in the order ENCR, PRF, INTEG, D-H,
// ESN, as a responder puts them in its SA payload. An AEAD suite has no INTEG
// transform, an ESP suite no PRF, and an ESP suite without PFS no D-H.
func (s Suite) Transforms() []Transform {
	ts := []Transform{{Type: TransformEncr, ID: uint16(s.Encr), KeyLen: uint16(s.KeyLen)}}
	if s.Protocol == ProtocolIKE {
		ts = append(ts, Transform{Type: TransformPRF, ID: uint16(s.PRF)})
	}
	if s.Integ != IntegNone {
		ts = append(ts, Transform{Type: TransformInteg, ID: uint16(s.Integ)})
	}
	if s.DH != DHNone {
		ts = append(ts, Transform{Type: TransformDH, ID: uint16(s.DH)})
	}
	if s.Protocol == ProtocolESP {
		esn := ESNNo
		if s.ESN {
			esn = ESNYes
		}
		ts = append(ts, Transform{Type: TransformESN, ID: esn})
	}
	return ts
}

// Proposal returns s as a proposal with a single transform of each type.
func (s Suite) Proposal() Proposal {
	return Proposal{Protocol: s.Protocol, Transforms: s.Transforms()}
}

// String returns s in strongSwan's proposal syntax, for example
// "aes256gcm16-prfsha256-ecp256".
func (s Suite) String() string { return s.Proposal().String() }

// NewSuite returns the suite made of ts, the transforms of a proposal chosen
// by a responder: exactly one transform of each type the protocol needs
// (RFC 7296 §3.3.6), all of them supported.
func NewSuite(p Protocol, ts []Transform) (Suite, error) {
	s := Suite{Protocol: p}
	var seen [TransformESN + 1]bool
	for _, t := range ts {
		if t.Type < TransformEncr || t.Type > TransformESN {
			return Suite{}, fmt.Errorf("transform %v: %w", t, ErrUnsupported)
		}
		if seen[t.Type] {
			return Suite{}, fmt.Errorf("more than one %v transform", t.Type)
		}
		seen[t.Type] = true
		if t.KeyLen != 0 && t.Type != TransformEncr {
			return Suite{}, fmt.Errorf("key length attribute on %v", t)
		}
		switch t.Type {
		case TransformEncr:
			s.Encr, s.KeyLen = EncrID(t.ID), int(t.KeyLen)
		case TransformPRF:
			s.PRF = PRFID(t.ID)
		case TransformInteg:
			s.Integ = IntegID(t.ID)
		case TransformDH:
			s.DH = DHGroup(t.ID)
		case TransformESN:
			if t.ID > ESNYes {
				return Suite{}, fmt.Errorf("transform %v: %w", t, ErrUnsupported)
			}
			s.ESN = t.ID == ESNYes
		}
	}
	if !seen[TransformEncr] {
		return Suite{}, errors.New("no ENCR transform")
	}
	switch {
	case p == ProtocolESP && !seen[TransformESN]:
		return Suite{}, errors.New("ESP proposal without ESN transform")
	case p == ProtocolESP && seen[TransformPRF]:
		return Suite{}, errors.New("ESP proposal with PRF transform")
	case p == ProtocolIKE && seen[TransformESN]:
		return Suite{}, errors.New("IKE proposal with ESN transform")
	}
	if err := s.check(p); err != nil {
		return Suite{}, err
	}
	return s, nil
}

// Proposal is a proposal as configured: for each transform type the
// acceptable transforms in order of preference (RFC 7296 §3.3).
type Proposal struct {
	Protocol   Protocol
	Transforms []Transform
}

// of returns the transforms of type t in p.
func (p Proposal) of(t TransformType) []Transform {
	var ts []Transform
	for _, x := range p.Transforms {
		if x.Type == t {
			ts = append(ts, x)
		}
	}
	return ts
}

// Select chooses a suite from the transforms of one proposal offered by the
// peer: for each transform type the first of p's transforms that the peer
// also offered (RFC 7296 §2.7). A D-H type absent on either side stands for
// NONE, as does an INTEG type absent with an AEAD algorithm and an ESN type
// absent for ESP. It reports false when some type has no match or the
// result is not a valid suite.
func (p Proposal) Select(offered []Transform) (Suite, bool) {
	theirs := Proposal{Transforms: offered}
	pick := func(t TransformType, none *Transform) (Transform, bool) {
		ours, others := p.of(t), theirs.of(t)
		if none != nil {
			if len(ours) == 0 {
				ours = []Transform{*none}
			}
			if len(others) == 0 {
				others = []Transform{*none}
			}
		}
		for _, o := range ours {
			if slices.Contains(others, o) {
				return o, true
			}
		}
		return Transform{}, false
	}
	encr, ok := pick(TransformEncr, nil)
	if !ok {
		return Suite{}, false
	}
	chosen := []Transform{encr}
	if p.Protocol == ProtocolIKE {
		prf, ok := pick(TransformPRF, nil)
		if !ok {
			return Suite{}, false
		}
		chosen = append(chosen, prf)
	}
	if EncrID(encr.ID).AEAD() {
		if _, ok := pick(TransformInteg, &Transform{Type: TransformInteg}); !ok {
			return Suite{}, false
		}
	} else {
		integ, ok := pick(TransformInteg, nil)
		if !ok {
			return Suite{}, false
		}
		chosen = append(chosen, integ)
	}
	dh, ok := pick(TransformDH, &Transform{Type: TransformDH})
	if !ok {
		return Suite{}, false
	}
	chosen = append(chosen, dh)
	if p.Protocol == ProtocolESP {
		esn, ok := pick(TransformESN, &Transform{Type: TransformESN})
		if !ok {
			return Suite{}, false
		}
		chosen = append(chosen, esn)
	}
	s, err := NewSuite(p.Protocol, chosen)
	return s, err == nil
}

// keyword is one algorithm name of strongSwan's proposal syntax.
type keyword struct {
	name string
	t    Transform
}

// keywords lists the algorithm names ParseProposal accepts. The first name
// of a transform is the one String prints; later ones are aliases.
var keywords = []keyword{
	{"aes128", Transform{TransformEncr, uint16(EncrAESCBC), 128}},
	{"aes192", Transform{TransformEncr, uint16(EncrAESCBC), 192}},
	{"aes256", Transform{TransformEncr, uint16(EncrAESCBC), 256}},
	{"aes", Transform{TransformEncr, uint16(EncrAESCBC), 128}},
	{"aes128gcm16", Transform{TransformEncr, uint16(EncrAESGCM16), 128}},
	{"aes192gcm16", Transform{TransformEncr, uint16(EncrAESGCM16), 192}},
	{"aes256gcm16", Transform{TransformEncr, uint16(EncrAESGCM16), 256}},
	{"aes128gcm128", Transform{TransformEncr, uint16(EncrAESGCM16), 128}},
	{"aes192gcm128", Transform{TransformEncr, uint16(EncrAESGCM16), 192}},
	{"aes256gcm128", Transform{TransformEncr, uint16(EncrAESGCM16), 256}},
	{"aes128gcm", Transform{TransformEncr, uint16(EncrAESGCM16), 128}},
	{"aes192gcm", Transform{TransformEncr, uint16(EncrAESGCM16), 192}},
	{"aes256gcm", Transform{TransformEncr, uint16(EncrAESGCM16), 256}},
	{"sha1", Transform{TransformInteg, uint16(IntegHMACSHA1_96), 0}},
	{"sha", Transform{TransformInteg, uint16(IntegHMACSHA1_96), 0}},
	{"sha256", Transform{TransformInteg, uint16(IntegHMACSHA2_256_128), 0}},
	{"sha2_256", Transform{TransformInteg, uint16(IntegHMACSHA2_256_128), 0}},
	{"sha384", Transform{TransformInteg, uint16(IntegHMACSHA2_384_192), 0}},
	{"sha2_384", Transform{TransformInteg, uint16(IntegHMACSHA2_384_192), 0}},
	{"sha512", Transform{TransformInteg, uint16(IntegHMACSHA2_512_256), 0}},
	{"sha2_512", Transform{TransformInteg, uint16(IntegHMACSHA2_512_256), 0}},
	{"prfsha1", Transform{TransformPRF, uint16(PRFHMACSHA1), 0}},
	{"prfsha256", Transform{TransformPRF, uint16(PRFHMACSHA2_256), 0}},
	{"prfsha384", Transform{TransformPRF, uint16(PRFHMACSHA2_384), 0}},
	{"prfsha512", Transform{TransformPRF, uint16(PRFHMACSHA2_512), 0}},
	{"none", Transform{TransformDH, uint16(DHNone), 0}},
	{"modpnone", Transform{TransformDH, uint16(DHNone), 0}},
	{"modp1024", Transform{TransformDH, uint16(InsecureMODP1024), 0}},
	{"modp2048", Transform{TransformDH, uint16(MODP2048), 0}},
	{"modp2048s256", Transform{TransformDH, uint16(MODP2048S256), 0}},
	{"ecp256", Transform{TransformDH, uint16(ECP256), 0}},
	{"ecp384", Transform{TransformDH, uint16(ECP384), 0}},
	{"x25519", Transform{TransformDH, uint16(Curve25519), 0}},
	{"curve25519", Transform{TransformDH, uint16(Curve25519), 0}},
	{"noesn", Transform{TransformESN, ESNNo, 0}},
	{"esn", Transform{TransformESN, ESNYes, 0}},
}

// impliedPRF maps an integrity algorithm to the PRF strongSwan adds to a
// non-AEAD IKE proposal that names no PRF ("aes256-sha256" means integrity
// and PRF HMAC-SHA-256).
var impliedPRF = map[IntegID]PRFID{
	IntegHMACSHA1_96:      PRFHMACSHA1,
	IntegHMACSHA2_256_128: PRFHMACSHA2_256,
	IntegHMACSHA2_384_192: PRFHMACSHA2_384,
	IntegHMACSHA2_512_256: PRFHMACSHA2_512,
}

// impliedPRFs returns the PRF transforms implied by integrity transforms.
func impliedPRFs(integ []Transform) []Transform {
	var prfs []Transform
	for _, t := range integ {
		prf := Transform{Type: TransformPRF, ID: uint16(impliedPRF[IntegID(t.ID)])}
		if !slices.Contains(prfs, prf) {
			prfs = append(prfs, prf)
		}
	}
	return prfs
}

// ParseProposal parses a proposal in strongSwan's syntax: algorithm names
// joined by '-', such as "aes256gcm16-prfsha256-ecp256" or
// "aes256-sha256-modp2048" for IKE and "aes256gcm16" or
// "aes128-sha1-modp2048" for ESP. Several names of one type list
// alternatives in order of preference. For a non-AEAD IKE proposal without a
// PRF the integrity names imply the PRFs ("sha256" adds "prfsha256"); an AEAD
// IKE proposal must name its PRF. For ESP a group requests PFS, "none" makes
// PFS optional, and "esn"/"noesn" select extended sequence numbers (default
// "noesn"). AEAD and non-AEAD algorithms go in separate proposals (RFC 5282
// §8).
func ParseProposal(p Protocol, s string) (Proposal, error) {
	if p != ProtocolIKE && p != ProtocolESP {
		return Proposal{}, fmt.Errorf("%v: %w", p, ErrUnsupported)
	}
	var byType [TransformESN + 1][]Transform
	for name := range strings.SplitSeq(s, "-") {
		i := slices.IndexFunc(keywords, func(k keyword) bool { return k.name == name })
		if i < 0 {
			return Proposal{}, fmt.Errorf("proposal %q: unknown algorithm %q", s, name)
		}
		t := keywords[i].t
		if !slices.Contains(byType[t.Type], t) {
			byType[t.Type] = append(byType[t.Type], t)
		}
	}
	encr, prf, integ := byType[TransformEncr], byType[TransformPRF], byType[TransformInteg]
	if len(encr) == 0 {
		return Proposal{}, fmt.Errorf("proposal %q: no encryption algorithm", s)
	}
	aead := EncrID(encr[0].ID).AEAD()
	for _, t := range encr[1:] {
		if EncrID(t.ID).AEAD() != aead {
			return Proposal{}, fmt.Errorf("proposal %q: AEAD and non-AEAD algorithms mixed", s)
		}
	}
	switch {
	case aead && len(integ) > 0:
		return Proposal{}, fmt.Errorf("proposal %q: integrity algorithm with AEAD", s)
	case !aead && len(integ) == 0:
		return Proposal{}, fmt.Errorf("proposal %q: no integrity algorithm", s)
	}
	switch p {
	case ProtocolIKE:
		if len(prf) == 0 {
			if aead {
				return Proposal{}, fmt.Errorf("proposal %q: AEAD proposal without PRF", s)
			}
			byType[TransformPRF] = impliedPRFs(integ)
		}
		dh := byType[TransformDH]
		if len(dh) == 0 || slices.ContainsFunc(dh, func(t Transform) bool { return t.ID == uint16(DHNone) }) {
			return Proposal{}, fmt.Errorf("proposal %q: IKE needs a Diffie-Hellman group", s)
		}
		if len(byType[TransformESN]) > 0 {
			return Proposal{}, fmt.Errorf("proposal %q: ESN in an IKE proposal", s)
		}
	case ProtocolESP:
		if len(prf) > 0 {
			return Proposal{}, fmt.Errorf("proposal %q: PRF in an ESP proposal", s)
		}
		if len(byType[TransformESN]) == 0 {
			byType[TransformESN] = []Transform{{Type: TransformESN, ID: ESNNo}}
		}
	}
	var ts []Transform
	for _, list := range byType {
		ts = append(ts, list...)
	}
	return Proposal{Protocol: p, Transforms: ts}, nil
}

// String returns p in strongSwan's proposal syntax, the reverse of
// ParseProposal: encryption, integrity, PRF, groups, ESN. PRFs implied by
// the integrity algorithms of a non-AEAD IKE proposal and the default
// "noesn" of ESP are left out. A transform without a name prints as its
// identifiers, such as "ENCR(3)".
func (p Proposal) String() string {
	var names []string
	add := func(ts []Transform) {
		for _, t := range ts {
			i := slices.IndexFunc(keywords, func(k keyword) bool { return k.t == t })
			if i < 0 {
				names = append(names, t.String())
				continue
			}
			names = append(names, keywords[i].name)
		}
	}
	encr, integ, prf := p.of(TransformEncr), p.of(TransformInteg), p.of(TransformPRF)
	add(encr)
	add(integ)
	aead := len(encr) > 0 && EncrID(encr[0].ID).AEAD()
	if p.Protocol != ProtocolIKE || aead || !slices.Equal(prf, impliedPRFs(integ)) {
		add(prf)
	}
	add(p.of(TransformDH))
	if esn := p.of(TransformESN); p.Protocol != ProtocolESP || !slices.Equal(esn, []Transform{{Type: TransformESN, ID: ESNNo}}) {
		add(esn)
	}
	return strings.Join(names, "-")
}

// defaultProposals are the proposals of DefaultProposals, strongest first.
var defaultProposals = map[Protocol][]string{
	ProtocolIKE: {
		"aes256gcm16-aes128gcm16-prfsha256-prfsha384-prfsha512-ecp256-ecp384-x25519-modp2048",
		"aes256-aes192-aes128-sha256-sha384-sha512-sha1-ecp256-ecp384-x25519-modp2048",
	},
	ProtocolESP: {
		"aes256gcm16-aes128gcm16",
		"aes256-aes192-aes128-sha256-sha384-sha512-sha1",
	},
}

// DefaultProposals returns the proposals to use for protocol p when the
// configuration names none: AES-GCM first, then AES-CBC with HMAC. The first
// group of an IKE proposal is the one an initiator sends its KE payload
// for. InsecureMODP1024 is in none of them.
func DefaultProposals(p Protocol) []Proposal {
	var ps []Proposal
	for _, s := range defaultProposals[p] {
		pr, err := ParseProposal(p, s)
		if err != nil {
			panic("suite: bad default proposal: " + err.Error())
		}
		ps = append(ps, pr)
	}
	return ps
}
