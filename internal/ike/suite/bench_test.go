package suite

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// BenchmarkDH measures one side of a key exchange per group: generating the
// private value and public value, then computing g^ir from the peer's value
// (with validation). ops/s is exchanges per second on one core.
func BenchmarkDH(b *testing.B) {
	for _, g := range allGroups() {
		peer, err := GenerateKey(g)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(g.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				k, err := GenerateKey(g)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := k.SharedSecret(peer.PublicKey()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkIKEKeys measures SKEYSEED and the prf+ expansion into the seven
// IKE SA keys (RFC 7296 §2.14), and the child SA KEYMAT (§2.17).
func BenchmarkIKEKeys(b *testing.B) {
	ni, nr := bytes.Repeat([]byte{1}, NonceLen), bytes.Repeat([]byte{2}, NonceLen)
	for _, proposal := range []string{"aes256gcm16-prfsha256-ecp256", "aes256-sha256-modp2048", "aes256gcm16-prfsha512-ecp384"} {
		p, err := ParseProposal(ikev2.ProtocolIKE, proposal)
		if err != nil {
			b.Fatal(err)
		}
		s, _ := p.Select(p.Transforms)
		gir := Key(bytes.Repeat([]byte{3}, s.DH.KeyExchangeLen()))
		b.Run(proposal, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(3*prfSize(s.PRF) + 2*integKeyLen(s.Integ) + 2*s.encrKeyLen()))
			for b.Loop() {
				seed, err := SKEYSEED(s.PRF, ni, nr, gir)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.IKEKeys(seed, ni, nr, 1, 2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	child := Suite{Protocol: ikev2.ProtocolESP, Encr: ikev2.EncrAESCBC, KeyLen: 256, Integ: ikev2.IntegHMACSHA256_128}
	skd := Key(bytes.Repeat([]byte{4}, 32))
	b.Run("child aes256-sha256 prfsha256", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(2*integKeyLen(child.Integ) + 2*child.encrKeyLen()))
		for b.Loop() {
			if _, err := child.ChildKeys(ikev2.PRFHMACSHA256, skd, nil, ni, nr); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPlus measures prf+ alone for a typical IKE KEYMAT of 168 octets
// (AES-GCM-256 with HMAC-SHA-256: 3*32 + 2*36).
func BenchmarkPlus(b *testing.B) {
	key, seed := bytes.Repeat([]byte{9}, 32), bytes.Repeat([]byte{8}, 2*NonceLen+16)
	for _, prf := range []ikev2.PRFID{ikev2.PRFHMACSHA1, ikev2.PRFHMACSHA256, ikev2.PRFHMACSHA512} {
		b.Run(prf.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(168)
			for b.Loop() {
				if _, err := PRFPlus(prf, key, seed, 168); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSK measures sealing and opening a 500-octet inner payload chain
// per cipher.
func BenchmarkSK(b *testing.B) {
	suites := []Suite{
		{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: 256, PRF: ikev2.PRFHMACSHA256, DH: ikev2.DHECP256},
		{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: 128, PRF: ikev2.PRFHMACSHA256, DH: ikev2.DHECP256},
		{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESCBC, KeyLen: 256, PRF: ikev2.PRFHMACSHA256, Integ: ikev2.IntegHMACSHA256_128, DH: ikev2.DHMODP2048},
		{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESCBC, KeyLen: 128, PRF: ikev2.PRFHMACSHA1, Integ: ikev2.IntegHMACSHA1_96, DH: ikev2.DHMODP2048},
	}
	const n = 500
	aad := make([]byte, 32)
	pt := make([]byte, n)
	for _, s := range suites {
		seal, open := cipherPair(b, s, nil)
		dst := make([]byte, 0, seal.SealedLen(n))
		body, err := seal.Seal(nil, aad, pt)
		if err != nil {
			b.Fatal(err)
		}
		out := make([]byte, 0, len(body))
		b.Run(fmt.Sprintf("seal/%v/%d", s, n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(n)
			for b.Loop() {
				if _, err := seal.Seal(dst, aad, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("open/%v/%d", s, n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(n)
			for b.Loop() {
				if _, err := open.Open(out, aad, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
