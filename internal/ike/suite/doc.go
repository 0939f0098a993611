// Package suite is the cryptography of IKEv2: proposal strings and their
// negotiation, Diffie-Hellman groups, key derivation, pre-shared-key
// authentication and protection of the Encrypted (SK) payload. The transform
// identifiers are those of the message codec, internal/wire/ikev2.
//
// It follows RFC 7296 (IKEv2: §2.13 prf+, §2.14 SKEYSEED and the IKE SA keys,
// §2.15 AUTH, §2.17 child SA KEYMAT, §2.18 IKE SA rekeying, §3.14 the
// Encrypted payload), RFC 5282 (AES-GCM in the Encrypted payload), RFC 4868
// (HMAC-SHA2 for integrity and as PRF), RFC 3526, RFC 5114, RFC 5903 and
// RFC 8031 (the Diffie-Hellman groups) and RFC 6989 (validation of peer public
// values).
//
// Key material is held in [Key] values, which never print or log their bytes.
// The package uses the standard library only and does no I/O.
package suite
