package suite

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// checkNonces enforces the nonce lengths of RFC 7296 §3.9.
func checkNonces(ni, nr []byte) error {
	for _, n := range [][]byte{ni, nr} {
		if len(n) < minNonceLen || len(n) > maxNonceLen {
			return fmt.Errorf("nonce of %d octets, want %d to %d", len(n), minNonceLen, maxNonceLen)
		}
	}
	return nil
}

// SKEYSEED returns prf(Ni | Nr, g^ir) for a new IKE SA (RFC 7296 §2.14). All
// supported PRFs are HMACs, which take keys of any length, so the whole of
// both nonces is the key.
func SKEYSEED(prf ikev2.PRFID, ni, nr []byte, gir Key) (Key, error) {
	if err := checkNonces(ni, nr); err != nil {
		return nil, err
	}
	if len(gir) == 0 {
		return nil, errors.New("empty Diffie-Hellman shared secret")
	}
	key := make([]byte, 0, len(ni)+len(nr))
	key = append(append(key, ni...), nr...)
	s, err := prfSum(prf, nil, key, gir)
	if err != nil {
		return nil, err
	}
	return Key(s), nil
}

// RekeySKEYSEED returns prf(SK_d (old), g^ir (new) | Ni | Nr), the SKEYSEED
// of an IKE SA created by rekeying another (RFC 7296 §2.18). oldPRF is the
// PRF of the old IKE SA, whose exchange this is; the nonces and g^ir are
// those of the CREATE_CHILD_SA exchange.
func RekeySKEYSEED(oldPRF ikev2.PRFID, oldSKd, gir Key, ni, nr []byte) (Key, error) {
	if err := checkNonces(ni, nr); err != nil {
		return nil, err
	}
	if len(gir) == 0 {
		return nil, errors.New("empty Diffie-Hellman shared secret")
	}
	s, err := prfSum(oldPRF, nil, oldSKd, gir, ni, nr)
	if err != nil {
		return nil, err
	}
	return Key(s), nil
}

// IKEKeys derives the seven keys of an IKE SA with suite s (RFC 7296 §2.14):
//
//	{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//	                   = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
//
// SK_d, SK_pi and SK_pr have the preferred key length of the PRF; with AES-GCM
// there are no integrity keys and each encryption key ends with a 4-octet
// salt (RFC 5282 §7). For a rekeyed IKE SA the nonces and SPIs are those of
// the new SA.
func (s Suite) IKEKeys(skeyseed Key, ni, nr []byte, spiI, spiR uint64) (IKEKeys, error) {
	if err := s.check(ikev2.ProtocolIKE); err != nil {
		return IKEKeys{}, err
	}
	if err := checkNonces(ni, nr); err != nil {
		return IKEKeys{}, err
	}
	seed := make([]byte, 0, len(ni)+len(nr)+16)
	seed = append(append(seed, ni...), nr...)
	seed = binary.BigEndian.AppendUint64(seed, spiI)
	seed = binary.BigEndian.AppendUint64(seed, spiR)
	p, a, e := prfSize(s.PRF), integKeyLen(s.Integ), s.encrKeyLen()
	km, err := PRFPlus(s.PRF, skeyseed, seed, 3*p+2*a+2*e)
	if err != nil {
		return IKEKeys{}, err
	}
	var k IKEKeys
	for _, f := range []struct {
		dst *Key
		n   int
	}{{&k.D, p}, {&k.AI, a}, {&k.AR, a}, {&k.EI, e}, {&k.ER, e}, {&k.PI, p}, {&k.PR, p}} {
		if f.n > 0 {
			*f.dst, km = km[:f.n:f.n], km[f.n:]
		}
	}
	return k, nil
}

// ChildKeys derives the keys of a pair of child SAs with suite s (RFC 7296
// §2.17):
//
//	KEYMAT = prf+(SK_d, Ni | Nr)              without PFS
//	KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr) with PFS
//
// prf and skd belong to the IKE SA; gir is nil without PFS. The keys are
// taken in the order encryption then integrity, first for the SA carrying
// data from the initiator to the responder, then for the other direction.
func (s Suite) ChildKeys(prf ikev2.PRFID, skd, gir Key, ni, nr []byte) (ChildKeys, error) {
	if err := s.check(ikev2.ProtocolESP); err != nil {
		return ChildKeys{}, err
	}
	if err := checkNonces(ni, nr); err != nil {
		return ChildKeys{}, err
	}
	seed := make([]byte, 0, len(gir)+len(ni)+len(nr))
	seed = append(append(append(seed, gir...), ni...), nr...)
	a, e := integKeyLen(s.Integ), s.encrKeyLen()
	km, err := PRFPlus(prf, skd, seed, 2*a+2*e)
	clear(seed)
	if err != nil {
		return ChildKeys{}, err
	}
	var k ChildKeys
	for _, f := range []struct {
		dst *Key
		n   int
	}{{&k.EI, e}, {&k.AI, a}, {&k.ER, e}, {&k.AR, a}} {
		if f.n > 0 {
			*f.dst, km = km[:f.n:f.n], km[f.n:]
		}
	}
	return k, nil
}
