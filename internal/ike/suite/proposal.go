package suite

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Suite is a negotiated set of transforms: one of each type, as chosen by
// the responder from a proposal (RFC 7296 §2.7).
type Suite struct {
	Protocol ikev2.ProtocolID
	Encr     ikev2.EncrID
	KeyLen   int           // encryption key length in bits
	PRF      ikev2.PRFID   // IKE SAs only; zero for ESP
	Integ    ikev2.IntegID // IntegNone with an AEAD algorithm
	// DH is the key exchange group: for an IKE SA the group of its KE
	// payloads, for a child SA the PFS group or DHNone.
	DH  ikev2.DHGroup
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
func (s Suite) check(p ikev2.ProtocolID) error {
	if s.Protocol != p {
		return fmt.Errorf("suite for %v, want %v", s.Protocol, p)
	}
	if !validKeyLen(s.Encr, s.KeyLen) {
		return fmt.Errorf("%v with %d-bit key: %w", s.Encr, s.KeyLen, ErrUnsupported)
	}
	// RFC 5282 §8: an AEAD algorithm comes without an integrity algorithm.
	if s.Encr.AEAD() != (s.Integ == ikev2.IntegNone) {
		return fmt.Errorf("%v with integrity %v", s.Encr, s.Integ)
	}
	if s.Integ != ikev2.IntegNone && integKeyLen(s.Integ) == 0 {
		return fmt.Errorf("%v: %w", s.Integ, ErrUnsupported)
	}
	if s.DH != ikev2.DHNone && !supportedGroup(s.DH) {
		return fmt.Errorf("%v: %w", s.DH, ErrUnsupported)
	}
	switch p {
	case ikev2.ProtocolIKE:
		if prfSize(s.PRF) == 0 {
			return fmt.Errorf("%v: %w", s.PRF, ErrUnsupported)
		}
		if s.DH == ikev2.DHNone {
			return errors.New("IKE suite without a Diffie-Hellman group")
		}
		if s.ESN {
			return errors.New("IKE suite with extended sequence numbers")
		}
	case ikev2.ProtocolESP:
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
	ts := []Transform{{Type: ikev2.TransformENCR, ID: uint16(s.Encr), KeyLen: uint16(s.KeyLen)}}
	if s.Protocol == ikev2.ProtocolIKE {
		ts = append(ts, Transform{Type: ikev2.TransformPRF, ID: uint16(s.PRF)})
	}
	if s.Integ != ikev2.IntegNone {
		ts = append(ts, Transform{Type: ikev2.TransformINTEG, ID: uint16(s.Integ)})
	}
	if s.DH != ikev2.DHNone {
		ts = append(ts, Transform{Type: ikev2.TransformDH, ID: uint16(s.DH)})
	}
	if s.Protocol == ikev2.ProtocolESP {
		esn := uint16(ikev2.NoESN)
		if s.ESN {
			esn = uint16(ikev2.WithESN)
		}
		ts = append(ts, Transform{Type: ikev2.TransformESN, ID: esn})
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
func NewSuite(p ikev2.ProtocolID, ts []Transform) (Suite, error) {
	s := Suite{Protocol: p}
	var seen [ikev2.TransformESN + 1]bool
	for _, t := range ts {
		if t.Type < ikev2.TransformENCR || t.Type > ikev2.TransformESN {
			return Suite{}, fmt.Errorf("transform %v: %w", t, ErrUnsupported)
		}
		if seen[t.Type] {
			return Suite{}, fmt.Errorf("more than one %v transform", t.Type)
		}
		seen[t.Type] = true
		if t.KeyLen != 0 && t.Type != ikev2.TransformENCR {
			return Suite{}, fmt.Errorf("key length attribute on %v", t)
		}
		switch t.Type {
		case ikev2.TransformENCR:
			s.Encr, s.KeyLen = ikev2.EncrID(t.ID), int(t.KeyLen)
		case ikev2.TransformPRF:
			s.PRF = ikev2.PRFID(t.ID)
		case ikev2.TransformINTEG:
			s.Integ = ikev2.IntegID(t.ID)
		case ikev2.TransformDH:
			s.DH = ikev2.DHGroup(t.ID)
		case ikev2.TransformESN:
			if t.ID > uint16(ikev2.WithESN) {
				return Suite{}, fmt.Errorf("transform %v: %w", t, ErrUnsupported)
			}
			s.ESN = t.ID == uint16(ikev2.WithESN)
		}
	}
	if !seen[ikev2.TransformENCR] {
		return Suite{}, errors.New("no ENCR transform")
	}
	switch {
	case p == ikev2.ProtocolESP && !seen[ikev2.TransformESN]:
		return Suite{}, errors.New("ESP proposal without ESN transform")
	case p == ikev2.ProtocolESP && seen[ikev2.TransformPRF]:
		return Suite{}, errors.New("ESP proposal with PRF transform")
	case p == ikev2.ProtocolIKE && seen[ikev2.TransformESN]:
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
	Protocol   ikev2.ProtocolID
	Transforms []Transform
}

// of returns the transforms of type t in p.
func (p Proposal) of(t ikev2.TransformType) []Transform {
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
// absent for ESP. It reports false when some type has no match, the peer
// offered a transform type this package does not know, or the result is not
// a valid suite.
func (p Proposal) Select(offered []Transform) (Suite, bool) {
	// RFC 7296 §3.3.6: a proposal with a Transform Type we do not understand MUST be unacceptable.
	if slices.ContainsFunc(offered, func(t Transform) bool {
		return t.Type < ikev2.TransformENCR || t.Type > ikev2.TransformESN
	}) {
		return Suite{}, false
	}
	theirs := Proposal{Transforms: offered}
	pick := func(t ikev2.TransformType, none *Transform) (Transform, bool) {
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
	encr, ok := pick(ikev2.TransformENCR, nil)
	if !ok {
		return Suite{}, false
	}
	chosen := []Transform{encr}
	if p.Protocol == ikev2.ProtocolIKE {
		prf, ok := pick(ikev2.TransformPRF, nil)
		if !ok {
			return Suite{}, false
		}
		chosen = append(chosen, prf)
	}
	if ikev2.EncrID(encr.ID).AEAD() {
		if _, ok := pick(ikev2.TransformINTEG, &Transform{Type: ikev2.TransformINTEG}); !ok {
			return Suite{}, false
		}
	} else {
		integ, ok := pick(ikev2.TransformINTEG, nil)
		if !ok {
			return Suite{}, false
		}
		chosen = append(chosen, integ)
	}
	dh, ok := pick(ikev2.TransformDH, &Transform{Type: ikev2.TransformDH})
	if !ok {
		return Suite{}, false
	}
	chosen = append(chosen, dh)
	if p.Protocol == ikev2.ProtocolESP {
		esn, ok := pick(ikev2.TransformESN, &Transform{Type: ikev2.TransformESN})
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
	{"aes128", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESCBC), 128}},
	{"aes192", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESCBC), 192}},
	{"aes256", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESCBC), 256}},
	{"aes", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESCBC), 128}},
	{"aes128gcm16", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESGCM16), 128}},
	{"aes192gcm16", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESGCM16), 192}},
	{"aes256gcm16", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESGCM16), 256}},
	{"aes128gcm128", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESGCM16), 128}},
	{"aes192gcm128", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESGCM16), 192}},
	{"aes256gcm128", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESGCM16), 256}},
	{"aes128gcm", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESGCM16), 128}},
	{"aes192gcm", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESGCM16), 192}},
	{"aes256gcm", Transform{ikev2.TransformENCR, uint16(ikev2.EncrAESGCM16), 256}},
	{"sha1", Transform{ikev2.TransformINTEG, uint16(ikev2.IntegHMACSHA1_96), 0}},
	{"sha", Transform{ikev2.TransformINTEG, uint16(ikev2.IntegHMACSHA1_96), 0}},
	{"sha256", Transform{ikev2.TransformINTEG, uint16(ikev2.IntegHMACSHA256_128), 0}},
	{"sha2_256", Transform{ikev2.TransformINTEG, uint16(ikev2.IntegHMACSHA256_128), 0}},
	{"sha384", Transform{ikev2.TransformINTEG, uint16(ikev2.IntegHMACSHA384_192), 0}},
	{"sha2_384", Transform{ikev2.TransformINTEG, uint16(ikev2.IntegHMACSHA384_192), 0}},
	{"sha512", Transform{ikev2.TransformINTEG, uint16(ikev2.IntegHMACSHA512_256), 0}},
	{"sha2_512", Transform{ikev2.TransformINTEG, uint16(ikev2.IntegHMACSHA512_256), 0}},
	{"prfsha1", Transform{ikev2.TransformPRF, uint16(ikev2.PRFHMACSHA1), 0}},
	{"prfsha256", Transform{ikev2.TransformPRF, uint16(ikev2.PRFHMACSHA256), 0}},
	{"prfsha384", Transform{ikev2.TransformPRF, uint16(ikev2.PRFHMACSHA384), 0}},
	{"prfsha512", Transform{ikev2.TransformPRF, uint16(ikev2.PRFHMACSHA512), 0}},
	{"none", Transform{ikev2.TransformDH, uint16(ikev2.DHNone), 0}},
	{"modpnone", Transform{ikev2.TransformDH, uint16(ikev2.DHNone), 0}},
	{"modp1024", Transform{ikev2.TransformDH, uint16(ikev2.DHInsecureMODP1024), 0}},
	{"modp2048", Transform{ikev2.TransformDH, uint16(ikev2.DHMODP2048), 0}},
	{"modp2048s256", Transform{ikev2.TransformDH, uint16(ikev2.DHInsecureMODP2048S256), 0}},
	{"ecp256", Transform{ikev2.TransformDH, uint16(ikev2.DHECP256), 0}},
	{"ecp384", Transform{ikev2.TransformDH, uint16(ikev2.DHECP384), 0}},
	{"x25519", Transform{ikev2.TransformDH, uint16(ikev2.DHCurve25519), 0}},
	{"curve25519", Transform{ikev2.TransformDH, uint16(ikev2.DHCurve25519), 0}},
	{"noesn", Transform{ikev2.TransformESN, uint16(ikev2.NoESN), 0}},
	{"esn", Transform{ikev2.TransformESN, uint16(ikev2.WithESN), 0}},
}

