package suite

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Key is secret key material: a shared secret, SKEYSEED, one of the SK_*
// keys or a child SA key. Its bytes never appear when it is formatted with
// the fmt package or logged with log/slog; use []byte(k) to reach them.
type Key []byte

// String returns a redacted description giving only the length.
func (k Key) String() string { return "[redacted " + strconv.Itoa(len(k)) + " bytes]" }

// Format writes the redacted description for every verb, so that %x, %v and
// %#v cannot leak the key.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue implements slog.LogValuer with the redacted description.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// IKEKeys are the keys of an IKE SA (RFC 7296 §2.14). With an AEAD
// encryption algorithm AI and AR are empty and EI and ER end with the 4-octet
// salt (RFC 5282 §7).
type IKEKeys struct {
	D  Key // SK_d, for deriving child SA keys
	AI Key // SK_ai, integrity of messages from the initiator
	AR Key // SK_ar, integrity of messages from the responder
	EI Key // SK_ei, encryption of messages from the initiator
	ER Key // SK_er, encryption of messages from the responder
	PI Key // SK_pi, for the initiator's AUTH payload
	PR Key // SK_pr, for the responder's AUTH payload
}

// LogValue implements slog.LogValuer; every key is redacted.
func (k IKEKeys) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("sk_d", k.D), slog.Any("sk_ai", k.AI), slog.Any("sk_ar", k.AR),
		slog.Any("sk_ei", k.EI), slog.Any("sk_er", k.ER),
		slog.Any("sk_pi", k.PI), slog.Any("sk_pr", k.PR))
}

// Ciphers returns the ciphers protecting the SK payloads of this IKE SA
// under suite s: out for messages this end sends and in for messages it
// receives. initiator tells whether this end is the original initiator of
// the IKE SA (RFC 7296 §2.14: SK_ei/SK_ai protect the initiator's messages).
func (k IKEKeys) Ciphers(s Suite, initiator bool) (out, in Cipher, err error) {
	ei, ai, er, ar := k.EI, k.AI, k.ER, k.AR
	if !initiator {
		ei, ai, er, ar = er, ar, ei, ai
	}
	if out, err = NewCipher(s, ei, ai); err != nil {
		return nil, nil, err
	}
	if in, err = NewCipher(s, er, ar); err != nil {
		return nil, nil, err
	}
	return out, in, nil
}

// ChildKeys are the keys of a pair of child SAs (RFC 7296 §2.17). With an
// AEAD algorithm AI and AR are empty and EI and ER end with the 4-octet salt
// (RFC 4106 §8.1).
type ChildKeys struct {
	EI Key // encryption, initiator to responder
	AI Key // integrity, initiator to responder
	ER Key // encryption, responder to initiator
	AR Key // integrity, responder to initiator
}

// LogValue implements slog.LogValuer; every key is redacted.
func (k ChildKeys) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("encr_i", k.EI), slog.Any("integ_i", k.AI),
		slog.Any("encr_r", k.ER), slog.Any("integ_r", k.AR))
}
