// Package mschap is the arithmetic of MS-CHAP version 2 (RFC 2759) that
// a client does: its NT-Response to a challenge, the Authenticator
// Response it expects from the server (mutual authentication), and the
// MPPE keys both derive (RFC 3079 §3.4), which SSTP's crypto binding is
// keyed with ([MS-SSTP] §3.2.5.2.4).
//
// The gateway does none of this itself: it relays the client's response
// to a RADIUS server (RFC 2548), which knows the password. vnetgw's own
// SSTP client and the tests use this package.
package mschap

import (
	"crypto/des"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"unicode/utf16"
)

// passwordHash is the NT hash of a password: MD4 of its UTF-16LE form
// (RFC 2759 §8.3).
func passwordHash(password string) [16]byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return md4(b)
}

// hashedWith is what both the authenticator response and the master key
// start from: the hash of the password hash, the NT-Response and a magic
// constant, to be hashed with SHA-1 (RFC 2759 §8.7, RFC 3079 §3.4).
func hashedWith(password string, nt [24]byte, magic string) []byte {
	ph := passwordHash(password)
	hh := md4(ph[:])
	return append(append(hh[:], nt[:]...), magic...)
}

// challengeHash is the 8-byte challenge both sides compute from the two
// challenges and the user name without a domain (RFC 2759 §8.2).
func challengeHash(peerChallenge, authChallenge [16]byte, user string) [8]byte {
	if i := strings.LastIndexByte(user, '\\'); i >= 0 {
		user = user[i+1:]
	}
	h := sha1.New()
	h.Write(peerChallenge[:])
	h.Write(authChallenge[:])
	h.Write([]byte(user))
	return [8]byte(h.Sum(nil))
}

// desEncrypt encrypts the 8-byte clear text with a 7-byte key spread over
// 8 bytes, a parity bit in each (RFC 2759 §8.6; DES ignores parity).
func desEncrypt(clear [8]byte, key7 []byte) [8]byte {
	var k [8]byte
	var bitsIn uint64
	for _, b := range key7 {
		bitsIn = bitsIn<<8 | uint64(b)
	}
	for i := range 8 {
		k[i] = byte(bitsIn>>(56-7*(i+1))) << 1
	}
	c, _ := des.NewCipher(k[:]) // 8 bytes: never fails
	var out [8]byte
	c.Encrypt(out[:], clear[:])
	return out
}

// challengeResponse is the 24-byte response: the challenge encrypted with
// each third of the zero-padded password hash (RFC 2759 §8.5).
func challengeResponse(challenge [8]byte, hash [16]byte) [24]byte {
	var z [21]byte
	copy(z[:], hash[:])
	var out [24]byte
	for i := range 3 {
		c := desEncrypt(challenge, z[7*i:7*i+7])
		copy(out[8*i:], c[:])
	}
	return out
}

// NTResponse is the client's answer to the server's challenge (RFC 2759
// §8.1).
func NTResponse(authChallenge, peerChallenge [16]byte, user, password string) [24]byte {
	return challengeResponse(challengeHash(peerChallenge, authChallenge, user), passwordHash(password))
}

// RFC 2759 §8.7's constants.
const (
	magicSign = "Magic server to client signing constant"
	magicPad  = "Pad to make it do more than one iteration"
)

// AuthenticatorResponse is what a server that knows the password sends in
// its Success message: "S=" and 40 hexadecimal digits (RFC 2759 §8.7).
func AuthenticatorResponse(password string, nt [24]byte, peerChallenge, authChallenge [16]byte, user string) string {
	h := sha1.New()
	h.Write(hashedWith(password, nt, magicSign))
	digest := h.Sum(nil)
	ch := challengeHash(peerChallenge, authChallenge, user)
	h.Reset()
	h.Write(digest)
	h.Write(ch[:])
	h.Write([]byte(magicPad))
	return "S=" + strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// CheckSuccess reports whether a Success message (its "S=…" first,
// RFC 2759 §5) proves that the server knows the password: the client MUST
// end the link when it does not (RFC 2759 §8.8).
func CheckSuccess(message, want string) bool {
	if len(message) < len(want) {
		return false
	}
	got := strings.ToUpper(message[:len(want)])
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// RFC 3079 §3.4's constants.
const (
	magicMaster     = "This is the MPPE Master Key"
	magicClientSend = "On the client side, this is the send key; on the server side, it is the receive key."
	magicClientRecv = "On the client side, this is the receive key; on the server side, it is the send key."
)

// masterKey is the key both send and receive keys come from (RFC 3079
// §3.4, GetMasterKey).
func masterKey(password string, nt [24]byte) [16]byte {
	h := sha1.New()
	h.Write(hashedWith(password, nt, magicMaster))
	return [16]byte(h.Sum(nil))
}

// startKey is GetAsymmetricStartKey of RFC 3079 §3.4 for 128-bit keys.
func startKey(master [16]byte, magic string) [16]byte {
	h := sha1.New()
	h.Write(master[:])
	h.Write(make([]byte, 40)) // SHSpad1
	h.Write([]byte(magic))
	pad2 := [40]byte{}
	for i := range pad2 {
		pad2[i] = 0xf2
	}
	h.Write(pad2[:])
	return [16]byte(h.Sum(nil))
}

// ClientKeys are the client's 128-bit MPPE master send and receive keys
// (RFC 3079 §3.4); the server's are the same two the other way round.
func ClientKeys(password string, nt [24]byte) (send, recv [16]byte) {
	m := masterKey(password, nt)
	return startKey(m, magicClientSend), startKey(m, magicClientRecv)
}