// impliedPRF maps an integrity algorithm to the PRF strongSwan adds to a
// non-AEAD IKE proposal that names no PRF ("aes256-sha256" means integrity
// and PRF HMAC-SHA-256).
var impliedPRF = map[ikev2.IntegID]ikev2.PRFID{
	ikev2.IntegHMACSHA1_96:    ikev2.PRFHMACSHA1,
	ikev2.IntegHMACSHA256_128: ikev2.PRFHMACSHA256,
	ikev2.IntegHMACSHA384_192: ikev2.PRFHMACSHA384,
	ikev2.IntegHMACSHA512_256: ikev2.PRFHMACSHA512,
}

// impliedPRFs returns the PRF transforms implied by integrity transforms.
func impliedPRFs(integ []Transform) []Transform {
	var prfs []Transform
	for _, t := range integ {
		prf := Transform{Type: ikev2.TransformPRF, ID: uint16(impliedPRF[ikev2.IntegID(t.ID)])}
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
func ParseProposal(p ikev2.ProtocolID, s string) (Proposal, error) {
	if p != ikev2.ProtocolIKE && p != ikev2.ProtocolESP {
		return Proposal{}, fmt.Errorf("%v: %w", p, ErrUnsupported)
	}
	var byType [ikev2.TransformESN + 1][]Transform
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
	encr, prf, integ := byType[ikev2.TransformENCR], byType[ikev2.TransformPRF], byType[ikev2.TransformINTEG]
	if len(encr) == 0 {
		return Proposal{}, fmt.Errorf("proposal %q: no encryption algorithm", s)
	}
	aead := ikev2.EncrID(encr[0].ID).AEAD()
	for _, t := range encr[1:] {
		if ikev2.EncrID(t.ID).AEAD() != aead {
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
	case ikev2.ProtocolIKE:
		if len(prf) == 0 {
			if aead {
				return Proposal{}, fmt.Errorf("proposal %q: AEAD proposal without PRF", s)
			}
			byType[ikev2.TransformPRF] = impliedPRFs(integ)
		}
		dh := byType[ikev2.TransformDH]
		if len(dh) == 0 || slices.ContainsFunc(dh, func(t Transform) bool { return t.ID == uint16(ikev2.DHNone) }) {
			return Proposal{}, fmt.Errorf("proposal %q: IKE needs a Diffie-Hellman group", s)
		}
		if len(byType[ikev2.TransformESN]) > 0 {
			return Proposal{}, fmt.Errorf("proposal %q: ESN in an IKE proposal", s)
		}
	case ikev2.ProtocolESP:
		if len(prf) > 0 {
			return Proposal{}, fmt.Errorf("proposal %q: PRF in an ESP proposal", s)
		}
		if len(byType[ikev2.TransformESN]) == 0 {
			byType[ikev2.TransformESN] = []Transform{{Type: ikev2.TransformESN, ID: uint16(ikev2.NoESN)}}
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
	encr, integ, prf := p.of(ikev2.TransformENCR), p.of(ikev2.TransformINTEG), p.of(ikev2.TransformPRF)
	add(encr)
	add(integ)
	aead := len(encr) > 0 && ikev2.EncrID(encr[0].ID).AEAD()
	if p.Protocol != ikev2.ProtocolIKE || aead || !slices.Equal(prf, impliedPRFs(integ)) {
		add(prf)
	}
	add(p.of(ikev2.TransformDH))
	if esn := p.of(ikev2.TransformESN); p.Protocol != ikev2.ProtocolESP || !slices.Equal(esn, []Transform{{Type: ikev2.TransformESN, ID: uint16(ikev2.NoESN)}}) {
		add(esn)
	}
	return strings.Join(names, "-")
}

// defaultProposals are the proposals of DefaultProposals, strongest first.
var defaultProposals = map[ikev2.ProtocolID][]string{
	ikev2.ProtocolIKE: {
		"aes256gcm16-aes128gcm16-prfsha256-prfsha384-prfsha512-ecp256-ecp384-x25519-modp2048",
		"aes256-aes192-aes128-sha256-sha384-sha512-sha1-ecp256-ecp384-x25519-modp2048",
	},
	ikev2.ProtocolESP: {
		"aes256gcm16-aes128gcm16",
		"aes256-aes192-aes128-sha256-sha384-sha512-sha1",
	},
}

// DefaultProposals returns the proposals to use for protocol p when the
// configuration names none: AES-GCM first, then AES-CBC with HMAC. The first
// group of an IKE proposal is the one an initiator sends its KE payload
// for. Neither of the groups RFC 8247 calls SHOULD NOT (2 and 24) is in them.
func DefaultProposals(p ikev2.ProtocolID) []Proposal {
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
